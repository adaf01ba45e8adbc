// Package seccomp turns the runtime-spec linux.seccomp object into a
// seccomp BPF filter and loads it.
//
// libseccomp (through libseccomp-golang) compiles the rules into BPF; husk
// loads the BPF itself with seccomp(2), as runc and crun do, so that the
// filter flags are exactly the ones the config asks for: libseccomp-golang
// always sets TSYNC and cannot set WAIT_KILLABLE_RECV with libseccomp 2.5.
//
// Nothing here runs at package init. libseccomp-golang's own init asks
// libseccomp for its API level: nine seccomp(2) probes that install
// nothing, about 0.1 ms in every process that links this package.
package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Errno values the spec's errnoRet can carry: the kernel returns at most
// MAX_ERRNO (4095) for SECCOMP_RET_ERRNO; SECCOMP_RET_TRACE passes 16 bits
// to the tracer.
const (
	maxErrno     = 4095
	maxTraceData = 0xffff
)

// flagTsync is in the spec's list but has no constant in specs-go.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// The tables are functions, not package-level maps, so that a process that
// never touches seccomp builds none of them.

func actionName(a specs.LinuxSeccompAction) (libseccomp.ScmpAction, bool) {
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, true
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, true
	case specs.ActTrap:
		return libseccomp.ActTrap, true
	case specs.ActErrno:
		return libseccomp.ActErrno, true
	case specs.ActTrace:
		return libseccomp.ActTrace, true
	case specs.ActAllow:
		return libseccomp.ActAllow, true
	case specs.ActLog:
		return libseccomp.ActLog, true
	case specs.ActNotify:
		return libseccomp.ActNotify, true
	}
	return libseccomp.ActInvalid, false
}

func operator(op specs.LinuxSeccompOperator) (libseccomp.ScmpCompareOp, bool) {
	switch op {
	case specs.OpNotEqual:
		return libseccomp.CompareNotEqual, true
	case specs.OpLessThan:
		return libseccomp.CompareLess, true
	case specs.OpLessEqual:
		return libseccomp.CompareLessOrEqual, true
	case specs.OpEqualTo:
		return libseccomp.CompareEqual, true
	case specs.OpGreaterEqual:
		return libseccomp.CompareGreaterEqual, true
	case specs.OpGreaterThan:
		return libseccomp.CompareGreater, true
	case specs.OpMaskedEqual:
		return libseccomp.CompareMaskedEqual, true
	}
	return libseccomp.CompareInvalid, false
}

func arch(a specs.Arch) (libseccomp.ScmpArch, bool) {
	switch a {
	case specs.ArchX86:
		return libseccomp.ArchX86, true
	case specs.ArchX86_64:
		return libseccomp.ArchAMD64, true
	case specs.ArchX32:
		return libseccomp.ArchX32, true
	case specs.ArchARM:
		return libseccomp.ArchARM, true
	case specs.ArchAARCH64:
		return libseccomp.ArchARM64, true
	case specs.ArchMIPS:
		return libseccomp.ArchMIPS, true
	case specs.ArchMIPS64:
		return libseccomp.ArchMIPS64, true
	case specs.ArchMIPS64N32:
		return libseccomp.ArchMIPS64N32, true
	case specs.ArchMIPSEL:
		return libseccomp.ArchMIPSEL, true
	case specs.ArchMIPSEL64:
		return libseccomp.ArchMIPSEL64, true
	case specs.ArchMIPSEL64N32:
		return libseccomp.ArchMIPSEL64N32, true
	case specs.ArchPPC:
		return libseccomp.ArchPPC, true
	case specs.ArchPPC64:
		return libseccomp.ArchPPC64, true
	case specs.ArchPPC64LE:
		return libseccomp.ArchPPC64LE, true
	case specs.ArchS390:
		return libseccomp.ArchS390, true
	case specs.ArchS390X:
		return libseccomp.ArchS390X, true
	case specs.ArchPARISC:
		return libseccomp.ArchPARISC, true
	case specs.ArchPARISC64:
		return libseccomp.ArchPARISC64, true
	case specs.ArchRISCV64:
		return libseccomp.ArchRISCV64, true
	case specs.ArchLOONGARCH64:
		return libseccomp.ArchLOONGARCH64, true
	case specs.ArchM68K:
		return libseccomp.ArchM68K, true
	case specs.ArchSH:
		return libseccomp.ArchSH, true
	case specs.ArchSHEB:
		return libseccomp.ArchSHEB, true
	}
	return libseccomp.ArchInvalid, false
}

// archSupported tells whether the linked libseccomp knows the
// architecture: libseccomp-golang maps the ones an older libseccomp lacks
// (LoongArch, M68K, SuperH before 2.6) to a bad value, which then resolves
// no syscall. A user-space lookup only.
func archSupported(a libseccomp.ScmpArch) bool {
	_, err := libseccomp.GetSyscallFromNameByArch("read", a)
	return err == nil
}

func flagBit(f specs.LinuxSeccompFlag) (uintptr, bool) {
	switch f {
	case flagTsync:
		return unix.SECCOMP_FILTER_FLAG_TSYNC, true
	case specs.LinuxSeccompFlagLog:
		return unix.SECCOMP_FILTER_FLAG_LOG, true
	case specs.LinuxSeccompFlagSpecAllow:
		return unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, true
	case specs.LinuxSeccompFlagWaitKillableRecv:
		return unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, true
	}
	return 0, false
}

// Supported lists what husk implements, for `husk features`: every action,
// operator and flag it understands, and the architectures the linked
// libseccomp can add to a filter. Whether this kernel accepts a flag is
// SupportedFlags.
func Supported() (actions, operators, archs, flags []string) {
	actions = []string{
		string(specs.ActKill), string(specs.ActKillProcess), string(specs.ActKillThread),
		string(specs.ActTrap), string(specs.ActErrno), string(specs.ActTrace),
		string(specs.ActAllow), string(specs.ActLog), string(specs.ActNotify),
	}
	operators = []string{
		string(specs.OpNotEqual), string(specs.OpLessThan), string(specs.OpLessEqual),
		string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan),
		string(specs.OpMaskedEqual),
	}
	for _, a := range allArchs() {
		if sa, _ := arch(a); archSupported(sa) {
			archs = append(archs, string(a))
		}
	}
	flags = knownFlags()
	return actions, operators, archs, flags
}

func allArchs() []specs.Arch {
	return []specs.Arch{
		specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
		specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
		specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
		specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K,
		specs.ArchSH, specs.ArchSHEB,
	}
}

func knownFlags() []string {
	return []string{
		string(flagTsync), string(specs.LinuxSeccompFlagLog),
		string(specs.LinuxSeccompFlagSpecAllow), string(specs.LinuxSeccompFlagWaitKillableRecv),
	}
}

// SupportedFlags lists the flags of Supported that this kernel accepts
// (features' supportedFlags). It asks the kernel, one seccomp(2) probe per
// flag, and installs nothing.
func SupportedFlags() []string {
	var out []string
	for _, f := range knownFlags() {
		bit, _ := flagBit(specs.LinuxSeccompFlag(f))
		if kernelHasFlag(probeBits(bit)) {
			out = append(out, f)
		}
	}
	return out
}

// disabled reports a seccomp object that asks for nothing. runc treats one
// without defaultAction and syscalls as no filter; so does husk, since
// tools emit `"seccomp": {}`.
func disabled(s *specs.LinuxSeccomp) bool {
	return s == nil || s.DefaultAction == "" && len(s.Syscalls) == 0
}

// Validate checks a config without touching the kernel; errors name the
// field in one line, e.g. `linux.seccomp.syscalls[3].action: unknown
// action "SCMP_ACT_FOO"`. What only the kernel can tell (an action or flag
// it lacks) fails in Load.
func Validate(s *specs.LinuxSeccomp) error {
	if disabled(s) {
		return nil
	}
	const p = "linux.seccomp"
	if s.DefaultAction == "" {
		return errors.New(p + ".defaultAction: required when syscalls are set")
	}
	if _, ok := actionName(s.DefaultAction); !ok {
		return fmt.Errorf("%s.defaultAction: unknown action %q", p, s.DefaultAction)
	}
	// Every syscall the runtime makes between Load and execve, execve
	// included, would wait for an agent that cannot have the fd yet.
	if s.DefaultAction == specs.ActNotify {
		return fmt.Errorf("%s.defaultAction: %s cannot be the default action", p, specs.ActNotify)
	}
	if err := checkErrno(p+".defaultErrnoRet", s.DefaultAction, s.DefaultErrnoRet); err != nil {
		return err
	}
	for i, a := range s.Architectures {
		sa, ok := arch(a)
		if !ok {
			return fmt.Errorf("%s.architectures[%d]: unknown architecture %q", p, i, a)
		}
		if !archSupported(sa) {
			major, minor, micro := libseccomp.GetLibraryVersion()
			return fmt.Errorf("%s.architectures[%d]: %s is not supported by libseccomp %d.%d.%d",
				p, i, a, major, minor, micro)
		}
	}
	for i, f := range s.Flags {
		if _, ok := flagBit(f); !ok {
			return fmt.Errorf("%s.flags[%d]: unknown flag %q", p, i, f)
		}
	}
	if s.ListenerMetadata != "" && s.ListenerPath == "" {
		return errors.New(p + ".listenerMetadata: set without listenerPath")
	}
	for i, sc := range s.Syscalls {
		q := fmt.Sprintf("%s.syscalls[%d]", p, i)
		if len(sc.Names) == 0 {
			return errors.New(q + ".names: must contain at least one entry")
		}
		for j, n := range sc.Names {
			if n == "" {
				return fmt.Errorf("%s.names[%d]: empty syscall name", q, j)
			}
		}
		if sc.Action == "" {
			return errors.New(q + ".action: required")
		}
		if _, ok := actionName(sc.Action); !ok {
			return fmt.Errorf("%s.action: unknown action %q", q, sc.Action)
		}
		if err := checkErrno(q+".errnoRet", sc.Action, sc.ErrnoRet); err != nil {
			return err
		}
		for k, a := range sc.Args {
			if a.Index > 5 {
				return fmt.Errorf("%s.args[%d].index: %d is out of range (a syscall has arguments 0 to 5)", q, k, a.Index)
			}
			if _, ok := operator(a.Op); !ok {
				return fmt.Errorf("%s.args[%d].op: unknown operator %q", q, k, a.Op)
			}
		}
	}
	return nil
}

// checkErrno enforces the spec's "when the action doesn't support an
// errno, the runtime MUST fail" and the kernel's ranges.
func checkErrno(field string, a specs.LinuxSeccompAction, ret *uint) error {
	if ret == nil {
		return nil
	}
	switch a {
	case specs.ActErrno:
		if *ret > maxErrno {
			return fmt.Errorf("%s: %d is not an errno (at most %d)", field, *ret, maxErrno)
		}
	case specs.ActTrace:
		if *ret > maxTraceData {
			return fmt.Errorf("%s: %d does not fit the 16 bits %s passes to the tracer", field, *ret, a)
		}
	default:
		return fmt.Errorf("%s: %s takes no errno", field, a)
	}
	return nil
}

// action converts a validated action and its errnoRet; ERRNO and TRACE
// default to EPERM, as in runc.
func action(a specs.LinuxSeccompAction, ret *uint) libseccomp.ScmpAction {
	sa, _ := actionName(a)
	if sa == libseccomp.ActErrno || sa == libseccomp.ActTrace {
		code := uint(unix.EPERM)
		if ret != nil {
			code = *ret
		}
		sa = sa.SetReturnCode(int16(code))
	}
	return sa
}

// usesNotify is decided on the config, not on the rules that survived
// (a NOTIFY rule whose names are all unknown here still asks for a
// listener), so the caller can tell from the config whether to expect an fd.
func usesNotify(s *specs.LinuxSeccomp) bool {
	return slices.ContainsFunc(s.Syscalls, func(sc specs.LinuxSyscall) bool {
		return sc.Action == specs.ActNotify
	})
}
