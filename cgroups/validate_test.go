package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

// fakeSysfs is a /sys with two online CPUs, one memory node and 2MB and
// 1GB huge pages.
func fakeSysfs(t testing.TB) hostInfo {
	t.Helper()
	root := t.TempDir()
	for p, v := range map[string]string{
		"devices/system/cpu/online":  "0-1\n",
		"devices/system/node/online": "0\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"hugepages-2048kB", "hugepages-1048576kB"} {
		if err := os.MkdirAll(filepath.Join(root, "kernel/mm/hugepages", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return hostInfo{sysfs: root}
}

func TestValidate(t *testing.T) {
	h := fakeSysfs(t)
	good := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](200), Access: "rw"},
			{Allow: true, Type: "b", Major: ptr[int64](8), Minor: ptr[int64](-1), Access: "m"},
		},
		Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 26), Swap: ptr[int64](1 << 27), Reservation: ptr[int64](-1), Swappiness: ptr[uint64](60)},
		CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](1000),
			Cpus: "0-1", Mems: "0", Idle: ptr[int64](1)},
		Pids:           &specs.LinuxPids{Limit: ptr[int64](-1)},
		BlockIO:        &specs.LinuxBlockIO{Weight: ptr[uint16](500), WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}, Weight: ptr[uint16](10)}}},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}, {Pagesize: "1GB", Limit: 0}},
		Unified:        map[string]string{"memory.high": "max", "io.max": "8:0 rbps=1\n8:16 wbps=2", "cgroup.max.depth": "3"},
	}
	if err := validate(good, h); err != nil {
		t.Fatalf("valid resources: %v", err)
	}
	if err := validate(nil, h); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		r    specs.LinuxResources
		want string
	}{
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-2)}}, "linux.resources.memory.limit: -2 is negative"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: ptr[int64](-100)}}, "linux.resources.memory.reservation: -100 is negative"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](-5)}}, "linux.resources.memory.swap: -5 is negative"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](200), Swap: ptr[int64](100)}}, "linux.resources.memory.swap: 100 is below memory.limit 200"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}, "linux.resources.memory.swappiness: 101"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1)}}, "linux.resources.cpu.shares: 1 is outside 2 to 262144"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](300000)}}, "linux.resources.cpu.shares"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-2)}}, "linux.resources.cpu.quota: -2"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](500)}}, "linux.resources.cpu.quota: 500"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](999)}}, "linux.resources.cpu.period: 999"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](2000000)}}, "linux.resources.cpu.period"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](10000), Burst: ptr[uint64](20000)}}, "linux.resources.cpu.burst: 20000 is above the quota"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](-3)}}, "linux.resources.cpu.realtimeRuntime"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](2000), RealtimePeriod: ptr[uint64](1000)}}, "linux.resources.cpu.realtimeRuntime: 2000 is above"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](2)}}, "linux.resources.cpu.idle"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "2"}}, "linux.resources.cpu.cpus: CPU 2 is not online on this host (online: 0-1)"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-3"}}, "linux.resources.cpu.cpus: CPU 2 is not online"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "1-0"}}, "linux.resources.cpu.cpus: \"1-0\" is not a list"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "zero"}}, "linux.resources.cpu.cpus: \"zero\" is not a list"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "1"}}, "linux.resources.cpu.mems: memory node 1 is not online"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}}}, "linux.resources.devices[0].type: \"x\" is not a"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true}, {Type: "c", Access: "rwx"}}}, "linux.resources.devices[0].access: empty"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rwx"}}}, "linux.resources.devices[0].access: \"rwx\" is not a combination"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rr"}}}, "linux.resources.devices[0].access: \"rr\" repeats"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "r"}, {Type: "b", Major: ptr[int64](-2), Access: "r"}}}, "linux.resources.devices[1].major: -2"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "b", Minor: ptr[int64](1 << 32), Access: "r"}}}, "linux.resources.devices[0].minor"},
		{specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](5)}}, "linux.resources.blockIO.weight: 5 is outside 10 to 1000"},
		{specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{}}}}, "linux.resources.blockIO.weightDevice[0]: has neither"},
		{specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: -1}}}}}, "linux.resources.blockIO.throttleReadBpsDevice[0]"},
		{specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}, {Pagesize: "64KB"}}}, "linux.resources.hugepageLimits[1].pageSize: \"64KB\" is not a huge page size of this host"},
		{specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth 0"}}}}, "linux.resources.network.priorities[0].name"},
		{specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"": {}}}, "linux.resources.rdma"},
		{specs.LinuxResources{Unified: map[string]string{"memory": "1"}}, `linux.resources.unified["memory"]: not a cgroup file name of the form`},
		{specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}}, `linux.resources.unified["../memory.max"]: not a cgroup file name`},
		{specs.LinuxResources{Unified: map[string]string{"sub/memory.max": "1"}}, `linux.resources.unified["sub/memory.max"]`},
		{specs.LinuxResources{Unified: map[string]string{"..": "1"}}, `linux.resources.unified[".."]`},
		{specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, `linux.resources.unified["cgroup.procs"]: moves, freezes or kills`},
		{specs.LinuxResources{Unified: map[string]string{"cgroup.threads": "1"}}, `linux.resources.unified["cgroup.threads"]`},
		{specs.LinuxResources{Unified: map[string]string{"cgroup.kill": "1"}}, `linux.resources.unified["cgroup.kill"]`},
		{specs.LinuxResources{Unified: map[string]string{"cgroup.freeze": "1"}}, `linux.resources.unified["cgroup.freeze"]`},
		{specs.LinuxResources{Unified: map[string]string{"cgroup.subtree_control": "+memory"}}, `linux.resources.unified["cgroup.subtree_control"]`},
		{specs.LinuxResources{Unified: map[string]string{"memory.max": "1\x00"}}, `linux.resources.unified["memory.max"]: the value contains a NUL`},
	} {
		err := validate(&c.r, h)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("got %v\nwant an error starting %q", err, c.want)
		}
	}
}

// Validate itself reads the real /sys: the CPUs this machine has online
// pass, one past the last does not.
func TestValidateHostCPUs(t *testing.T) {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Skip(err)
	}
	online := strings.TrimSpace(string(data))
	if err := Validate(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: online}}); err != nil {
		t.Errorf("online CPUs %s: %v", online, err)
	}
	set, err := parseList(online)
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for c := range set {
		last = max(last, c)
	}
	err = Validate(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: strconv.Itoa(last + 1)}})
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.cpu.cpus: ") {
		t.Errorf("CPU %d: got %v", last+1, err)
	}
}

func TestPagesizeName(t *testing.T) {
	for b, want := range map[uint64]string{2 << 20: "2MB", 1 << 30: "1GB", 64 << 10: "64KB", 32 << 20: "32MB", 16 << 30: "16GB", 3 << 19: "1536KB"} {
		if got := pagesizeName(b); got != want {
			t.Errorf("%d: got %s, want %s", b, got, want)
		}
	}
}

func TestConversions(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000, 512: 20, 1: 1, 1 << 20: 10000} {
		if got := cpuWeight(shares); got != want {
			t.Errorf("cpuWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	for w, want := range map[uint16]uint64{10: 1, 1000: 10000, 500: 4950, 100: 910} {
		if got := ioWeight(w); got != want {
			t.Errorf("ioWeight(%d) = %d, want %d", w, got, want)
		}
	}
	for l, want := range map[int64]string{-1: "max", -5: "max", 0: "0", 7: "7"} {
		if got := pidsMax(l); got != want {
			t.Errorf("pidsMax(%d) = %s, want %s", l, got, want)
		}
	}
}
