package cgroups

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Device access bits, as the kernel passes them to a device program (the
// upper 16 bits of bpf_cgroup_dev_ctx.access_type).
const (
	accMknod = unix.BPF_DEVCG_ACC_MKNOD // 1
	accRead  = unix.BPF_DEVCG_ACC_READ  // 2
	accWrite = unix.BPF_DEVCG_ACC_WRITE // 4
	accAll   = accMknod | accRead | accWrite
)

// wildcard is a major or minor number that matches every device.
const wildcard = -1

// deviceRule is a checked linux.resources.devices entry.
type deviceRule struct {
	allow        bool
	typ          byte // 'a', 'b' or 'c'
	major, minor int64
	access       uint32 // acc* bits, never 0
}

// catchAll says whether the rule matches every access to every device.
func (r deviceRule) catchAll() bool {
	return r.typ == 'a' && r.major == wildcard && r.minor == wildcard && r.access == accAll
}

func (r deviceRule) String() string {
	num := func(n int64) string {
		if n == wildcard {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	var acc strings.Builder
	for _, a := range []struct {
		bit uint32
		c   byte
	}{{accRead, 'r'}, {accWrite, 'w'}, {accMknod, 'm'}} {
		if r.access&a.bit != 0 {
			acc.WriteByte(a.c)
		}
	}
	return fmt.Sprintf("%c %s:%s %s", r.typ, num(r.major), num(r.minor), acc.String())
}

// defaultDeviceRules are allowed for every container before its own rules:
// null, zero, full, random, urandom, tty, ptmx and the pts devices.
func defaultDeviceRules() []deviceRule {
	c := func(major, minor int64) deviceRule {
		return deviceRule{allow: true, typ: 'c', major: major, minor: minor, access: accAll}
	}
	return []deviceRule{c(1, 3), c(1, 5), c(1, 7), c(1, 8), c(1, 9), c(5, 0), c(5, 2), c(136, wildcard)}
}

// parseDeviceRules checks linux.resources.devices. An unset type is "a",
// an unset major or minor (or -1) is "*"; access may not be empty (as in
// runc).
func parseDeviceRules(in []specs.LinuxDeviceCgroup) ([]deviceRule, error) {
	out := make([]deviceRule, 0, len(in))
	for i, d := range in {
		field := fmt.Sprintf("linux.resources.devices[%d]", i)
		r := deviceRule{allow: d.Allow, major: wildcard, minor: wildcard}
		switch d.Type {
		case "", "a":
			r.typ = 'a'
		case "b", "c":
			r.typ = d.Type[0]
		default:
			return nil, fmt.Errorf("%s.type: %q is not a (all), b (block) or c (char)", field, d.Type)
		}
		for _, n := range []struct {
			name string
			v    *int64
			out  *int64
		}{{"major", d.Major, &r.major}, {"minor", d.Minor, &r.minor}} {
			if n.v == nil || *n.v == wildcard {
				continue
			}
			if *n.v < 0 || *n.v > math.MaxUint32 {
				return nil, fmt.Errorf("%s.%s: %d is not a device number (or -1 for all)", field, n.name, *n.v)
			}
			*n.out = *n.v
		}
		if d.Access == "" {
			return nil, fmt.Errorf("%s.access: empty (use a combination of r, w and m)", field)
		}
		for _, c := range d.Access {
			var bit uint32
			switch c {
			case 'r':
				bit = accRead
			case 'w':
				bit = accWrite
			case 'm':
				bit = accMknod
			default:
				return nil, fmt.Errorf("%s.access: %q is not a combination of r, w and m", field, d.Access)
			}
			if r.access&bit != 0 {
				return nil, fmt.Errorf("%s.access: %q repeats %q", field, d.Access, c)
			}
			r.access |= bit
		}
		out = append(out, r)
	}
	return out, nil
}

// effectiveDeviceRules turns the config's rules into a base policy and the
// rules to apply over it in order, later ones winning.
//
// A catch-all rule (type a, all numbers, rwm) sets the policy and makes
// every config rule before it irrelevant. With a deny policy (the usual
// config starts with {"allow": false, "access": "rwm"}, and no catch-all
// at all means deny too) the default allow list comes first, so that the
// config's deny-all does not take /dev/null away but a later, specific
// deny can. With an allow policy the default list adds nothing.
//
// An "a" rule that is not a catch-all becomes a "c" and a "b" rule: the v1
// kernel would read any "a" as a catch-all.
func effectiveDeviceRules(cfg []deviceRule) (allow bool, rules []deviceRule) {
	start := 0
	for i, r := range cfg {
		if r.catchAll() {
			allow, start = r.allow, i+1
		}
	}
	if !allow {
		rules = defaultDeviceRules()
	}
	for _, r := range cfg[start:] {
		if r.typ == 'a' {
			c, b := r, r
			c.typ, b.typ = 'c', 'b'
			rules = append(rules, c, b)
			continue
		}
		rules = append(rules, r)
	}
	// The first rules that agree with the policy change nothing.
	for len(rules) > 0 && rules[0].allow == allow {
		rules = rules[1:]
	}
	return allow, rules
}

// DeviceProgram compiles linux.resources.devices into the instructions of a
// BPF_PROG_TYPE_CGROUP_DEVICE program: the default allow list, then the
// config's rules in order, later rules winning (see effectiveDeviceRules).
// The program checks the rules from last to first and returns at the first
// match, and returns the policy (deny unless the config allows all) when
// none matches. It reads struct bpf_cgroup_dev_ctx: u32 access_type
// (access << 16 | type), u32 major, u32 minor.
func DeviceProgram(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	parsed, err := parseDeviceRules(rules)
	if err != nil {
		return nil, err
	}
	allow, eff := effectiveDeviceRules(parsed)
	return deviceProgram(allow, eff), nil
}

func deviceProgram(allow bool, rules []deviceRule) asm.Instructions {
	verdict := func(allow bool) int32 {
		if allow {
			return 1
		}
		return 0
	}
	insns := asm.Instructions{
		// R2 = type, R3 = access, R4 = major, R5 = minor
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
	}
	block := 0
	for _, r := range slices.Backward(rules) {
		next := "rule" + strconv.Itoa(block+1)
		var b asm.Instructions
		devType := int32(unix.BPF_DEVCG_DEV_CHAR)
		if r.typ == 'b' {
			devType = unix.BPF_DEVCG_DEV_BLOCK
		}
		b = append(b, asm.JNE.Imm32(asm.R2, devType, next))
		if r.access != accAll {
			if r.allow {
				// every requested bit must be granted: (access & ^rule) == 0
				b = append(b,
					asm.Mov.Reg32(asm.R1, asm.R3),
					asm.And.Imm32(asm.R1, int32(accAll&^r.access)),
					asm.JNE.Imm32(asm.R1, 0, next))
			} else {
				// any requested bit denied: (access & rule) != 0
				b = append(b,
					asm.Mov.Reg32(asm.R1, asm.R3),
					asm.And.Imm32(asm.R1, int32(r.access)),
					asm.JEq.Imm32(asm.R1, 0, next))
			}
		}
		if r.major != wildcard {
			b = append(b, asm.JNE.Imm32(asm.R4, int32(uint32(r.major)), next))
		}
		if r.minor != wildcard {
			b = append(b, asm.JNE.Imm32(asm.R5, int32(uint32(r.minor)), next))
		}
		b = append(b, asm.Mov.Imm32(asm.R0, verdict(r.allow)), asm.Return())
		if block > 0 {
			b[0] = b[0].WithSymbol("rule" + strconv.Itoa(block))
		}
		insns = append(insns, b...)
		block++
	}
	last := asm.Mov.Imm32(asm.R0, verdict(allow))
	if block > 0 {
		last = last.WithSymbol("rule" + strconv.Itoa(block))
	}
	return append(insns, last, asm.Return())
}

// v1DeviceWrites are the devices.deny/devices.allow writes that give a v1
// devices cgroup the rules: reset to the policy ("a" to devices.deny or
// devices.allow), then each rule. current is devices.list: if it already
// shows exactly the allow-list the rules make, nothing is written, so that
// an update does not deny every device for a moment.
func v1DeviceWrites(allow bool, rules []deviceRule, current string) [][2]string {
	if !allow && sameDeviceList(v1AllowList(rules), current) {
		return nil
	}
	var out [][2]string
	if allow {
		out = append(out, [2]string{"devices.allow", "a"})
	} else {
		out = append(out, [2]string{"devices.deny", "a"})
	}
	for _, r := range rules {
		file := "devices.deny"
		if r.allow {
			file = "devices.allow"
		}
		out = append(out, [2]string{file, r.String()})
	}
	return out
}

// v1AllowList is what devices.list shows after v1DeviceWrites with a deny
// policy: the kernel merges an allow into an entry of the same type and
// numbers, and a deny takes access away from the entry with the same type
// and numbers only.
func v1AllowList(rules []deviceRule) []deviceRule {
	var list []deviceRule
	for _, r := range rules {
		i := slices.IndexFunc(list, func(e deviceRule) bool {
			return e.typ == r.typ && e.major == r.major && e.minor == r.minor
		})
		switch {
		case r.allow && i >= 0:
			list[i].access |= r.access
		case r.allow:
			list = append(list, r)
		case i >= 0:
			list[i].access &^= r.access
			if list[i].access == 0 {
				list = slices.Delete(list, i, i+1)
			}
		}
	}
	return list
}

// sameDeviceList compares rules with the lines of devices.list.
func sameDeviceList(want []deviceRule, list string) bool {
	var have []string
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			have = append(have, l)
		}
	}
	if len(have) != len(want) {
		return false
	}
	for _, r := range want {
		r.allow = true
		if !slices.Contains(have, r.String()) {
			return false
		}
	}
	return true
}
