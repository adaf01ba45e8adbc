package libcontainer

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func openDir(t *testing.T, p string) int {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// copyDirAt copies content, modes and times, and copies symlinks as
// symlinks: one pointing at a host directory is not followed.
func TestCopyDirAt(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "sub", "deeper"), 0o755))
	must(os.WriteFile(filepath.Join(src, "file"), []byte("content\n"), 0o640))
	must(os.WriteFile(filepath.Join(src, "sub", "deeper", "nested"), []byte("nested\n"), 0o600))
	must(os.WriteFile(filepath.Join(src, "setuid"), nil, 0o755))
	must(os.Chmod(filepath.Join(src, "setuid"), os.ModeSetuid|0o755))
	must(os.Chmod(filepath.Join(src, "sub"), os.ModeSticky|0o711))
	must(os.Symlink("/etc", filepath.Join(src, "hostdir")))
	must(os.Symlink("../file", filepath.Join(src, "sub", "rel")))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	must(os.Chmod(filepath.Join(src, "fifo"), 0o620)) // past the umask
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "file"), old, old))

	must(copyDirAt(openDir(t, src), openDir(t, dst)))

	check := func(name string, mode os.FileMode) os.FileInfo {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), mode)
		}
		return fi
	}
	if fi := check("file", 0o640); !fi.ModTime().Equal(old) {
		t.Errorf("file: mtime %v, want %v", fi.ModTime(), old)
	}
	check("setuid", 0o755|os.ModeSetuid)
	check("sub", 0o711|os.ModeDir|os.ModeSticky)
	check("sub/deeper/nested", 0o600)
	check("fifo", 0o620|os.ModeNamedPipe)
	check("hostdir", 0o777|os.ModeSymlink)
	for name, want := range map[string]string{"file": "content\n", "sub/deeper/nested": "nested\n"} {
		if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	for name, want := range map[string]string{"hostdir": "/etc", "sub/rel": "../file"} {
		if got, err := os.Readlink(filepath.Join(dst, name)); err != nil || got != want {
			t.Errorf("%s: link to %q, %v; want %q", name, got, err, want)
		}
	}
	// The symlinked host directory was not copied: the copy is a link, so
	// nothing of /etc landed under dst.
	if ents, _ := os.ReadDir(dst); len(ents) != 5 {
		t.Errorf("dst has %d entries, want 5: %v", len(ents), ents)
	}
}

// A destination entry that already exists is an error, not overwritten.
func TestCopyDirAtExisting(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dst, "f")); err != nil {
		t.Fatal(err)
	}
	if err := copyDirAt(openDir(t, src), openDir(t, dst)); err == nil {
		t.Fatal("copy over an existing symlink succeeded")
	}
}
