package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits from linux.resources, observed from inside the container (what a
// process can do) and in the host's v1 cgroup files.

// memoryHog keeps 200 MB of output in a shell variable: anonymous memory
// of the shell, far above the limits below.
const memoryHog = `x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived ${#x}`

// memLimit is the memory limit of the OOM tests.
const memLimit = 32 << 20

// limitMemory sets a memory limit. On a host with swap it sets the same
// memory+swap limit, so that the hog cannot swap instead of dying; it says
// whether it did (the kernel then counts no failures in memory.failcnt).
func limitMemory(t *testing.T, s *specs.Spec, limit int64) (swapLimited bool) {
	t.Helper()
	m := &specs.LinuxMemory{Limit: ptrTo(limit)}
	if len(lines(readFile(t, "/proc/swaps"))) > 1 {
		own := cgroupsOfPid(t, os.Getpid())
		if !exists(own.file(t, "memory", "memory.memsw.limit_in_bytes")) {
			t.Skip("the host has swap but no swap accounting: a memory hog could swap instead of being OOM-killed")
		}
		m.Swap = ptrTo(limit)
		swapLimited = true
	}
	resources(s).Memory = m
	return swapLimited
}

// probe runs a detached container of s whose init runs script with its
// output in a host file, then sleeps; it returns the container (running,
// so its cgroup can be inspected) and the script's output.
func (e *env) probe(s *specs.Spec, script string) (*container, string) {
	e.t.Helper()
	out := e.hostDir()
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	s.Process.Args = []string{"sh", "-c", "{\n" + script + "\n} >/out/probe 2>&1; touch /out/done; exec sleep 300"}
	c := e.runDetached(s)
	waitFile(e.t, filepath.Join(out, "done"))
	return c, readFile(e.t, filepath.Join(out, "probe"))
}

// keyedValue reads "key value" from a cgroup file such as memory.stat; ok
// is false when the key is not there.
func keyedValue(t testing.TB, path, key string) (uint64, bool) {
	t.Helper()
	for _, f := range fieldsOf(readFile(t, path)) {
		if len(f) == 2 && f[0] == key {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("%s: %s %q", path, key, f[1])
			}
			return n, true
		}
	}
	return 0, false
}

// A memory hog as the container's init, under a 32 MiB limit, is killed
// by the OOM killer: `run` exits 137 and the cgroup is gone afterwards.
func TestCgroupMemoryOOMKillsInit(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	s := baseSpec("sh", "-c", memoryHog)
	limitMemory(t, s, memLimit)
	c := e.newContainer(s)
	r := c.run(runOpts{})
	if r.code != 137 {
		t.Errorf("the memory hog's run exited %d, want 137 (SIGKILL by the OOM killer)\n%v", r.code, r)
	}
	assertNoCgroupDirs(t, "after run", defaultCgroupDirs(t, c.id))
}

// The limit is in memory.limit_in_bytes; a hog started inside the
// container is OOM-killed (exit 137 seen by its parent) while the init
// lives on; memory.failcnt and memory.oom_control's oom_kill count it,
// `events --stats` reports the limit and the failures, and husk's
// streaming `events` prints an "oom" event.
func TestCgroupMemoryOOMKillsHog(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	out := e.hostDir()
	// The init is kept out of the OOM killer's way: once the hog is
	// killed, the kernel may kill once more before the hog's memory is
	// uncharged, and it must not pick the init among the small processes
	// left. The hog (with its head and tr) volunteers instead: raising
	// one's own oom_score_adj needs no privilege.
	s := baseSpec("sh", "-c", `touch /ready; while [ ! -e /out/go ]; do sleep 0.02; done; `+
		`sh -c 'echo 1000 >/proc/self/oom_score_adj; `+memoryHog+`' >/out/hog.out 2>&1; echo $? >/out/hog; exec sleep 300`)
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	swapLimited := limitMemory(t, s, memLimit)
	c := e.runDetached(s)
	c.waitReady("ready")
	cg := c.cgroups()
	if got := cg.read(t, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(memLimit) {
		t.Errorf("memory.limit_in_bytes = %s, want %d", got, memLimit)
	}
	if n, _ := strconv.Atoi(cg.read(t, "memory", "memory.failcnt")); n != 0 {
		t.Errorf("memory.failcnt = %d before the hog ran", n)
	}

	var events *running
	if !isRunc() {
		events = startCmd(t, cmdOpts{timeout: 30 * time.Second}, e.huskArgs([]string{"events", "--interval", "100ms", c.id})...)
		poll(t, "events to print its first stats", func() bool { return len(lines(events.peek())) > 0 })
	}

	writeFile(t, filepath.Join(out, "go"), "", 0o644)
	hog := filepath.Join(out, "hog")
	deadline := time.Now().Add(pollTimeout)
	for !strings.HasSuffix(readIfExists(t, hog), "\n") { // created before it is written
		if time.Now().After(deadline) {
			var procs []string
			for _, p := range cgroupProcs(t, cg.dir(t, "memory")) {
				procs = append(procs, fmt.Sprintf("%d %q", p, cmdlineOf(p)))
			}
			t.Fatalf("the hog did not finish: container %s, processes %v, memory.oom_control %q, memory.usage_in_bytes %s, hog output %q",
				c.state().Status, procs, readIfExists(t, cg.file(t, "memory", "memory.oom_control")),
				readIfExists(t, cg.file(t, "memory", "memory.usage_in_bytes")), readIfExists(t, filepath.Join(out, "hog.out")))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := strings.TrimSpace(readFile(t, hog)); got != "137" {
		t.Errorf("the hog exited %s, want 137 (SIGKILL by the OOM killer); its output: %q",
			got, readIfExists(t, filepath.Join(out, "hog.out")))
	}
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("the init should outlive the hog: status %s", st.Status)
	}
	if failcnt, _ := strconv.Atoi(cg.read(t, "memory", "memory.failcnt")); failcnt == 0 && !swapLimited {
		t.Errorf("memory.failcnt is 0 after the hog hit the limit")
	}
	if n, ok := keyedValue(t, cg.file(t, "memory", "memory.oom_control"), "oom_kill"); ok && n < 1 {
		t.Errorf("memory.oom_control: oom_kill %d, want >= 1", n)
	} else if !ok {
		t.Logf("this kernel's memory.oom_control has no oom_kill count")
	}

	r := mustSucceed(t, e.husk("events", "--stats", c.id))
	evs := parseEvents(t, r.stdout)
	if len(evs) != 1 || evs[0].Type != "stats" {
		t.Fatalf("events --stats: want one stats line:\n%v", r)
	}
	if u := evs[0].Data.Memory.Usage; u.Limit != memLimit || (u.Failcnt == 0 && !swapLimited) {
		t.Errorf("events --stats: memory.usage limit %d, failcnt %d: want %d and the failures counted", u.Limit, u.Failcnt, memLimit)
	}

	if events != nil {
		poll(t, `events to print an "oom" event`, func() bool {
			return slices.ContainsFunc(parseEvents(t, events.peek()), func(ev cgroupStats) bool { return ev.Type == "oom" })
		})
		mustSucceed(t, c.kill("KILL"))
		r := events.wait()
		if r.code != 0 {
			t.Errorf("events should exit 0 once the container stops:\n%v", r)
		}
		for _, ev := range parseEvents(t, r.stdout) {
			if ev.ID != c.id || (ev.Type != "oom" && ev.Type != "stats") {
				t.Errorf("unexpected event %+v", ev)
			}
		}
	}
}

// peek returns what a started command has printed on stdout so far.
func (r *running) peek() string {
	st, err := r.out.Stat()
	if err != nil {
		r.t.Fatal(err)
	}
	b := make([]byte, st.Size())
	n, _ := r.out.ReadAt(b, 0)
	return string(b[:n])
}

// With pids.limit 10, a loop starting 20 background sleeps runs out of
// processes: the shell reports "can't fork", pids.max is 10, and the
// cgroup never holds more than 10 processes. With the cgroup full, exec
// cannot add a process either.
func TestCgroupPidsLimit(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	out := e.hostDir()
	// The loop runs in a subshell: ash gives up on a failed fork, which
	// would otherwise end the init. One more sleep then fills the cgroup
	// (init, 8 sleeps of the loop and this one).
	s := baseSpec("sh", "-c", `(for i in $(seq 20); do sleep 300 & done) 2>/out/err; sleep 300 & echo $? >/out/status; exec sleep 1000`)
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	resources(s).Pids = &specs.LinuxPids{Limit: ptrTo(int64(10))}
	c := e.runDetached(s)
	waitFile(t, filepath.Join(out, "status"))
	cg := c.cgroups()
	if got := cg.read(t, "pids", "pids.max"); got != "10" {
		t.Errorf("pids.max = %s, want 10", got)
	}
	if errs := readFile(t, filepath.Join(out, "err")); !strings.Contains(errs, "can't fork") {
		t.Errorf("the loop did not run out of processes: %q", errs)
	}
	current, _ := strconv.Atoi(cg.read(t, "pids", "pids.current"))
	procs := cgroupProcs(t, cg.dir(t, "pids"))
	sleeps := 0
	for _, p := range procs {
		if cmdlineOf(p) == "sleep\x00300\x00" {
			sleeps++
		}
	}
	if current > 10 || len(procs) > 10 || sleeps < 5 || sleeps > 9 {
		t.Errorf("pids.current %d, %d processes of which %d sleeps: want at most 10 processes, 5 to 9 sleeps",
			current, len(procs), sleeps)
	}
	if n, ok := keyedValue(t, cg.file(t, "pids", "pids.events"), "max"); ok && n == 0 {
		t.Errorf("pids.events: max 0, want the refused forks counted")
	}
	if current != 10 {
		t.Fatalf("pids.current %d, want the cgroup full (10)", current)
	}
	if r := c.exec("true"); r.code == 0 {
		t.Errorf("exec succeeded in a container at its pids limit:\n%v", r)
	}
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("the container is %s after the refused exec", st.Status)
	}
}

// cpu.shares, the CFS quota and period and the cpuset reach the host's
// files; the init and an exec'd process may only run on CPU 0.
func TestCgroupCPU(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	s := baseSpec()
	resources(s).CPU = &specs.LinuxCPU{
		Shares: ptrTo(uint64(512)), Quota: ptrTo(int64(50000)), Period: ptrTo(uint64(100000)),
		Cpus: "0", Mems: "0",
	}
	c, out := e.probe(s, `grep Cpus_allowed_list /proc/self/status`)
	if got := strings.Fields(out); !slices.Equal(got, []string{"Cpus_allowed_list:", "0"}) {
		t.Errorf("init: %q, want Cpus_allowed_list 0", out)
	}
	cg := c.cgroups()
	for _, f := range []struct{ ctl, file, want string }{
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
	} {
		if got := cg.read(t, f.ctl, f.file); got != f.want {
			t.Errorf("%s = %q, want %q", f.file, got, f.want)
		}
	}
	r := mustSucceed(t, c.exec("sh", "-c", "grep Cpus_allowed_list /proc/self/status; cat /proc/self/cgroup"))
	ls := lines(r.stdout)
	if len(ls) == 0 || !slices.Equal(strings.Fields(ls[0]), []string{"Cpus_allowed_list:", "0"}) {
		t.Errorf("exec: %q, want Cpus_allowed_list 0", r.stdout)
	}
	if got := parseProcCgroup(t, strings.Join(ls[1:], "\n")); !equalDirs(got, cg) {
		t.Errorf("exec'd process is in %v, the init in %v", got, cg)
	}
}

// equalDirs compares two cgroupDirs.
func equalDirs(a, b cgroupDirs) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// devProbeScript tries each "name command" pair and prints "name ok" or
// "name: error".
func devProbeScript(probes ...[2]string) string {
	var b strings.Builder
	b.WriteString(`t() { if err=$(sh -c "$2" 2>&1 >/dev/null); then echo "$1 ok"; else echo "$1: $err"; fi; }` + "\n")
	for _, p := range probes {
		fmt.Fprintf(&b, "t %s '%s'\n", p[0], p[1])
	}
	return b.String()
}

// probeResults maps each probe name to "ok" or its error.
func probeResults(t *testing.T, out string) map[string]string {
	t.Helper()
	res := map[string]string{}
	for _, l := range lines(out) {
		if name, ok := strings.CutSuffix(l, " ok"); ok && !strings.Contains(name, " ") {
			res[name] = "ok"
		} else if name, err, ok := strings.Cut(l, ": "); ok && !strings.Contains(name, " ") {
			res[name] = err
		}
	}
	return res
}

func wantProbe(t *testing.T, res map[string]string, name string, ok bool) {
	t.Helper()
	got, found := res[name]
	switch {
	case !found:
		t.Errorf("%s: no result in %v", name, res)
	case ok && got != "ok":
		t.Errorf("%s: %s, want it to work", name, got)
	case !ok && !strings.Contains(got, "Operation not permitted"):
		t.Errorf("%s: %q, want EPERM (Operation not permitted)", name, got)
	}
}

// defaultDeviceLines are the allow-list entries every container gets.
var defaultDeviceLines = []string{
	"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm",
}

// The devices cgroup: deny-all plus the standard allow list. The standard
// devices work; a node made by linux.devices but not allowed by
// linux.resources.devices (c 1:11, kmsg, at /dev/denied) cannot be opened;
// one allowed by a rule (c 10:237, loop-control, at /dev/allowed) can; the
// host's devices.list is the allow list. A later rule denying a default
// (c 1:9, urandom) wins, and allowing c 1:11 makes /dev/denied usable,
// which shows that only the cgroup stopped it before.
func TestCgroupDevices(t *testing.T) {
	requireRoot(t)
	requireCgroupV1(t)
	t.Parallel()
	for _, dev := range []string{"/dev/kmsg", "/dev/loop-control"} {
		if !exists(dev) {
			t.Skipf("the host has no %s", dev)
		}
	}
	nodes := []specs.LinuxDevice{
		{Path: "/dev/denied", Type: "c", Major: 1, Minor: 11, FileMode: ptrTo(os.FileMode(0o666))},
		{Path: "/dev/allowed", Type: "c", Major: 10, Minor: 237, FileMode: ptrTo(os.FileMode(0o666))},
	}
	// Opening for writing only: kmsg needs no privilege for that, and
	// ": >" writes nothing.
	probes := devProbeScript(
		[2]string{"null", "echo x >/dev/null && cat /dev/null"},
		[2]string{"zero", "head -c1 /dev/zero"},
		[2]string{"full", ": >/dev/full"},
		[2]string{"random", "head -c1 /dev/random"},
		[2]string{"urandom", "head -c1 /dev/urandom"},
		[2]string{"ptmx", ": >/dev/ptmx"},
		[2]string{"denied", ": >/dev/denied"},
		[2]string{"allowed", ": >/dev/allowed"},
	)

	t.Run("allow-list", func(t *testing.T) {
		e := newEnv(t)
		s := baseSpec()
		s.Linux.Devices = nodes
		resources(s).Devices = []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptrTo(int64(10)), Minor: ptrTo(int64(237)), Access: "rw"},
		}
		c, out := e.probe(s, probes)
		res := probeResults(t, out)
		for _, n := range []string{"null", "zero", "full", "random", "urandom", "ptmx", "allowed"} {
			wantProbe(t, res, n, true)
		}
		wantProbe(t, res, "denied", false)

		list := lines(c.cgroups().read(t, "devices", "devices.list"))
		for _, want := range append(defaultDeviceLines, "c 10:237 rw") {
			if !slices.Contains(list, want) {
				t.Errorf("devices.list has no %q: %q", want, list)
			}
		}
		for _, l := range list {
			if l == "a *:* rwm" || strings.Contains(l, " 1:11 ") {
				t.Errorf("devices.list allows %q: %q", l, list)
			}
		}
		if !isRunc() { // runc adds more defaults (tun, "c *:* m", ...)
			want := slices.Sorted(slices.Values(append(slices.Clone(defaultDeviceLines), "c 10:237 rw")))
			if got := slices.Sorted(slices.Values(list)); !slices.Equal(got, want) {
				t.Errorf("devices.list = %q, want %q", got, want)
			}
		}
	})

	t.Run("deny-default", func(t *testing.T) {
		e := newEnv(t)
		s := baseSpec()
		s.Linux.Devices = nodes
		resources(s).Devices = []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptrTo(int64(1)), Minor: ptrTo(int64(11)), Access: "w"},
			{Allow: false, Type: "c", Major: ptrTo(int64(1)), Minor: ptrTo(int64(9)), Access: "rwm"},
		}
		c, out := e.probe(s, probes)
		res := probeResults(t, out)
		for _, n := range []string{"null", "random", "denied"} {
			wantProbe(t, res, n, true)
		}
		wantProbe(t, res, "allowed", false)
		list := lines(c.cgroups().read(t, "devices", "devices.list"))
		if !slices.Contains(list, "c 1:11 w") {
			t.Errorf("devices.list has no %q: %q", "c 1:11 w", list)
		}
		if isRunc() {
			t.Logf("runc 1.1 applies its default allow list after the config's rules: urandom: %s", res["urandom"])
			return
		}
		wantProbe(t, res, "urandom", false)
		for _, l := range list {
			if strings.HasPrefix(l, "c 1:9 ") {
				t.Errorf("devices.list still allows urandom: %q", list)
			}
		}
	})
}
