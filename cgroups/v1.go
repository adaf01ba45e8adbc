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

// v1Manager is a container's directory in each cgroup v1 hierarchy, and on
// a hybrid host in the unified hierarchy (key ""), which only holds the
// processes: no controller of it is used.
type v1Manager struct {
	fs    fileSystem
	paths map[string]string // controller ("cpu", "name=systemd") or "" → directory
}

func (m *v1Manager) Path(controller string) string { return m.paths[controller] }

func (m *v1Manager) Paths() map[string]string { return maps.Clone(m.paths) }

// dirs lists each directory once, in the order of the controller names.
func (m *v1Manager) dirs() []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m.paths)) {
		if d := m.paths[k]; !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func (m *v1Manager) Apply(pid int) error {
	if pid == 0 || pid < -1 {
		return fmt.Errorf("cgroups: cannot apply to pid %d", pid)
	}
	for _, dir := range m.dirs() {
		var err error
		if dir == m.paths["cpuset"] {
			err = ensureCpuset(m.fs, dir)
		} else {
			err = mkdirAll(m.fs, dir, nil)
		}
		if err != nil {
			return fmt.Errorf("cgroups: create %s: %w", dir, err)
		}
		if pid > 0 {
			if err := writePid(m.fs, dir, pid); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureCpuset creates a v1 cpuset directory and the ones above it that are
// missing, giving each new (or empty) one its parent's cpus and mems: the
// kernel refuses tasks in a cpuset without them. The mkdir comes first: the
// directory is new nearly always, and then it is empty (or has its
// parent's values already, with cgroup.clone_children), so only the
// parent's values are read.
func ensureCpuset(fs fileSystem, dir string) error {
	return mkdirAll(fs, dir, func(dir string, existed bool) error {
		if !existed {
			return fillCpuset(fs, dir, nil)
		}
		var have []string
		for _, f := range cpusetFiles {
			v, err := readString(fs, filepath.Join(dir, f))
			if err != nil {
				return fmt.Errorf("%s is not a cpuset cgroup: %w", dir, err)
			}
			if v != "" {
				have = append(have, f)
			}
		}
		return fillCpuset(fs, dir, have)
	})
}

var cpusetFiles = []string{"cpuset.cpus", "cpuset.mems"}

// fillCpuset copies the parent's cpus and mems into dir but for the files
// in have, filling the parent first when it has none.
func fillCpuset(fs fileSystem, dir string, have []string) error {
	parent := filepath.Dir(dir)
	if parent == dir {
		return fmt.Errorf("no cpuset cgroup above %s", dir)
	}
	for _, f := range cpusetFiles {
		if slices.Contains(have, f) {
			continue
		}
		v, err := readString(fs, filepath.Join(parent, f))
		if err == nil && v == "" {
			if err := ensureCpuset(fs, parent); err != nil {
				return err
			}
			v, err = readString(fs, filepath.Join(parent, f))
		}
		if err != nil {
			return err
		}
		if err := fs.WriteFile(filepath.Join(dir, f), v); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1Manager) Set(r *specs.LinuxResources) error { return set(r, m.plan) }

const res = "linux.resources."

// plan works out Set's writes in runc's order of controllers: cpuset,
// devices, memory, cpu, pids, blkio, hugetlb, net_cls, net_prio, rdma.
func (m *v1Manager) plan(r *specs.LinuxResources) *plan {
	p := &plan{fs: m.fs}
	if len(r.Unified) > 0 {
		p.fail(res+"unified", "needs a cgroup v2 host; this one has v1 hierarchies")
	}
	if c := r.CPU; c != nil {
		dir := m.paths["cpuset"]
		if c.Cpus != "" && p.dir(res+"cpu.cpus", "cpuset", dir) {
			p.write(res+"cpu.cpus", dir, "cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" && p.dir(res+"cpu.mems", "cpuset", dir) {
			p.write(res+"cpu.mems", dir, "cpuset.mems", c.Mems)
		}
	}
	m.planDevices(p, r.Devices)
	m.planMemory(p, r.Memory)
	m.planCPU(p, r.CPU)
	if r.Pids != nil && r.Pids.Limit != nil {
		if dir := m.paths["pids"]; p.dir(res+"pids.limit", "pids", dir) {
			p.write(res+"pids.limit", dir, "pids.max", pidsMax(*r.Pids.Limit))
		}
	}
	m.planBlkio(p, r.BlockIO)
	for i, l := range r.HugepageLimits {
		field := fmt.Sprintf(res+"hugepageLimits[%d]", i)
		if dir := m.paths["hugetlb"]; p.dir(field, "hugetlb", dir) {
			v := strconv.FormatUint(l.Limit, 10)
			p.write(field, dir, "hugetlb."+l.Pagesize+".limit_in_bytes", v)
			p.write(field, dir, "hugetlb."+l.Pagesize+".rsvd.limit_in_bytes", v).optional = true
		}
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			if dir := m.paths["net_cls"]; p.dir(res+"network.classID", "net_cls", dir) {
				p.write(res+"network.classID", dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10))
			}
		}
		if len(n.Priorities) > 0 {
			if dir := m.paths["net_prio"]; p.dir(res+"network.priorities", "net_prio", dir) {
				o := op{field: res + "network.priorities", path: filepath.Join(dir, "net_prio.ifpriomap")}
				for _, pr := range n.Priorities {
					o.chunks = append(o.chunks, fmt.Sprintf("%s %d", pr.Name, pr.Priority))
				}
				p.add(o)
			}
		}
	}
	if len(r.Rdma) > 0 {
		if dir := m.paths["rdma"]; p.dir(res+"rdma", "rdma", dir) {
			p.add(rdmaOp(dir, r.Rdma))
		}
	}
	return p
}

// pidsMax is pids.max for linux.resources.pids.limit: a negative limit is
// "max" (no limit); 0 is a limit of 0, as runtime-spec 1.3 says.
func pidsMax(limit int64) string {
	if limit < 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

func rdmaOp(dir string, rdma map[string]specs.LinuxRdma) op {
	o := op{field: res + "rdma", path: filepath.Join(dir, "rdma.max")}
	for _, dev := range slices.Sorted(maps.Keys(rdma)) {
		l := rdma[dev]
		line := dev
		if l.HcaHandles != nil {
			line += fmt.Sprintf(" hca_handle=%d", *l.HcaHandles)
		}
		if l.HcaObjects != nil {
			line += fmt.Sprintf(" hca_object=%d", *l.HcaObjects)
		}
		if line != dev {
			o.chunks = append(o.chunks, line)
		}
	}
	return o
}

func (m *v1Manager) planDevices(p *plan, devices []specs.LinuxDeviceCgroup) {
	const field = res + "devices"
	rules, err := parseDeviceRules(devices)
	if err != nil {
		p.fail(field, "%v", err)
		return
	}
	dir := m.paths["devices"]
	if !p.dir(field, "devices", dir) {
		return
	}
	current, ok := p.read(field, filepath.Join(dir, "devices.list"))
	if !ok {
		return
	}
	allow, eff := effectiveDeviceRules(rules)
	writes := v1DeviceWrites(allow, eff, current)
	for i := 0; i < len(writes); {
		// A run of rules for one file goes through one open of it, one
		// write(2) per rule: a dozen kernfs opens fewer per container.
		file := writes[i][0]
		var run []string
		for ; i < len(writes) && writes[i][0] == file; i++ {
			run = append(run, writes[i][1])
		}
		p.add(op{field: field, path: filepath.Join(dir, file), chunks: run})
	}
}

func int64Val(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (m *v1Manager) planMemory(p *plan, mem *specs.LinuxMemory) {
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
	case mem.Swappiness != nil:
		first = "swappiness"
	case mem.DisableOOMKiller != nil:
		first = "disableOOMKiller"
	default:
		return // kernel limits are ignored, as runc does
	}
	dir := m.paths["memory"]
	if !p.dir(res+"memory."+first, "memory", dir) {
		return
	}
	memsw := filepath.Join(dir, "memory.memsw.limit_in_bytes")
	if limit == -1 && swap == 0 && p.fs.Exists(memsw) {
		swap = -1 // no memory limit means no memory+swap limit either
	}
	if swap != 0 && !p.fs.Exists(memsw) {
		p.fail(res+"memory.swap", "this host does not account swap (no memory.memsw.limit_in_bytes)")
		return
	}
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		checkUsage(p, res+"memory.limit", limit, filepath.Join(dir, "memory.usage_in_bytes"))
		checkUsage(p, res+"memory.swap", swap, filepath.Join(dir, "memory.memsw.usage_in_bytes"))
	}
	num := func(v int64) string { return strconv.FormatInt(v, 10) }
	switch {
	case limit != 0 && swap != 0:
		// The kernel keeps memory+swap >= memory at every step: raise
		// memory+swap first, lower memory first.
		curStr, ok := p.read(res+"memory.limit", filepath.Join(dir, "memory.limit_in_bytes"))
		if !ok {
			return
		}
		cur, _ := strconv.ParseUint(curStr, 10, 64)
		if swap == -1 || cur < uint64(swap) {
			p.write(res+"memory.swap", dir, "memory.memsw.limit_in_bytes", num(swap))
			p.write(res+"memory.limit", dir, "memory.limit_in_bytes", num(limit))
		} else {
			p.write(res+"memory.limit", dir, "memory.limit_in_bytes", num(limit))
			p.write(res+"memory.swap", dir, "memory.memsw.limit_in_bytes", num(swap))
		}
	case limit != 0:
		p.write(res+"memory.limit", dir, "memory.limit_in_bytes", num(limit))
	case swap != 0:
		p.write(res+"memory.swap", dir, "memory.memsw.limit_in_bytes", num(swap))
	}
	if resv != 0 {
		p.write(res+"memory.reservation", dir, "memory.soft_limit_in_bytes", num(resv))
	}
	if mem.Swappiness != nil {
		p.write(res+"memory.swappiness", dir, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10))
	}
	if mem.DisableOOMKiller != nil {
		v := "0"
		if *mem.DisableOOMKiller {
			v = "1"
		}
		p.write(res+"memory.disableOOMKiller", dir, "memory.oom_control", v)
	}
}

// checkUsage refuses a limit at or below the current usage
// (linux.resources.memory.checkBeforeUpdate). A usage that cannot be read
// (a cgroup not made yet) passes, as in runc.
func checkUsage(p *plan, field string, limit int64, usageFile string) {
	if limit <= 0 {
		return
	}
	s, err := readString(p.fs, usageFile)
	if err != nil {
		return
	}
	if usage, err := strconv.ParseUint(s, 10, 64); err == nil && uint64(limit) <= usage {
		p.fail(field, "%d is not above the current usage of %d bytes (checkBeforeUpdate)", limit, usage)
	}
}

func (m *v1Manager) planCPU(p *plan, c *specs.LinuxCPU) {
	if c == nil {
		return
	}
	var first string
	switch {
	case c.Shares != nil && *c.Shares != 0:
		first = "shares"
	case c.Quota != nil && *c.Quota != 0:
		first = "quota"
	case c.Period != nil && *c.Period != 0:
		first = "period"
	case c.Burst != nil:
		first = "burst"
	case c.RealtimePeriod != nil:
		first = "realtimePeriod"
	case c.RealtimeRuntime != nil:
		first = "realtimeRuntime"
	case c.Idle != nil:
		first = "idle"
	default:
		return
	}
	dir := m.paths["cpu"]
	if !p.dir(res+"cpu."+first, "cpu", dir) {
		return
	}
	if c.Shares != nil && *c.Shares != 0 {
		p.write(res+"cpu.shares", dir, "cpu.shares", strconv.FormatUint(*c.Shares, 10))
	}
	quota := int64Val(c.Quota)
	if c.Period != nil && *c.Period != 0 {
		p.write(res+"cpu.period", dir, "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10)).retryEINVAL = quota != 0
	}
	if c.Burst != nil {
		o := p.write(res+"cpu.burst", dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10))
		o.retryEINVAL = quota != 0
		o.optional = true // kernels before 5.14: ignored, as runc does
	}
	if quota != 0 {
		p.write(res+"cpu.quota", dir, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
	}
	if c.RealtimePeriod != nil {
		p.write(res+"cpu.realtimePeriod", dir, "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10))
	}
	if c.RealtimeRuntime != nil {
		p.write(res+"cpu.realtimeRuntime", dir, "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10))
	}
	if c.Idle != nil {
		p.write(res+"cpu.idle", dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10))
	}
}

func (m *v1Manager) planBlkio(p *plan, b *specs.LinuxBlockIO) {
	if b == nil {
		return
	}
	dir := m.paths["blkio"]
	dev := func(d specs.LinuxBlockIODevice) string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }
	// blkio.weight is CFQ's, gone since 5.0; BFQ has blkio.bfq.weight.
	weightFile := func(field, name string) (string, bool) {
		for _, f := range []string{"blkio." + name, "blkio.bfq." + name} {
			if p.fs.Exists(filepath.Join(dir, f)) {
				return f, true
			}
		}
		p.fail(field, "this kernel has no proportional I/O weight (no blkio.%s or blkio.bfq.%s in %s)", name, name, dir)
		return "", false
	}
	if b.Weight != nil && *b.Weight != 0 && p.dir(res+"blockIO.weight", "blkio", dir) {
		if f, ok := weightFile(res+"blockIO.weight", "weight"); ok {
			p.write(res+"blockIO.weight", dir, f, strconv.Itoa(int(*b.Weight)))
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 && p.dir(res+"blockIO.leafWeight", "blkio", dir) {
		p.write(res+"blockIO.leafWeight", dir, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight)))
	}
	for i, wd := range b.WeightDevice {
		field := fmt.Sprintf(res+"blockIO.weightDevice[%d]", i)
		if !p.dir(field, "blkio", dir) {
			return
		}
		if wd.Weight != nil {
			if f, ok := weightFile(field, "weight_device"); ok {
				p.write(field, dir, f, fmt.Sprintf("%s %d", dev(wd.LinuxBlockIODevice), *wd.Weight))
			}
		}
		if wd.LeafWeight != nil {
			p.write(field, dir, "blkio.leaf_weight_device", fmt.Sprintf("%s %d", dev(wd.LinuxBlockIODevice), *wd.LeafWeight))
		}
	}
	for _, t := range []struct {
		name, file string
		devs       []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		if len(t.devs) == 0 || !p.dir(res+"blockIO."+t.name, "blkio", dir) {
			continue
		}
		o := op{field: res + "blockIO." + t.name, path: filepath.Join(dir, t.file)}
		for _, d := range t.devs {
			o.chunks = append(o.chunks, fmt.Sprintf("%s %d", dev(d.LinuxBlockIODevice), d.Rate))
		}
		p.add(o)
	}
}

// Freeze sets freezer.state to FROZEN and waits until it reads FROZEN.
func (m *v1Manager) Freeze() error {
	dir := m.paths["freezer"]
	if dir == "" {
		return errors.New("cgroups: the freezer cgroup controller is not mounted")
	}
	return freezeV1(m.fs, dir, true)
}

func (m *v1Manager) Thaw() error {
	dir := m.paths["freezer"]
	if dir == "" || !m.fs.Exists(dir) {
		return nil
	}
	return freezeV1(m.fs, dir, false)
}

func (m *v1Manager) Paused() (bool, error) {
	dir := m.paths["freezer"]
	if dir == "" {
		return false, nil
	}
	s, err := readString(m.fs, filepath.Join(dir, "freezer.state"))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cgroups: %w", err)
	}
	return s != "THAWED", nil
}

// procsDir is the hierarchy whose cgroup.procs lists the processes.
func (m *v1Manager) procsDir() string {
	for _, c := range []string{"freezer", "pids", "memory", "devices", "cpu", "name=systemd", ""} {
		if d := m.paths[c]; d != "" {
			return d
		}
	}
	if d := m.dirs(); len(d) > 0 {
		return d[0]
	}
	return ""
}

func (m *v1Manager) Pids() ([]int, error) {
	pids, err := readPids(m.fs, m.procsDir(), nil)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	return pids, nil
}

func (m *v1Manager) Signal(sig unix.Signal) error { return signalAll(m, sig) }

func (m *v1Manager) Kill() error {
	dir := m.paths["freezer"]
	if dir == "" || !m.fs.Exists(dir) {
		return m.Signal(unix.SIGKILL)
	}
	return freezeKillThaw(m)
}

func (m *v1Manager) Destroy() error {
	var errs []error
	for _, d := range m.dirs() {
		errs = append(errs, removeTree(m.fs, d))
	}
	return errors.Join(errs...)
}

func (m *v1Manager) OOMKillCount() (uint64, error) {
	dir := m.paths["memory"]
	if dir == "" {
		return 0, errors.New("cgroups: the memory cgroup controller is not mounted")
	}
	return keyedValue(m.fs, filepath.Join(dir, "memory.oom_control"), "oom_kill")
}

// keyedValue reads one "key value" line of a flat keyed file.
func keyedValue(fs fileSystem, path, key string) (uint64, error) {
	data, err := fs.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	for _, line := range strings.Split(data, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cgroups: %s: %q: %w", path, line, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("cgroups: %s has no %q", path, key)
}
