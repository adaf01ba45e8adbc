package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"husk/internal/fuzzcheck"
)

// FuzzCompile validates linux.seccomp and, when accepted, compiles it to
// BPF with libseccomp; it never loads the result (see Filter.Load) nor asks
// the kernel about flags. The program must be well formed, and for a config
// whose rules have no argument conditions, an interpreter run of it must
// return, for each syscall, the action of the first rule naming it (or the
// default action).
func FuzzCompile(f *testing.F) {
	profile, err := os.ReadFile("testdata/default.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(profile)
	for _, s := range []string{
		`{}`, `{"defaultAction": "SCMP_ACT_ALLOW"}`,
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}, {"names": ["write"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}]}`,
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]}]}`,
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}`,
		`{"defaultAction": "SCMP_ACT_LOG", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}], "listenerPath": "/run/x"}`,
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["nosuchcall"], "action": "SCMP_ACT_KILL"}]}`,
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s specs.LinuxSeccomp
		if json.Unmarshal(raw, &s) != nil {
			return
		}
		err := Validate(&s)
		fuzzcheck.OneLine(t, "Validate", err)
		if err != nil || disabled(&s) {
			return
		}
		prog, err := compile(&s)
		fuzzcheck.OneLine(t, "compile", err)
		if err != nil {
			return
		}
		checkProgram(t, prog)
		checkActions(t, &s, prog)
	})
}

// checkProgram: every jump lands inside the program and the last
// instruction returns, as the kernel's checker demands.
func checkProgram(t *testing.T, prog []unix.SockFilter) {
	t.Helper()
	if len(prog) == 0 || prog[len(prog)-1].Code&0x07 != unix.BPF_RET {
		t.Fatalf("program of %d instructions does not end in a return", len(prog))
	}
	for pc, in := range prog {
		if in.Code&0x07 != unix.BPF_JMP {
			continue
		}
		targets := []int{pc + 1 + int(in.Jt), pc + 1 + int(in.Jf)}
		if in.Code&0xf0 == unix.BPF_JA {
			targets = []int{pc + 1 + int(in.K)}
		}
		for _, to := range targets {
			if to >= len(prog) {
				t.Fatalf("instruction %d jumps to %d, past the program's %d", pc, to, len(prog))
			}
		}
	}
}

// retValue is the kernel's SECCOMP_RET_* value of an action, written out
// independently of the package.
func retValue(a specs.LinuxSeccompAction, errno *uint) uint32 {
	data := uint32(unix.EPERM)
	if errno != nil {
		data = uint32(*errno)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | data
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | data
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG
	case specs.ActNotify:
		return unix.SECCOMP_RET_USER_NOTIF
	}
	return unix.SECCOMP_RET_ALLOW
}

// checkActions runs the program for the native architecture on every
// syscall the config names, when no rule has argument conditions.
func checkActions(t *testing.T, s *specs.LinuxSeccomp, prog []unix.SockFilter) {
	t.Helper()
	want := map[int32]uint32{}
	def := retValue(s.DefaultAction, s.DefaultErrnoRet)
	for _, sc := range s.Syscalls {
		if len(sc.Args) > 0 {
			return
		}
		for _, name := range sc.Names {
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil || nr < 0 {
				continue
			}
			if _, ok := want[int32(nr)]; !ok && retValue(sc.Action, sc.ErrnoRet) != def {
				want[int32(nr)] = retValue(sc.Action, sc.ErrnoRet)
			}
		}
	}
	want[1023] = def // no syscall has this number
	for nr, ret := range want {
		if got := runFilter(t, prog, uint32(nr)); got != ret {
			t.Fatalf("syscall %d: the filter returns %#x, want %#x", nr, got, ret)
		}
	}
}

// runFilter interprets the classic BPF that libseccomp emits on a
// seccomp_data for the native architecture with all arguments 0.
func runFilter(t *testing.T, prog []unix.SockFilter, nr uint32) uint32 {
	t.Helper()
	var data [64]byte // struct seccomp_data: nr, arch, ip, args[6]
	binary.NativeEndian.PutUint32(data[0:], nr)
	binary.NativeEndian.PutUint32(data[4:], unix.AUDIT_ARCH_X86_64)
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K+4 > uint32(len(data)) {
				t.Fatalf("instruction %d loads seccomp_data at %d", pc, in.K)
			}
			a = binary.NativeEndian.Uint32(data[in.K:])
		case unix.BPF_LD | unix.BPF_MEM:
			a = mem[in.K%16]
		case unix.BPF_LDX | unix.BPF_MEM:
			x = mem[in.K%16]
		case unix.BPF_ST:
			mem[in.K%16] = a
		case unix.BPF_STX:
			mem[in.K%16] = x
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_MISC | unix.BPF_TAX:
			x = a
		case unix.BPF_MISC | unix.BPF_TXA:
			a = x
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		case unix.BPF_RET | unix.BPF_A:
			return a
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		default:
			if in.Code&0x07 != unix.BPF_JMP {
				t.Fatalf("instruction %d: unexpected opcode %#x", pc, in.Code)
			}
			v := in.K
			if in.Code&unix.BPF_X != 0 {
				v = x
			}
			var cond bool
			switch in.Code & 0xf0 {
			case unix.BPF_JEQ:
				cond = a == v
			case unix.BPF_JGT:
				cond = a > v
			case unix.BPF_JGE:
				cond = a >= v
			case unix.BPF_JSET:
				cond = a&v != 0
			default:
				t.Fatalf("instruction %d: unexpected jump %#x", pc, in.Code)
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
	}
	t.Fatalf("the filter runs off its end")
	return 0
}
