package cgroups

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/internal/fuzzcheck"
)

// Values a fuzzed device rule draws from: the wildcard, the usual devices,
// the edges of a device number and past them.
var (
	fuzzTypes    = []string{"", "a", "b", "c", "x", "ab"}
	fuzzAccesses = []string{"rwm", "r", "w", "m", "rw", "mr", "wm", "mrw", "", "rr", "x", "R"}
	fuzzNumbers  = []int64{wildcard, 0, 1, 3, 5, 8, 10, 136, 200, 2147483648, math.MaxUint32, math.MaxUint32 + 1, -2, math.MinInt64}
)

// fuzzDeviceRules decodes 4 bytes a rule: allow and type, access, major
// and minor (an index past fuzzNumbers leaves the number unset).
func fuzzDeviceRules(data []byte) []specs.LinuxDeviceCgroup {
	var rules []specs.LinuxDeviceCgroup
	number := func(b byte) *int64 {
		if int(b) >= len(fuzzNumbers) {
			return nil
		}
		return &fuzzNumbers[b]
	}
	for ; len(data) >= 4 && len(rules) < 16; data = data[4:] {
		rules = append(rules, specs.LinuxDeviceCgroup{
			Allow:  data[0]&1 != 0,
			Type:   fuzzTypes[int(data[0]>>1)%len(fuzzTypes)],
			Access: fuzzAccesses[int(data[1])%len(fuzzAccesses)],
			Major:  number(data[2] % 16),
			Minor:  number(data[3] % 16),
		})
	}
	return rules
}

// FuzzDeviceProgram compiles device rules to the eBPF program (never
// loaded) and runs it in the interpreter against modelAllowed for every
// device the rules name and every access.
func FuzzDeviceProgram(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0xff, 0xff, 3, 0, 6, 9, 5, 1, 4, 0xff}) // deny all, c 10:200, b 8:* r
	f.Add([]byte{1, 0, 0xff, 0xff, 4, 2, 2, 3, 0, 0, 0xff, 0xff})
	f.Add([]byte{0, 0, 0xff, 0xff, 5, 1, 10, 10, 8, 3, 11, 0}) // a type x, big numbers
	f.Add([]byte{0, 8, 0, 0, 0, 9, 0, 0, 0, 0, 12, 13})        // bad access, bad numbers
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := fuzzDeviceRules(data)
		insns, err := DeviceProgram(cfg)
		fuzzcheck.OneLine(t, "DeviceProgram", err)
		if err != nil {
			return
		}
		if limit := 8 + 2*(len(defaultDeviceRules())+len(cfg))*8; len(insns) > limit {
			t.Fatalf("%d rules give %d instructions", len(cfg), len(insns))
		}
		// Each number a rule names, and one no rule names.
		majors, minors := map[int64]bool{7: true}, map[int64]bool{7: true}
		for _, r := range cfg {
			if r.Major != nil && *r.Major >= 0 {
				majors[*r.Major] = true
			}
			if r.Minor != nil && *r.Minor >= 0 {
				minors[*r.Minor] = true
			}
		}
		for _, typ := range []byte{'c', 'b'} {
			devType := uint32(unix.BPF_DEVCG_DEV_CHAR)
			if typ == 'b' {
				devType = unix.BPF_DEVCG_DEV_BLOCK
			}
			for major := range majors {
				for minor := range minors {
					for access := uint32(1); access <= accAll; access++ {
						got := runDeviceProgram(t, insns, devType, access, uint32(major), uint32(minor)) == 1
						if want := modelAllowed(cfg, typ, major, minor, access); got != want {
							t.Fatalf("%c %d:%d access %03b: program says %v, model %v", typ, major, minor, access, got, want)
						}
					}
				}
			}
		}
	})
}

// FuzzValidateResources validates linux.resources against a fake /sys.
// What it accepts must be safe to write: unified keys are plain file
// names, cpuset lists name online CPUs only.
func FuzzValidateResources(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`,
		`{"memory": {"limit": 1048576, "swap": 2097152, "swappiness": 60}, "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"}, "pids": {"limit": 10}}`,
		`{"memory": {"limit": 4096, "swap": 1024}}`, `{"memory": {"limit": -2}}`,
		`{"cpu": {"cpus": "0-3"}}`, `{"cpu": {"cpus": "1-0"}}`, `{"cpu": {"cpus": "0,,1"}}`, `{"cpu": {"realtimeRuntime": 5, "realtimePeriod": 4}}`,
		`{"unified": {"memory.max": "max", "cpu.weight": "100"}}`, `{"unified": {"../memory.max": "1"}}`, `{"unified": {"cgroup.procs": "1"}}`,
		`{"unified": {"memory.max\n": "1"}}`, `{"unified": {"memory.high": "1\u0000"}}`, `{"unified": {"..": "1"}}`,
		`{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}, {"pageSize": "4MB", "limit": 1}]}`,
		`{"blockIO": {"weight": 5, "weightDevice": [{"major": 8, "minor": 0}]}}`,
		`{"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1}]}}`,
		`{"network": {"priorities": [{"name": "eth0", "priority": 1}, {"name": "a/b", "priority": 1}]}}`,
		`{"rdma": {"mlx5_0": {"hcaHandles": 1}, "a b": {}}}`,
		`{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]}`,
	} {
		f.Add([]byte(s))
	}
	h := fakeSysfs(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r specs.LinuxResources
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		err := validate(&r, h)
		fuzzcheck.OneLine(t, "validate", err)
		if err != nil {
			return
		}
		for k, v := range r.Unified {
			if strings.IndexFunc(k, func(c rune) bool { return c > unicode.MaxASCII || unicode.IsControl(c) || c == '/' }) >= 0 ||
				k == "." || k == ".." || strings.ContainsRune(v, 0) {
				t.Fatalf("unified key %q (value %q) accepted", k, v)
			}
		}
		if c := r.CPU; c != nil {
			for _, list := range []string{c.Cpus, c.Mems} {
				if list == "" {
					continue
				}
				ids, err := parseList(list)
				if err != nil {
					t.Fatalf("cpuset list %q accepted, but does not parse: %v", list, err)
				}
				for id := range ids {
					if id > 1 {
						t.Fatalf("cpuset list %q accepted with %d, which is not online", list, id)
					}
				}
			}
		}
		if m := r.Memory; m != nil && m.Limit != nil && m.Swap != nil && *m.Limit > 0 && *m.Swap > 0 && *m.Swap < *m.Limit {
			t.Fatalf("memory swap %d below limit %d accepted", *m.Swap, *m.Limit)
		}
	})
}
