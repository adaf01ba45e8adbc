package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Manager is a container's directory in a cgroup v2 hierarchy mounted at
// root.
type v2Manager struct {
	fs   fileSystem
	root string
	dir  string
}

func (m *v2Manager) Path(string) string { return m.dir }

func (m *v2Manager) Paths() map[string]string { return map[string]string{"": m.dir} }

// Apply creates the directories from the root down and enables in each
// parent every controller it has, as runc does. Enabling fails in a
// parent that has processes of its own (the no-internal-process rule):
// that is left to Set, which names the setting that needs a controller
// the cgroup did not get.
func (m *v2Manager) Apply(pid int) error {
	if pid == 0 || pid < -1 {
		return fmt.Errorf("cgroups: cannot apply to pid %d", pid)
	}
	rel, err := filepath.Rel(m.root, m.dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("cgroups: %s is not below %s", m.dir, m.root)
	}
	cur := m.root
	for _, part := range strings.Split(rel, "/") {
		enableControllers(m.fs, cur)
		cur = filepath.Join(cur, part)
		if m.fs.Exists(cur) {
			continue
		}
		if err := m.fs.Mkdir(cur); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("cgroups: create %s: %w", cur, err)
		}
	}
	if pid > 0 {
		return writePid(m.fs, m.dir, pid)
	}
	return nil
}

// enableControllers writes the controllers of dir's cgroup.controllers
// that its cgroup.subtree_control lacks, all at once or else one by one,
// ignoring failures.
func enableControllers(fs fileSystem, dir string) {
	avail, err := readString(fs, filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return
	}
	enabled, _ := readString(fs, filepath.Join(dir, "cgroup.subtree_control"))
	have := strings.Fields(enabled)
	var add []string
	for _, c := range strings.Fields(avail) {
		if !slices.Contains(have, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return
	}
	file := filepath.Join(dir, "cgroup.subtree_control")
	if fs.WriteFile(file, strings.Join(add, " ")) == nil {
		return
	}
	for _, c := range add {
		_ = fs.WriteFile(file, c)
	}
}

func (m *v2Manager) Set(r *specs.LinuxResources) error { return set(r, m.plan) }

// v2Plan adds the container's available controllers to a plan.
type v2Plan struct {
	*plan
	dir   string
	ctrls []string // nil until read
}

// need records an error naming the field unless the cgroup has the
// controller.
func (p *v2Plan) need(field, controller string) bool {
	if p.ctrls == nil {
		s, err := readString(p.fs, filepath.Join(p.dir, "cgroup.controllers"))
		if err != nil {
			p.fail(field, "%v", err)
			return false
		}
		p.ctrls = append(strings.Fields(s), "") // non-nil even when empty
	}
	if !slices.Contains(p.ctrls, controller) {
		p.fail(field, "the %s controller is not enabled for %s (see cgroup.subtree_control of its parent)", controller, p.dir)
		return false
	}
	return true
}

// max2 is a cgroup v2 limit: -1 is "max".
func max2(v int64) string {
	if v == -1 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// plan works out Set's writes in runc's order: pids, memory, io, cpu,
// devices, cpuset, hugetlb, rdma, unified (last, so that it wins).
func (m *v2Manager) plan(r *specs.LinuxResources) *plan {
	p := &v2Plan{plan: &plan{fs: m.fs}, dir: m.dir}
	dir := m.dir
	if r.Pids != nil && r.Pids.Limit != nil && p.need(res+"pids.limit", "pids") {
		p.write(res+"pids.limit", dir, "pids.max", pidsMax(*r.Pids.Limit))
	}
	p.memory(r.Memory)
	p.io(r.BlockIO)
	p.cpu(r.CPU)
	if prog, err := DeviceProgram(r.Devices); err != nil {
		p.fail(res+"devices", "%v", err)
	} else {
		p.add(op{field: res + "devices", path: dir, devices: prog})
	}
	if c := r.CPU; c != nil {
		if c.Cpus != "" && p.need(res+"cpu.cpus", "cpuset") {
			p.write(res+"cpu.cpus", dir, "cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" && p.need(res+"cpu.mems", "cpuset") {
			p.write(res+"cpu.mems", dir, "cpuset.mems", c.Mems)
		}
	}
	for i, l := range r.HugepageLimits {
		field := fmt.Sprintf(res+"hugepageLimits[%d]", i)
		if p.need(field, "hugetlb") {
			v := strconv.FormatUint(l.Limit, 10)
			p.write(field, dir, "hugetlb."+l.Pagesize+".max", v)
			p.write(field, dir, "hugetlb."+l.Pagesize+".rsvd.max", v).optional = true
		}
	}
	if len(r.Rdma) > 0 && p.need(res+"rdma", "rdma") {
		p.add(rdmaOp(dir, r.Rdma))
	}
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		p.fail(res+"network", "net_cls and net_prio are cgroup v1 controllers, which a cgroup v2 host does not have")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Unified)) {
		field := fmt.Sprintf(res+"unified[%q]", k)
		path := filepath.Join(dir, k)
		if !p.fs.Exists(path) {
			ctrl, _, _ := strings.Cut(k, ".")
			if ctrl == "cgroup" || p.need(field, ctrl) {
				p.fail(field, "%s has no such file", dir)
			}
			continue
		}
		v := r.Unified[k]
		o := op{field: field, path: path, chunks: []string{v}}
		if strings.Contains(strings.TrimRight(v, "\n"), "\n") {
			// one entry per write, as the kernel parses them
			o.chunks = nil
			for _, line := range strings.Split(v, "\n") {
				if line != "" {
					o.chunks = append(o.chunks, line)
				}
			}
		}
		p.add(o)
	}
	return p.plan
}

func (p *v2Plan) memory(mem *specs.LinuxMemory) {
	if mem == nil {
		return
	}
	limit, swap, resv := int64Val(mem.Limit), int64Val(mem.Swap), int64Val(mem.Reservation)
	var first string
	switch {
	case limit != 0:
		first = "limit"
	case swap != 0:
		first = "swap"
	case resv != 0:
		first = "reservation"
	default:
		// swappiness, disableOOMKiller and the kernel limits have no
		// cgroup v2 file: ignored, as runc does.
		return
	}
	if !p.need(res+"memory."+first, "memory") {
		return
	}
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		checkUsage(p.plan, res+"memory.limit", limit, filepath.Join(p.dir, "memory.current"))
		checkUsage(p.plan, res+"memory.swap", swap, filepath.Join(p.dir, "memory.current"))
	}
	// linux.resources.memory.swap is memory+swap; memory.swap.max is swap.
	var swapMax string
	switch {
	case limit == -1 && swap == 0:
		swapMax = "max" // no memory limit means no swap limit either
	case swap == -1:
		swapMax = "max"
	case swap == 0:
	case limit == -1:
		swapMax = strconv.FormatInt(swap, 10)
	case limit == 0:
		p.fail(res+"memory.swap", "cgroup v2 limits swap apart from memory: a memory+swap limit needs memory.limit too")
		return
	default:
		swapMax = strconv.FormatInt(swap-limit, 10)
	}
	if swapMax != "" {
		o := p.write(res+"memory.swap", p.dir, "memory.swap.max", swapMax)
		// Without swap accounting there is no memory.swap.max: no
		// limit, or no swap, is what the host gives anyway.
		o.optional = swapMax == "max" || swapMax == "0"
	}
	if limit != 0 {
		p.write(res+"memory.limit", p.dir, "memory.max", max2(limit))
	}
	if resv != 0 {
		p.write(res+"memory.reservation", p.dir, "memory.low", max2(resv))
	}
}

// cpuWeight converts cpu.shares ([2, 262144], default 1024) to cpu.weight
// ([1, 10000], default 100) linearly: runc's conversion up to 1.3.1 (later
// runc versions use a quadratic fit of the logarithm).
func cpuWeight(shares uint64) uint64 {
	shares = min(max(shares, minShares), maxShares)
	return 1 + ((shares-2)*9999)/262142
}

// ioWeight converts a blkio weight ([10, 1000]) to io.weight ([1, 10000]),
// as runc does.
func ioWeight(w uint16) uint64 {
	w = min(max(w, minBlkioWeight), maxBlkioWeight)
	return 1 + (uint64(w)-10)*9999/990
}

func (p *v2Plan) cpu(c *specs.LinuxCPU) {
	if c == nil {
		return
	}
	if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
		field := res + "cpu.realtimeRuntime"
		if c.RealtimeRuntime == nil {
			field = res + "cpu.realtimePeriod"
		}
		p.fail(field, "cgroup v2 has no realtime CPU bandwidth")
		return
	}
	quota, period := int64Val(c.Quota), uint64(0)
	if c.Period != nil {
		period = *c.Period
	}
	shares := c.Shares != nil && *c.Shares != 0
	var first string
	switch {
	case shares:
		first = "shares"
	case quota != 0:
		first = "quota"
	case period != 0:
		first = "period"
	case c.Burst != nil:
		first = "burst"
	case c.Idle != nil:
		first = "idle"
	default:
		return
	}
	if !p.need(res+"cpu."+first, "cpu") {
		return
	}
	if c.Idle != nil {
		p.write(res+"cpu.idle", p.dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10))
	}
	if shares {
		p.write(res+"cpu.shares", p.dir, "cpu.weight", strconv.FormatUint(cpuWeight(*c.Shares), 10))
	}
	if c.Burst != nil {
		p.write(res+"cpu.burst", p.dir, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)).retryEINVAL = quota != 0
	}
	switch {
	case quota != 0 && period != 0:
		p.write(res+"cpu.quota", p.dir, "cpu.max", max2(quota)+" "+strconv.FormatUint(period, 10))
	case quota != 0:
		p.write(res+"cpu.quota", p.dir, "cpu.max", max2(quota)) // the period stays
	case period != 0:
		cur, ok := p.read(res+"cpu.period", filepath.Join(p.dir, "cpu.max"))
		if !ok {
			return
		}
		q, _, _ := strings.Cut(cur, " ")
		p.write(res+"cpu.period", p.dir, "cpu.max", q+" "+strconv.FormatUint(period, 10))
	}
}

func (p *v2Plan) io(b *specs.LinuxBlockIO) {
	if b == nil {
		return
	}
	weight := b.Weight != nil && *b.Weight != 0
	var weightDevs []specs.LinuxWeightDevice
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			weightDevs = append(weightDevs, wd) // leafWeight has no v2 file: ignored, as runc does
		}
	}
	throttles := []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	}
	throttled := false
	for _, t := range throttles {
		throttled = throttled || len(t.devs) > 0
	}
	if !weight && len(weightDevs) == 0 && !throttled {
		return
	}
	if !p.need(res+"blockIO", "io") {
		return
	}
	// BFQ's io.bfq.weight takes blkio's scale; io.weight (iocost) its own.
	bfq := p.fs.Exists(filepath.Join(p.dir, "io.bfq.weight"))
	if weight {
		if bfq {
			p.write(res+"blockIO.weight", p.dir, "io.bfq.weight", strconv.Itoa(int(*b.Weight)))
		} else {
			p.write(res+"blockIO.weight", p.dir, "io.weight", strconv.FormatUint(ioWeight(*b.Weight), 10))
		}
	}
	if len(weightDevs) > 0 {
		o := op{field: res + "blockIO.weightDevice", path: filepath.Join(p.dir, "io.weight")}
		if bfq {
			o.path = filepath.Join(p.dir, "io.bfq.weight")
		}
		for _, wd := range weightDevs {
			w := uint64(*wd.Weight)
			if !bfq {
				w = ioWeight(*wd.Weight)
			}
			o.chunks = append(o.chunks, fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, w))
		}
		p.add(o)
	}
	if throttled {
		// One io.max line per device with all its limits; a rate of 0
		// (no limit in blkio) is "max".
		var devs []string
		limits := make(map[string][]string)
		for _, t := range throttles {
			for _, d := range t.devs {
				dev := fmt.Sprintf("%d:%d", d.Major, d.Minor)
				if _, ok := limits[dev]; !ok {
					devs = append(devs, dev)
				}
				v := "max"
				if d.Rate != 0 {
					v = strconv.FormatUint(d.Rate, 10)
				}
				limits[dev] = append(limits[dev], t.key+"="+v)
			}
		}
		o := op{field: res + "blockIO", path: filepath.Join(p.dir, "io.max")}
		for _, dev := range devs {
			o.chunks = append(o.chunks, dev+" "+strings.Join(limits[dev], " "))
		}
		p.add(o)
	}
}

func (m *v2Manager) Freeze() error { return freezeV2(m.fs, m.dir, true) }

func (m *v2Manager) Thaw() error {
	if !m.fs.Exists(m.dir) {
		return nil
	}
	return freezeV2(m.fs, m.dir, false)
}

func (m *v2Manager) Paused() (bool, error) {
	s, err := readString(m.fs, filepath.Join(m.dir, "cgroup.freeze"))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cgroups: %w", err)
	}
	return s == "1", nil
}

func (m *v2Manager) Pids() ([]int, error) {
	pids, err := readPids(m.fs, m.dir, nil)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	return pids, nil
}

func (m *v2Manager) Signal(sig unix.Signal) error { return signalAll(m, sig) }

// Kill writes cgroup.kill (Linux 5.14), which kills the whole subtree
// atomically; without it, freeze, kill and thaw.
func (m *v2Manager) Kill() error {
	if !m.fs.Exists(m.dir) {
		return nil
	}
	kill := filepath.Join(m.dir, "cgroup.kill")
	if m.fs.Exists(kill) {
		if err := m.fs.WriteFile(kill, "1"); err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
		return nil
	}
	return freezeKillThaw(m)
}

func (m *v2Manager) Destroy() error { return removeTree(m.fs, m.dir) }

func (m *v2Manager) OOMKillCount() (uint64, error) {
	return keyedValue(m.fs, filepath.Join(m.dir, "memory.events"), "oom_kill")
}
