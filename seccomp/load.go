package seccomp

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// bpfMaxInsns is the kernel's BPF_MAXINSNS, the longest filter it takes.
const bpfMaxInsns = 4096

// optimizeAbove is the rule count from which libseccomp is asked for a
// binary tree (O(log n) per syscall) instead of a linear list. Like runc:
// libseccomp <= 2.5.4 misbehaves with a tree and no rules, and small
// filters gain nothing.
const optimizeAbove = 32

// Load compiles the filter and loads it into the calling thread, or into
// every thread of the process when the config has SECCOMP_FILTER_FLAG_TSYNC.
// The caller runs it on a locked OS thread right before execve, with
// no_new_privs set or CAP_SYS_ADMIN (the kernel's condition; Load never
// sets no_new_privs, that is process.noNewPrivileges).
//
// It returns the user-notification fd (close-on-exec) when a rule uses
// SCMP_ACT_NOTIFY, else -1. Whatever the caller does after Load (sending
// the fd, close_range, execve) goes through the filter: a NOTIFY rule on
// those syscalls waits for an answer on that fd.
//
// Without a flags list, SECCOMP_FILTER_FLAG_SPEC_ALLOW is used when the
// kernel has it, as runc and crun do (no forced speculative store bypass
// mitigation); an explicit list, even empty, is taken as is.
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only means something with a
// listener and is dropped without a NOTIFY rule, as libseccomp does.
// TSYNC with NOTIFY needs SECCOMP_FILTER_FLAG_TSYNC_ESRCH (Linux 5.7),
// which Load adds; an older kernel refuses the pair and Load says so.
//
// A nil or empty config (no defaultAction, no syscalls) loads nothing.
// Load is Compile then Filter.Load.
func Load(s *specs.LinuxSeccomp) (notifyFd int, err error) {
	f, err := Compile(s)
	if err != nil {
		return -1, err
	}
	return f.Load()
}

// Filter is a compiled filter and its seccomp(2) flags, ready to load.
type Filter struct {
	prog  []unix.SockFilter
	flags uintptr
}

// Compile does all of Load but the loading: Validate, the flags check
// against the kernel, and libseccomp's compilation, which takes
// milliseconds for a large profile (about 12 ms for testdata/default.json
// with three architectures). Done before the container is reported
// created, it keeps that time out of `start`. A disabled config gives a
// nil Filter, whose Load does nothing.
func Compile(s *specs.LinuxSeccomp) (*Filter, error) {
	if f, ok, err := precompiled(s); ok {
		return f, err
	}
	return compileNow(s, nil)
}

// compileNow builds the Filter of s. raw, when not nil, is the program
// libseccomp compiled from the same config before (see Cached), which
// then skips libseccomp's compilation; the flags are still asked of the
// kernel.
func compileNow(s *specs.LinuxSeccomp, raw []byte) (*Filter, error) {
	if err := Validate(s); err != nil {
		return nil, err
	}
	if disabled(s) {
		return nil, nil
	}
	flags, err := filterFlags(s, usesNotify(s))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		if raw, err = compileBPF(s); err != nil {
			return nil, err
		}
	}
	prog, err := decodeProgram(raw)
	if err != nil {
		return nil, err
	}
	return &Filter{prog: prog, flags: flags}, nil
}

// Load loads the filter as the package's Load does and returns the same.
// It can run once per thread; every call stacks one more filter.
func (f *Filter) Load() (notifyFd int, err error) {
	if f == nil {
		return -1, nil
	}
	return loadFilter(f.prog, f.flags)
}

// compile builds the BPF program of a validated config.
func compile(s *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	raw, err := compileBPF(s)
	if err != nil {
		return nil, err
	}
	return decodeProgram(raw)
}

// compileBPF builds the libseccomp filter of a validated config and
// returns its BPF as libseccomp exports it (struct sock_filter, native
// byte order). It touches the kernel only for libseccomp's checks of what
// the kernel supports.
func compileBPF(s *specs.LinuxSeccomp) ([]byte, error) {
	const p = "linux.seccomp"
	def := action(s.DefaultAction, s.DefaultErrnoRet)
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("%s.defaultAction: %s: %w", p, s.DefaultAction, err)
	}
	defer f.Release()
	// The native architecture is in every new filter; AddArch of one
	// already present succeeds.
	for i, a := range s.Architectures {
		sa, _ := arch(a)
		if err := f.AddArch(sa); err != nil {
			return nil, fmt.Errorf("%s.architectures[%d]: %s: %w", p, i, a, err)
		}
	}
	n := 0
	for _, sc := range s.Syscalls {
		n += len(sc.Names)
	}
	if n > optimizeAbove {
		// Only a speed-up: an older libseccomp lacks it and the linear
		// filter is as correct.
		_ = f.SetOptimize(2)
	}
	for i, sc := range s.Syscalls {
		if err := addRules(f, def, sc); err != nil {
			return nil, fmt.Errorf("%s.syscalls[%d].%w", p, i, err)
		}
	}
	raw, err := exportBPF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: export filter: %w", p, err)
	}
	return raw, nil
}

// decodeProgram turns exported BPF into instructions, checking that it is
// whole instructions and no longer than the kernel takes.
func decodeProgram(raw []byte) ([]unix.SockFilter, error) {
	const p = "linux.seccomp"
	if len(raw)%8 != 0 || len(raw) == 0 {
		return nil, fmt.Errorf("%s: the BPF program has %d bytes, not whole instructions", p, len(raw))
	}
	if len(raw)/8 > bpfMaxInsns {
		return nil, fmt.Errorf("%s: the filter has %d BPF instructions, the kernel takes at most %d", p, len(raw)/8, bpfMaxInsns)
	}
	prog := make([]unix.SockFilter, len(raw)/8)
	for i := range prog {
		b := raw[i*8:]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return prog, nil
}

// addRules adds one syscalls[] entry. The error it returns starts with the
// field below syscalls[i]. A syscall listed again with the same conditions
// and another action keeps its first action: libseccomp (2.5.4) ignores
// the later rule without an error.
func addRules(f *libseccomp.ScmpFilter, def libseccomp.ScmpAction, sc specs.LinuxSyscall) error {
	act := action(sc.Action, sc.ErrnoRet)
	// libseccomp refuses a rule with the default action; it would change
	// nothing anyway.
	if act == def {
		return nil
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(sc.Args))
	var seen [6]bool
	sameIndex := false
	for k, a := range sc.Args {
		op, _ := operator(a.Op)
		// MASKED_EQ: (arg & value) == valueTwo; the other operators
		// ignore the second operand.
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return fmt.Errorf("args[%d]: %w", k, err)
		}
		conds = append(conds, c)
		sameIndex = sameIndex || seen[a.Index]
		seen[a.Index] = true
	}
	for j, name := range sc.Names {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			// Unknown to libseccomp on this architecture: a profile
			// lists syscalls of newer kernels and other architectures.
			continue
		}
		switch {
		case len(conds) == 0:
			err = f.AddRule(nr, act)
		case sameIndex:
			// libseccomp ANDs the conditions of one rule and cannot
			// test one argument twice; runc then adds one rule per
			// condition, which ORs them. So does husk.
			for _, c := range conds {
				if err = f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
					break
				}
			}
		default:
			err = f.AddRuleConditional(nr, act, conds)
		}
		if err != nil {
			return fmt.Errorf("names[%d]: %s: %w", j, name, err)
		}
	}
	return nil
}

// exportBPF gets the BPF program from libseccomp: in memory with
// libseccomp >= 2.6, through a memfd before (ExportBPFMem is a stub there).
func exportBPF(f *libseccomp.ScmpFilter) ([]byte, error) {
	if b, err := f.ExportBPFMem(); err == nil {
		return b, nil
	}
	fd, err := unix.MemfdCreate("husk-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "husk-seccomp")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, err
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(mf)
}

// filterFlags turns the config's flags into seccomp(2) flags, asking the
// kernel about each one so that an error names the flag it lacks.
func filterFlags(s *specs.LinuxSeccomp, notify bool) (uintptr, error) {
	const p = "linux.seccomp"
	var flags uintptr
	if s.Flags == nil && kernelHasFlag(unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW) {
		flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
	}
	tsync := -1
	for i, f := range s.Flags {
		bit, _ := flagBit(f)
		if bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV && !notify {
			continue
		}
		if !kernelHasFlag(probeBits(bit)) {
			return 0, fmt.Errorf("%s.flags[%d]: %s is not supported by this kernel", p, i, f)
		}
		if bit == unix.SECCOMP_FILTER_FLAG_TSYNC {
			tsync = i
		}
		flags |= bit
	}
	if notify {
		if !kernelHasFlag(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER) {
			return 0, fmt.Errorf("%s.syscalls: %s is not supported by this kernel (Linux 5.0 or later)", p, specs.ActNotify)
		}
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		// With TSYNC, a failure to sync returns a thread ID, which
		// NEW_LISTENER's fd would be mistaken for: the kernel wants
		// TSYNC_ESRCH (failure as ESRCH) for the pair.
		if tsync >= 0 {
			if !kernelHasFlag(unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH) {
				return 0, fmt.Errorf("%s.flags[%d]: %s cannot be combined with %s on this kernel (Linux 5.7 or later)",
					p, tsync, flagTsync, specs.ActNotify)
			}
			flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
		}
	}
	return flags, nil
}

// probeBits is what to ask the kernel about a flag: WAIT_KILLABLE_RECV is
// taken only together with NEW_LISTENER.
func probeBits(bit uintptr) uintptr {
	if bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
		return bit | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	return bit
}

// kernelHasFlag asks seccomp(2) to install a filter from a NULL program
// with these flags: the kernel checks the flags first (EINVAL) and then
// fails to copy the program (EFAULT). libseccomp probes the same way.
func kernelHasFlag(flags uintptr) bool {
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, 0)
	return errno == unix.EFAULT
}

func loadFilter(prog []unix.SockFilter, flags uintptr) (int, error) {
	const p = "linux.seccomp"
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	switch {
	case errno == unix.EACCES:
		return -1, fmt.Errorf("%s: load filter: %w (needs process.noNewPrivileges or CAP_SYS_ADMIN)", p, errno)
	case errno == unix.ESRCH && flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0:
		return -1, fmt.Errorf("%s: load filter: another thread could not be synchronized (%s): %w", p, flagTsync, errno)
	case errno != 0:
		return -1, fmt.Errorf("%s: load filter: %w", p, errno)
	}
	if flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return int(r), nil
	}
	// TSYNC without TSYNC_ESRCH: a positive result is the thread that
	// could not take the filter, and nothing was installed.
	if r != 0 {
		return -1, fmt.Errorf("%s: load filter: thread %d could not be synchronized (%s)", p, r, flagTsync)
	}
	return -1, nil
}
