package seccomp

// Loading a filter cannot be undone, so every Load test runs in a child:
// the test binary re-executed with childEnv naming a case of children.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

const (
	childEnv    = "HUSK_SECCOMP_TEST_CHILD"
	childDirEnv = "HUSK_SECCOMP_TEST_DIR"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	os.Exit(m.Run())
}

// runChild runs a case on a locked thread, as husk init does, with
// no_new_privs so that any user may load a filter (but in "no_nnp") and no
// core dump for the cases the filter kills.
func runChild(name string) int {
	runtime.LockOSThread()
	f := children[name]
	if f == nil {
		fmt.Fprintln(os.Stderr, "no child case", name)
		return 3
	}
	if name != "no_nnp" {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "no_new_privs:", err)
			return 3
		}
	}
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	if err := f(os.Getenv(childDirEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// child runs a case and returns its stderr and exit status.
func child(t *testing.T, name string) (string, *os.ProcessState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name, childDirEnv+"="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("child %s timed out: %s", name, stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("child %s: %v", name, err)
	}
	return stderr.String(), cmd.ProcessState
}

// childOK runs a case that must exit 0.
func childOK(t *testing.T, name string) {
	t.Helper()
	out, st := child(t, name)
	if !st.Success() {
		t.Fatalf("child %s: %s\n%s", name, st, out)
	}
}

func TestLoadErrno(t *testing.T)         { childOK(t, "errno") }
func TestLoadArgs(t *testing.T)          { childOK(t, "args") }
func TestLoadTrace(t *testing.T)         { childOK(t, "trace") }
func TestLoadLog(t *testing.T)           { childOK(t, "log") }
func TestLoadArchs(t *testing.T)         { childOK(t, "archs") }
func TestLoadFlags(t *testing.T)         { childOK(t, "flags") }
func TestLoadThreadOnly(t *testing.T)    { childOK(t, "thread") }
func TestLoadTsync(t *testing.T)         { childOK(t, "tsync") }
func TestLoadProfile(t *testing.T)       { childOK(t, "profile") }
func TestLoadDefaultErrno(t *testing.T)  { childOK(t, "default_errno") }
func TestLoadNotify(t *testing.T)        { childOK(t, "notify") }
func TestLoadNotifyTsync(t *testing.T)   { childOK(t, "notify_tsync") }
func TestLoadNoNewPrivs(t *testing.T)    { childOK(t, "no_nnp") }
func TestLoadKillProcess(t *testing.T)   { childKilled(t, "kill_process") }
func TestLoadTrapGoRuntime(t *testing.T) { childKilled(t, "trap") }

// childKilled: KILL_PROCESS kills the child with SIGSYS; TRAP sends a
// SIGSYS that the Go runtime turns into a crash naming it.
func childKilled(t *testing.T, name string) {
	out, st := child(t, name)
	ws := st.Sys().(syscall.WaitStatus)
	switch name {
	case "kill_process":
		if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
			t.Fatalf("child %s: %s, want killed by SIGSYS\n%s", name, st, out)
		}
	case "trap":
		if st.Success() || !strings.Contains(out, "SIGSYS") {
			t.Fatalf("child %s: %s, want a Go crash on SIGSYS\n%s", name, st, out)
		}
	}
	if strings.Contains(out, "survived") {
		t.Fatalf("child %s: %s", name, out)
	}
}

var children = map[string]func(dir string) error{
	"errno":         childErrno,
	"args":          childArgs,
	"trace":         childTrace,
	"log":           childLog,
	"archs":         childArchs,
	"flags":         childFlags,
	"thread":        func(string) error { return childThreads(false) },
	"tsync":         func(string) error { return childThreads(true) },
	"profile":       func(dir string) error { return childProfile(dir, 0) },
	"default_errno": func(dir string) error { return childProfile(dir, uint(unix.EOPNOTSUPP)) },
	"notify":        func(dir string) error { return childNotify(dir, false) },
	"notify_tsync":  func(dir string) error { return childNotify(dir, true) },
	"no_nnp":        childNoNewPrivs,
	"kill_process":  func(dir string) error { return childDies(dir, specs.ActKillProcess) },
	"trap":          func(dir string) error { return childDies(dir, specs.ActTrap) },
}

// mkdirRule is one rule for mkdir, which Go makes as mkdirat.
func mkdirRule(a specs.LinuxSeccompAction, errno *uint) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{"mkdirat", "mkdir"}, Action: a, ErrnoRet: errno}
}

func allowAnd(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rules}
}

func load(s *specs.LinuxSeccomp, wantNotify bool) (int, error) {
	fd, err := Load(s)
	if err != nil {
		return fd, fmt.Errorf("Load: %w", err)
	}
	if wantNotify != (fd >= 0) || !wantNotify && fd != -1 {
		return fd, fmt.Errorf("Load returned fd %d", fd)
	}
	return fd, nil
}

func wantErrno(what string, err error, want unix.Errno) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: got %v, want %v", what, err, want)
	}
	return nil
}

// status returns a field of /proc/thread-self/status or of a task's.
func status(path, field string) string {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// An ERRNO rule with errnoRet, names libseccomp does not know skipped,
// the rest of the process unaffected.
func childErrno(dir string) error {
	r := mkdirRule(specs.ActErrno, uintp(uint(unix.ENOSYS)))
	r.Names = append([]string{"husk_no_such_syscall"}, r.Names...)
	if _, err := load(allowAnd(r, specs.LinuxSyscall{Names: []string{"husk_other_unknown"}, Action: specs.ActKillProcess}), false); err != nil {
		return err
	}
	if err := wantErrno("mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o755), unix.ENOSYS); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		return err
	}
	if m, n := status("/proc/thread-self/status", "Seccomp"), status("/proc/thread-self/status", "Seccomp_filters"); m != "2" || n != "1" {
		return fmt.Errorf("Seccomp: %s, Seccomp_filters: %s; want 2 and 1", m, n)
	}
	return nil
}

// Argument rules: every operator; the same index twice ORs (as runc),
// different indexes AND.
func childArgs(string) error {
	var p [4][2]int
	for i := range p {
		if err := unix.Pipe2(p[i][:], unix.O_CLOEXEC); err != nil {
			return err
		}
	}
	a, b, c, d := uint64(p[0][1]), uint64(p[1][1]), uint64(p[2][1]), uint64(p[3][1])
	pid := uint64(os.Getpid())
	arg := func(i uint, op specs.LinuxSeccompOperator, v, v2 uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Op: op, Value: v, ValueTwo: v2}
	}
	rule := func(name string, errno unix.Errno, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: uintp(uint(errno)), Args: args}
	}
	s := allowAnd(
		// (persona & 0xff) == PER_LINUX32
		rule("personality", unix.EXDEV, arg(0, specs.OpMaskedEqual, 0xff, 0x08)),
		rule("write", unix.EBADFD, arg(0, specs.OpEqualTo, a, 0), arg(0, specs.OpEqualTo, b, 0)),
		rule("write", unix.EFBIG, arg(0, specs.OpEqualTo, c, 0), arg(2, specs.OpGreaterThan, 4, 0)),
		rule("getpriority", unix.E2BIG, arg(1, specs.OpLessThan, 10, 0)),
		rule("getpgid", unix.ENOEXEC, arg(0, specs.OpLessEqual, 3, 0)),
		rule("getsid", unix.EBADF, arg(0, specs.OpGreaterEqual, 1<<30, 0)),
		rule("sched_getscheduler", unix.ECHILD, arg(0, specs.OpNotEqual, 0, 0)),
	)
	if _, err := load(s, false); err != nil {
		return err
	}
	sys := func(nr uintptr, args ...uintptr) error {
		args = append(args, 0, 0, 0)
		if _, _, e := unix.Syscall(nr, args[0], args[1], args[2]); e != 0 {
			return e
		}
		return nil
	}
	buf5 := []byte("12345")
	write := func(fd uint64, n int) error { _, err := unix.Write(int(fd), buf5[:n]); return err }
	checks := []struct {
		what string
		err  error
		want unix.Errno // 0: must succeed
	}{
		{"personality(PER_LINUX32)", sys(unix.SYS_PERSONALITY, 0x08), unix.EXDEV},
		{"personality(query)", sys(unix.SYS_PERSONALITY, 0xffffffff), 0},
		{"write(a)", write(a, 1), unix.EBADFD},
		{"write(b)", write(b, 1), unix.EBADFD},
		{"write(c, 5)", write(c, 5), unix.EFBIG},
		{"write(c, 4)", write(c, 4), 0},
		{"write(d, 5)", write(d, 5), 0},
		{"getpriority(who 5)", sys(unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, 5), unix.E2BIG},
		{"getpriority(who pid)", sys(unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, uintptr(pid)), 0},
		{"getpgid(3)", sys(unix.SYS_GETPGID, 3), unix.ENOEXEC},
		{"getpgid(pid)", sys(unix.SYS_GETPGID, uintptr(pid)), 0},
		{"getsid(1<<30)", sys(unix.SYS_GETSID, 1<<30), unix.EBADF},
		{"getsid(0)", sys(unix.SYS_GETSID, 0), 0},
		{"sched_getscheduler(pid)", sys(unix.SYS_SCHED_GETSCHEDULER, uintptr(pid)), unix.ECHILD},
		{"sched_getscheduler(0)", sys(unix.SYS_SCHED_GETSCHEDULER, 0), 0},
	}
	for _, ch := range checks {
		if ch.want == 0 && ch.err != nil || ch.want != 0 && !errors.Is(ch.err, ch.want) {
			return fmt.Errorf("%s: got %v, want %v", ch.what, ch.err, ch.want)
		}
	}
	return nil
}

// TRACE without a tracer: the kernel fails the syscall with ENOSYS.
func childTrace(dir string) error {
	if _, err := load(allowAnd(mkdirRule(specs.ActTrace, uintp(7))), false); err != nil {
		return err
	}
	return wantErrno("mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o755), unix.ENOSYS)
}

// LOG lets the syscall through. Compiled first and loaded later, as
// create and start would split it.
func childLog(dir string) error {
	f, err := Compile(allowAnd(mkdirRule(specs.ActLog, nil)))
	if err != nil {
		return err
	}
	if m := status("/proc/thread-self/status", "Seccomp"); m != "0" {
		return fmt.Errorf("Compile loaded something: Seccomp: %s", m)
	}
	if fd, err := f.Load(); fd != -1 || err != nil {
		return fmt.Errorf("Filter.Load: %d, %v", fd, err)
	}
	if m := status("/proc/thread-self/status", "Seccomp"); m != "2" {
		return fmt.Errorf("after Filter.Load: Seccomp: %s", m)
	}
	return os.Mkdir(filepath.Join(dir, "d"), 0o755)
}

// Foreign architectures go into the filter without changing the native rules.
func childArchs(dir string) error {
	s := allowAnd(mkdirRule(specs.ActErrno, uintp(uint(unix.EROFS))))
	s.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM}
	if _, err := load(s, false); err != nil {
		return err
	}
	return wantErrno("mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o755), unix.EROFS)
}

// Every flag but TSYNC (its own case); WAIT_KILLABLE_RECV without a
// NOTIFY rule is dropped rather than refused by the kernel.
func childFlags(dir string) error {
	s := allowAnd(mkdirRule(specs.ActErrno, nil))
	s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}
	if _, err := load(s, false); err != nil {
		return err
	}
	return wantErrno("mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o755), unix.EPERM)
}

// Without TSYNC only the calling thread is filtered (the Go runtime's
// other threads, sysmon at least, are not); with it, every thread.
func childThreads(tsync bool) error {
	s := allowAnd(mkdirRule(specs.ActErrno, nil))
	if tsync {
		s.Flags = []specs.LinuxSeccompFlag{flagTsync}
	}
	if _, err := load(s, false); err != nil {
		return err
	}
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) < 2 {
		return fmt.Errorf("want 2 threads or more: %v %v", tasks, err)
	}
	self := fmt.Sprintf("/proc/self/task/%d/status", unix.Gettid())
	filtered := 0
	for _, task := range tasks {
		mode := status(task, "Seccomp")
		if task == self && mode != "2" {
			return fmt.Errorf("calling thread: Seccomp: %s", mode)
		}
		if mode == "2" {
			filtered++
		}
	}
	if tsync && filtered != len(tasks) || !tsync && filtered == len(tasks) {
		return fmt.Errorf("tsync %v: %d of %d threads filtered", tsync, filtered, len(tasks))
	}
	return nil
}

// The realistic profile: a Go program keeps working (new threads through
// clone3's ENOSYS and clone's masked flags, files, sockets, timers), and
// what it leaves out fails with the default errno.
func childProfile(dir string, defaultErrno uint) error {
	s, err := readProfile()
	if err != nil {
		return err
	}
	want := unix.EPERM
	if defaultErrno != 0 {
		s.DefaultErrnoRet = &defaultErrno
		want = unix.Errno(defaultErrno)
	}
	if _, err := load(s, false); err != nil {
		return err
	}
	// Five locked goroutines at once need new OS threads.
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			<-release
		}()
	}
	time.Sleep(10 * time.Millisecond)
	close(release)
	wg.Wait()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644); err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "data" {
		return fmt.Errorf("read back: %q %v", b, err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	unix.Close(fds[0])
	unix.Close(fds[1])
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket(AF_UNIX): %w", err)
	}
	unix.Close(fd)
	_, err = unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	if err := wantErrno("socket(AF_VSOCK)", err, want); err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0); e != 0 {
		return fmt.Errorf("personality(query): %v", e)
	}
	_, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0x0400000, 0, 0) // READ_IMPLIES_EXEC
	if err := wantErrno("personality(READ_IMPLIES_EXEC)", e, want); err != nil {
		return err
	}
	_, _, e = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	if err := wantErrno("clone3", e, unix.ENOSYS); err != nil {
		return err
	}
	_, _, e = unix.Syscall6(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0, 0)
	if err := wantErrno("add_key", e, want); err != nil {
		return err
	}
	return wantErrno("unshare", unix.Unshare(unix.CLONE_NEWUTS), want)
}

// NOTIFY: Load returns the listener fd; a goroutine answers the notified
// mkdirat with EXDEV through libseccomp-golang, as an agent would.
func childNotify(dir string, tsync bool) error {
	s := allowAnd(mkdirRule(specs.ActNotify, nil))
	s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
	if tsync {
		s.Flags = append(s.Flags, flagTsync)
	}
	fd, err := load(s, true)
	if err != nil {
		return err
	}
	if link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err != nil || link != "anon_inode:seccomp notify" {
		return fmt.Errorf("fd %d is %q (%v), want anon_inode:seccomp notify", fd, link, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		return fmt.Errorf("fd flags %#x %v, want close-on-exec", flags, err)
	}
	if tsync {
		if err := allThreads("2"); err != nil {
			return err
		}
	}
	mkdirat, _ := libseccomp.GetSyscallFromName("mkdirat")
	agent := make(chan error, 1)
	go func() {
		for {
			req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
			if err != nil {
				agent <- fmt.Errorf("receive: %w", err)
				return
			}
			if req.Data.Syscall != mkdirat || req.Pid != uint32(os.Getpid()) {
				agent <- fmt.Errorf("notified of syscall %d by pid %d", req.Data.Syscall, req.Pid)
				return
			}
			err = libseccomp.NotifRespond(libseccomp.ScmpFd(fd), &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(unix.EXDEV)})
			// ENOENT: the syscall was interrupted and will come again.
			if !errors.Is(err, unix.ENOENT) {
				agent <- err
				return
			}
		}
	}()
	if err := wantErrno("mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o755), unix.EXDEV); err != nil {
		return err
	}
	return <-agent
}

func allThreads(mode string) error {
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, task := range tasks {
		if m := status(task, "Seccomp"); m != mode {
			return fmt.Errorf("%s: Seccomp: %s, want %s", task, m, mode)
		}
	}
	return nil
}

// Without no_new_privs the kernel wants CAP_SYS_ADMIN; the error says
// what is missing.
func childNoNewPrivs(dir string) error {
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	sysAdmin := data[0].Effective&(1<<unix.CAP_SYS_ADMIN) != 0
	_, err := Load(allowAnd(mkdirRule(specs.ActErrno, nil)))
	if !sysAdmin {
		if err == nil || !strings.Contains(err.Error(), "process.noNewPrivileges or CAP_SYS_ADMIN") {
			return fmt.Errorf("without CAP_SYS_ADMIN: Load: %v", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("with CAP_SYS_ADMIN: Load: %w", err)
	}
	return wantErrno("mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o755), unix.EPERM)
}

func childDies(dir string, a specs.LinuxSeccompAction) error {
	// RLIMIT_CORE 0 does not stop a core_pattern pipe; non-dumpable does.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return err
	}
	if _, err := load(allowAnd(mkdirRule(a, nil)), false); err != nil {
		return err
	}
	err := os.Mkdir(filepath.Join(dir, "d"), 0o755)
	return fmt.Errorf("survived %s: mkdir: %v", a, err)
}
