package sigfwd

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Signals sent to the process arrive on the channel, in order, and none
// takes its default action (SIGTERM would end the test binary); a child
// that execs has the default handlers again.
func TestCatch(t *testing.T) {
	sigs := []unix.Signal{unix.SIGTERM, unix.SIGUSR1, unix.SIGCHLD, unix.SIGTSTP, unix.Signal(40), unix.Signal(64)}
	c := make(chan os.Signal, 16)
	if err := Catch(c, sigs); err != nil {
		t.Fatal(err)
	}
	for _, s := range sigs {
		if err := unix.Kill(os.Getpid(), s); err != nil {
			t.Fatal(err)
		}
		if got := <-c; got != s {
			t.Fatalf("sent %v, got %v", s, got)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", "kill -TERM $$; echo survived")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		t.Fatalf("sh: %v", err)
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("a child that execs should die of its SIGTERM: %v, output %q", cmd.ProcessState, out)
	}
}

func TestCatchRefusesRuntimeSignals(t *testing.T) {
	for _, s := range []unix.Signal{unix.SIGURG, unix.SIGSEGV, unix.SIGPIPE, unix.SIGPROF, unix.SIGKILL, unix.Signal(33), unix.Signal(65)} {
		if Catchable(s) {
			t.Errorf("%v is catchable", s)
		}
	}
	if err := Catch(make(chan os.Signal), []unix.Signal{unix.SIGSEGV}); err == nil {
		t.Errorf("Catch took SIGSEGV")
	}
}
