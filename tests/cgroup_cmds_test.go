package tests

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The commands that work through the container's cgroup: pause, resume,
// update, events, ps, kill --all and delete.

// counterLines is how many lines a container's counter loop has appended
// to a host file. Appending one short line is a single write, so a freeze
// never leaves a half-written count behind.
func counterLines(t *testing.T, path string) int {
	t.Helper()
	return strings.Count(readIfExists(t, path), "\n")
}

// pause freezes the whole container: `state` says paused, freezer.state is
// FROZEN and a counter the container writes to a host file stops; resume
// thaws it and the counter moves on. Pausing a container that is not
// running, or resuming one that is not paused, fails.
func TestCgroupPauseResume(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	out := e.hostDir()
	counter := filepath.Join(out, "count")
	s := baseSpec("sh", "-c", `while :; do echo tick >>/out/count; sleep 0.02; done`)
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	c := e.runDetached(s)
	waitFile(t, counter)
	cg := c.cgroups()
	if got := cg.read(t, "freezer", "freezer.state"); got != "THAWED" {
		t.Errorf("freezer.state of a running container = %s, want THAWED", got)
	}
	r := mustFail(t, e.husk("resume", c.id))
	checkErrorMessage(t, r, "paused", "running")

	mustSucceed(t, e.husk("pause", c.id))
	if st := c.state(); st.Status != "paused" {
		t.Errorf("state after pause: %s, want paused", st.Status)
	}
	if got := cg.read(t, "freezer", "freezer.state"); got != "FROZEN" {
		t.Errorf("freezer.state after pause = %s, want FROZEN", got)
	}
	before := counterLines(t, counter)
	time.Sleep(300 * time.Millisecond)
	if after := counterLines(t, counter); after != before {
		t.Errorf("the counter moved from %d to %d while paused", before, after)
	}

	mustSucceed(t, e.husk("resume", c.id))
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("state after resume: %s, want running", st.Status)
	}
	if got := cg.read(t, "freezer", "freezer.state"); got != "THAWED" {
		t.Errorf("freezer.state after resume = %s, want THAWED", got)
	}
	poll(t, "the counter to move on after resume", func() bool { return counterLines(t, counter) > before })

	// A paused container can be killed and deleted.
	mustSucceed(t, e.husk("pause", c.id))
	dirs := cg
	mustSucceed(t, c.delete("-f"))
	c.assertGone()
	assertNoCgroupDirs(t, "delete -f of a paused container", dirs)
}

func TestCgroupPauseNotRunning(t *testing.T) {
	requireRoot(t)
	requireCgroupV1(t)
	t.Parallel()
	t.Run("stopped", func(t *testing.T) {
		e := newEnv(t)
		c := e.create(baseSpec("true"))
		c.start()
		c.waitStatus(specs.StateStopped)
		r := mustFail(t, e.husk("pause", c.id))
		checkErrorMessage(t, r, "not running", "stopped")
		if st := c.state(); st.Status != specs.StateStopped {
			t.Errorf("state after the failed pause: %s", st.Status)
		}
	})
	t.Run("created", func(t *testing.T) {
		e := newEnv(t)
		skipIfRunc(t, "runc 1.1 pauses a created container")
		c := e.create(baseSpec("true"))
		r := mustFail(t, e.husk("pause", c.id))
		checkErrorMessage(t, r, "not running", "created")
		if st := c.state(); st.Status != specs.StateCreated {
			t.Errorf("state after the failed pause: %s", st.Status)
		}
	})
}

// update changes the host's files; what it set stays set through later
// updates of other fields (a runtime that re-applied the config's values
// would undo it); bad input fails naming the field and changes nothing.
func TestCgroupUpdate(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	s := baseSpec()
	r := resources(s)
	r.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(64 << 20))}
	r.Pids = &specs.LinuxPids{Limit: ptrTo(int64(20))}
	r.CPU = &specs.LinuxCPU{Quota: ptrTo(int64(50000)), Period: ptrTo(uint64(100000)), Shares: ptrTo(uint64(1024))}
	c := e.runningContainer(s)
	cg := c.cgroups()
	cpus := cg.read(t, "cpuset", "cpuset.cpus")
	want := map[string]string{
		"memory.limit_in_bytes": strconv.Itoa(64 << 20),
		"pids.max":              "20",
		"cpu.cfs_quota_us":      "50000",
		"cpu.cfs_period_us":     "100000",
		"cpu.shares":            "1024",
		"cpuset.cpus":           cpus,
	}
	check := func(when string) {
		t.Helper()
		for f, v := range want {
			if got := cg.read(t, strings.Split(f, ".")[0], f); got != v {
				t.Errorf("%s: %s = %s, want %s", when, f, got, v)
			}
		}
	}
	check("at start")

	mustSucceed(t, e.husk("update", "--memory", "48m", "--pids-limit", "15", "--cpu-quota", "20000", c.id))
	want["memory.limit_in_bytes"] = strconv.Itoa(48 << 20)
	want["pids.max"] = "15"
	want["cpu.cfs_quota_us"] = "20000"
	check("after update --memory --pids-limit --cpu-quota")

	mustSucceed(t, e.husk("update", sharesFlag(), "256", c.id))
	want["cpu.shares"] = "256"
	check("after a second update of cpu.shares only")

	mustSucceed(t, e.huskOpts(cmdOpts{stdin: strings.NewReader(`{"pids": {"limit": 12}}`)}, "update", "--resources", "-", c.id))
	want["pids.max"] = "12"
	check("after update --resources - of pids.limit")

	for _, bad := range []struct {
		name  string
		args  []string
		stdin string
		words []string
	}{
		{"negative --memory", []string{"--memory", "-5"}, "", []string{"memory"}},
		{"memory+swap below the memory limit", []string{"--memory-swap", "16m"}, "", []string{"swap"}},
		{"negative memory.limit", []string{"--resources", "-"}, `{"memory": {"limit": -5}}`, []string{"memory"}},
		{"cpuset outside the host's CPUs", []string{"--cpuset-cpus", "99"}, "", []string{"cpus"}},
		{"unknown unified key", []string{"--resources", "-"}, `{"unified": {"husk.bogus": "1"}}`, []string{"unified"}},
		{"not JSON", []string{"--resources", "-"}, `{"pids": `, []string{"JSON", "json", "resources"}},
	} {
		if bad.name == "cpuset outside the host's CPUs" && exists("/sys/devices/system/cpu/cpu99") {
			continue
		}
		o := cmdOpts{}
		if bad.stdin != "" {
			o.stdin = strings.NewReader(bad.stdin)
		}
		r := e.huskOpts(o, append(append([]string{"update"}, bad.args...), c.id)...)
		if r.code <= 0 {
			t.Errorf("update with %s: want a non-zero exit:\n%v", bad.name, r)
		} else {
			checkErrorMessage(t, r, bad.words...)
		}
		check("after the refused update with " + bad.name)
	}

	mustSucceed(t, e.husk("update", "--memory", "-1", c.id))
	if got, _ := strconv.ParseInt(cg.read(t, "memory", "memory.limit_in_bytes"), 10, 64); got < 1<<62 {
		t.Errorf("memory.limit_in_bytes = %d after update --memory -1, want no limit", got)
	}
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("the container is %s after the updates", st.Status)
	}
}

// subtestName turns a command such as "kill --all" into a subtest name.
func subtestName(cmd string) string {
	return strings.NewReplacer(" --", "-", " -", "-", " ", "-").Replace(cmd)
}

// sharesFlag is update's CPU shares flag: husk's --cpu-shares, runc's
// --cpu-share (TestCgroupUpdateRuncFlags checks husk takes both).
func sharesFlag() string {
	if isRunc() {
		return "--cpu-share"
	}
	return "--cpu-shares"
}

// update takes runc 1.1's spelling of its flags, so that scripts written
// for runc work.
func TestCgroupUpdateRuncFlags(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	c := e.runningContainer(baseSpec())
	cg := c.cgroups()
	r := e.husk("update", "--cpu-share", "300", c.id)
	if r.code != 0 {
		t.Fatalf("update --cpu-share (runc's name for the CPU shares flag) failed:\n%v", r)
	}
	if got := cg.read(t, "cpu", "cpu.shares"); got != "300" {
		t.Errorf("cpu.shares = %s after update --cpu-share 300", got)
	}
}

// `events --stats` prints one stats line for the container; streaming
// `events --interval` prints stats until the container stops, then exits.
func TestCgroupEvents(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	s := baseSpec()
	resources(s).Pids = &specs.LinuxPids{Limit: ptrTo(int64(50))}
	c := e.runningContainer(s)

	r := mustSucceed(t, e.husk("events", "--stats", c.id))
	evs := parseEvents(t, r.stdout)
	if len(evs) != 1 {
		t.Fatalf("events --stats: want exactly one line:\n%v", r)
	}
	ev := evs[0]
	if ev.Type != "stats" || ev.ID != c.id || ev.Data.Memory.Usage.Usage == 0 || ev.Data.Pids.Current == 0 || ev.Data.Pids.Limit != 50 {
		t.Errorf("events --stats: %+v, want type stats, id %s, memory usage and pids current > 0, pids limit 50", ev, c.id)
	}

	events := startCmd(t, cmdOpts{timeout: 30 * time.Second}, e.huskArgs([]string{"events", "--interval", "200ms", c.id})...)
	poll(t, "events to print two stats lines", func() bool {
		n := 0
		for _, l := range lines(events.peek()) {
			if strings.Contains(l, `"type":"stats"`) {
				n++
			}
		}
		return n >= 2
	})
	mustSucceed(t, c.kill("KILL"))
	if isRunc() {
		// runc 1.1 streams the stats of the stopped container's cgroup
		// until it is deleted: stop it here.
		c.waitStatus(specs.StateStopped)
		events.cmd.Process.Kill()
	}
	done := time.Now()
	r = events.wait()
	if !isRunc() && r.code != 0 {
		t.Errorf("events should exit 0 once the container stops: exit %d, stderr %q", r.code, r.stderr)
	}
	if d := time.Since(done); d > 5*time.Second {
		t.Errorf("events took %v to notice the container stopped", d)
	}
	n := 0
	for _, ev := range parseEvents(t, r.stdout) {
		if ev.ID != c.id || ev.Type != "stats" {
			t.Errorf("unexpected event %+v", ev)
		}
		n++
	}
	if n < 2 {
		t.Errorf("events printed %d stats lines, want at least 2: %q", n, r.stdout)
	}
}

// ps lists the container's processes, found through its cgroup: the table
// keeps ps(1)'s header and the lines of the init and its child; --format
// json is the array of their pids.
func TestCgroupPs(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	c := e.runDetached(baseSpec("sh", "-c", "sleep 300 & touch /ready; wait"))
	c.waitReady("ready")
	initPid := c.state().Pid
	cg := c.cgroups()
	var procs []int
	poll(t, "the init and its sleep in the cgroup", func() bool {
		procs = cgroupProcs(t, cg.dir(t, "pids"))
		return len(procs) == 2 && slices.Contains(procs, initPid)
	})
	slices.Sort(procs)

	r := mustSucceed(t, e.husk("ps", c.id))
	ls := lines(r.stdout)
	if len(ls) == 0 {
		t.Fatalf("ps printed nothing:\n%v", r)
	}
	col := slices.Index(strings.Fields(ls[0]), "PID")
	if col < 0 {
		t.Fatalf("ps: no PID column in the header %q", ls[0])
	}
	var listed []int
	for _, l := range ls[1:] {
		f := strings.Fields(l)
		p, err := strconv.Atoi(f[col])
		if err != nil {
			t.Fatalf("ps: line %q has no pid", l)
		}
		listed = append(listed, p)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, procs) {
		t.Errorf("ps lists pids %v, the cgroup has %v:\n%s", listed, procs, r.stdout)
	}

	r = mustSucceed(t, e.husk("ps", "--format", "json", c.id))
	var pids []int
	if err := json.Unmarshal([]byte(r.stdout), &pids); err != nil {
		t.Fatalf("ps --format json: %v\n%v", err, r)
	}
	slices.Sort(pids)
	if !slices.Equal(pids, procs) {
		t.Errorf("ps --format json = %v, the cgroup has %v", pids, procs)
	}
}

// Without a PID namespace, the container's processes are found through the
// cgroup only: kill --all reaches the init's background sleeps, and delete
// -f of a running container ends them too. Neither leaves a cgroup
// directory in any hierarchy, the unified one included.
func TestCgroupKillAllWithoutPidNamespace(t *testing.T) {
	requireRoot(t)
	requireCgroupV1(t)
	t.Parallel()
	for _, how := range []string{"kill --all", "delete -f"} {
		t.Run(subtestName(how), func(t *testing.T) {
			e := newEnv(t)
			s := baseSpec("sh", "-c", "sleep 300 & sleep 300 & touch /ready; wait")
			removeNamespace(s, specs.PIDNamespace)
			c := e.runDetached(s)
			c.waitReady("ready")
			initPid := c.state().Pid
			cg := c.cgroups()
			if _, ok := cg[""]; !ok && exists(filepath.Join(cgroupRootDir, "unified")) {
				t.Errorf("the init is in no unified-hierarchy cgroup: %v", cg)
			}
			if !isRunc() {
				if got := e.stateCgroupPaths(c.id); !equalDirs(got, cg) {
					t.Errorf("state.json cgroupPaths %v, but the init is in %v", got, cg)
				}
			}
			var procs []int
			poll(t, "the init and two sleeps in the cgroup", func() bool {
				procs = cgroupProcs(t, cg.dir(t, "pids"))
				return len(procs) == 3 && slices.Contains(procs, initPid)
			})

			if how == "kill --all" {
				mustSucceed(t, e.husk("kill", "--all", c.id, "KILL"))
				c.waitStatus(specs.StateStopped)
				poll(t, "every process of the container to end", func() bool {
					return !slices.ContainsFunc(procs, pidAlive)
				})
				mustSucceed(t, c.delete())
			} else {
				mustSucceed(t, c.delete("-f"))
			}
			c.assertGone()
			for _, p := range procs {
				if pidAlive(p) && strings.HasPrefix(cmdlineOf(p), "sleep\x00300") {
					t.Errorf("container process %d (%q) survived %s", p, cmdlineOf(p), how)
				}
			}
			assertNoCgroupDirs(t, how, cg)
		})
	}
}

// SIGKILL sent to a paused container ends it, with or without --all: a
// frozen v1 cgroup holds the signal until it is thawed, so the runtime
// has to thaw it (runc 1.1 does).
func TestCgroupKillPaused(t *testing.T) {
	requireRoot(t)
	requireCgroupV1(t)
	t.Parallel()
	for _, all := range []bool{false, true} {
		name := "kill"
		if all {
			name = "kill-all"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			c := e.runDetached(baseSpec("sh", "-c", "sleep 300 & touch /ready; wait"))
			c.waitReady("ready")
			cg := c.cgroups()
			procs := cgroupProcs(t, cg.dir(t, "freezer"))
			mustSucceed(t, e.husk("pause", c.id))
			args := []string{"kill", c.id, "KILL"}
			if all {
				args = []string{"kill", "--all", c.id, "KILL"}
			}
			mustSucceed(t, e.husk(args...))
			// Not the harness's long poll: a runtime that leaves the
			// cgroup frozen fails here in seconds.
			deadline := time.Now().Add(3 * time.Second)
			for slices.ContainsFunc(procs, pidAlive) || c.state().Status != specs.StateStopped {
				if time.Now().After(deadline) {
					alive := slices.DeleteFunc(slices.Clone(procs), func(p int) bool { return !pidAlive(p) })
					t.Fatalf("%s KILL of a paused container: status %s, processes %v still alive, freezer.state %s",
						strings.Join(args[:len(args)-2], " "), c.state().Status, alive,
						strings.TrimSpace(readIfExists(t, cg.file(t, "freezer", "freezer.state"))))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := readIfExists(t, cg.file(t, "freezer", "freezer.state")); strings.TrimSpace(got) == "FROZEN" {
				t.Errorf("freezer.state is still FROZEN")
			}
			mustSucceed(t, c.delete())
			c.assertGone()
			assertNoCgroupDirs(t, "delete", cg)
		})
	}
}

// A container that makes cgroups of its own below its cgroup (through a
// cgroup namespace and a writable cgroup mount) and moves its processes
// there: ps still lists them, kill --all and delete -f still end them,
// and delete removes the sub-cgroups with the container's. There is no
// PID namespace, so only the cgroup finds the processes.
func TestCgroupSubCgroups(t *testing.T) {
	requireRoot(t)
	requireCgroupV1(t)
	t.Parallel()
	if !exists("/proc/self/ns/cgroup") {
		t.Skip("no cgroup namespaces")
	}
	for _, how := range []string{"kill --all", "delete -f"} {
		t.Run(subtestName(how), func(t *testing.T) {
			e := newEnv(t)
			s := baseSpec("sh", "-c", `set -e; for c in pids memory freezer devices; do
				mkdir /sys/fs/cgroup/$c/sub; echo $$ >/sys/fs/cgroup/$c/sub/cgroup.procs; done
				sleep 300 & touch /ready; wait`)
			removeNamespace(s, specs.PIDNamespace)
			setNamespace(s, specs.LinuxNamespace{Type: specs.CgroupNamespace})
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
				Options: []string{"nosuid", "noexec", "nodev"}})
			c := e.runDetached(s)
			c.waitReady("ready")
			initPid := c.state().Pid
			var procs []int
			poll(t, "the init and its sleep in the sub-cgroup", func() bool {
				procs = cgroupProcs(t, cgroupsOfPid(t, initPid).dir(t, "pids"))
				return len(procs) == 2 && slices.Contains(procs, initPid)
			})
			sub := cgroupsOfPid(t, initPid)
			cg := cgroupDirs{}
			for k, d := range sub {
				cg[k] = strings.TrimSuffix(d, "/sub")
				if k == "pids" && d == cg[k] {
					t.Fatalf("the init did not move into its sub-cgroup: %v", sub)
				}
			}

			r := mustSucceed(t, e.husk("ps", "--format", "json", c.id))
			var pids []int
			if err := json.Unmarshal([]byte(r.stdout), &pids); err != nil {
				t.Fatalf("ps --format json: %v\n%v", err, r)
			}
			slices.Sort(pids)
			slices.Sort(procs)
			if !slices.Equal(pids, procs) {
				t.Errorf("ps --format json = %v, the sub-cgroup has %v", pids, procs)
			}

			if how == "kill --all" {
				mustSucceed(t, e.husk("kill", "--all", c.id, "KILL"))
				c.waitStatus(specs.StateStopped)
				poll(t, "every process of the container to end", func() bool {
					return !slices.ContainsFunc(procs, pidAlive)
				})
				mustSucceed(t, c.delete())
			} else {
				mustSucceed(t, c.delete("-f"))
			}
			c.assertGone()
			for _, p := range procs {
				if pidAlive(p) && strings.HasPrefix(cmdlineOf(p), "sleep\x00300") {
					t.Errorf("container process %d survived %s", p, how)
				}
			}
			assertNoCgroupDirs(t, how+" (sub-cgroups)", sub)
			assertNoCgroupDirs(t, how, cg)
		})
	}
}

// exec into a paused container fails at once (runc: "cannot exec in a
// paused container") instead of starting a process that the frozen cgroup
// stops; either way the container can be resumed afterwards.
func TestCgroupExecPaused(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	c := e.runningContainer(baseSpec())
	mustSucceed(t, e.husk("pause", c.id))
	// A short safety timeout: a runtime that waits for the frozen process
	// is killed by the harness after it.
	r := e.huskOpts(cmdOpts{timeout: 3 * time.Second}, "exec", c.id, "true")
	switch {
	case r.code == -1:
		t.Errorf("exec in a paused container hung (killed after 3s):\n%v", r)
	case r.code == 0:
		t.Errorf("exec in a paused container succeeded:\n%v", r)
	default:
		checkErrorMessage(t, r, "paused")
	}
	r = e.huskOpts(cmdOpts{timeout: 5 * time.Second}, "resume", c.id)
	if r.code != 0 {
		t.Fatalf("resume after the exec attempt:\n%v", r)
	}
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("state after resume: %s", st.Status)
	}
}
