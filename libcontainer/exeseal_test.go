package libcontainer

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestEscapeLowerDir(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin", "/usr/bin"},
		{"/a:b", `/a\:b`},
		{`/a\b`, `/a\\b`},
		{`/x\:y`, `/x\\\:y`},
	}
	for _, tt := range tests {
		if got := escapeLowerDir(tt.in); got != tt.want {
			t.Errorf("escapeLowerDir(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// checkSealed asserts that f holds our own binary and cannot be written.
func checkSealed(t *testing.T, f *os.File) {
	t.Helper()
	path := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if got, want := fileHash(t, path), fileHash(t, "/proc/self/exe"); got != want {
		t.Errorf("sealed binary differs from /proc/self/exe")
	}
	if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		_, werr := w.Write([]byte("x"))
		w.Close()
		if werr == nil {
			t.Fatalf("the sealed binary was opened for writing and written to")
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err == nil && st.Mode&0o111 == 0 {
		t.Errorf("sealed binary mode %o is not executable", st.Mode)
	}
}

func TestSealedExe(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the overlay needs root; the memfd fallback is tested on its own")
	}
	f, err := sealedExe(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSealed(t, f)
	// Opening the binary for writing fails with ETXTBSY anyway while it
	// runs; what protects it is a read-only mount of its own.
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("sealed binary is on a mount with flags %#x (%v), want a read-only one", st.Flags, err)
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("sealed binary fd flags %#x (%v): not close-on-exec, a container could inherit it", flags, err)
	}
}

func TestMemfdExe(t *testing.T) {
	f, err := memfdExe()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSealed(t, f)
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []int{unix.F_SEAL_SEAL, unix.F_SEAL_SHRINK, unix.F_SEAL_GROW, unix.F_SEAL_WRITE} {
		if seals&s == 0 {
			t.Errorf("seals %#x lack %#x", seals, s)
		}
	}
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Errorf("write to the sealed memfd succeeded")
	}
	if err := f.Truncate(0); err == nil {
		t.Errorf("truncating the sealed memfd succeeded")
	}
	var buf [4]byte
	if _, err := f.ReadAt(buf[:], 0); err != nil || !bytes.Equal(buf[:], []byte("\x7fELF")) {
		t.Errorf("memfd starts with %q (%v), want an ELF header", buf, err)
	}
}
