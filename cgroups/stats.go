package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Stats is the data of a runc `events --stats` event, field for field
// and in the same JSON. IntelRdt and NetworkInterfaces are not cgroup
// data: they stay empty here, for the caller to fill.
type Stats struct {
	CPU               CPU                 `json:"cpu"`
	CPUSet            CPUSet              `json:"cpuset"`
	Memory            Memory              `json:"memory"`
	Pids              Pids                `json:"pids"`
	Blkio             Blkio               `json:"blkio"`
	Hugetlb           map[string]Hugetlb  `json:"hugetlb"`
	IntelRdt          IntelRdt            `json:"intel_rdt"`
	NetworkInterfaces []*NetworkInterface `json:"network_interfaces"`
}

type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUUsage is in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type CPU struct {
	Usage      CPUUsage   `json:"usage,omitzero"`
	Throttling Throttling `json:"throttling,omitzero"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}

type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitzero"`
	Swap      MemoryEntry       `json:"swap,omitzero"`
	Kernel    MemoryEntry       `json:"kernel,omitzero"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitzero"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

type PSIStats struct {
	Some PSIData `json:"some,omitzero"`
	Full PSIData `json:"full,omitzero"`
}

// IntelRdt is runc's resctrl data, which husk does not collect.
type IntelRdt struct{}

// NetworkInterface is runc's per-interface counters (no JSON tags there
// either).
type NetworkInterface struct {
	Name      string
	RxBytes   uint64
	RxPackets uint64
	RxErrors  uint64
	RxDropped uint64
	TxBytes   uint64
	TxPackets uint64
	TxErrors  uint64
	TxDropped uint64
}

// statReader reads stat files, skipping the ones that do not exist (a
// controller the host or the cgroup lacks) and keeping the first other
// error.
type statReader struct {
	fs  fileSystem
	err error
}

func (s *statReader) read(path string) (string, bool) {
	data, err := s.fs.ReadFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENODEV) && s.err == nil {
			s.err = err
		}
		return "", false
	}
	return data, true
}

// uint reads a file holding one number; "max" is math.MaxUint64.
func (s *statReader) uint(path string) uint64 {
	data, ok := s.read(path)
	if !ok {
		return 0
	}
	v := strings.TrimSpace(data)
	if v == "max" {
		return math.MaxUint64
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("%s: %q is not a number", path, v)
	}
	return n
}

// keyed reads a flat keyed file ("key value" lines).
func (s *statReader) keyed(path string) map[string]uint64 {
	data, ok := s.read(path)
	if !ok {
		return nil
	}
	out := make(map[string]uint64)
	for _, line := range strings.Split(data, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// psi reads a pressure file: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0".
func (s *statReader) psi(path string) *PSIStats {
	data, ok := s.read(path)
	if !ok {
		return nil
	}
	var out PSIStats
	for _, line := range strings.Split(data, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var d *PSIData
		switch fields[0] {
		case "some":
			d = &out.Some
		case "full":
			d = &out.Full
		default:
			continue
		}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "avg10":
				d.Avg10, _ = strconv.ParseFloat(v, 64)
			case "avg60":
				d.Avg60, _ = strconv.ParseFloat(v, 64)
			case "avg300":
				d.Avg300, _ = strconv.ParseFloat(v, 64)
			case "total":
				d.Total, _ = strconv.ParseUint(v, 10, 64)
			}
		}
	}
	return &out
}

// list reads a cpuset list file into its members.
func (s *statReader) list(path string) []uint16 {
	data, ok := s.read(path)
	if !ok || strings.TrimSpace(data) == "" {
		return nil
	}
	set, err := parseList(data)
	if err != nil {
		return nil
	}
	var out []uint16
	for i := range set {
		out = append(out, uint16(i))
	}
	slices.Sort(out)
	return out
}

// hugePageSizes lists the host's huge page sizes by cgroup file name.
func hugePageSizes() []string {
	entries, err := os.ReadDir("/sys/kernel/mm/hugepages")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSuffix(kb, "kB"), 10, 64); err == nil {
			out = append(out, pagesizeName(n*1024))
		}
	}
	return out
}

func (m *v1Manager) Stats() (*Stats, error) {
	s := &statReader{fs: m.fs}
	st := &Stats{Hugetlb: map[string]Hugetlb{}}
	if dir := m.paths["cpuacct"]; dir != "" {
		u := &st.CPU.Usage
		u.Total = s.uint(filepath.Join(dir, "cpuacct.usage"))
		if data, ok := s.read(filepath.Join(dir, "cpuacct.usage_percpu")); ok {
			for _, f := range strings.Fields(data) {
				n, _ := strconv.ParseUint(f, 10, 64)
				u.Percpu = append(u.Percpu, n)
			}
		}
		// cpuacct.stat counts USER_HZ (100 on every Linux ABI) ticks.
		ticks := s.keyed(filepath.Join(dir, "cpuacct.stat"))
		u.User = ticks["user"] * 1e9 / 100
		u.Kernel = ticks["system"] * 1e9 / 100
		if data, ok := s.read(filepath.Join(dir, "cpuacct.usage_all")); ok {
			for _, line := range strings.Split(data, "\n")[1:] {
				f := strings.Fields(line)
				if len(f) != 3 {
					continue
				}
				user, _ := strconv.ParseUint(f[1], 10, 64)
				sys, _ := strconv.ParseUint(f[2], 10, 64)
				u.PercpuUser = append(u.PercpuUser, user)
				u.PercpuKernel = append(u.PercpuKernel, sys)
			}
		}
	}
	if dir := m.paths["cpu"]; dir != "" {
		t := s.keyed(filepath.Join(dir, "cpu.stat"))
		st.CPU.Throttling = Throttling{Periods: t["nr_periods"], ThrottledPeriods: t["nr_throttled"], ThrottledTime: t["throttled_time"]}
	}
	if dir := m.paths["cpuset"]; dir != "" {
		c := &st.CPUSet
		c.CPUs = s.list(filepath.Join(dir, "cpuset.cpus"))
		c.Mems = s.list(filepath.Join(dir, "cpuset.mems"))
		for _, f := range []struct {
			file string
			v    *uint64
		}{
			{"cpu_exclusive", &c.CPUExclusive}, {"mem_hardwall", &c.MemHardwall},
			{"mem_exclusive", &c.MemExclusive}, {"memory_migrate", &c.MemoryMigrate},
			{"memory_spread_page", &c.MemorySpreadPage}, {"memory_spread_slab", &c.MemorySpreadSlab},
			{"memory_pressure", &c.MemoryPressure}, {"sched_load_balance", &c.SchedLoadBalance},
		} {
			*f.v = s.uint(filepath.Join(dir, "cpuset."+f.file))
		}
		if data, ok := s.read(filepath.Join(dir, "cpuset.sched_relax_domain_level")); ok {
			c.SchedRelaxDomainLevel, _ = strconv.ParseInt(strings.TrimSpace(data), 10, 64)
		}
	}
	if dir := m.paths["memory"]; dir != "" {
		mem := &st.Memory
		mem.Raw = s.keyed(filepath.Join(dir, "memory.stat"))
		mem.Cache = mem.Raw["cache"]
		entry := func(prefix string) MemoryEntry {
			return MemoryEntry{
				Usage:   s.uint(filepath.Join(dir, prefix+"usage_in_bytes")),
				Max:     s.uint(filepath.Join(dir, prefix+"max_usage_in_bytes")),
				Failcnt: s.uint(filepath.Join(dir, prefix+"failcnt")),
				Limit:   s.uint(filepath.Join(dir, prefix+"limit_in_bytes")),
			}
		}
		mem.Usage = entry("memory.")
		mem.Swap = entry("memory.memsw.")
		mem.Kernel = entry("memory.kmem.")
		mem.KernelTCP = entry("memory.kmem.tcp.")
	}
	if dir := m.paths["pids"]; dir != "" {
		st.Pids.Current = s.uint(filepath.Join(dir, "pids.current"))
		if l := s.uint(filepath.Join(dir, "pids.max")); l != math.MaxUint64 {
			st.Pids.Limit = l
		}
	}
	if dir := m.paths["blkio"]; dir != "" {
		blkioStatsV1(s, dir, &st.Blkio)
	}
	if dir := m.paths["hugetlb"]; dir != "" {
		for _, size := range hugePageSizes() {
			p := filepath.Join(dir, "hugetlb."+size+".")
			st.Hugetlb[size] = Hugetlb{
				Usage:   s.uint(p + "usage_in_bytes"),
				Max:     s.uint(p + "max_usage_in_bytes"),
				Failcnt: s.uint(p + "failcnt"),
			}
		}
	}
	if s.err != nil {
		return st, fmt.Errorf("cgroups: %w", s.err)
	}
	return st, nil
}

// blkioStatsV1 reads CFQ's recursive statistics, or BFQ's, or else the
// throttling layer's, as runc does.
func blkioStatsV1(s *statReader, dir string, b *Blkio) {
	entries := func(file string) []BlkioEntry {
		data, ok := s.read(filepath.Join(dir, file))
		if !ok {
			return nil
		}
		var out []BlkioEntry
		for _, line := range strings.Split(data, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			maj, min, ok := strings.Cut(f[0], ":")
			if !ok {
				continue // "Total"
			}
			e := BlkioEntry{}
			e.Major, _ = strconv.ParseUint(maj, 10, 64)
			e.Minor, _ = strconv.ParseUint(min, 10, 64)
			if len(f) == 3 {
				e.Op = f[1]
			}
			e.Value, _ = strconv.ParseUint(f[len(f)-1], 10, 64)
			out = append(out, e)
		}
		return out
	}
	// The CFQ files, or BFQ's under blkio.bfq., or only throttling's two.
	prefix := "blkio.throttle."
	switch {
	case s.fs.Exists(filepath.Join(dir, "blkio.io_serviced_recursive")):
		prefix = "blkio."
	case s.fs.Exists(filepath.Join(dir, "blkio.bfq.io_serviced_recursive")):
		prefix = "blkio.bfq."
	}
	b.IoServiceBytesRecursive = entries(prefix + "io_service_bytes_recursive")
	b.IoServicedRecursive = entries(prefix + "io_serviced_recursive")
	if prefix == "blkio.throttle." {
		return
	}
	b.IoQueuedRecursive = entries(prefix + "io_queued_recursive")
	b.IoServiceTimeRecursive = entries(prefix + "io_service_time_recursive")
	b.IoWaitTimeRecursive = entries(prefix + "io_wait_time_recursive")
	b.IoMergedRecursive = entries(prefix + "io_merged_recursive")
	b.IoTimeRecursive = entries(prefix + "time_recursive")
	b.SectorsRecursive = entries(prefix + "sectors_recursive")
}

func (m *v2Manager) Stats() (*Stats, error) {
	s := &statReader{fs: m.fs}
	st := &Stats{Hugetlb: map[string]Hugetlb{}}
	dir := m.dir
	// cpu.stat is there without the cpu controller too.
	if c := s.keyed(filepath.Join(dir, "cpu.stat")); c != nil {
		st.CPU.Usage.Total = c["usage_usec"] * 1000
		st.CPU.Usage.User = c["user_usec"] * 1000
		st.CPU.Usage.Kernel = c["system_usec"] * 1000
		st.CPU.Throttling = Throttling{Periods: c["nr_periods"], ThrottledPeriods: c["nr_throttled"], ThrottledTime: c["throttled_usec"] * 1000}
	}
	st.CPU.PSI = s.psi(filepath.Join(dir, "cpu.pressure"))
	if s.fs.Exists(filepath.Join(dir, "cpuset.cpus.effective")) {
		st.CPUSet.CPUs = s.list(filepath.Join(dir, "cpuset.cpus.effective"))
		st.CPUSet.Mems = s.list(filepath.Join(dir, "cpuset.mems.effective"))
	}
	if s.fs.Exists(filepath.Join(dir, "memory.current")) {
		mem := &st.Memory
		mem.Raw = s.keyed(filepath.Join(dir, "memory.stat"))
		mem.Cache = mem.Raw["file"]
		mem.Usage = MemoryEntry{
			Usage: s.uint(filepath.Join(dir, "memory.current")),
			Limit: s.uint(filepath.Join(dir, "memory.max")),
			Max:   s.uint(filepath.Join(dir, "memory.peak")),
		}
		// runc reports v1's memory+swap: swap plus memory.
		if s.fs.Exists(filepath.Join(dir, "memory.swap.current")) {
			mem.Swap = MemoryEntry{
				Usage: s.uint(filepath.Join(dir, "memory.swap.current")) + mem.Usage.Usage,
				Limit: s.uint(filepath.Join(dir, "memory.swap.max")),
			}
			if mem.Swap.Limit != math.MaxUint64 && mem.Usage.Limit != math.MaxUint64 {
				mem.Swap.Limit += mem.Usage.Limit
			} else {
				mem.Swap.Limit = math.MaxUint64
			}
		}
	}
	st.Memory.PSI = s.psi(filepath.Join(dir, "memory.pressure"))
	if s.fs.Exists(filepath.Join(dir, "pids.current")) {
		st.Pids.Current = s.uint(filepath.Join(dir, "pids.current"))
		if l := s.uint(filepath.Join(dir, "pids.max")); l != math.MaxUint64 {
			st.Pids.Limit = l
		}
	} else if pids, err := readPids(m.fs, dir, nil); err == nil {
		st.Pids.Current = uint64(len(pids)) // no pids controller: count, as runc does
	}
	if data, ok := s.read(filepath.Join(dir, "io.stat")); ok {
		ioStatsV2(data, &st.Blkio)
	}
	st.Blkio.PSI = s.psi(filepath.Join(dir, "io.pressure"))
	for _, size := range hugePageSizes() {
		p := filepath.Join(dir, "hugetlb."+size+".")
		if !s.fs.Exists(p + "current") {
			continue
		}
		usage := p + "rsvd.current"
		if !s.fs.Exists(usage) {
			usage = p + "current"
		}
		st.Hugetlb[size] = Hugetlb{
			Usage:   s.uint(usage),
			Failcnt: s.keyed(p + "events")["max"],
		}
	}
	if s.err != nil {
		return st, fmt.Errorf("cgroups: %w", s.err)
	}
	return st, nil
}

// ioStatsV2 maps io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") to
// blkio's tables, as runc does.
func ioStatsV2(data string, b *Blkio) {
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		major, _ := strconv.ParseUint(maj, 10, 64)
		minor, _ := strconv.ParseUint(min, 10, 64)
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := BlkioEntry{Major: major, Minor: minor, Value: n}
			switch k {
			case "rbytes":
				e.Op = "Read"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "wbytes":
				e.Op = "Write"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "rios":
				e.Op = "Read"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			case "wios":
				e.Op = "Write"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			}
		}
	}
}
