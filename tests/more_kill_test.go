package tests

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// `kill --all` reaches every process of a container with its own PID
// namespace, not just its init. The init starts two background sleeps and
// then traps TERM: a TERM sent with --all ends the sleeps (default action)
// while the init records it and keeps running, which a plain `kill` of the
// init alone could not do. A KILL sent with --all then ends all of them.
// The processes are found on the host by their pid namespace.
func TestMoreKillAllPidNamespace(t *testing.T) {
	e := newEnv(t)
	out := e.hostDir()
	sigs := filepath.Join(out, "sigs")
	// The sleeps are forked before the trap is set, so they keep TERM's
	// default action. `wait` returns when the trapped TERM arrives; the loop
	// then keeps the init alive until KILL.
	s := baseSpec("sh", "-c", "sleep 300 & sleep 300 & trap 'echo TERM >> /out/sigs' TERM; touch /ready; wait; while :; do sleep 300 & wait; done")
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	c := e.runDetached(s)
	c.waitReady("ready")
	initPid := c.state().Pid
	ns := nsLink(t, strconv.Itoa(initPid), "pid")
	if ns == nsLink(t, "self", "pid") {
		t.Fatalf("the container shares the host's pid namespace %s", ns)
	}

	// Exactly the init and the two sleeps (a short-lived child such as
	// touch may still be around at first).
	var sleepers []int
	poll(t, "the init and two sleeps to be the container's only processes", func() bool {
		pids := pidsInPidNS(ns)
		sleepers = nil
		for _, p := range pids {
			if cmdlineOf(p) == "sleep\x00300\x00" {
				sleepers = append(sleepers, p)
			}
		}
		return len(pids) == 3 && slices.Contains(pids, initPid) && len(sleepers) == 2
	})

	mustSucceed(t, e.husk("kill", "--all", c.id, "TERM"))
	poll(t, "TERM to reach the init and end both sleeps", func() bool {
		return readIfExists(t, sigs) != "" && !aliveInPidNS(sleepers[0], ns) && !aliveInPidNS(sleepers[1], ns)
	})
	if got := readIfExists(t, sigs); got != "TERM\n" {
		t.Errorf("the init recorded %q, want one TERM", got)
	}
	if st := c.state(); st.Status != specs.StateRunning || !aliveInPidNS(initPid, ns) {
		t.Fatalf("a trapped TERM ended the init: %+v", st)
	}

	mustSucceed(t, e.husk("kill", "--all", c.id, "KILL"))
	poll(t, "no process left in the container's pid namespace", func() bool {
		return len(pidsInPidNS(ns)) == 0
	})
	for _, p := range append([]int{initPid}, sleepers...) {
		if aliveInPidNS(p, ns) {
			t.Errorf("container process %d survived kill --all KILL", p)
		}
	}
	if st := c.waitStatus(specs.StateStopped); st.Pid != 0 {
		t.Errorf("stopped container reports pid %d, want 0", st.Pid)
	}
	mustSucceed(t, c.delete())
	c.assertGone()
}

// Without a PID namespace, `kill --all` still signals (at least) the init.
func TestMoreKillAllWithoutPidNamespace(t *testing.T) {
	e := newEnv(t)
	s := baseSpec(sleeper...)
	removeNamespace(s, specs.PIDNamespace)
	c := e.runDetached(s)
	c.waitReady("ready")
	pid := c.state().Pid
	if got, host := nsLink(t, strconv.Itoa(pid), "pid"), nsLink(t, "self", "pid"); got != host {
		t.Fatalf("the container has its own pid namespace %s (host %s)", got, host)
	}
	mustSucceed(t, e.husk("kill", "--all", c.id, "KILL"))
	c.waitStatus(specs.StateStopped)
	poll(t, fmt.Sprintf("init %d to end", pid), func() bool { return !pidAlive(pid) })
	mustSucceed(t, c.delete())
	c.assertGone()
}

// The init killed from the host behind the runtime's back: `state` notices
// (stopped, pid 0) and a plain `delete` removes the container.
func TestMoreStateAfterInitKilledFromHost(t *testing.T) {
	e := newEnv(t)
	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")
	pid := c.state().Pid
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := c.waitStatus(specs.StateStopped); st.Pid != 0 || st.ID != c.id || st.Bundle != c.b.dir {
		t.Errorf("state of the killed container: %+v", st)
	}
	r := mustFail(t, e.husk("kill", c.id, "KILL"))
	checkErrorMessage(t, r, "not running", "stopped")
	mustSucceed(t, c.delete())
	c.assertGone()
	mustFail(t, e.husk("state", c.id))
}
