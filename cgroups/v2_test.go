package cgroups

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestV2ApplyFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(1234); err != nil {
		t.Fatal(err)
	}
	all := "+cpuset +cpu +io +memory +hugetlb +pids +rdma"
	want := []string{
		"cgroup.subtree_control: " + all,
		"husk/cgroup.subtree_control: " + all,
		"husk/c1/cgroup.procs: 1234",
	}
	if got := f.writes(); !slices.Equal(got, want) {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := f.get("husk/c1/cgroup.controllers"); got != fakeControllers {
		t.Errorf("controllers of the container: %q", got)
	}
	// Again: everything is there, only the pid is written.
	if err := m.Apply(1235); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); len(got) != 4 || got[3] != "husk/c1/cgroup.procs: 1235" {
		t.Errorf("second apply: %v", got)
	}
	if err := m.Apply(0); err == nil {
		t.Error("Apply(0) moved the caller")
	}
}

// A parent with processes of its own cannot pass controllers down: Apply
// goes on, and Set names the setting that needs the missing controller.
func TestV2ApplyBusyParentFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := os.Mkdir(filepath.Join(f.root, "husk"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.populate(filepath.Join(f.root, "husk"), []string{"memory", "pids"})
	f.put("husk/cgroup.procs", "99\n")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if f.get("husk/c1/cgroup.procs") != "" {
		t.Error("Apply(-1) moved a process")
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}})
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.memory.limit: the memory controller is not enabled for "+m.dir) {
		t.Errorf("got %v", err)
	}
}

func fullResources() *specs.LinuxResources {
	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 10, 200, "rwm")},
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](1 << 26), Swap: ptr[int64](1 << 27), Reservation: ptr[int64](1 << 25), Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(true)},
		CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](10000),
			Idle: ptr[int64](0), Cpus: "0", Mems: "0"},
		Pids: &specs.LinuxPids{Limit: ptr[int64](100)},
		BlockIO: &specs.LinuxBlockIO{
			Weight:                  ptr[uint16](500),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](200), LeafWeight: ptr[uint16](300)}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1000}, {LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 10}},
		},
		Rdma:    map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](3)}, "mlx4_0": {HcaHandles: ptr[uint32](1), HcaObjects: ptr[uint32](100)}},
		Unified: map[string]string{"memory.high": "1000000", "io.max": "8:32 wbps=5\n8:48 wbps=6\n"},
	}
	if slices.Contains(hugePageSizes(), "2MB") {
		r.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}
	}
	return r
}

func TestV2SetFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	applied := len(f.writes())
	r := fullResources()
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"husk/c1/pids.max: 100",
		"husk/c1/memory.swap.max: 67108864", // memory+swap 128M - memory 64M
		"husk/c1/memory.max: 67108864",
		"husk/c1/memory.low: 33554432",
		"husk/c1/io.weight: 4950",
		"husk/c1/io.weight: 8:0 1920",
		"husk/c1/io.max: 8:0 rbps=1000 wiops=10",
		"husk/c1/io.max: 8:16 rbps=max",
		"husk/c1/cpu.idle: 0",
		"husk/c1/cpu.weight: 39",
		"husk/c1/cpu.max.burst: 10000",
		"husk/c1/cpu.max: 50000 100000",
		"husk/c1: <device program of 52 instructions>",
		"husk/c1/cpuset.cpus: 0",
		"husk/c1/cpuset.mems: 0",
	}
	if r.HugepageLimits != nil {
		want = append(want, "husk/c1/hugetlb.2MB.max: 2097152", "husk/c1/hugetlb.2MB.rsvd.max: 2097152")
	}
	want = append(want,
		"husk/c1/rdma.max: mlx4_0 hca_handle=1 hca_object=100",
		"husk/c1/rdma.max: mlx5_0 hca_handle=3",
		"husk/c1/io.max: 8:32 wbps=5",
		"husk/c1/io.max: 8:48 wbps=6",
		"husk/c1/memory.high: 1000000",
	)
	if got := f.writes()[applied:]; !slices.Equal(got, want) {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	prog, err := DeviceProgram(r.Devices)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.progs[m.dir]; len(got) != len(prog) {
		t.Errorf("attached %d instructions, want %d", len(got), len(prog))
	}
}

// BFQ's io.bfq.weight takes the blkio scale unconverted.
func TestV2BFQWeightFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	f.put("husk/c1/io.bfq.weight", "default 100\n")
	n := len(f.writes())
	err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500),
		WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](200)}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"husk/c1/io.bfq.weight: 500", "husk/c1/io.bfq.weight: 8:0 200"}
	if got := f.writes()[n : len(f.writes())-1]; !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
}

// Set checks everything before it writes anything.
func TestV2SetRefusesBeforeWritingFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	f.put("husk/c1/memory.current", "5000\n")
	good := func() *specs.LinuxResources {
		return &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}, Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}}
	}
	for _, c := range []struct {
		change func(r *specs.LinuxResources)
		want   string
	}{
		{func(r *specs.LinuxResources) { r.Unified = map[string]string{"memory.bogus": "1"} },
			`linux.resources.unified["memory.bogus"]: ` + m.dir + ` has no such file`},
		{func(r *specs.LinuxResources) { r.Unified = map[string]string{"nosuch.max": "1"} },
			`linux.resources.unified["nosuch.max"]: the nosuch controller is not enabled`},
		{func(r *specs.LinuxResources) { r.Unified = map[string]string{"cgroup.bogus": "1"} },
			`linux.resources.unified["cgroup.bogus"]: ` + m.dir + ` has no such file`},
		{func(r *specs.LinuxResources) { r.Unified = map[string]string{"cgroup.procs": "1"} },
			`linux.resources.unified["cgroup.procs"]: moves, freezes or kills processes`},
		{func(r *specs.LinuxResources) { r.Network = &specs.LinuxNetwork{ClassID: ptr[uint32](1)} },
			"linux.resources.network: net_cls and net_prio are cgroup v1 controllers"},
		{func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)} },
			"linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime"},
		{func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Swap: ptr[int64](1 << 30)} },
			"linux.resources.memory.swap: cgroup v2 limits swap apart from memory"},
		{func(r *specs.LinuxResources) {
			r.Memory.CheckBeforeUpdate = ptr(true)
			r.Memory.Limit = ptr[int64](4096)
		},
			"linux.resources.memory.limit: 4096 is not above the current usage of 5000 bytes"},
		{func(r *specs.LinuxResources) { r.Memory.Limit = ptr[int64](-7) },
			"linux.resources.memory.limit: -7 is negative"},
		{func(r *specs.LinuxResources) { r.Devices = []specs.LinuxDeviceCgroup{{Type: "c", Access: "x"}} },
			"linux.resources.devices[0].access"},
		{func(r *specs.LinuxResources) {
			r.CPU = &specs.LinuxCPU{Cpus: "0", Idle: ptr[int64](1)}
			removeFile(t, f, "husk/c1/cpu.idle")
		},
			"linux.resources.cpu.idle: cpu.idle does not exist in " + m.dir},
	} {
		r := good()
		c.change(r)
		n := len(f.writes())
		err := m.Set(r)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("got %v\nwant %s...", err, c.want)
		}
		if w := f.writes()[n:]; len(w) > 0 {
			t.Errorf("%s: wrote %v before failing", c.want, w)
		}
	}
	// checkBeforeUpdate passes a limit above the usage.
	r := good()
	r.Memory.CheckBeforeUpdate = ptr(true)
	if err := m.Set(r); err != nil {
		t.Error(err)
	}
}

func removeFile(t *testing.T, f *fakeFS, rel string) {
	t.Helper()
	if err := os.Remove(filepath.Join(f.root, rel)); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func TestV2CPUAndMemoryCasesFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	f.put("husk/c1/cpu.max", "20000 100000\n")
	for _, c := range []struct {
		r    specs.LinuxResources
		want []string
	}{
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](50000)}}, []string{"cpu.max: 20000 50000"}}, // keeps the quota
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1)}}, []string{"cpu.max: max"}},              // keeps the period
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](2)}}, []string{"cpu.weight: 1"}},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}}, []string{"memory.swap.max: max", "memory.max: max"}},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4096), Swap: ptr[int64](4096)}}, []string{"memory.swap.max: 0", "memory.max: 4096"}},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](1 << 30)}}, []string{"memory.swap.max: 1073741824", "memory.max: max"}},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](5), DisableOOMKiller: ptr(true), KernelTCP: ptr[int64](1)}}, nil},
		{specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}}, []string{"pids.max: 0"}},
		{specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}}, []string{"pids.max: max"}},
	} {
		n := len(f.writes())
		if err := m.Set(&c.r); err != nil {
			t.Errorf("%v: %v", c.want, err)
			continue
		}
		var got []string
		for _, w := range f.writes()[n:] {
			if !strings.Contains(w, "device program") {
				got = append(got, strings.TrimPrefix(w, "husk/c1/"))
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("got %v, want %v", got, c.want)
		}
	}
	// Without swap accounting there is no memory.swap.max: "max" and 0
	// are what the host does anyway, a real swap limit is an error.
	removeFile(t, f, "husk/c1/memory.swap.max")
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}}); err != nil {
		t.Error(err)
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4096), Swap: ptr[int64](8192)}})
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.memory.swap: memory.swap.max does not exist") {
		t.Errorf("got %v", err)
	}
}

// A CFS burst the old quota does not fit is written again after the quota.
func TestV2RetryAfterQuotaFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	f.failOnce[filepath.Join(m.dir, "cpu.max.burst")] = unix.EINVAL
	n := len(f.writes())
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](20000), Burst: ptr[uint64](20000)}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"husk/c1/cpu.max.burst: 20000", "husk/c1/cpu.max: 20000", "husk/c1/cpu.max.burst: 20000"}
	if got := f.writes()[n : n+3]; !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
	// Without a quota in the same Set, EINVAL is the answer.
	f.failOnce[filepath.Join(m.dir, "cpu.max.burst")] = unix.EINVAL
	err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: ptr[uint64](1000)}})
	if err == nil || err.Error() != `linux.resources.cpu.burst: write "1000" to `+filepath.Join(m.dir, "cpu.max.burst")+": invalid argument" {
		t.Errorf("got %v", err)
	}
}

// Freeze waits for cgroup.events, which the fake kernel updates a little
// after cgroup.freeze is written.
func TestV2FreezeFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(m.dir, "cgroup.events")
	f.onWrite = func(path string, chunks []string) {
		if filepath.Base(path) != "cgroup.freeze" {
			return
		}
		go func() {
			time.Sleep(30 * time.Millisecond)
			_ = os.WriteFile(events, []byte("populated 1\nfrozen "+chunks[0]+"\n"), 0o644)
		}()
	}
	start := time.Now()
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Errorf("Freeze returned after %v, before the cgroup was frozen", d)
	}
	if f.get("husk/c1/cgroup.events") != "populated 1\nfrozen 1" {
		t.Errorf("events: %q", f.get("husk/c1/cgroup.events"))
	}
	if p, err := m.Paused(); err != nil || !p {
		t.Errorf("Paused: %v %v", p, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f.get("husk/c1/cgroup.events") != "populated 1\nfrozen 0" {
		t.Errorf("events: %q", f.get("husk/c1/cgroup.events"))
	}
	if p, err := m.Paused(); err != nil || p {
		t.Errorf("Paused: %v %v", p, err)
	}
}

func TestV2PidsKillDestroyFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(10); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(m.dir, "sub")
	if err := f.Mkdir(sub); err != nil {
		t.Fatal(err)
	}
	f.put("husk/c1/cgroup.procs", "10\n11\n")
	f.put("husk/c1/sub/cgroup.procs", "12\n")
	pids, err := m.Pids()
	if err != nil || !slices.Equal(pids, []int{10, 11, 12}) {
		t.Errorf("Pids: %v %v", pids, err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if w := f.writes(); w[len(w)-1] != "husk/c1/cgroup.kill: 1" {
		t.Errorf("Kill wrote %v", w[len(w)-1])
	}
	f.put("husk/c1/cgroup.procs", "")
	f.put("husk/c1/sub/cgroup.procs", "")
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if f.Exists(m.dir) || !f.Exists(filepath.Dir(m.dir)) {
		t.Error("Destroy removed the wrong directories")
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if pids, err := m.Pids(); err != nil || len(pids) != 0 {
		t.Errorf("Pids of a removed cgroup: %v %v", pids, err)
	}
	if err := m.Kill(); err != nil {
		t.Errorf("Kill of a removed cgroup: %v", err)
	}
	if p, err := m.Paused(); err != nil || p {
		t.Errorf("Paused of a removed cgroup: %v %v", p, err)
	}
}

// A cgroup whose processes do not go away fails after about a second.
func TestV2DestroyBusyFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(10); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := m.Destroy()
	if err == nil || !strings.Contains(err.Error(), "device or resource busy") {
		t.Errorf("got %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("gave up after %v", d)
	}
	_ = f
}

func TestV2StatsFake(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{
		"cpu.stat":            "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 5\nnr_throttled 2\nthrottled_usec 7\n",
		"cpu.pressure":        "some avg10=1.50 avg60=0.25 avg300=0.00 total=12\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3\n",
		"memory.current":      "4096\n",
		"memory.peak":         "8192\n",
		"memory.swap.current": "100\n",
		"memory.swap.max":     "1000\n",
		"memory.max":          "10000\n",
		"memory.stat":         "anon 10\nfile 20\n",
		"memory.events":       "low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n",
		"pids.current":        "3\n",
		"pids.max":            "max\n",
		"io.stat":             "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n",
	} {
		f.put("husk/c1/"+name, v)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"cpu":    `{"psi":{"full":{"avg10":0,"avg300":0,"avg60":0,"total":3},"some":{"avg10":1.5,"avg300":0,"avg60":0.25,"total":12}},"throttling":{"periods":5,"throttledPeriods":2,"throttledTime":7000},"usage":{"kernel":400000,"total":1000000,"user":600000}}`,
		"memory": `{"cache":20,"raw":{"anon":10,"file":20},"swap":{"failcnt":0,"limit":11000,"usage":4196},"usage":{"failcnt":0,"limit":10000,"max":8192,"usage":4096}}`,
		"pids":   `{"current":3}`,
		"blkio":  `{"ioServiceBytesRecursive":[{"op":"Read","value":1,"major":8},{"op":"Write","value":2,"major":8}],"ioServicedRecursive":[{"op":"Read","value":3,"major":8},{"op":"Write","value":4,"major":8}]}`,
	}
	for k, w := range want {
		var wv any
		if err := json.Unmarshal([]byte(w), &wv); err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(wv)
		if string(gj) != string(wj) {
			t.Errorf("%s:\n got %s\nwant %s", k, gj, wj)
		}
	}
	keys := slices.Sorted(maps.Keys(got))
	if !slices.Equal(keys, []string{"blkio", "cpu", "cpuset", "hugetlb", "intel_rdt", "memory", "network_interfaces", "pids"}) {
		t.Errorf("keys %v", keys)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 2 {
		t.Errorf("OOMKillCount: %d %v", n, err)
	}
}

// Without cgroup.kill (before Linux 5.14): freeze, SIGKILL, thaw.
func TestV2KillWithoutCgroupKillFake(t *testing.T) {
	f, m := newFakeV2(t)
	c := startChild(t, "exec sleep 60")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	removeFile(t, f, "husk/c1/cgroup.kill")
	events := filepath.Join(m.dir, "cgroup.events")
	f.onWrite = func(path string, chunks []string) {
		if filepath.Base(path) == "cgroup.freeze" {
			_ = os.WriteFile(events, []byte("populated 1\nfrozen "+chunks[0]+"\n"), 0o644)
		}
	}
	n := len(f.writes())
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(interface{ Signal() unix.Signal }); !ok || ws.Signal() != unix.SIGKILL {
		t.Errorf("the process ended with %v", c.cmd.ProcessState)
	}
	if got := f.writes()[n:]; !slices.Equal(got, []string{"husk/c1/cgroup.freeze: 1", "husk/c1/cgroup.freeze: 0"}) {
		t.Errorf("writes %v", got)
	}
}
