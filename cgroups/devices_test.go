package cgroups

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func dev(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major != wildcard {
		d.Major = &major
	}
	if minor != wildcard {
		d.Minor = &minor
	}
	return d
}

var denyAll = specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}

// deviceRuleSets are the configs the program tests run.
var deviceRuleSets = map[string][]specs.LinuxDeviceCgroup{
	"none":    nil,
	"usual":   {denyAll, dev(true, "c", 10, 200, "rwm"), dev(true, "b", 8, wildcard, "r"), dev(true, "c", wildcard, wildcard, "m")},
	"allow":   {{Allow: true, Type: "a", Access: "rwm"}},
	"holes":   {{Allow: true, Access: "mrw"}, dev(false, "c", 1, 3, "w"), dev(false, "b", wildcard, wildcard, "rwm")},
	"nozero":  {denyAll, dev(false, "c", 1, 5, "rwm")},
	"a-rule":  {denyAll, dev(true, "a", 4, wildcard, "rw")},
	"dropped": {dev(true, "c", 10, 1, "rwm"), denyAll, dev(true, "c", 1, 7, "r"), dev(false, "c", 1, 7, "r")},
	"flip":    {{Allow: true, Access: "rwm"}, denyAll},
	"split":   {denyAll, dev(true, "c", 10, wildcard, "r"), dev(true, "c", 10, wildcard, "w")},
	"big":     {denyAll, dev(true, "c", 4294967295, 4294967295, "rwm"), dev(true, "b", 2147483648, wildcard, "rw")},
	"reallow": {denyAll, dev(false, "c", 136, 5, "rw"), dev(true, "c", 136, 5, "r")},
	"partial": {{Allow: true, Access: "rwm"}, dev(false, "a", wildcard, wildcard, "w")},
}

// modelAllowed states the device semantics independently of the code
// under test: policy deny with the default list allowed; a catch-all rule
// sets the policy and drops the rules before it (keeping the default list
// when it denies); the last matching rule wins, an allow matching when it
// grants every requested bit, a deny when it denies any; an "a" rule
// matches both types.
func modelAllowed(cfg []specs.LinuxDeviceCgroup, typ byte, major, minor int64, access uint32) bool {
	rules, err := parseDeviceRules(cfg)
	if err != nil {
		panic(err)
	}
	policy := false
	list := defaultDeviceRules()
	for _, r := range rules {
		if r.typ == 'a' && r.major == wildcard && r.minor == wildcard && r.access == accAll {
			policy = r.allow
			list = nil
			if !policy {
				list = defaultDeviceRules()
			}
			continue
		}
		list = append(list, r)
	}
	for _, r := range slices.Backward(list) {
		if (r.typ != 'a' && r.typ != typ) || (r.major != wildcard && r.major != major) || (r.minor != wildcard && r.minor != minor) {
			continue
		}
		if r.allow && access&^r.access == 0 {
			return true
		}
		if !r.allow && access&r.access != 0 {
			return false
		}
	}
	return policy
}

// runDeviceProgram interprets the marshalled program (the bytes the kernel
// gets) on one bpf_cgroup_dev_ctx, for the instructions DeviceProgram
// emits; the kernel cannot test-run device programs (BPF_PROG_TEST_RUN is
// not implemented for BPF_PROG_TYPE_CGROUP_DEVICE).
func runDeviceProgram(t *testing.T, insns asm.Instructions, devType, access, major, minor uint32) uint64 {
	t.Helper()
	var buf bytes.Buffer
	if err := insns.Marshal(&buf, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	code := buf.Bytes()
	var ctx [12]byte
	binary.LittleEndian.PutUint32(ctx[0:], access<<16|devType)
	binary.LittleEndian.PutUint32(ctx[4:], major)
	binary.LittleEndian.PutUint32(ctx[8:], minor)
	var reg [11]uint64 // R1 holds the context's address: 0
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc < 0 || pc*8 >= len(code) || steps > 10000 {
			t.Fatalf("program counter %d out of the program", pc)
		}
		in := code[pc*8 : pc*8+8]
		opc, dst, src := in[0], in[1]&0xf, in[1]>>4
		off := int64(int16(binary.LittleEndian.Uint16(in[2:])))
		imm := int64(int32(binary.LittleEndian.Uint32(in[4:])))
		class, op := opc&7, opc&0xf0
		operand := uint64(imm)
		if opc&8 != 0 { // BPF_X
			operand = reg[src]
		}
		switch class {
		case 0x01: // LDX
			if opc != 0x61 {
				t.Fatalf("unexpected load %#x", opc)
			}
			a := int64(reg[src]) + off
			if a < 0 || a+4 > int64(len(ctx)) {
				t.Fatalf("load out of the context at %d", a)
			}
			reg[dst] = uint64(binary.LittleEndian.Uint32(ctx[a:]))
		case 0x04, 0x07: // ALU, ALU64
			var v uint64
			switch op {
			case 0x50:
				v = reg[dst] & operand
			case 0x70:
				v = reg[dst] >> (operand & 63)
			case 0xb0:
				v = operand
			default:
				t.Fatalf("unexpected ALU op %#x", opc)
			}
			if class == 0x04 {
				v = uint64(uint32(v))
			}
			reg[dst] = v
		case 0x05, 0x06: // JMP, JMP32
			if op == 0x90 {
				return reg[0]
			}
			a, b := reg[dst], operand
			if class == 0x06 {
				a, b = uint64(uint32(a)), uint64(uint32(b))
			}
			var jump bool
			switch op {
			case 0x10:
				jump = a == b
			case 0x50:
				jump = a != b
			default:
				t.Fatalf("unexpected jump %#x", opc)
			}
			if jump {
				pc += int(off)
			}
		default:
			t.Fatalf("unexpected instruction class %#x", opc)
		}
	}
}

func TestDeviceProgramMatchesModel(t *testing.T) {
	majors := []int64{0, 1, 4, 5, 8, 10, 136, 2147483648, 4294967295}
	minors := []int64{0, 1, 3, 5, 7, 9, 200, 4294967295}
	for name, cfg := range deviceRuleSets {
		insns, err := DeviceProgram(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, typ := range []byte{'c', 'b'} {
			devType := uint32(unix.BPF_DEVCG_DEV_CHAR)
			if typ == 'b' {
				devType = unix.BPF_DEVCG_DEV_BLOCK
			}
			for _, major := range majors {
				for _, minor := range minors {
					for access := uint32(1); access <= accAll; access++ {
						got := runDeviceProgram(t, insns, devType, access, uint32(major), uint32(minor)) == 1
						if want := modelAllowed(cfg, typ, major, minor, access); got != want {
							t.Errorf("%s: %c %d:%d access %03b: program says %v, model %v", name, typ, major, minor, access, got, want)
						}
					}
				}
			}
		}
	}
}

// Spot checks of the semantics, written out.
func TestDeviceSemantics(t *testing.T) {
	const r, w, m = accRead, accWrite, accMknod
	for _, c := range []struct {
		set          string
		typ          byte
		major, minor int64
		access       uint32
		want         bool
	}{
		{"none", 'c', 1, 3, r | w, true},     // /dev/null
		{"none", 'c', 136, 7, r | w, true},   // a pts
		{"none", 'c', 10, 200, r, false},     // tun: not in the list
		{"none", 'b', 8, 0, r, false},        // a disk
		{"usual", 'c', 10, 200, r | w, true}, // allowed by the config
		{"usual", 'c', 1, 3, w, true},        // the deny-all keeps the defaults
		{"usual", 'b', 8, 1, r, true},
		{"usual", 'b', 8, 1, r | w, false},
		{"usual", 'c', 99, 1, m, true},
		{"usual", 'c', 99, 1, r, false},
		{"allow", 'b', 8, 0, r | w | m, true},
		{"holes", 'c', 1, 3, r, true},
		{"holes", 'c', 1, 3, r | w, false},
		{"holes", 'b', 8, 0, r, false},
		{"nozero", 'c', 1, 5, r, false},
		{"nozero", 'c', 1, 3, r, true},
		{"a-rule", 'b', 4, 1, r | w, true},
		{"a-rule", 'c', 4, 1, r, true},
		{"a-rule", 'c', 4, 1, m, false},
		{"dropped", 'c', 10, 1, r, false}, // before the deny-all
		{"dropped", 'c', 1, 7, r, false},  // the later deny wins over the config's allow and the default
		{"dropped", 'c', 1, 7, w, true},
		{"flip", 'c', 1, 8, r, true},
		{"flip", 'c', 10, 200, r, false},
		{"split", 'c', 10, 1, r, true},
		{"split", 'c', 10, 1, r | w, false}, // no single rule grants both
		{"big", 'c', 4294967295, 4294967295, r, true},
		{"big", 'b', 2147483648, 3, w, true},
		{"reallow", 'c', 136, 5, r, true},
		{"reallow", 'c', 136, 5, w, false},
		{"reallow", 'c', 136, 6, w, true},
		{"partial", 'b', 8, 0, w, false},
		{"partial", 'c', 1, 3, r | m, true},
	} {
		insns, err := DeviceProgram(deviceRuleSets[c.set])
		if err != nil {
			t.Fatal(err)
		}
		devType := uint32(unix.BPF_DEVCG_DEV_CHAR)
		if c.typ == 'b' {
			devType = unix.BPF_DEVCG_DEV_BLOCK
		}
		if got := runDeviceProgram(t, insns, devType, c.access, uint32(c.major), uint32(c.minor)) == 1; got != c.want {
			t.Errorf("%s: %c %d:%d %03b: got %v, want %v", c.set, c.typ, c.major, c.minor, c.access, got, c.want)
		}
	}
}

func TestDeviceProgramErrors(t *testing.T) {
	if _, err := DeviceProgram([]specs.LinuxDeviceCgroup{denyAll, {Type: "q", Access: "r"}}); err == nil || !strings.HasPrefix(err.Error(), "linux.resources.devices[1].type") {
		t.Errorf("got %v", err)
	}
	// The usual config needs a handful of instructions per rule.
	insns, err := DeviceProgram(deviceRuleSets["usual"])
	if err != nil {
		t.Fatal(err)
	}
	if len(insns) > 6+8*11+2 {
		t.Errorf("%d instructions:\n%v", len(insns), insns)
	}
}

// The kernel's verifier accepts every program (root with BPF needed).
func TestDeviceProgramLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for name, cfg := range deviceRuleSets {
		insns, err := DeviceProgram(cfg)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.CGroupDevice, License: "Apache-2.0", Instructions: insns})
		if errors.Is(err, unix.EPERM) || errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("cannot load BPF here: %v", err)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// Kernels up to at least 6.18 cannot test-run device programs;
		// if one can, its answers must be the model's too.
		for _, c := range []struct {
			major, minor int64
			access       uint32
		}{{1, 3, accRead | accWrite}, {1, 5, accRead}, {10, 200, accMknod}, {8, 0, accRead}} {
			ctx := []uint32{c.access<<16 | unix.BPF_DEVCG_DEV_CHAR, uint32(c.major), uint32(c.minor)}
			ret, err := prog.Run(&ebpf.RunOptions{Context: ctx})
			if errors.Is(err, ebpf.ErrNotSupported) {
				break
			}
			if err != nil {
				t.Errorf("%s: run: %v", name, err)
				break
			}
			if want := modelAllowed(cfg, 'c', c.major, c.minor, c.access); (ret == 1) != want {
				t.Errorf("%s: the kernel ran c %d:%d %03b to %d, the model says %v", name, c.major, c.minor, c.access, ret, want)
			}
		}
		prog.Close()
		// husk's own loader too.
		fd, err := loadDeviceProgram(insns)
		if err != nil {
			t.Errorf("%s: loadDeviceProgram: %v", name, err)
			continue
		}
		unix.Close(fd)
	}
	// A program the verifier refuses comes back with the verifier's log.
	_, err := loadDeviceProgram(asm.Instructions{asm.Mov.Imm(asm.R0, 7), asm.Return()})
	if err == nil || !strings.Contains(err.Error(), "R0") {
		t.Errorf("a bad program: %v", err)
	}
}

func TestEffectiveDeviceRules(t *testing.T) {
	rules, err := parseDeviceRules(deviceRuleSets["usual"])
	if err != nil {
		t.Fatal(err)
	}
	allow, eff := effectiveDeviceRules(rules)
	var got []string
	for _, r := range eff {
		got = append(got, fmt.Sprintf("%v %s", r.allow, r))
	}
	want := []string{
		"true c 1:3 rwm", "true c 1:5 rwm", "true c 1:7 rwm", "true c 1:8 rwm", "true c 1:9 rwm",
		"true c 5:0 rwm", "true c 5:2 rwm", "true c 136:* rwm",
		"true c 10:200 rwm", "true b 8:* r", "true c *:* m",
	}
	if allow || !slices.Equal(got, want) {
		t.Errorf("allow %v, rules:\n%s", allow, strings.Join(got, "\n"))
	}
	rules, _ = parseDeviceRules(deviceRuleSets["holes"])
	allow, eff = effectiveDeviceRules(rules)
	if !allow || len(eff) != 2 || eff[0].String() != "c 1:3 w" || eff[1].String() != "b *:* rwm" {
		t.Errorf("holes: allow %v %v", allow, eff)
	}
}

// What devices.list shows after the writes, and that an unchanged list
// means no writes (an update does not deny everything for a moment).
func TestV1DeviceWrites(t *testing.T) {
	rules, _ := parseDeviceRules([]specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 10, 200, "r"), dev(true, "c", 10, 200, "w"), dev(false, "c", 1, 5, "rwm"), dev(false, "c", 1, 7, "m")})
	allow, eff := effectiveDeviceRules(rules)
	writes := v1DeviceWrites(allow, eff, "a *:* rwm\n")
	if len(writes) != len(eff)+1 || writes[0] != [2]string{"devices.deny", "a"} || writes[len(writes)-1] != [2]string{"devices.deny", "c 1:7 m"} {
		t.Errorf("writes: %v", writes)
	}
	list := "c 1:3 rwm\nc 1:7 rw\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 136:* rwm\nc 10:200 rw\n"
	if w := v1DeviceWrites(allow, eff, list); w != nil {
		t.Errorf("the list matches, yet: %v", w)
	}
	if w := v1DeviceWrites(allow, eff, strings.Replace(list, "c 10:200 rw", "c 10:200 r", 1)); len(w) == 0 {
		t.Error("the list differs, yet no writes")
	}
	rules, _ = parseDeviceRules(deviceRuleSets["holes"])
	allow, eff = effectiveDeviceRules(rules)
	if w := v1DeviceWrites(allow, eff, "a *:* rwm\n"); len(w) != 3 || w[0] != [2]string{"devices.allow", "a"} {
		t.Errorf("allow policy: %v", w)
	}
}

// A run of v1 rules for one file goes through one open of it, a write(2)
// per rule, in the rules' order.
func TestV1DeviceRulesShareAnOpen(t *testing.T) {
	f := &fakeFS{root: t.TempDir()}
	dir := filepath.Join(f.root, "devices", "c1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"devices.list": "a *:* rwm\n", "devices.allow": "", "devices.deny": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var opens []string
	f.onWrite = func(path string, chunks []string) {
		opens = append(opens, fmt.Sprintf("%s %d", filepath.Base(path), len(chunks)))
	}
	m := &v1Manager{fs: f, paths: map[string]string{"devices": dir}}
	devices := []specs.LinuxDeviceCgroup{denyAll, dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "rwm"), dev(false, "c", 1, 7, "m"), dev(true, "c", 5, 0, "rwm")}
	if err := m.Set(&specs.LinuxResources{Devices: devices}); err != nil {
		t.Fatal(err)
	}
	// The default devices (null, zero, full, random, urandom, tty, ptmx,
	// pts) come before the config's rules.
	wantOpens := []string{"devices.deny 1", "devices.allow 10", "devices.deny 1", "devices.allow 1"}
	var wantLog []string
	for _, w := range []string{"deny: a", "allow: c 1:3 rwm", "allow: c 1:5 rwm", "allow: c 1:7 rwm", "allow: c 1:8 rwm",
		"allow: c 1:9 rwm", "allow: c 5:0 rwm", "allow: c 5:2 rwm", "allow: c 136:* rwm", "allow: c 1:3 rwm",
		"allow: c 1:5 rwm", "deny: c 1:7 m", "allow: c 5:0 rwm"} {
		wantLog = append(wantLog, "devices/c1/devices."+w)
	}
	if !slices.Equal(opens, wantOpens) {
		t.Errorf("opens (file, writes): %q, want %q", opens, wantOpens)
	}
	if !slices.Equal(f.log, wantLog) {
		t.Errorf("writes: %q, want %q", f.log, wantLog)
	}
}

// A refused value of a multi-value write is named alone, on one line.
func TestWriteErrorNamesTheValue(t *testing.T) {
	p := &plan{fs: hostFS{}}
	p.add(op{field: res + "devices", path: "/dev/full", chunks: []string{"c 1:3 rwm", "c 1:5 rwm"}})
	err := p.run()
	if err == nil || !strings.Contains(err.Error(), `write "c 1:3 rwm" to /dev/full`) || strings.Contains(err.Error(), `\n`) {
		t.Errorf("error %v, want the refused value alone", err)
	}
}
