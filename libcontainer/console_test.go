package libcontainer

import (
	"errors"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// newTerminal on the host's own devpts: the slave is the master's peer,
// unlocked, with the size asked for.
func TestNewTerminal(t *testing.T) {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := os.Stat("/dev/pts/ptmx"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and a devpts at /dev/pts (its ptmx is often mode 000)")
	}
	master, slave, err := newTerminal(root, &specs.Box{Height: 12, Width: 34})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	ws, err := unix.IoctlGetWinsize(int(slave.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row != 12 || ws.Col != 34 {
		t.Errorf("slave size %+v (%v), want 12x34", ws, err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if unix.Minor(st.Rdev) != n {
		t.Errorf("slave is pty %d, the master's is %d", unix.Minor(st.Rdev), n)
	}
	if _, err := slave.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if k, err := master.Read(buf); err != nil || !strings.HasPrefix(string(buf[:k]), "x") {
		t.Errorf("master read %q, %v; want what the slave wrote", buf[:k], err)
	}
}

// checkPtmx accepts only the ptmx node of a devpts mount.
func TestCheckPtmx(t *testing.T) {
	// /dev/tty has the right kind (a char device of major 5) but not the node.
	for _, path := range []string{"/dev/null", "/dev/tty", "/", "/proc/self/stat"} {
		f, err := os.OpenFile(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = checkPtmx(f)
		f.Close()
		if err == nil || !strings.Contains(err.Error(), "not the ptmx of a devpts mount") {
			t.Errorf("checkPtmx(%s) = %v, want a refusal", path, err)
		}
	}
	f, err := os.OpenFile("/dev/pts/ptmx", unix.O_PATH|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no devpts at /dev/pts: the accepted case is not checked")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := checkPtmx(f); err != nil {
		t.Errorf("checkPtmx(/dev/pts/ptmx) = %v", err)
	}
}

// The receiver hands on exactly the terminal that was asked for.
func TestConsoleReceiver(t *testing.T) {
	fd := func() int {
		n, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var got *os.File
	r := newConsoleReceiver(true, func(f *os.File) error { got = f; return nil })
	if err := r.check(); err == nil {
		t.Error("check before any terminal: no error")
	}
	if err := r.receive(fd()); err != nil || got == nil || got.Name() != masterName {
		t.Fatalf("receive: %v, file %v", err, got)
	}
	got.Close()
	if err := r.check(); err != nil {
		t.Errorf("check after the terminal: %v", err)
	}
	if err := r.receive(fd()); err == nil {
		t.Error("a second terminal was accepted")
	}
	if err := newConsoleReceiver(false, nil).receive(fd()); err == nil {
		t.Error("a terminal nobody asked for was accepted")
	}
	var none *consoleReceiver
	if err := none.receive(fd()); err == nil || none.check() != nil {
		t.Error("a nil receiver must refuse a terminal and expect none")
	}
	if err := r.receive(-1); err == nil {
		t.Error("a terminal message without an fd was accepted")
	}
}

func TestSetEnv(t *testing.T) {
	base := []string{"A=1", "LISTEN_FDS=9", "B=2"}
	got := setEnv(base, "LISTEN_FDS", "2")
	if strings.Join(got, " ") != "A=1 LISTEN_FDS=2 B=2" || base[1] != "LISTEN_FDS=9" {
		t.Errorf("setEnv replace: %q (base now %q)", got, base)
	}
	if got := setEnv(base[:1], "LISTEN_PID", "1"); strings.Join(got, " ") != "A=1 LISTEN_PID=1" || base[1] != "LISTEN_FDS=9" {
		t.Errorf("setEnv append: %q (base now %q)", got, base)
	}
}
