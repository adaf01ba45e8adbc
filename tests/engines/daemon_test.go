package engines

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemon is an engine daemon the suite started (dockerd, containerd).
type daemon struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
}

// startDaemon starts argv with its output in logPath; waitReady then
// waits for it to serve. The daemon is stopped when t ends, and its log is shown if t
// failed. It dies with the test binary too: its parent-death signal is
// SIGKILL, tied to a thread kept for it until it exits.
func startDaemon(t *testing.T, name, logPath string, argv ...string) *daemon {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	d := &daemon{name: name, log: logPath, done: make(chan struct{})}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, after the
		// daemon, so the parent-death signal fires only if the test dies.
		runtime.LockOSThread()
		if err := d.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = d.cmd.Wait()
		close(d.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			d.showLog(t)
		}
	})
	return d
}

// waitReady polls ready until it succeeds; the daemon exiting, or a minute
// passing, fails the test with the daemon's log.
func (d *daemon) waitReady(t *testing.T, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-d.done:
			t.Fatalf("%s exited before it was ready: %v", d.name, d.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after a minute: %v", d.name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop sends SIGTERM and, if the daemon is still there after 30 s, SIGKILL
// to its process group.
func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop on SIGTERM within 30s; killing it", d.name)
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// showLog logs the end of the daemon's log.
func (d *daemon) showLog(t *testing.T) {
	b, err := os.ReadFile(d.log)
	if err != nil {
		t.Logf("%s log: %v", d.name, err)
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	const keep = 80
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	t.Logf("%s log (last %d lines of %s):\n%s", d.name, len(lines), d.log, strings.Join(lines, "\n"))
}

// okOrErr turns a result into an error for waitReady.
func okOrErr(r result) error {
	if r.exit == 0 {
		return nil
	}
	return fmt.Errorf("%v", r)
}
