package engines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// defaultTimeout bounds one engine command; a command past it is killed with
// its process group and the test fails.
const defaultTimeout = 90 * time.Second

// result is what a finished command left.
type result struct {
	argv   []string
	stdout string
	stderr string
	exit   int // -1 when it could not start or was killed
	err    error
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d (%v)\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.argv, " "), r.exit, r.err, r.stdout, r.stderr)
}

// cmdOpts tunes one command.
type cmdOpts struct {
	env     []string      // added to the test's environment
	timeout time.Duration // defaultTimeout when zero
	// tty runs the command with a new pseudo-terminal as its controlling
	// terminal and stdio (ctr -t wants one); stdout is what the terminal
	// showed and stderr stays empty.
	tty bool
}

// run runs argv and returns what it left; it never hangs past the timeout.
func run(t testing.TB, o cmdOpts, argv ...string) result {
	t.Helper()
	timeout := o.timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	r := result{argv: argv, exit: -1}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), o.env...)
	// The whole group goes on timeout: engines' clients fork helpers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A daemonized grandchild holding a pipe must not keep Wait waiting.
	cmd.WaitDelay = 5 * time.Second

	var stdout, stderr bytes.Buffer
	var master, slave *os.File
	var ttyDone chan struct{}
	if o.tty {
		var err error
		if master, slave, err = openPty(); err != nil {
			r.err = err
			return r
		}
		defer master.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		ttyDone = make(chan struct{})
		go func() {
			defer close(ttyDone)
			// Ends with EIO once no process has the slave open.
			_, _ = io.Copy(&stdout, master)
		}()
	} else {
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
	}

	r.err = cmd.Start()
	if slave != nil {
		// Only the child keeps the slave now, so its exit ends the copy.
		slave.Close()
	}
	if r.err == nil {
		r.err = cmd.Wait()
		if ttyDone != nil {
			select {
			case <-ttyDone:
			case <-time.After(5 * time.Second):
				master.Close()
				<-ttyDone
			}
		}
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.err = fmt.Errorf("killed after %v: %w", timeout, ctx.Err())
	case r.err == nil:
		r.exit = 0
	case errors.As(r.err, &exitErr) && exitErr.Exited():
		r.exit = exitErr.ExitCode()
	}
	return r
}

// openPty opens a new pseudo-terminal pair.
func openPty() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", err)
	}
	// A known size: engines copy the client's terminal size to the container.
	_ = unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	return master, slave, nil
}

// mustRun fails the test unless argv exits 0, and returns its result.
func mustRun(t testing.TB, o cmdOpts, argv ...string) result {
	t.Helper()
	return mustOK(t, run(t, o, argv...))
}

// mustOK fails the test unless r exited 0, and returns it.
func mustOK(t testing.TB, r result) result {
	t.Helper()
	if r.exit != 0 {
		t.Fatalf("%v", r)
	}
	return r
}

// lookBin finds an engine binary, preferring the distribution's copy in
// /usr/bin and /usr/sbin: another client earlier on PATH (a newer docker CLI
// in /usr/local/bin) may not match the daemon it talks to.
func lookBin(name string) (string, error) {
	for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return exec.LookPath(name)
}

// requireBins skips t unless it runs as root and every binary is there;
// it returns their paths in order.
func requireBins(t *testing.T, names ...string) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("engines need root")
	}
	if huskBin == "" {
		t.Skip("HUSK_BIN is not set and ../../bin/husk does not exist: run 'make build'")
	}
	var paths []string
	for _, n := range names {
		p, err := lookBin(n)
		if err != nil {
			t.Skipf("%s not found (install the engines with 'scripts/deps.sh --engines'): %v", n, err)
		}
		paths = append(paths, p)
	}
	return paths
}
