package timerslack

import (
	"bytes"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func threadSlack(t *testing.T) uintptr {
	t.Helper()
	s, err := slackOfThread()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func slackOfThread() (uintptr, error) {
	s, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	return uintptr(s), err
}

// requireWidened skips only where the constructor rightly left the slack
// alone: a real-time thread (no slack) or one started with a wider one.
func requireWidened(t *testing.T) {
	t.Helper()
	if inherited != 0 {
		return
	}
	if s := threadSlack(t); s == 0 || s >= wide {
		t.Skipf("started with a timer slack of %d ns: nothing to widen", threadSlack(t))
	}
	t.Fatalf("the constructor did not widen the timer slack (inherited %d ns, this thread's %d ns)", inherited, threadSlack(t))
}

func TestThreadsHaveTheWideSlack(t *testing.T) {
	requireWidened(t)
	// A fresh goroutine may run on any of the runtime's threads; each was
	// made after the constructor ran.
	type result struct {
		slack uintptr
		err   error
	}
	done := make(chan result)
	for range 4 {
		go func() {
			runtime.LockOSThread() // and the thread exits with the goroutine
			s, err := slackOfThread()
			done <- result{s, err}
		}()
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.slack != wide {
			t.Fatalf("thread's timer slack %d ns, want %d", r.slack, wide)
		}
	}
}

func TestSpawnAndForExecRestoreTheInheritedSlack(t *testing.T) {
	requireWidened(t)
	var out bytes.Buffer
	cmd := exec.Command("cat", "/proc/self/timerslack_ns")
	cmd.Stdout = &out
	if err := Spawn(cmd.Start); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != strconv.FormatUint(uint64(inherited), 10) {
		t.Errorf("spawned program's timer slack %s ns, want the inherited %d", got, inherited)
	}
	if got := threadSlack(t); got != wide {
		t.Errorf("after Spawn the thread's slack is %d ns, want %d", got, wide)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := ForExec(); err != nil {
		t.Fatal(err)
	}
	defer set(wide)
	if got := threadSlack(t); got != inherited {
		t.Errorf("after ForExec the thread's slack is %d ns, want %d", got, inherited)
	}
}
