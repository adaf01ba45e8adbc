package seccomp

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func uintp(v uint) *uint { return &v }

func readProfile() (*specs.LinuxSeccomp, error) {
	b, err := os.ReadFile("testdata/default.json")
	if err != nil {
		return nil, err
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("testdata/default.json: %w", err)
	}
	return &s, nil
}

func loadProfile(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	s, err := readProfile()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateProfile(t *testing.T) {
	s := loadProfile(t)
	if err := Validate(s); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sc := range s.Syscalls {
		n += len(sc.Names)
	}
	if n < 300 {
		t.Fatalf("testdata/default.json names %d syscalls, want a realistic ~300+", n)
	}
}

func TestValidateDisabled(t *testing.T) {
	for _, s := range []*specs.LinuxSeccomp{nil, {}, {Architectures: []specs.Arch{"SCMP_ARCH_FOO"}}} {
		if err := Validate(s); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil (no filter)", s, err)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	base := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActErrno},
				{Names: []string{"write"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
			},
		}
	}
	cases := []struct {
		name   string
		modify func(s *specs.LinuxSeccomp)
		want   string
	}{
		{"no default action", func(s *specs.LinuxSeccomp) { s.DefaultAction = "" },
			`linux.seccomp.defaultAction: required when syscalls are set`},
		{"unknown default action", func(s *specs.LinuxSeccomp) { s.DefaultAction = "SCMP_ACT_FOO" },
			`linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`},
		{"notify default", func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActNotify },
			`linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action`},
		{"default errno on allow", func(s *specs.LinuxSeccomp) { s.DefaultErrnoRet = uintp(1) },
			`linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW takes no errno`},
		{"default errno too big", func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActErrno; s.DefaultErrnoRet = uintp(4096) },
			`linux.seccomp.defaultErrnoRet: 4096 is not an errno (at most 4095)`},
		{"trace data too big", func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActTrace; s.DefaultErrnoRet = uintp(65536) },
			`linux.seccomp.defaultErrnoRet: 65536 does not fit the 16 bits SCMP_ACT_TRACE passes to the tracer`},
		{"unknown arch", func(s *specs.LinuxSeccomp) { s.Architectures = []specs.Arch{specs.ArchX86, "SCMP_ARCH_PDP11"} },
			`linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_PDP11"`},
		{"lowercase arch", func(s *specs.LinuxSeccomp) { s.Architectures = []specs.Arch{"x86_64"} },
			`linux.seccomp.architectures[0]: unknown architecture "x86_64"`},
		{"unknown flag", func(s *specs.LinuxSeccomp) {
			s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_NEW_LISTENER"}
		}, `linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"`},
		{"metadata without path", func(s *specs.LinuxSeccomp) { s.ListenerMetadata = "x" },
			`linux.seccomp.listenerMetadata: set without listenerPath`},
		{"no names", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Names = nil },
			`linux.seccomp.syscalls[1].names: must contain at least one entry`},
		{"empty name", func(s *specs.LinuxSeccomp) { s.Syscalls[0].Names = []string{"getpid", ""} },
			`linux.seccomp.syscalls[0].names[1]: empty syscall name`},
		{"no action", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Action = "" },
			`linux.seccomp.syscalls[1].action: required`},
		{"unknown action", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Action = "SCMP_ACT_FOO" },
			`linux.seccomp.syscalls[1].action: unknown action "SCMP_ACT_FOO"`},
		{"errno on kill", func(s *specs.LinuxSeccomp) {
			s.Syscalls[0].Action = specs.ActKillProcess
			s.Syscalls[0].ErrnoRet = uintp(1)
		}, `linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_KILL_PROCESS takes no errno`},
		{"errno too big", func(s *specs.LinuxSeccomp) { s.Syscalls[0].ErrnoRet = uintp(5000) },
			`linux.seccomp.syscalls[0].errnoRet: 5000 is not an errno (at most 4095)`},
		{"arg index", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Index = 6 },
			`linux.seccomp.syscalls[1].args[0].index: 6 is out of range (a syscall has arguments 0 to 5)`},
		{"unknown op", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Op = "SCMP_CMP_FOO" },
			`linux.seccomp.syscalls[1].args[0].op: unknown operator "SCMP_CMP_FOO"`},
		{"no op", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Op = "" },
			`linux.seccomp.syscalls[1].args[0].op: unknown operator ""`},
	}
	if err := Validate(base()); err != nil {
		t.Fatalf("base config: %v", err)
	}
	for _, c := range cases {
		s := base()
		c.modify(s)
		err := Validate(s)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", c.name, err)
		}
		// Load validates first: the same error, and nothing loaded.
		if fd, lerr := Load(s); lerr == nil || lerr.Error() != c.want || fd != -1 {
			t.Errorf("%s: Load = %d, %v, want -1, %s", c.name, fd, lerr, c.want)
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActTrace,
		DefaultErrnoRet: uintp(65535),
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM},
		Flags: []specs.LinuxSeccompFlag{flagTsync, specs.LinuxSeccompFlagLog,
			specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv},
		ListenerPath:     "/run/agent.sock",
		ListenerMetadata: "meta",
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"husk_no_such_syscall", "getpid"}, Action: specs.ActErrno, ErrnoRet: uintp(0)},
			{Names: []string{"mkdirat"}, Action: specs.ActNotify},
		},
	}
	for _, a := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActKillThread,
		specs.ActTrap, specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify} {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"getppid"}, Action: a})
	}
	for _, op := range []specs.LinuxSeccompOperator{specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual} {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"getppid"}, Action: specs.ActLog,
			Args: []specs.LinuxSeccompArg{{Index: 5, Value: 1, ValueTwo: 1, Op: op}}})
	}
	if err := Validate(s); err != nil {
		t.Fatal(err)
	}
}

// The spec's names map onto libseccomp's values as documented (KILL is
// KILL_THREAD; ERRNO and TRACE default to EPERM; MASKED_EQ is masked).
func TestMappings(t *testing.T) {
	acts := map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
		specs.ActKill:        libseccomp.ActKillThread,
		specs.ActKillThread:  libseccomp.ActKillThread,
		specs.ActKillProcess: libseccomp.ActKillProcess,
		specs.ActTrap:        libseccomp.ActTrap,
		specs.ActErrno:       libseccomp.ActErrno.SetReturnCode(1),
		specs.ActTrace:       libseccomp.ActTrace.SetReturnCode(1),
		specs.ActAllow:       libseccomp.ActAllow,
		specs.ActLog:         libseccomp.ActLog,
		specs.ActNotify:      libseccomp.ActNotify,
	}
	for a, want := range acts {
		if got := action(a, nil); got != want {
			t.Errorf("action(%s) = %v, want %v", a, got, want)
		}
	}
	if got := action(specs.ActErrno, uintp(38)).GetReturnCode(); got != 38 {
		t.Errorf("errnoRet 38 gave %d", got)
	}
	if got := uint16(action(specs.ActTrace, uintp(65535)).GetReturnCode()); got != 65535 {
		t.Errorf("trace data 65535 gave %d", got)
	}
	ops := map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
		specs.OpNotEqual:     libseccomp.CompareNotEqual,
		specs.OpLessThan:     libseccomp.CompareLess,
		specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
		specs.OpEqualTo:      libseccomp.CompareEqual,
		specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
		specs.OpGreaterThan:  libseccomp.CompareGreater,
		specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
	}
	for op, want := range ops {
		if got, _ := operator(op); got != want {
			t.Errorf("operator(%s) = %v, want %v", op, got, want)
		}
	}
}

func TestSupported(t *testing.T) {
	actions, operators, archs, flags := Supported()
	if len(actions) != 9 || len(operators) != 7 || len(flags) != 4 {
		t.Errorf("Supported: %d actions, %d operators, %d flags; want 9, 7, 4", len(actions), len(operators), len(flags))
	}
	for _, a := range []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"} {
		if !slices.Contains(archs, a) {
			t.Errorf("Supported archs lack %s: %v", a, archs)
		}
	}
	// Whatever Supported lists, Validate accepts.
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	for _, a := range archs {
		s.Architectures = append(s.Architectures, specs.Arch(a))
	}
	for _, f := range flags {
		s.Flags = append(s.Flags, specs.LinuxSeccompFlag(f))
	}
	for _, a := range actions {
		if a != string(specs.ActAllow) {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"getpid"}, Action: specs.LinuxSeccompAction(a)})
		}
	}
	for _, op := range operators {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"getpid"}, Action: specs.ActLog,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.LinuxSeccompOperator(op)}}})
	}
	if err := Validate(s); err != nil {
		t.Errorf("Validate of everything Supported lists: %v", err)
	}
	// The kernel's list is a subset of the known one; TSYNC is from 3.17.
	sf := SupportedFlags()
	for _, f := range sf {
		if !slices.Contains(flags, f) {
			t.Errorf("SupportedFlags has %s, not in Supported", f)
		}
	}
	if !slices.Contains(sf, string(flagTsync)) {
		t.Errorf("SupportedFlags lacks TSYNC: %v", sf)
	}
	// Load takes exactly the flags SupportedFlags lists.
	for _, f := range flags {
		_, err := filterFlags(&specs.LinuxSeccomp{Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(f)}}, true)
		if (err == nil) != slices.Contains(sf, f) {
			t.Errorf("%s: SupportedFlags says %v, Load's flags say %v", f, slices.Contains(sf, f), err)
		}
	}
}

// compile needs no privilege and installs nothing: the realistic profile
// fits the kernel's limit, with its unknown names skipped.
func TestCompileProfile(t *testing.T) {
	prog, err := compile(loadProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) == 0 || len(prog) > bpfMaxInsns {
		t.Fatalf("profile compiles to %d instructions", len(prog))
	}
	t.Logf("testdata/default.json: %d BPF instructions", len(prog))
}

func TestLoadDisabled(t *testing.T) {
	for _, s := range []*specs.LinuxSeccomp{nil, {}} {
		if fd, err := Load(s); fd != -1 || err != nil {
			t.Errorf("Load(%+v) = %d, %v; want -1, nil", s, fd, err)
		}
	}
	if mode := seccompMode(t, "self"); mode != "0" {
		t.Errorf("after Load of nothing, Seccomp: %s", mode)
	}
}

// seccompMode reads the Seccomp: line of /proc/<task>/status.
func seccompMode(t testing.TB, task string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + task + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Seccomp: line in /proc/%s/status", task)
	return ""
}

// The seccomp(2) flags Load asks for, on a kernel with all of them (5.19+).
func TestFilterFlags(t *testing.T) {
	if len(SupportedFlags()) != 4 || !kernelHasFlag(unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH) {
		t.Skip("the kernel lacks some seccomp flags")
	}
	const (
		tsync    = unix.SECCOMP_FILTER_FLAG_TSYNC
		specOK   = unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		listener = unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		esrch    = unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
		killable = unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	)
	wk := specs.LinuxSeccompFlagWaitKillableRecv
	cases := []struct {
		flags  []specs.LinuxSeccompFlag
		notify bool
		want   uintptr
	}{
		{nil, false, specOK}, // runc's and crun's default
		{[]specs.LinuxSeccompFlag{}, false, 0},
		{[]specs.LinuxSeccompFlag{flagTsync}, false, tsync},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, false, unix.SECCOMP_FILTER_FLAG_LOG},
		{nil, true, specOK | listener},
		{[]specs.LinuxSeccompFlag{flagTsync}, true, tsync | listener | esrch},
		{[]specs.LinuxSeccompFlag{wk}, false, 0},
		{[]specs.LinuxSeccompFlag{wk}, true, killable | listener},
	}
	for _, c := range cases {
		got, err := filterFlags(&specs.LinuxSeccomp{Flags: c.flags}, c.notify)
		if err != nil || got != c.want {
			t.Errorf("flags %v, notify %v: got %#x %v, want %#x", c.flags, c.notify, got, err, c.want)
		}
	}
}

// What compiling the realistic profile costs a `husk start`.
func BenchmarkCompileProfile(b *testing.B) {
	s := loadProfile(b)
	for b.Loop() {
		if _, err := compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCompileDisabled(t *testing.T) {
	f, err := Compile(&specs.LinuxSeccomp{})
	if f != nil || err != nil {
		t.Fatalf("Compile of nothing: %v, %v", f, err)
	}
	if fd, err := f.Load(); fd != -1 || err != nil {
		t.Fatalf("nil Filter's Load: %d, %v", fd, err)
	}
}
