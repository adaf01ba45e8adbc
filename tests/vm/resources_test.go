package vmtests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The tests here check that each linux.resources field reaches its cgroup
// v2 file, and that update, events and ps work on a running container.
// Containers are few (each costs a second or so under emulation): one
// long-lived container, driven through agentScript, carries most checks
// as subtests, in order (the later ones change its limits).

// agentScript is the init of a container that the test drives without a
// runtime exec per step: it runs each script the test moves to /out/req
// and answers in /out/resp with the script's output and a last line
// "exit N".
const agentScript = `echo ready >/out/ready
while :; do
	if [ -e /out/req ]; then
		sh /out/req >/out/resp.tmp 2>&1
		echo "exit $?" >>/out/resp.tmp
		rm -f /out/req
		mv /out/resp.tmp /out/resp
	fi
	usleep 20000
done`

// ask runs script in the container of agentScript and returns its output
// and exit status.
func (c *container) ask(script string) (string, int) {
	c.t.Helper()
	tmp := filepath.Join(c.out, "req.tmp")
	if err := os.WriteFile(tmp, []byte(script+"\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.out, "req")); err != nil {
		c.t.Fatal(err)
	}
	resp := filepath.Join(c.out, "resp")
	var b []byte
	eventually(c.t, "the container's answer to "+strconv.Quote(firstLine(script)), func() bool {
		var err error
		b, err = os.ReadFile(resp)
		return err == nil
	})
	os.Remove(resp)
	text := strings.TrimRight(string(b), "\n")
	out, last := "", text
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		out, last = text[:i+1], text[i+1:]
	}
	code, err := strconv.Atoi(strings.TrimPrefix(last, "exit "))
	if err != nil || !strings.HasPrefix(last, "exit ") {
		c.t.Fatalf("the container's answer to %q has no exit line: %q", script, text)
	}
	return out, code
}

// expectFile checks a file of the container's cgroup.
func (c *container) expectFile(name, want string) {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.cgroupDir(), name))
	if err != nil {
		c.t.Errorf("%s: %v", name, err)
		return
	}
	if got := strings.TrimSpace(string(b)); got != want {
		c.t.Errorf("%s = %q, want %q", name, got, want)
	}
}

// vmHost is what the kernel and the VM offer, for the checks that depend
// on it.
type vmHost struct {
	// files of a new child cgroup of the root, where every controller is
	// enabled: memory.swap.max (swap accounting), cpu.idle, ...
	files   map[string]bool
	lastCPU int    // highest online CPU
	node    string // first online memory node
	// blockDev is a block device's "major:minor" from /sys/block, or "".
	blockDev, blockName string
}

func probeHost(t *testing.T) vmHost {
	t.Helper()
	h := vmHost{files: make(map[string]bool), node: "0"}
	dir := filepath.Join(cgroupRoot, fmt.Sprintf("vmtests-probe-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		t.Fatalf("probe cgroup: %v", err)
	}
	entries, err := os.ReadDir(dir)
	os.Remove(dir)
	if err != nil {
		t.Fatalf("probe cgroup: %v", err)
	}
	for _, e := range entries {
		h.files[e.Name()] = true
	}
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.FieldsFunc(strings.TrimSpace(string(online)), func(r rune) bool { return r == ',' || r == '-' }) {
		if n, err := strconv.Atoi(f); err == nil && n > h.lastCPU {
			h.lastCPU = n
		}
	}
	if b, err := os.ReadFile("/sys/devices/system/node/online"); err == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(b)), ",")
		first, _, _ = strings.Cut(first, "-")
		h.node = first
	}
	blocks, _ := os.ReadDir("/sys/block")
	for _, e := range blocks {
		if dev, err := os.ReadFile(filepath.Join("/sys/block", e.Name(), "dev")); err == nil {
			h.blockDev, h.blockName = strings.TrimSpace(string(dev)), e.Name()
			break
		}
	}
	return h
}

// hugepages2M reports whether the kernel has 2 MiB huge pages and their
// cgroup files.
func (h vmHost) hugepages2M() bool {
	_, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB")
	return err == nil && h.files["hugetlb.2MB.max"]
}

// runc's conversion of cpu.shares to cpu.weight (before runc 1.3).
func cpuWeight(shares uint64) uint64 { return 1 + ((shares-2)*9999)/262142 }

// runc's conversion of a blkio weight to io.weight.
func ioWeight(w uint64) uint64 { return 1 + (w-10)*9999/990 }

// TestResources: every linux.resources field in one container, then
// update, events, ps, the cgroup namespace and the device program.
func TestResources(t *testing.T) { cgroupTest(t, testResources) }

func testResources(t *testing.T) {
	const (
		limit     = 64 << 20
		resv      = 16 << 20
		swap      = 96 << 20 // memory+swap: memory.swap.max is swap-limit
		high      = 48 << 20
		shares    = 512
		quota     = 50000
		period    = 100000
		burst     = 10000
		pids      = 64
		blkWeight = 500
		hugeLimit = 4 << 20 // two 2 MiB pages
	)
	h := probeHost(t)
	cpus := strconv.Itoa(h.lastCPU)

	// Huge pages to observe hugetlb.2MB.max with: three free ones, so
	// that a third allocation fails on the cgroup's limit, not the pool.
	const nrHuge = "/proc/sys/vm/nr_hugepages"
	hugeObserve := false
	if h.hugepages2M() {
		if old, err := os.ReadFile(nrHuge); err == nil && os.WriteFile(nrHuge, []byte("4"), 0o644) == nil {
			t.Cleanup(func() { os.WriteFile(nrHuge, old, 0o644) })
			free, _ := os.ReadFile("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
			n, _ := strconv.Atoi(strings.TrimSpace(string(free)))
			hugeObserve = n >= 3
		}
	}

	c := newContainer(t, "sh", "-c", agentScript)
	r := c.spec.Linux.Resources
	r.Memory = &specs.LinuxMemory{Limit: ptr(int64(limit)), Reservation: ptr(int64(resv))}
	if h.files["memory.swap.max"] {
		r.Memory.Swap = ptr(int64(swap))
	}
	r.CPU = &specs.LinuxCPU{
		Shares: ptr(uint64(shares)), Quota: ptr(int64(quota)), Period: ptr(uint64(period)),
		Cpus: cpus, Mems: h.node,
	}
	if h.files["cpu.max.burst"] {
		r.CPU.Burst = ptr(uint64(burst)) // runc 1.1.5 ignores it
	}
	r.Pids = &specs.LinuxPids{Limit: ptr(int64(pids))}
	r.BlockIO = &specs.LinuxBlockIO{Weight: ptr(uint16(blkWeight))}
	mode := os.FileMode(0o666)
	zero := uint32(0)
	if h.blockDev != "" {
		maj, min, _ := strings.Cut(h.blockDev, ":")
		major, _ := strconv.ParseInt(maj, 10, 64)
		minor, _ := strconv.ParseInt(min, 10, 64)
		r.BlockIO.ThrottleReadBpsDevice = []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: 1 << 20},
		}
		c.spec.Linux.Devices = append(c.spec.Linux.Devices, specs.LinuxDevice{
			Path: "/dev/vmt-blk", Type: "b", Major: major, Minor: minor, FileMode: &mode, UID: &zero, GID: &zero,
		})
		r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "r"})
	}
	if h.hugepages2M() {
		r.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: hugeLimit}}
		c.spec.Mounts = append(c.spec.Mounts, specs.Mount{
			Destination: "/tmp/hugepages", Type: "hugetlbfs", Source: "hugetlbfs", Options: []string{"nosuid", "nodev"},
		})
	}
	r.Unified = map[string]string{"memory.high": strconv.Itoa(high)}
	// After the usual deny-all: a deny of urandom, one of the devices every
	// container gets. And /dev/vmt-kmsg (c 1:11), which no rule allows
	// until the update of the devices.
	r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(9)), Access: "rwm"})
	c.spec.Linux.Devices = append(c.spec.Linux.Devices, specs.LinuxDevice{
		Path: "/dev/vmt-kmsg", Type: "c", Major: 1, Minor: 11, FileMode: &mode, UID: &zero, GID: &zero,
	})

	pid := c.start()
	c.checkInCgroup(pid)
	c.outFile("ready")

	t.Run("memory", func(t *testing.T) {
		c := c.on(t)
		c.expectFile("memory.max", strconv.Itoa(limit))
		c.expectFile("memory.low", strconv.Itoa(resv))
		c.expectFile("memory.high", strconv.Itoa(high)) // unified, verbatim
		if !h.files["memory.swap.max"] {
			t.Skip("the kernel has no swap accounting (no memory.swap.max): linux.resources.memory.swap not checked")
		}
		c.expectFile("memory.swap.max", strconv.Itoa(swap-limit))
	})

	t.Run("cpu", func(t *testing.T) {
		c := c.on(t)
		c.expectFile("cpu.weight", strconv.FormatUint(cpuWeight(shares), 10))
		c.expectFile("cpu.max", fmt.Sprintf("%d %d", quota, period))
		c.expectFile("cpuset.cpus", cpus)
		c.expectFile("cpuset.mems", h.node)
		// The effect: the init may run on that CPU and node only.
		status := readFileT(t, fmt.Sprintf("/proc/%d/status", pid))
		for _, l := range []string{"Cpus_allowed_list:\t" + cpus, "Mems_allowed_list:\t" + h.node} {
			if !strings.Contains(status, l+"\n") {
				t.Errorf("/proc/%d/status has no %q:\n%s", pid, l, status)
			}
		}
		// And a busy loop for a second at half a CPU gets throttled.
		if out, code := c.ask(`timeout 1 sh -c 'while :; do :; done'; echo looped`); code != 0 || !strings.Contains(out, "looped") {
			t.Fatalf("busy loop: exit %d: %q", code, out)
		}
		if n, _ := strconv.Atoi(c.cgroupKey("cpu.stat", "nr_throttled")); n < 1 {
			t.Errorf("cpu.stat after a second of busy loop under cpu.max %d %d: nr_throttled %d, want >= 1\n%s",
				quota, period, n, c.cgroupFile("cpu.stat"))
		}
	})

	t.Run("cpu.burst", func(t *testing.T) {
		huskOnly(t, "linux.resources.cpu.burst is newer than runc 1.1.5")
		if !h.files["cpu.max.burst"] {
			t.Skip("the kernel has no cpu.max.burst")
		}
		c.on(t).expectFile("cpu.max.burst", strconv.Itoa(burst))
	})

	t.Run("pids", func(t *testing.T) {
		c.on(t).expectFile("pids.max", strconv.Itoa(pids))
	})

	t.Run("blockIO.weight", func(t *testing.T) {
		c := c.on(t)
		// BFQ's io.bfq.weight takes the blkio scale; io.weight its own.
		file, want := "io.weight", ioWeight(blkWeight)
		if h.files["io.bfq.weight"] {
			file, want = "io.bfq.weight", blkWeight
		}
		if got := firstLine(c.cgroupFile(file)); got != fmt.Sprintf("default %d", want) {
			t.Errorf("%s = %q, want \"default %d\"", file, got, want)
		}
	})

	t.Run("blockIO.throttleReadBpsDevice", func(t *testing.T) {
		if h.blockDev == "" {
			t.Skip("the VM has no block device (/sys/block is empty), so no io.max line can be set: " +
				"scripts/vm/run.sh would have to give it one (e.g. load the brd module)")
		}
		c := c.on(t)
		want := h.blockDev + " rbps=1048576 wbps=max riops=max wiops=max"
		if got := c.cgroupFile("io.max"); !slices.Contains(strings.Split(got, "\n"), want) {
			t.Errorf("io.max = %q, want a line %q (%s)", got, want, h.blockName)
		}
		// The effect: 2 MiB of direct reads at 1 MiB/s take a second or more.
		out, code := c.ask(`s=$(date +%s); dd if=/dev/vmt-blk of=/dev/null bs=65536 count=32 iflag=direct 2>&1; echo "took $(( $(date +%s) - s ))"`)
		if code != 0 || !strings.Contains(out, "took") {
			t.Fatalf("reading /dev/vmt-blk: exit %d: %q", code, out)
		}
		if took, _ := strconv.Atoi(strings.TrimSpace(out[strings.LastIndex(out, "took")+4:])); took < 1 {
			t.Errorf("2 MiB of direct reads under rbps=1048576 took %ds, want >= 1: %q", took, out)
		}
	})

	t.Run("hugepageLimits", func(t *testing.T) {
		if !h.hugepages2M() {
			t.Skip("the kernel has no 2 MiB huge pages or no hugetlb.2MB.max")
		}
		c := c.on(t)
		c.expectFile("hugetlb.2MB.max", strconv.Itoa(hugeLimit))
		t.Run("rsvd", func(t *testing.T) {
			huskOnly(t, "runc 1.1.5 leaves hugetlb.<size>.rsvd.max alone")
			if !h.files["hugetlb.2MB.rsvd.max"] {
				t.Skip("the kernel has no hugetlb.2MB.rsvd.max")
			}
			c.on(t).expectFile("hugetlb.2MB.rsvd.max", strconv.Itoa(hugeLimit))
		})
		if !hugeObserve {
			t.Skip("fewer than 3 free 2 MiB huge pages after setting " + nrHuge + ": the limit is not observed")
		}
		out, _ := c.ask(`cd /tmp/hugepages && fallocate -l 4194304 a && echo a-ok; fallocate -l 2097152 b && echo b-ok`)
		if !strings.Contains(out, "a-ok") || strings.Contains(out, "b-ok") {
			t.Errorf("want 4 MiB of huge pages to fit in hugetlb.2MB.max %d and 2 MiB more to fail: %q", hugeLimit, out)
		}
		c.expectFile("hugetlb.2MB.current", strconv.Itoa(hugeLimit))
		if n, _ := strconv.Atoi(c.cgroupKey("hugetlb.2MB.events", "max")); n < 1 {
			t.Errorf("hugetlb.2MB.events: max %d, want >= 1", n)
		}
		c.ask(`rm -f /tmp/hugepages/a /tmp/hugepages/b`)
	})

	t.Run("cgroup namespace", func(t *testing.T) {
		c := c.on(t)
		// /proc/self/cgroup inside, and the container's own cgroup2 at
		// /sys/fs/cgroup (the "cgroup" mount of the config).
		out, code := c.ask(`cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; grep ' /sys/fs/cgroup ' /proc/self/mounts`)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) < 3 {
			t.Fatalf("exit %d: %q", code, out)
		}
		if lines[0] != "0::/" {
			t.Errorf("/proc/self/cgroup in the container = %q, want \"0::/\" (a cgroup namespace rooted at its cgroup)", lines[0])
		}
		if lines[1] != strconv.Itoa(limit) {
			t.Errorf("/sys/fs/cgroup/memory.max in the container = %q, want %d: the mount is not its own cgroup", lines[1], limit)
		}
		if f := strings.Fields(lines[2]); len(f) < 3 || f[2] != "cgroup2" {
			t.Errorf("/sys/fs/cgroup in the container: %q, want a cgroup2 mount", lines[2])
		}
	})

	t.Run("devices: a deny after the defaults", func(t *testing.T) {
		huskOnly(t, "runc appends its default devices after the config's rules, so they win")
		c := c.on(t)
		out, _ := c.ask(`head -c 1 /dev/urandom >/dev/null && echo urandom-read; echo x >/dev/null && echo null-written`)
		if strings.Contains(out, "urandom-read") || !strings.Contains(out, "Operation not permitted") {
			t.Errorf("c 1:9 denied after the defaults: /dev/urandom should fail to open with EPERM: %q", out)
		}
		if !strings.Contains(out, "null-written") {
			t.Errorf("/dev/null, a default, should stay usable: %q", out)
		}
	})

	t.Run("events --stats and ps", func(t *testing.T) {
		c := c.on(t)
		res := c.must("events", "--stats", c.id)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		if len(lines) != 1 {
			t.Errorf("events --stats: want one line: %v", res)
		}
		var ev struct {
			Type string
			ID   string
			Data struct {
				Memory struct{ Usage struct{ Usage uint64 } }
				Pids   struct{ Current uint64 }
			}
		}
		if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
			t.Fatalf("events --stats: %v: %v", err, res)
		}
		if ev.Type != "stats" || ev.ID != c.id || ev.Data.Memory.Usage.Usage == 0 || ev.Data.Pids.Current == 0 {
			t.Errorf("events --stats: want type stats, id %s, memory.usage.usage > 0, pids.current > 0: %+v\n%s", c.id, ev, lines[0])
		}

		res = c.must("ps", "--format", "json", c.id)
		var got []int
		if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
			t.Fatalf("ps --format json: %v: %v", err, res)
		}
		if !slices.Contains(got, pid) {
			t.Errorf("ps --format json = %v, want the init pid %d among them", got, pid)
		}
	})

	t.Run("update", func(t *testing.T) {
		c := c.on(t)
		c.must("update", "--memory", "48m", "--pids-limit", "100", "--cpu-quota", "20000", c.id)
		c.expectFile("memory.max", strconv.Itoa(48<<20))
		c.expectFile("pids.max", "100")
		c.expectFile("cpu.max", fmt.Sprintf("20000 %d", period))
		c.expectFile("cpu.weight", strconv.FormatUint(cpuWeight(shares), 10)) // untouched
		if b, err := os.ReadFile(filepath.Join(c.cgroupDir(), "memory.swap.max")); err == nil {
			// runc leaves swap alone; husk keeps memory+swap at the
			// created swap. Both are fine: logged only.
			t.Logf("memory.swap.max after update --memory 48m: %s", strings.TrimSpace(string(b)))
		}

		res := c.runtimeStdin(`{"cpu": {"quota": -1}, "memory": {"reservation": 8388608}, "unified": {"memory.high": "max"}}`,
			"update", "--resources", "-", c.id)
		if res.code != 0 {
			t.Fatalf("%v", res)
		}
		c.expectFile("cpu.max", fmt.Sprintf("max %d", period))
		c.expectFile("memory.low", "8388608")
		c.expectFile("memory.high", "max")
		c.expectFile("memory.max", strconv.Itoa(48<<20)) // not in the update: stays
		c.expectFile("pids.max", "100")
	})

	t.Run("update refused", func(t *testing.T) {
		c := c.on(t)
		bad := strconv.Itoa(h.lastCPU + 1)
		res := c.runtime("update", "--cpuset-cpus", bad, "--pids-limit", "99", c.id)
		if res.code == 0 {
			t.Errorf("update --cpuset-cpus %s (not online) should fail: %v", bad, res)
		}
		c.expectFile("cpuset.cpus", cpus)
		t.Run("nothing written", func(t *testing.T) {
			huskOnly(t, "runc writes pids.max before it fails on cpuset.cpus")
			c := c.on(t)
			if !strings.Contains(res.stderr, "linux.resources.cpu.cpus") {
				t.Errorf("the error should name linux.resources.cpu.cpus: %v", res)
			}
			c.expectFile("pids.max", "100")
		})
	})

	t.Run("update devices", func(t *testing.T) {
		huskOnly(t, "runc 1.1.5 update does not change device rules")
		c := c.on(t)
		probe := `echo vmtests >/dev/vmt-kmsg && echo kmsg-written; head -c 1 /dev/urandom >/dev/null && echo urandom-read; echo x >/dev/null && echo null-written`
		out, _ := c.ask(probe)
		if strings.Contains(out, "kmsg-written") {
			t.Fatalf("c 1:11 is allowed by no rule before the update: %q", out)
		}
		res := c.runtimeStdin(`{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]}`,
			"update", "--resources", "-", c.id)
		if res.code != 0 {
			t.Fatalf("%v", res)
		}
		// A new program replaces the old one: c 1:11 opens, and the old
		// deny of c 1:9 is gone.
		out, _ = c.ask(probe)
		for _, w := range []string{"kmsg-written", "urandom-read", "null-written"} {
			if !strings.Contains(out, w) {
				t.Errorf("after the update of the devices, want %s: %q", w, out)
			}
		}
	})

	t.Run("events oom", func(t *testing.T) {
		c := c.on(t)
		ev := c.background("events", "--interval", "200ms", c.id)
		eventually(t, "a first line from events", func() bool { return strings.Contains(ev.output(), "\n") })
		// One 96 MiB read buffer under memory.max 48 MiB (the update).
		out, _ := c.ask(`dd if=/dev/zero of=/dev/null bs=100663296 count=1; echo "dd exit $?"`)
		if !strings.Contains(out, "dd exit 137") {
			t.Errorf("dd with a 96 MiB buffer under a 48 MiB limit: want it OOM-killed (exit 137): %q", out)
		}
		oom := func() bool {
			for _, l := range strings.Split(ev.output(), "\n") {
				var e struct{ Type, ID string }
				if json.Unmarshal([]byte(l), &e) == nil && e.Type == "oom" && e.ID == c.id {
					return true
				}
			}
			return false
		}
		eventually(t, `{"type":"oom"} from events --interval 200ms`, oom)
		ev.stop()
		if n, _ := strconv.Atoi(c.cgroupKey("memory.events", "oom_kill")); n < 1 {
			t.Errorf("memory.events: oom_kill %d, want >= 1", n)
		}
		if st := c.state(); st.Status != specs.StateRunning {
			t.Errorf("the container's init should outlive the OOM kill: status %s", st.Status)
		}
	})
}

// TestCPUIdleNoQuota: linux.resources.cpu.idle, and a quota of -1 with a
// period at create ("max P"); the container is only created.
func TestCPUIdleNoQuota(t *testing.T) { cgroupTest(t, testCPUIdleNoQuota) }

func testCPUIdleNoQuota(t *testing.T) {
	h := probeHost(t)
	c := newContainer(t, "true")
	c.spec.Linux.Resources.CPU = &specs.LinuxCPU{Quota: ptr(int64(-1)), Period: ptr(uint64(50000))}
	if h.files["cpu.idle"] {
		c.spec.Linux.Resources.CPU.Idle = ptr(int64(1)) // runc 1.1.5 ignores it
	}
	c.writeSpec()
	c.must("create", "--bundle", c.bundle, c.id)
	c.expectFile("cpu.max", "max 50000")
	t.Run("cpu.idle", func(t *testing.T) {
		huskOnly(t, "linux.resources.cpu.idle is newer than runc 1.1.5")
		if !h.files["cpu.idle"] {
			t.Skip("the kernel has no cpu.idle")
		}
		c.on(t).expectFile("cpu.idle", "1")
	})
}

// TestUnifiedRefused: a linux.resources.unified key that is not a
// resource file of the container's cgroup fails create, and leaves no
// container or cgroup.
func TestUnifiedRefused(t *testing.T) { cgroupTest(t, testUnifiedRefused) }

func testUnifiedRefused(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		huskOnly   string
	}{
		{key: "../x", value: "1"},
		// runc 1.1.5 writes it: "0" would move runc itself.
		{key: "cgroup.procs", value: "0", huskOnly: "runc 1.1.5 writes any unified key without a slash"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if tc.huskOnly != "" {
				huskOnly(t, tc.huskOnly)
			}
			c := newContainer(t, "true")
			c.spec.Linux.Resources.Unified = map[string]string{tc.key: tc.value}
			c.writeSpec()
			res := c.runtime("create", "--bundle", c.bundle, c.id)
			if res.code == 0 {
				t.Fatalf("create with unified[%q] should fail: %v", tc.key, res)
			}
			if isHusk() && !strings.Contains(res.stderr, "linux.resources.unified") {
				t.Errorf("the error should name linux.resources.unified: %v", res)
			}
			if _, err := os.Stat(c.cgroupDir()); !os.IsNotExist(err) {
				t.Errorf("a failed create left %s (%v)", c.cgroupDir(), err)
			}
			if st := c.runtime("state", c.id); st.code == 0 {
				t.Errorf("a failed create left the container: %v", st)
			}
		})
	}
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
