package tests

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Many commands on one running container at once, while it is deleted with
// --force: none crashes or hangs, every `state` that succeeds prints valid
// JSON with a status the container can have (running, or stopped while it
// is being deleted), delete -f succeeds and nothing is left behind.
func TestMoreConcurrentCommandsDuringDelete(t *testing.T) {
	e := newEnv(t)
	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")
	initPid := c.state().Pid
	ns := nsLink(t, strconv.Itoa(initPid), "pid")

	const workers, rounds = 10, 5
	// delete -f starts once a round's worth of commands has finished, so
	// that it overlaps with the rest rather than beating them all.
	const beforeDelete = workers * 3
	halfway := make(chan struct{})
	var (
		mu      sync.Mutex
		results []result
		states  []result
		wg      sync.WaitGroup
		del     result
	)
	record := func(r result, isState bool) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, r)
		if len(results) == beforeDelete {
			close(halfway)
		}
		if isState && r.code == 0 {
			states = append(states, r)
		}
	}
	start := make(chan struct{})
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < rounds; j++ {
				record(runNoFatal(e.huskArgs([]string{"state", c.id})...), true)
				record(runNoFatal(e.huskArgs([]string{"kill", c.id, "CONT"})...), false)
				record(runNoFatal(e.huskArgs([]string{"exec", c.id, "true"})...), false)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-halfway
		del = runNoFatal(e.huskArgs([]string{"delete", "-f", c.id})...)
	}()
	close(start)
	wg.Wait()

	for _, r := range append(results, del) {
		if r.code < 0 || goCrash.MatchString(r.stdout+r.stderr) {
			t.Errorf("a command crashed, hung or was killed:\n%v", r)
		}
	}
	mustSucceed(t, del)
	for _, r := range states {
		st, err := parseState(r.stdout)
		if err != nil {
			t.Errorf("state output is not JSON: %v\n%v", err, r)
			continue
		}
		if st.ID != c.id || (st.Status != specs.StateRunning && st.Status != specs.StateStopped) {
			t.Errorf("state during the commands: %+v, want id %s running or stopped", st, c.id)
		}
		if st.Status == specs.StateRunning && st.Pid != initPid {
			t.Errorf("running state with pid %d, want the init %d", st.Pid, initPid)
		}
	}
	t.Logf("%d commands, %d successful state outputs", len(results), len(states))

	if pidAlive(initPid) {
		t.Errorf("init %d alive after delete -f", initPid)
	}
	// Processes exec'd just before the delete die with the namespace's init,
	// reaped by their own `exec`, which has returned by now.
	if pids := pidsInPidNS(ns); len(pids) != 0 {
		var desc []string
		for _, p := range pids {
			desc = append(desc, strconv.Itoa(p)+" "+strings.ReplaceAll(cmdlineOf(p), "\x00", " "))
		}
		t.Errorf("processes left in the container's pid namespace: %q", desc)
	}
	c.assertGone()
	mustFail(t, e.husk("state", c.id))
}

// Two `create` with the same ID at the same time: exactly one succeeds, the
// other fails cleanly and does not disturb the winner.
func TestMoreConcurrentCreateSameID(t *testing.T) {
	e := newEnv(t)
	// runc 1.1.5 races here: the loser's cleanup can remove the winner's
	// state directory, so both fail, or one "succeeds" with no container.
	skipIfRunc(t, "concurrent creates with one ID can both fail or lose the winner's state")
	for round := 0; round < 5; round++ {
		id := e.newID()
		bundles := []*bundle{e.newBundle(baseSpec(sleeper...)), e.newBundle(baseSpec(sleeper...))}
		res := make([]result, len(bundles))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, b := range bundles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res[i] = runNoFatal(e.huskArgs([]string{"create", "--bundle", b.dir, id})...)
			}()
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, r := range res {
			switch {
			case r.code == 0 && winner < 0:
				winner = i
			case r.code == 0:
				t.Fatalf("both creates of %s succeeded:\n%v\n%v", id, res[0], res[1])
			case r.code < 0 || goCrash.MatchString(r.stderr):
				t.Fatalf("create crashed or hung:\n%v", r)
			}
		}
		if winner < 0 {
			t.Fatalf("neither create of %s succeeded:\n%v\n%v", id, res[0], res[1])
		}
		checkErrorMessage(t, res[1-winner], id, "exists")
		c := &container{e: e, id: id, b: bundles[winner]}
		st := c.state()
		if st.Status != specs.StateCreated || st.Bundle != bundles[winner].dir || !pidAlive(st.Pid) {
			t.Fatalf("round %d: state of the winner: %+v (bundle %s)", round, st, bundles[winner].dir)
		}
		if ids := e.listIDs(t); len(ids) != 1 || ids[0] != id {
			t.Fatalf("round %d: list %q, want only %s", round, ids, id)
		}
		mustSucceed(t, c.delete())
		for _, b := range bundles {
			e.assertNothingLeft(id, b)
		}
	}
}
