package tests

import (
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// husk widens the timer slack of its own threads (internal/timerslack);
// what it starts must still get the slack husk was started with.
const startSlack = 77777 // ns: neither the kernel's default nor husk's

// withTimerSlack runs f, which starts commands, on a thread whose timer
// slack is ns: a forked process inherits its thread's slack.
func withTimerSlack(t *testing.T, ns uintptr, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, ns, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	f()
}

func TestTimerSlackOfStartedPrograms(t *testing.T) {
	e := newEnv(t)
	s, dir := e.hookSpec() // the process, which writes into dir, is set below
	s.Process.Args = []string{"sh", "-c", "cat /proc/self/timerslack_ns > " + filepath.Join(dir, "process") + "; exec sleep 1000"}
	for _, k := range hookKinds {
		setHook(s, k, shellHook("cat /proc/self/timerslack_ns > "+filepath.Join(dir, k)))
	}
	want := strconv.Itoa(startSlack)
	withTimerSlack(t, startSlack, func() {
		c := e.create(s)
		if !isRunc() {
			// The created init is husk's own: its slack is the wide one.
			slack := strings.TrimSpace(readFile(t, "/proc/"+strconv.Itoa(c.state().Pid)+"/timerslack_ns"))
			if n, _ := strconv.Atoi(slack); n <= startSlack {
				t.Errorf("created init's timer slack %s ns, want husk's wide one", slack)
			}
		}
		c.start()
		waitFile(t, filepath.Join(dir, "process"))
		if got := strings.TrimSpace(mustSucceed(t, c.exec("cat", "/proc/self/timerslack_ns")).stdout); got != want {
			t.Errorf("exec'd process: timer slack %s ns, want %s", got, want)
		}
		mustSucceed(t, c.kill("KILL"))
		c.waitStatus("stopped")
		mustSucceed(t, c.delete())
	})
	for _, name := range append([]string{"process"}, hookKinds...) {
		if got := strings.TrimSpace(readIfExists(t, filepath.Join(dir, name))); got != want {
			t.Errorf("%s: timer slack %q ns, want %s", name, got, want)
		}
	}
}

// The slack is given back before the seccomp filter: a profile that denies
// prctl must not stop the process from starting.
func TestTimerSlackBeforeSeccomp(t *testing.T) {
	e := newEnv(t)
	s := baseSpec("sh", "-c", "cat /proc/self/timerslack_ns")
	s.Process.NoNewPrivileges = true // the filter comes last, right before the exec
	s.Linux.Seccomp = allowAllBut(specs.LinuxSyscall{Names: []string{"prctl"}, Action: specs.ActErrno})
	var out string
	withTimerSlack(t, startSlack, func() { out = e.runOK(s) })
	if got := strings.TrimSpace(out); got != strconv.Itoa(startSlack) {
		t.Errorf("timer slack %q ns, want %d", got, startSlack)
	}
}
