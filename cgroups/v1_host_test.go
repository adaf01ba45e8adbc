package cgroups

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// logFS is the host's cgroupfs, with the writes logged.
type logFS struct {
	hostFS
	mu  sync.Mutex
	log []string
}

func (l *logFS) WriteFile(path string, chunks ...string) error {
	l.mu.Lock()
	for _, c := range chunks {
		l.log = append(l.log, path+": "+c)
	}
	l.mu.Unlock()
	return l.hostFS.WriteFile(path, chunks...)
}

func (l *logFS) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.log
	l.log = nil
	return out
}

// v1Test is a v1 manager for <husk's own cgroup>/husk-test-.../c1 on a v1
// or hybrid host, made by New, with its writes logged. Cleanup kills what
// is left in it and removes the test directories.
func v1Test(t *testing.T) (*v1Manager, *logFS) {
	t.Helper()
	needRoot(t)
	l, err := detectLayout(cgroupRoot)
	if err != nil {
		t.Skip(err)
	}
	if l == layoutV2 {
		t.Skip("a cgroup v2 host")
	}
	base := testDirName(t)
	mgr, err := New(base+"/c1", "unused")
	if err != nil {
		t.Fatal(err)
	}
	m := mgr.(*v1Manager)
	fs := &logFS{}
	m.fs = fs
	t.Cleanup(func() {
		_ = m.Kill()
		waitEmpty(t, m)
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
		for _, d := range m.dirs() {
			if parent := filepath.Dir(d); filepath.Base(parent) == base {
				if err := removeTree(hostFS{}, parent); err != nil {
					t.Error(err)
				}
			}
		}
	})
	return m, fs
}

func TestHostV1ApplySet(t *testing.T) {
	m, fs := v1Test(t)
	for _, c := range []string{"memory", "cpu", "cpuset", "pids", "devices", "freezer"} {
		if m.Path(c) == "" {
			t.Skipf("no %s hierarchy", c)
		}
	}
	c := startChild(t, "exec sleep 60")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.dirs() {
		if procs := readFile(t, filepath.Join(d, "cgroup.procs")); procs != strconv.Itoa(c.pid()) {
			t.Errorf("%s/cgroup.procs: %q", d, procs)
		}
	}
	if l, _ := detectLayout(cgroupRoot); l == layoutHybrid && m.Path("") == "" {
		t.Error("a hybrid host, and no unified directory")
	}
	cs := m.Path("cpuset")
	if got, parent := readFile(t, filepath.Join(cs, "cpuset.cpus")), readFile(t, filepath.Join(filepath.Dir(cs), "cpuset.cpus")); got == "" || got != parent {
		t.Errorf("cpuset.cpus %q, the parent's %q", got, parent)
	}

	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 10, 200, "rwm"), dev(false, "c", 1, 9, "w")},
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Reservation: ptr[int64](32 << 20), Swappiness: ptr[uint64](10)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "0", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](10)},
	}
	swap := fs.Exists(filepath.Join(m.Path("memory"), "memory.memsw.limit_in_bytes"))
	if swap {
		r.Memory.Swap = ptr[int64](128 << 20)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"memory/memory.limit_in_bytes":      "67108864",
		"memory/memory.soft_limit_in_bytes": "33554432",
		"memory/memory.swappiness":          "10",
		"cpu/cpu.shares":                    "512",
		"cpu/cpu.cfs_quota_us":              "50000",
		"cpu/cpu.cfs_period_us":             "100000",
		"cpuset/cpuset.cpus":                "0",
		"cpuset/cpuset.mems":                "0",
		"pids/pids.max":                     "10",
	}
	if swap {
		files["memory/memory.memsw.limit_in_bytes"] = "134217728"
	}
	checkFiles := func() {
		t.Helper()
		for f, want := range files {
			ctrl, name, _ := strings.Cut(f, "/")
			if got := readFile(t, filepath.Join(m.Path(ctrl), name)); got != want {
				t.Errorf("%s: %q, want %q", f, got, want)
			}
		}
	}
	checkFiles()
	list := strings.Split(readFile(t, filepath.Join(m.Path("devices"), "devices.list")), "\n")
	slices.Sort(list)
	want := []string{"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rm", "c 10:200 rwm", "c 136:* rwm", "c 5:0 rwm", "c 5:2 rwm"}
	slices.Sort(want)
	if !slices.Equal(list, want) {
		t.Errorf("devices.list: %v", list)
	}
	fs.take()

	// The same devices again: devices.list matches, nothing is written.
	// Memory up, with swap: memory+swap goes first.
	r.Memory = &specs.LinuxMemory{Limit: ptr[int64](256 << 20)}
	files["memory/memory.limit_in_bytes"] = "268435456"
	if swap {
		r.Memory.Swap = ptr[int64](512 << 20)
		files["memory/memory.memsw.limit_in_bytes"] = "536870912"
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	checkFiles()
	for _, w := range fs.take() {
		if strings.Contains(w, "/devices.") {
			t.Errorf("unchanged devices written: %s", w)
		}
	}
	// And down again: memory first.
	r.Memory = &specs.LinuxMemory{Limit: ptr[int64](32 << 20)}
	files["memory/memory.limit_in_bytes"] = "33554432"
	if swap {
		r.Memory.Swap = ptr[int64](48 << 20)
		files["memory/memory.memsw.limit_in_bytes"] = "50331648"
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	checkFiles()

	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Memory usage may be 0: v1 does not move a process's charges with it,
	// and the sleep may not have touched a new page since it moved.
	if st.Pids.Current != 1 || st.Pids.Limit != 10 || st.Memory.Usage.Limit != 32<<20 || st.Memory.Raw == nil {
		t.Errorf("stats: %+v", st)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Error(err)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 0 {
		t.Errorf("OOMKillCount: %d %v", n, err)
	}

	// Paths survive JSON, and Load gives the same cgroup back.
	data, err := json.Marshal(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	var paths map[string]string
	if err := json.Unmarshal(data, &paths); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	if pids, err := loaded.Pids(); err != nil || !slices.Equal(pids, []int{c.pid()}) {
		t.Errorf("loaded: Pids %v %v", pids, err)
	}
}

// A process in a cgroup at pids.max cannot fork.
func TestHostV1PidsLimit(t *testing.T) {
	m, _ := v1Test(t)
	if m.Path("pids") == "" {
		t.Skip("no pids hierarchy")
	}
	// The shell and its subshell count; the subshell forks a sleep or
	// two and then fails to fork, which ends it.
	c := startChild(t, "read x; (for i in 1 2 3 4 5; do sleep 20 & done; wait); echo status $?")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](3)}}); err != nil {
		t.Fatal(err)
	}
	c.send(t, "go")
	if l := c.readLine(t); l == "status 0" {
		t.Errorf("the forks went through: %q", l)
	}
	if !strings.Contains(c.errors(), "fork") {
		t.Errorf("the shell did not report a failed fork: %q", c.errors())
	}
	if pids, err := m.Pids(); err != nil || len(pids) > 3 {
		t.Errorf("Pids %v %v, over the limit", pids, err)
	}
	events := readFile(t, filepath.Join(m.Path("pids"), "pids.events"))
	if events == "max 0" || !strings.HasPrefix(events, "max ") {
		t.Errorf("pids.events: %q", events)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	waitEmpty(t, m)
}

func TestHostV1FreezeSignalKill(t *testing.T) {
	m, _ := v1Test(t)
	if m.Path("freezer") == "" {
		t.Skip("no freezer hierarchy")
	}
	c := startChild(t, "read x; sleep 60 & sleep 60 & echo started; wait")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	c.send(t, "go")
	if l := c.readLine(t); l != "started" {
		t.Fatalf("child said %q", l)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, filepath.Join(m.Path("freezer"), "freezer.state")); s != "FROZEN" {
		t.Errorf("freezer.state %q", s)
	}
	if p, err := m.Paused(); err != nil || !p {
		t.Errorf("Paused: %v %v", p, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if p, err := m.Paused(); err != nil || p {
		t.Errorf("Paused after Thaw: %v %v", p, err)
	}
	pids, err := m.Pids()
	if err != nil || len(pids) != 3 {
		t.Fatalf("Pids: %v %v", pids, err)
	}
	if err := m.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(interface{ Signal() unix.Signal }); !ok || ws.Signal() != unix.SIGTERM {
		t.Errorf("the shell ended with %v", c.cmd.ProcessState)
	}
	waitEmpty(t, m)

	// Kill: freeze, SIGKILL, thaw, and the cgroup is thawed after.
	c = startChild(t, "read x; sleep 60 & sleep 60 & echo started; wait")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	c.send(t, "go")
	c.readLine(t)
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(interface{ Signal() unix.Signal }); !ok || ws.Signal() != unix.SIGKILL {
		t.Errorf("the shell ended with %v", c.cmd.ProcessState)
	}
	waitEmpty(t, m)
	if p, err := m.Paused(); err != nil || p {
		t.Errorf("Paused after Kill: %v %v", p, err)
	}
}

// Set refuses what the host cannot do before it writes anything.
func TestHostV1SetRefusesBeforeWriting(t *testing.T) {
	m, fs := v1Test(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}}); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, filepath.Join(m.Path("memory"), "memory.limit_in_bytes"))
	fs.take()
	var cases []struct {
		r    specs.LinuxResources
		want string
	}
	add := func(r specs.LinuxResources, want string) {
		r.Memory = &specs.LinuxMemory{Limit: ptr[int64](128 << 20)}
		cases = append(cases, struct {
			r    specs.LinuxResources
			want string
		}{r, want})
	}
	add(specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, "linux.resources.unified: needs a cgroup v2 host")
	if m.Path("hugetlb") == "" && slices.Contains(hugePageSizes(), "2MB") {
		add(specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}},
			"linux.resources.hugepageLimits[0]: the hugetlb cgroup controller is not available on this host")
	}
	if m.Path("net_cls") == "" {
		add(specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001)}},
			"linux.resources.network.classID: the net_cls cgroup controller is not available on this host")
	}
	if b := m.Path("blkio"); b != "" && !fs.Exists(filepath.Join(b, "blkio.weight")) && !fs.Exists(filepath.Join(b, "blkio.bfq.weight")) {
		add(specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](100)}},
			"linux.resources.blockIO.weight: this kernel has no proportional I/O weight")
	}
	add(specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-4095"}}, "linux.resources.cpu.cpus: CPU ")
	add(specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rwq"}}}, "linux.resources.devices[0].access")
	for _, c := range cases {
		err := m.Set(&c.r)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("got %v\nwant %s...", err, c.want)
		}
		if w := fs.take(); len(w) > 0 {
			t.Errorf("%s: wrote %v", c.want, w)
		}
	}
	if after := readFile(t, filepath.Join(m.Path("memory"), "memory.limit_in_bytes")); after != before {
		t.Errorf("memory.limit_in_bytes changed from %s to %s", before, after)
	}
}

// A failed Apply leaves directories that Destroy removes, all of them.
func TestHostV1FailedApplyDestroy(t *testing.T) {
	m, _ := v1Test(t)
	// No such process (above the kernel's pid_max limit of 4194304).
	if err := m.Apply(4194305); err == nil {
		t.Fatal("Apply of a missing process succeeded")
	}
	made := 0
	for _, d := range m.dirs() {
		if _, err := os.Stat(d); err == nil {
			made++
		}
	}
	if made == 0 {
		t.Error("nothing was made before the failure")
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range m.dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", d, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}
