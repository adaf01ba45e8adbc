package tests

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Storms: many containers through their whole life at once, and many
// commands on one container at once. Whatever the interleaving, no command
// crashes or hangs, `state` and `list` only ever show what is true, and
// nothing is left on the host afterwards.

// stormSpec is a container running args with the test's marker in its
// environment.
func stormSpec(marker string, args ...string) *specs.Spec {
	s := baseSpec(args...)
	s.Process.Env = append(s.Process.Env, markEnv(marker))
	return s
}

// checkRan fails the test for a command that crashed, hung or could not be run.
func checkRan(t *testing.T, r result) {
	t.Helper()
	if r.code < 0 || goCrash.MatchString(r.stdout+r.stderr) {
		t.Errorf("a command crashed, hung or was killed:\n%v", r)
	}
}

// lister runs `list --format json` until stopped and checks every output
// with check, which returns a complaint or "".
type lister struct {
	stop  chan struct{}
	done  chan struct{}
	count atomic.Int64
}

func (e *env) startLister(t *testing.T, check func(libState) string) *lister {
	l := &lister{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			r := runNoFatal(e.huskArgs([]string{"list", "--format", "json"})...)
			l.count.Add(1)
			if r.code != 0 {
				t.Errorf("list failed during the storm:\n%v", r)
				continue
			}
			states, err := parseList(r.stdout)
			if err != nil {
				t.Errorf("list output is not JSON: %v\n%v", err, r)
				continue
			}
			for _, st := range states {
				if msg := check(st); msg != "" {
					t.Errorf("list during the storm: %s: %+v", msg, st)
				}
			}
		}
	}()
	return l
}

func (l *lister) finish() int64 {
	close(l.stop)
	<-l.done
	return l.count.Load()
}

// libState is an entry of `list --format json`.
type libState struct {
	ID     string               `json:"id"`
	Pid    int                  `json:"pid"`
	Status specs.ContainerState `json:"status"`
}

// parseList decodes the output of `list --format json`.
func parseList(out string) ([]libState, error) {
	var states []libState
	err := json.Unmarshal([]byte(out), &states)
	return states, err
}

// 100 containers created, started, killed and deleted, 16 at a time,
// while `list` runs in a loop.
func TestStormLifecycle(t *testing.T) {
	e := newEnv(t)
	marker := e.newMarker()
	b := e.newBundle(stormSpec(marker, "sleep", "30"))
	const total, parallel = 100, 16
	ids := make([]string, total)
	for i := range ids {
		ids[i] = e.newID()
	}
	began := time.Now()
	l := e.startLister(t, func(st libState) string {
		switch st.Status {
		case specs.StateCreating, specs.StateCreated, specs.StateRunning, specs.StateStopped:
			return ""
		}
		return "unexpected status"
	})
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				e.stormOne(t, b, id)
			}
		}()
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	lists := l.finish()
	t.Logf("%d containers through create/start/kill/delete, %d at a time, in %v; %d lists meanwhile",
		total, parallel, time.Since(began).Round(time.Millisecond), lists)
	if left := e.listIDs(t); len(left) != 0 {
		t.Errorf("containers still listed: %q", left)
	}
	e.assertNoLeftovers(leftovers{ids: ids, marker: marker})
}

// stormOne takes one container through its life; failures are reported
// with Errorf (it runs in a goroutine) and the container force-deleted.
func (e *env) stormOne(t *testing.T, b *bundle, id string) {
	husk := func(args ...string) result {
		r := runNoFatal(e.huskArgs(args)...)
		checkRan(t, r)
		return r
	}
	fail := func(r result) {
		t.Errorf("%s: unexpected failure:\n%v", id, r)
		husk("delete", "-f", id)
	}
	for _, args := range [][]string{{"create", "--bundle", b.dir, id}, {"start", id}, {"kill", id, "KILL"}} {
		if r := husk(args...); r.code != 0 {
			fail(r)
			return
		}
	}
	// The init dies asynchronously after SIGKILL; `delete` without -f
	// refuses a container that still runs, so wait for it to stop.
	deadline := time.Now().Add(pollTimeout)
	for {
		r := husk("state", id)
		st, err := parseState(r.stdout)
		if r.code != 0 || err != nil {
			fail(r)
			return
		}
		if st.Status == specs.StateStopped {
			break
		}
		if st.Status != specs.StateRunning || time.Now().After(deadline) {
			t.Errorf("%s: status %q after SIGKILL", id, st.Status)
			husk("delete", "-f", id)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := husk("delete", id); r.code != 0 {
		fail(r)
	}
}

// Many commands on the same containers at once: two `delete -f`, `kill`
// with two signals, `state` and `exec` of a long-running process, while
// `list` runs. Both deletes succeed (the second finds nothing to do),
// every exec returns (its process dies with the container), `state` and
// `list` show only running or stopped (never a half-removed container as
// "creating"), and nothing is left.
func TestStormSameContainer(t *testing.T) {
	e := newEnv(t)
	marker := e.newMarker()
	b := e.newBundle(stormSpec(marker, "sleep", "30"))
	const containers, rounds = 6, 2
	var ids []string
	for range rounds {
		var round []string
		for range containers {
			id := e.newID()
			mustSucceed(t, e.husk("run", "-d", "--bundle", b.dir, id))
			round = append(round, id)
		}
		ids = append(ids, round...)
		l := e.startLister(t, func(st libState) string {
			if !runningOrStopped(st.Status) {
				return "want running or stopped"
			}
			return ""
		})
		var wg sync.WaitGroup
		for _, id := range round {
			cmds := [][]string{
				{"exec", "-e", markEnv(marker), id, "sleep", "30"},
				{"state", id},
				{"delete", "-f", id},
				{"kill", id, "KILL"},
				{"exec", "-e", markEnv(marker), id, "sleep", "30"},
				{"state", id},
				{"kill", id, "TERM"},
				{"delete", "-f", id},
				{"state", id},
			}
			for _, args := range cmds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.checkStormCommand(t, runNoFatal(e.huskArgs(args)...), args[0])
				}()
			}
		}
		wg.Wait()
		t.Logf("%d lists during the round", l.finish())
		for _, id := range round {
			if r := e.husk("state", id); r.code == 0 {
				t.Errorf("%s still exists after delete -f:\n%v", id, r)
			}
		}
	}
	e.assertNoLeftovers(leftovers{ids: ids, marker: marker})
}

// runningOrStopped is what `state` and `list` may show of a container that
// commands race on: never "creating" for a half-removed one.
func runningOrStopped(s specs.ContainerState) bool {
	return s == specs.StateRunning || s == specs.StateStopped
}

// checkStormCommand checks one command of TestStormSameContainer.
func (e *env) checkStormCommand(t *testing.T, r result, cmd string) {
	checkRan(t, r)
	switch cmd {
	case "delete":
		if r.code != 0 {
			t.Errorf("delete -f failed:\n%v", r)
		}
	case "state":
		if r.code != 0 {
			if !strings.Contains(r.stderr, "does not exist") {
				t.Errorf("state failed other than with \"does not exist\":\n%v", r)
			}
			return
		}
		st, err := parseState(r.stdout)
		if err != nil || !runningOrStopped(st.Status) {
			t.Errorf("state during the storm: %+v (%v), want running or stopped\n%v", st, err, r)
		}
	}
}

// `exec` into a container while it is deleted: a process exec'd before
// the delete dies with the container and its `exec` returns; execs started
// while `delete -f` runs fail or return likewise; nothing is left.
func TestStormExecDuringDelete(t *testing.T) {
	e := newEnv(t)
	marker := e.newMarker()
	c := e.runDetached(stormSpec(marker, "sleep", "30"))
	mark := []string{"-e", markEnv(marker)}
	long := startCmd(t, cmdOpts{}, e.huskArgs(append(append([]string{"exec"}, mark...), c.id, "sh", "-c", ": > /exec-ready; exec sleep 30"))...)
	c.waitReady("exec-ready")
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				results[i] = runNoFatal(e.huskArgs([]string{"delete", "-f", c.id})...)
				return
			}
			results[i] = runNoFatal(e.huskArgs(append(append([]string{"exec"}, mark...), c.id, "sleep", "30"))...)
		}()
	}
	wg.Wait()
	mustSucceed(t, results[0])
	lr := long.wait()
	if lr.code != 128+9 {
		t.Errorf("the exec'd process was not killed with its container:\n%v", lr)
	}
	for _, r := range append(results, lr) {
		checkRan(t, r)
	}
	if r := e.husk("state", c.id); r.code == 0 {
		t.Errorf("%s still exists after delete -f:\n%v", c.id, r)
	}
	e.assertNoLeftovers(leftovers{ids: []string{c.id}, marker: marker})
}
