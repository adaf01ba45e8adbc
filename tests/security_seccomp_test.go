package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.seccomp, observed from inside the container: the errno a denied
// syscall returns (busybox prints its strerror), the signal that kills,
// and /proc/self/status.

func errnoRet(n uint) *uint { return &n }

// Errno values whose messages nothing else in these tests produces.
const (
	errnoENOSYS = 38 // "Function not implemented"
	errnoEXDEV  = 18 // "Invalid cross-device link"
	msgENOSYS   = "Function not implemented"
	msgEXDEV    = "Invalid cross-device link"
)

// mkdirNames is mkdir(2) under both of its names: busybox (glibc, x86_64)
// calls mkdir, other libcs mkdirat.
var mkdirNames = []string{"mkdir", "mkdirat"}

// allowAllBut is a filter that allows everything but rules.
func allowAllBut(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rules}
}

func denyMkdir(errno uint) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: mkdirNames, Action: specs.ActErrno, ErrnoRet: errnoRet(errno)}
}

// mkdirProbe tries mkdir and, as a control, another write to the same
// directory; it prints one verdict per line.
const mkdirProbe = `mkdir /tmp/d && echo mkdir-ok || echo mkdir-failed
[ -d /tmp/d ] && echo dir-exists || echo dir-absent
touch /tmp/f$$ && echo touch-ok || echo touch-failed`

// wantMkdirDenied checks a run of mkdirProbe where mkdir got errno msg.
func wantMkdirDenied(t *testing.T, r result, msg string) {
	t.Helper()
	wantLines(t, lines(r.stdout), "mkdir-failed", "dir-absent", "touch-ok")
	if want := "mkdir: can't create directory '/tmp/d': " + msg; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q lacks %q", r.stderr, want)
	}
}

func seccompSpec(sc *specs.LinuxSeccomp, script string) *specs.Spec {
	s := baseSpec("sh", "-c", script)
	s.Mounts = append(s.Mounts, tmpfsMount("/tmp", "mode=1777"))
	s.Linux.Seccomp = sc
	return s
}

// SCMP_ACT_ERRNO with errnoRet: mkdir fails with exactly that errno, the
// rest works. With no_new_privs the filter is loaded last; without it (and
// as uid 1000, which has no CAP_SYS_ADMIN) it must be loaded while husk is
// still privileged, and still hold in the user program.
func TestSecuritySeccompErrno(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		nnp  bool
		uid  uint32
	}{
		{"nnp-root", true, 0},
		{"nnp-uid1000", true, 1000},
		{"no-nnp-root", false, 0},
		{"no-nnp-uid1000", false, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := seccompSpec(allowAllBut(denyMkdir(errnoENOSYS)), "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status >&2; id -u >&2\n"+mkdirProbe)
			s.Process.NoNewPrivileges = tc.nnp
			s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			r := e.runContainer(s)
			if r.code != 0 {
				t.Fatalf("container failed:\n%v", r)
			}
			wantMkdirDenied(t, r, msgENOSYS)
			nnp := map[bool]string{true: "1", false: "0"}[tc.nnp]
			if got := statusField(t, r.stderr, "NoNewPrivs"); got != nnp {
				t.Errorf("NoNewPrivs %s, want %s", got, nnp)
			}
			if got := statusField(t, r.stderr, "Seccomp"); got != "2" {
				t.Errorf("Seccomp %s, want 2 (filter mode)", got)
			}
		})
	}
	// errnoRet absent: EPERM, as in runc.
	t.Run("default-errno", func(t *testing.T) {
		r := e.runContainer(seccompSpec(allowAllBut(specs.LinuxSyscall{Names: mkdirNames, Action: specs.ActErrno}), mkdirProbe))
		wantMkdirDenied(t, r, "Operation not permitted")
	})
}

// loadProfile reads seccomp/testdata/default.json, a docker-like
// allow-list profile (default SCMP_ACT_ERRNO).
func loadProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join("..", "seccomp", "testdata", "default.json"))), &sc); err != nil {
		t.Fatal(err)
	}
	if sc.DefaultAction != specs.ActErrno {
		t.Fatalf("default.json: defaultAction %s, want an allow-list profile", sc.DefaultAction)
	}
	return &sc
}

// A docker-like allow-list profile (defaultAction SCMP_ACT_ERRNO): a shell
// runs, and a syscall the profile leaves out (unshare) fails with the
// profile's defaultErrnoRet, while the same command works without the
// profile. With and without no_new_privs, as root and as uid 1000: every
// syscall husk makes after loading the filter must be in the list.
func TestSecuritySeccompAllowList(t *testing.T) {
	e := newEnv(t)
	const script = "echo ok; unshare -U true && echo unshare-ok || echo unshare-failed"
	out := lines(e.sh(baseSpec(), script))
	wantLines(t, out, "ok", "unshare-ok") // control: the command is not refused anyway

	for _, tc := range []struct {
		name     string
		nnp      bool
		uid      uint32
		errno    *uint
		wantMsgs string
	}{
		{"as-is-nnp", true, 0, nil, "Operation not permitted"},
		{"as-is-no-nnp", false, 0, nil, "Operation not permitted"},
		{"enosys-no-nnp-uid1000", false, 1000, errnoRet(errnoENOSYS), msgENOSYS},
		{"enosys-nnp-uid1000", true, 1000, errnoRet(errnoENOSYS), msgENOSYS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := loadProfile(t)
			if tc.errno != nil {
				sc.DefaultErrnoRet = tc.errno
			}
			s := baseSpec("sh", "-c", script)
			s.Linux.Seccomp = sc
			s.Process.NoNewPrivileges = tc.nnp
			s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			r := mustSucceed(t, e.runContainer(s))
			wantLines(t, lines(r.stdout), "ok", "unshare-failed")
			if !strings.Contains(r.stderr, tc.wantMsgs) {
				t.Errorf("unshare's error %q lacks %q", r.stderr, tc.wantMsgs)
			}
		})
	}
}

// SCMP_ACT_KILL_PROCESS: the process dies of SIGSYS, and run and exec
// report 128+31. SCMP_ACT_KILL (the thread) kills a single-threaded
// program the same way.
func TestSecuritySeccompKill(t *testing.T) {
	requireRoot(t)
	const sigsysStatus = 128 + 31
	for _, act := range []specs.LinuxSeccompAction{specs.ActKillProcess, specs.ActKill} {
		t.Run(string(act), func(t *testing.T) {
			e := newEnv(t)
			rule := specs.LinuxSyscall{Names: mkdirNames, Action: act}
			s := baseSpec("mkdir", "/d")
			s.Linux.Seccomp = allowAllBut(rule)
			s.Process.NoNewPrivileges = true
			// No core file for the killed process.
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
			c := e.newContainer(s)
			r := c.run(runOpts{})
			if r.code != sigsysStatus {
				t.Errorf("run: exit status %d, want %d (SIGSYS)\n%v", r.code, sigsysStatus, r)
			}
			if exists(c.b.hostPath("d")) {
				t.Error("mkdir ran: /d exists")
			}

			s.Process.Args = sleeper
			c = e.runDetached(s)
			c.waitReady("ready")
			if r := c.exec("mkdir", "/d"); r.code != sigsysStatus {
				t.Errorf("exec: exit status %d, want %d (SIGSYS)\n%v", r.code, sigsysStatus, r)
			}
			if r := c.exec("sh", "-c", "mkdir /d; echo $?"); r.code != 0 || strings.TrimSpace(r.stdout) != "159" {
				t.Errorf("sh saw mkdir end with %q, want 159\n%v", r.stdout, r)
			}
			if exists(c.b.hostPath("d")) {
				t.Error("mkdir ran in exec: /d exists")
			}
			// The init is alive: only the process that made the call died.
			if st := c.state(); st.Status != specs.StateRunning {
				t.Errorf("container is %s", st.Status)
			}
		})
	}
}

// Argument conditions: SCMP_CMP_MASKED_EQ on personality(2)'s persona
// (only PER_LINUX32, whatever the flag bits) and SCMP_CMP_EQ on the new fd
// of dup2/dup3 (only fd 7).
func TestSecuritySeccompArgs(t *testing.T) {
	e := newEnv(t)
	sc := allowAllBut(
		specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: errnoRet(errnoENOSYS),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff, ValueTwo: 0x08, Op: specs.OpMaskedEqual}}},
		specs.LinuxSyscall{Names: []string{"dup2", "dup3"}, Action: specs.ActErrno, ErrnoRet: errnoRet(errnoEXDEV),
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: 7, Op: specs.OpEqualTo}}},
	)
	const script = `linux64 true && echo linux64-ok || echo linux64-failed
linux32 true && echo linux32-ok || echo linux32-failed
(exec 8>/dev/null) && echo fd8-ok || echo fd8-failed
(exec 7>/dev/null) && echo fd7-ok || echo fd7-failed`
	// Control: without the filter everything works.
	wantLines(t, lines(e.sh(baseSpec(), script)), "linux64-ok", "linux32-ok", "fd8-ok", "fd7-ok")

	s := baseSpec("sh", "-c", script)
	s.Linux.Seccomp = sc
	s.Process.NoNewPrivileges = true
	r := mustSucceed(t, e.runContainer(s))
	wantLines(t, lines(r.stdout), "linux64-ok", "linux32-failed", "fd8-ok", "fd7-failed")
	for _, msg := range []string{msgENOSYS, msgEXDEV} {
		if !strings.Contains(r.stderr, msg) {
			t.Errorf("stderr %q lacks %q", r.stderr, msg)
		}
	}
}

// The container's filter holds in every exec'd process, whatever the
// exec asks for (another user, no_new_privs off, extra capabilities).
func TestSecuritySeccompExec(t *testing.T) {
	e := newEnv(t)
	s := seccompSpec(allowAllBut(denyMkdir(errnoENOSYS)), "")
	s.Process.NoNewPrivileges = true
	// runc 1.1 crashes on exec --cap for a process without capabilities.
	kill := []string{"CAP_KILL"}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: kill, Effective: kill, Permitted: kill}
	c := e.runningContainer(s)

	wantMkdirDenied(t, c.exec("sh", "-c", mkdirProbe), msgENOSYS)
	wantMkdirDenied(t, c.execWith(cmdOpts{}, []string{"--user", "1000:1000", "--cap", "CAP_SYS_ADMIN"}, "sh", "-c", mkdirProbe), msgENOSYS)
	p := baseProcess("sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status >&2\n"+mkdirProbe)
	p.NoNewPrivileges = false
	p.User = specs.User{UID: 1000, GID: 1000}
	r := c.execProcess(p)
	wantMkdirDenied(t, r, msgENOSYS)
	if got := statusField(t, r.stderr, "Seccomp"); got != "2" {
		t.Errorf("exec --process: Seccomp %s, want 2", got)
	}
	if got := statusField(t, mustSucceed(t, c.exec("cat", "/proc/1/status")).stdout, "Seccomp"); got != "2" {
		t.Errorf("the init: Seccomp %s, want 2", got)
	}
}

// Bad seccomp input fails create and run with one line naming the field
// below linux.seccomp, and leaves nothing behind.
func TestSecuritySeccompBadInput(t *testing.T) {
	requireRoot(t)
	deny := func() specs.LinuxSyscall { return denyMkdir(1) }
	cases := []struct {
		name      string
		sc        func() *specs.LinuxSeccomp
		words     []string
		runcTakes bool // runc 1.1 accepts it: husk-only case
	}{
		{name: "unknown-default-action", words: []string{"linux.seccomp.defaultAction"},
			sc: func() *specs.LinuxSeccomp { return &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"} }},
		{name: "unknown-action", words: []string{"linux.seccomp.syscalls[1].action"},
			sc: func() *specs.LinuxSeccomp {
				return allowAllBut(deny(), specs.LinuxSyscall{Names: []string{"chmod"}, Action: "SCMP_ACT_FOO"})
			}},
		{name: "unknown-op", words: []string{"linux.seccomp.syscalls[0].args[0].op"},
			sc: func() *specs.LinuxSeccomp {
				r := deny()
				r.Args = []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: "SCMP_CMP_FOO"}}
				return allowAllBut(r)
			}},
		{name: "arg-index-out-of-range", words: []string{"linux.seccomp.syscalls[0].args[0].index"},
			sc: func() *specs.LinuxSeccomp {
				r := deny()
				r.Args = []specs.LinuxSeccompArg{{Index: 6, Value: 1, Op: specs.OpEqualTo}}
				return allowAllBut(r)
			}},
		{name: "unknown-arch", words: []string{"linux.seccomp.architectures[1]"},
			sc: func() *specs.LinuxSeccomp {
				sc := allowAllBut(deny())
				sc.Architectures = []specs.Arch{specs.ArchX86_64, "SCMP_ARCH_FOO"}
				return sc
			}},
		{name: "unknown-flag", words: []string{"linux.seccomp.flags[0]"},
			sc: func() *specs.LinuxSeccomp {
				sc := allowAllBut(deny())
				sc.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FOO"}
				return sc
			}},
		{name: "notify-without-listener", words: []string{"linux.seccomp.syscalls[0].action", "listenerPath"},
			sc: func() *specs.LinuxSeccomp {
				return allowAllBut(specs.LinuxSyscall{Names: mkdirNames, Action: specs.ActNotify})
			}},
		{name: "notify-default-action", words: []string{"linux.seccomp.defaultAction"},
			sc: func() *specs.LinuxSeccomp {
				return &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/nonexistent.sock",
					Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}}
			}},
		{name: "errno-out-of-range", words: []string{"linux.seccomp.syscalls[0].errnoRet"},
			sc: func() *specs.LinuxSeccomp { return allowAllBut(denyMkdir(5000)) }},
		{name: "errnoRet-on-allow", words: []string{"linux.seccomp.syscalls[0].errnoRet"}, runcTakes: true,
			sc: func() *specs.LinuxSeccomp {
				return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
					Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, ErrnoRet: errnoRet(1)}}}
			}},
		{name: "syscall-without-names", words: []string{"linux.seccomp.syscalls[0].names"}, runcTakes: true,
			sc: func() *specs.LinuxSeccomp {
				return allowAllBut(specs.LinuxSyscall{Action: specs.ActErrno})
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.runcTakes {
				skipIfRunc(t, "runc 1.1 accepts this input")
			}
			s := baseSpec("true")
			s.Linux.Seccomp = tc.sc()
			for _, cmd := range []string{"create", "run"} {
				e.failsCleanly(s, cmd, tc.words...)
			}
		})
	}
}

// A profile that does not allow close_range (older allow-lists, like the
// one of the OCI validation suite) still runs the container, with or
// without no_new_privs: husk marks its fds close-on-exec before it loads
// the filter. The container still sees only stdio (and ls's own fd).
func TestSecuritySeccompWithoutCloseRange(t *testing.T) {
	e := newEnv(t)
	deny := specs.LinuxSyscall{Names: []string{"close_range"}, Action: specs.ActErrno}
	for _, nnp := range []bool{true, false} {
		t.Run(map[bool]string{true: "nnp", false: "no-nnp"}[nnp], func(t *testing.T) {
			s := seccompSpec(allowAllBut(deny), "ls /proc/self/fd")
			s.Process.NoNewPrivileges = nnp
			r := e.runContainer(s)
			if r.code != 0 {
				t.Fatalf("container failed:\n%v", r)
			}
			wantLines(t, lines(r.stdout), "0", "1", "2", "3")
		})
	}
}

// seccompCacheDir is where husk keeps the programs it compiled, in the
// state root (seccomp.CacheDir).
const seccompCacheDir = "@seccomp-cache"

// The second container with a profile takes the program husk compiled for
// the first from the state root's cache, and it denies the same; a
// damaged entry is not used, a profile that differs only by its errno gets
// its own program, and the cache is private to husk's user.
func TestSecuritySeccompCached(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.root, seccompCacheDir)
	entries := func() []string {
		t.Helper()
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("seccomp cache: %v", err)
		}
		var names []string
		for _, d := range des {
			names = append(names, d.Name())
		}
		return names
	}
	run := func(errno uint, msg string) {
		t.Helper()
		r := e.runContainer(seccompSpec(allowAllBut(denyMkdir(errno)), mkdirProbe))
		if r.code != 0 {
			t.Fatalf("container failed:\n%v", r)
		}
		wantMkdirDenied(t, r, msg)
	}

	run(errnoENOSYS, msgENOSYS)
	first := entries()
	if len(first) != 1 {
		t.Fatalf("after one profile the cache holds %v, want one entry", first)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("seccomp cache %s: %v, %v; want mode 0700", dir, fi, err)
	}
	run(errnoENOSYS, msgENOSYS)

	entry := filepath.Join(dir, first[0])
	good, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	// One byte of the program changed: its checksum no longer matches.
	bad := append([]byte{}, good...)
	bad[len(bad)-40] ^= 0xff
	if err := os.WriteFile(entry, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	run(errnoENOSYS, msgENOSYS)
	if b, err := os.ReadFile(entry); err != nil || !bytes.Equal(b, good) {
		t.Errorf("damaged entry not rebuilt: %v", err)
	}

	run(errnoEXDEV, msgEXDEV)
	run(errnoEXDEV, msgEXDEV)
	if got := entries(); len(got) != 2 {
		t.Errorf("after two profiles the cache holds %v, want two entries", got)
	}
}
