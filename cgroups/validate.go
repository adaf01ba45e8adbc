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
)

// Kernel limits that the cgroup files enforce with a bare EINVAL.
const (
	minShares      = 2
	maxShares      = 262144
	minCfsPeriod   = 1000    // µs
	maxCfsPeriod   = 1000000 // µs
	minCfsQuota    = 1000    // µs
	minBlkioWeight = 10
	maxBlkioWeight = 1000
)

// Validate checks linux.resources without touching any cgroup: values,
// device rules, unified keys, and cpuset lists and huge page sizes
// against what the host has (/sys/devices/system/{cpu,node}/online,
// /sys/kernel/mm/hugepages). The error names the first bad field. What
// depends on the host's cgroups (a controller or file that is missing, a
// v1-only field on v2) is checked by Set before it writes anything.
func Validate(r *specs.LinuxResources) error {
	return validate(r, hostInfo{})
}

// hostInfo reads what Validate checks against; tests replace the files.
type hostInfo struct {
	sysfs string // "" is /sys
}

func (h hostInfo) path(p string) string {
	if h.sysfs == "" {
		return filepath.Join("/sys", p)
	}
	return filepath.Join(h.sysfs, p)
}

func validate(r *specs.LinuxResources, h hostInfo) error {
	if r == nil {
		return nil
	}
	if _, err := parseDeviceRules(r.Devices); err != nil {
		return err
	}
	if err := validateMemory(r.Memory); err != nil {
		return err
	}
	if err := validateCPU(r.CPU, h); err != nil {
		return err
	}
	if err := validateBlockIO(r.BlockIO); err != nil {
		return err
	}
	for i, l := range r.HugepageLimits {
		if err := validatePagesize(l.Pagesize, h); err != nil {
			return fmt.Errorf("linux.resources.hugepageLimits[%d].pageSize: %w", i, err)
		}
	}
	if n := r.Network; n != nil {
		for i, p := range n.Priorities {
			if p.Name == "" || len(p.Name) > 15 || strings.ContainsAny(p.Name, " \t\n/:") {
				return fmt.Errorf("linux.resources.network.priorities[%d].name: %q is not a network interface name", i, p.Name)
			}
		}
	}
	for dev := range r.Rdma {
		if dev == "" || strings.ContainsAny(dev, " \t\n=") {
			return fmt.Errorf("linux.resources.rdma: %q is not an RDMA device name", dev)
		}
	}
	for k, v := range r.Unified {
		if err := validateUnifiedKey(k); err != nil {
			return fmt.Errorf("linux.resources.unified[%q]: %w", k, err)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("linux.resources.unified[%q]: the value contains a NUL byte", k)
		}
	}
	return nil
}

// validateMemory: 0 means unset and -1 unlimited (both as runc).
func validateMemory(m *specs.LinuxMemory) error {
	if m == nil {
		return nil
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"limit", m.Limit}, {"reservation", m.Reservation}, {"swap", m.Swap}} {
		if f.v != nil && *f.v < -1 {
			return fmt.Errorf("linux.resources.memory.%s: %d is negative (use -1 for no limit)", f.name, *f.v)
		}
	}
	if m.Limit != nil && m.Swap != nil && *m.Limit > 0 && *m.Swap > 0 && *m.Swap < *m.Limit {
		return fmt.Errorf("linux.resources.memory.swap: %d is below memory.limit %d (swap is the memory+swap limit)", *m.Swap, *m.Limit)
	}
	if m.Swappiness != nil && *m.Swappiness > 100 {
		return fmt.Errorf("linux.resources.memory.swappiness: %d is above 100", *m.Swappiness)
	}
	return nil
}

func validateCPU(c *specs.LinuxCPU, h hostInfo) error {
	if c == nil {
		return nil
	}
	if c.Shares != nil && *c.Shares != 0 && (*c.Shares < minShares || *c.Shares > maxShares) {
		return fmt.Errorf("linux.resources.cpu.shares: %d is outside %d to %d", *c.Shares, minShares, maxShares)
	}
	if c.Quota != nil {
		if q := *c.Quota; q < -1 || (q > 0 && q < minCfsQuota) {
			return fmt.Errorf("linux.resources.cpu.quota: %d is not -1 (no limit) or at least %d µs", q, minCfsQuota)
		}
	}
	if c.Period != nil && *c.Period != 0 && (*c.Period < minCfsPeriod || *c.Period > maxCfsPeriod) {
		return fmt.Errorf("linux.resources.cpu.period: %d is outside %d to %d µs", *c.Period, minCfsPeriod, maxCfsPeriod)
	}
	if c.Burst != nil && c.Quota != nil && *c.Quota > 0 && *c.Burst > uint64(*c.Quota) {
		return fmt.Errorf("linux.resources.cpu.burst: %d is above the quota %d", *c.Burst, *c.Quota)
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime < -1 {
		return fmt.Errorf("linux.resources.cpu.realtimeRuntime: %d is negative (use -1 for no limit)", *c.RealtimeRuntime)
	}
	if c.RealtimeRuntime != nil && c.RealtimePeriod != nil && *c.RealtimePeriod > 0 && *c.RealtimeRuntime > int64(*c.RealtimePeriod) {
		return fmt.Errorf("linux.resources.cpu.realtimeRuntime: %d is above realtimePeriod %d", *c.RealtimeRuntime, *c.RealtimePeriod)
	}
	if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
		return fmt.Errorf("linux.resources.cpu.idle: %d is not 0 or 1", *c.Idle)
	}
	if c.Cpus != "" {
		if err := validateList(c.Cpus, h.path("devices/system/cpu/online"), "CPU"); err != nil {
			return fmt.Errorf("linux.resources.cpu.cpus: %w", err)
		}
	}
	if c.Mems != "" {
		if err := validateList(c.Mems, h.path("devices/system/node/online"), "memory node"); err != nil {
			return fmt.Errorf("linux.resources.cpu.mems: %w", err)
		}
	}
	return nil
}

// parseList parses a kernel list like "0-3,5,7-8" into its members.
func parseList(s string) (map[int]bool, error) {
	out := make(map[int]bool)
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%q is not a list like 0-3,5", s)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a list like 0-3,5", s)
			}
		}
		for i := a; i <= b; i++ {
			out[int(i)] = true
		}
	}
	return out, nil
}

// validateList checks a cpuset list against the host's online list (a
// host without /sys/devices/system/node has node 0 only).
func validateList(s, onlineFile, what string) error {
	want, err := parseList(s)
	if err != nil {
		return err
	}
	online := "0"
	if b, err := os.ReadFile(onlineFile); err == nil {
		online = strings.TrimSpace(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	have, err := parseList(online)
	if err != nil {
		return fmt.Errorf("%s: %w", onlineFile, err)
	}
	for _, i := range slices.Sorted(maps.Keys(want)) {
		if !have[i] {
			return fmt.Errorf("%s %d is not online on this host (online: %s)", what, i, online)
		}
	}
	return nil
}

func validateBlockIO(b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	weight := func(field string, w *uint16) error {
		if w != nil && *w != 0 && (*w < minBlkioWeight || *w > maxBlkioWeight) {
			return fmt.Errorf("%s: %d is outside %d to %d", field, *w, minBlkioWeight, maxBlkioWeight)
		}
		return nil
	}
	device := func(field string, d specs.LinuxBlockIODevice) error {
		if d.Major < 0 || d.Minor < 0 || d.Major > 0xffffffff || d.Minor > 0xffffffff {
			return fmt.Errorf("%s: %d:%d is not a device number", field, d.Major, d.Minor)
		}
		return nil
	}
	if err := weight("linux.resources.blockIO.weight", b.Weight); err != nil {
		return err
	}
	if err := weight("linux.resources.blockIO.leafWeight", b.LeafWeight); err != nil {
		return err
	}
	for i, d := range b.WeightDevice {
		field := fmt.Sprintf("linux.resources.blockIO.weightDevice[%d]", i)
		if err := device(field, d.LinuxBlockIODevice); err != nil {
			return err
		}
		if d.Weight == nil && d.LeafWeight == nil {
			return fmt.Errorf("%s: has neither weight nor leafWeight", field)
		}
		if err := weight(field+".weight", d.Weight); err != nil {
			return err
		}
		if err := weight(field+".leafWeight", d.LeafWeight); err != nil {
			return err
		}
	}
	for _, t := range []struct {
		name string
		devs []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", b.ThrottleWriteIOPSDevice},
	} {
		for i, d := range t.devs {
			if err := device(fmt.Sprintf("linux.resources.blockIO.%s[%d]", t.name, i), d.LinuxBlockIODevice); err != nil {
				return err
			}
		}
	}
	return nil
}

// validatePagesize checks the spec's "<size><unit>B" form (2MB, 1GB, 64KB:
// the names of the hugetlb cgroup files) against the sizes the host has.
func validatePagesize(size string, h hostInfo) error {
	dir := h.path("kernel/mm/hugepages")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("this host has no huge pages")
		}
		return err
	}
	var have []string
	for _, e := range entries {
		kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(kb, "kB"), 10, 64)
		if err != nil {
			continue
		}
		name := pagesizeName(n * 1024)
		if name == size {
			return nil
		}
		have = append(have, name)
	}
	return fmt.Errorf("%q is not a huge page size of this host (it has %s)", size, strings.Join(have, ", "))
}

// pagesizeName is the kernel's name for a huge page size: the largest unit
// that divides it (2MB, 1GB, 64KB).
func pagesizeName(bytes uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	i := 0
	for bytes >= 1024 && bytes%1024 == 0 && i < len(units)-1 {
		bytes /= 1024
		i++
	}
	return strconv.FormatUint(bytes, 10) + units[i]
}

// forbiddenUnified are the cgroup core files that move, freeze or kill
// processes or change how the runtime manages the cgroup.
func forbiddenUnified(key string) bool {
	switch key {
	case "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze", "cgroup.type", "cgroup.subtree_control":
		return true
	}
	return false
}

// validateUnifiedKey checks a linux.resources.unified key's form: a file
// name "<controller>.<setting>". Whether the file exists is up to the
// host's kernel and controllers, which Set checks.
func validateUnifiedKey(k string) error {
	// Kernel cgroup file names are ASCII letters, digits, "_", "-" and "."; a
	// control character or "/" would reach the path of the written file.
	fileChar := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
	}
	if k == "" || k == "." || k == ".." || strings.IndexFunc(k, func(r rune) bool { return !fileChar(r) }) >= 0 {
		return errors.New("not a cgroup file name")
	}
	ctrl, param, ok := strings.Cut(k, ".")
	if !ok || ctrl == "" || param == "" {
		return errors.New("not a cgroup file name of the form <controller>.<setting>")
	}
	if forbiddenUnified(k) {
		return errors.New("moves, freezes or kills processes or changes the cgroup's type: not a resource")
	}
	return nil
}
