package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/internal/mountinfo"
)

const (
	// cmdTimeout bounds every command the suite runs so that a hung runtime
	// fails one test instead of stalling the whole run; it is a safety net,
	// not an assertion about speed.
	cmdTimeout = 60 * time.Second
	// pollTimeout bounds the waits for a state the test cannot be notified
	// of (a file appearing, a status changing).
	pollTimeout = 15 * time.Second
	// helperEnv switches the test binary into an in-container helper (see
	// runHelper) when it is copied into a rootfs and run there.
	helperEnv = "HUSK_TESTS_HELPER"
)

var (
	huskBin       string // absolute path of the runtime under test
	baseRootfs    string // busybox tree from scripts/mkrootfs.sh, copied per bundle
	runtimeIsRunc bool
	idCounter     atomic.Int64
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if mode := os.Getenv(helperEnv); mode != "" {
		return runHelper(mode)
	}
	flag.Parse()
	if os.Geteuid() != 0 {
		return m.Run() // every test skips itself in newEnv
	}
	bin := os.Getenv("HUSK_BIN")
	if bin == "" {
		bin = filepath.Join("..", "bin", "husk")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: HUSK_BIN %q: %v\n", bin, err)
		return 1
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		fmt.Fprintf(os.Stderr, "tests: runtime binary %s is missing or not executable: build it first or set HUSK_BIN\n", abs)
		return 1
	}
	huskBin = abs
	out, _ := exec.Command(abs, "--version").Output()
	runtimeIsRunc = strings.HasPrefix(string(out), "runc ")

	tmp, err := os.MkdirTemp("", "husk-tests-rootfs-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	baseRootfs = filepath.Join(tmp, "rootfs")
	script, _ := filepath.Abs(filepath.Join("..", "scripts", "mkrootfs.sh"))
	cmd := exec.Command("bash", script, baseRootfs)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "tests: %s %s: %v\n", script, baseRootfs, err)
		return 1
	}
	return m.Run()
}

// isRunc tells whether the binary under test is runc. Only husk's own
// contract (error wording, features runc 1.1 lacks) is skipped for it.
func isRunc() bool { return runtimeIsRunc }

// skipIfRunc skips a test that checks a feature runc 1.1 does not have.
func skipIfRunc(t *testing.T, why string) {
	t.Helper()
	if isRunc() {
		t.Skip("runc 1.1 differs: " + why)
	}
}

// ---------------------------------------------------------------------------
// Running commands

type result struct {
	cmd    string
	stdout string
	stderr string
	code   int // exit status, -1 when killed by a signal or the timeout
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %q\nstderr: %q", r.cmd, r.code, r.stdout, r.stderr)
}

type cmdOpts struct {
	dir        string
	stdin      io.Reader
	extraFiles []*os.File
	timeout    time.Duration
}

// running is a started command. Its output goes to unlinked temporary files,
// not pipes: a container started by create or run -d inherits the runtime's
// stdio, and a pipe would keep Wait blocked until the container exits.
type running struct {
	t        testing.TB
	cmd      *exec.Cmd
	ctx      context.Context
	cancel   context.CancelFunc
	out, err *os.File
	desc     string
}

func unlinkedTemp(t testing.TB) *os.File {
	t.Helper()
	f, err := os.CreateTemp("", "husk-test-out-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

func startCmd(t testing.TB, o cmdOpts, argv ...string) *running {
	t.Helper()
	timeout := o.timeout
	if timeout == 0 {
		timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = o.dir
	cmd.Stdin = o.stdin
	cmd.ExtraFiles = o.extraFiles
	cmd.WaitDelay = 5 * time.Second
	r := &running{t: t, cmd: cmd, ctx: ctx, cancel: cancel, out: unlinkedTemp(t), err: unlinkedTemp(t),
		desc: strings.Join(argv, " ")}
	cmd.Stdout, cmd.Stderr = r.out, r.err
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: %v", r.desc, err)
	}
	return r
}

func (r *running) wait() result {
	r.t.Helper()
	werr := r.cmd.Wait()
	r.cancel()
	res := result{cmd: r.desc, code: r.cmd.ProcessState.ExitCode()}
	res.stdout = readAllFrom(r.t, r.out)
	res.stderr = readAllFrom(r.t, r.err)
	if r.ctx.Err() == context.DeadlineExceeded {
		res.code = -1
		res.stderr += fmt.Sprintf("\n[killed by the test harness: no exit within the safety timeout: %v]", werr)
	}
	return res
}

func readAllFrom(t testing.TB, f *os.File) string {
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func runCmd(t testing.TB, o cmdOpts, argv ...string) result {
	t.Helper()
	return startCmd(t, o, argv...).wait()
}

func mustSucceed(t testing.TB, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("expected success:\n%v", r)
	}
	return r
}

// mustFail requires a clean non-zero exit (a crash or hang is not "failing").
func mustFail(t testing.TB, r result) result {
	t.Helper()
	if r.code <= 0 {
		t.Fatalf("expected a non-zero exit status:\n%v", r)
	}
	return r
}

// checkErrorMessage asserts husk's error contract: exactly one line on
// stderr that contains at least one of the given words. runc words and
// formats its errors differently, so it is only held to the behaviour.
func checkErrorMessage(t testing.TB, r result, anyOf ...string) {
	t.Helper()
	if isRunc() {
		return
	}
	msg := strings.TrimRight(r.stderr, "\n")
	if msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("want a one-line error on stderr, got %q", r.stderr)
		return
	}
	for _, w := range anyOf {
		if strings.Contains(msg, w) {
			return
		}
	}
	t.Errorf("error %q names none of %q", msg, anyOf)
}

// poll calls cond until it holds, failing the test after pollTimeout.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitFile(t testing.TB, path string) {
	t.Helper()
	poll(t, path+" to appear", func() bool { return exists(path) })
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readIfExists returns a file's content, "" when it does not exist.
func readIfExists(t testing.TB, path string) string {
	t.Helper()
	if !exists(path) {
		return ""
	}
	return readFile(t, path)
}

func wantLines(t testing.TB, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("container printed %q, want %q", got, want)
	}
}

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Per-test environment: a private directory holding the state root, bundles
// and host directories, cleaned up (containers deleted, stray mounts
// detached, files removed) when the test ends.

type env struct {
	t    *testing.T
	dir  string
	root string          // passed as --root
	bin  string          // the runtime binary
	keep map[string]bool // containers assertNothingLeft expects to be listed
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration tests need root: they create namespaces, mounts and devices")
	}
}

// newEnv prepares a test: skips it without root and marks it parallel (each
// test has its own state root and bundles).
func newEnv(t *testing.T) *env {
	t.Helper()
	requireRoot(t)
	t.Parallel()
	dir, err := os.MkdirTemp("", "husk-test-")
	if err != nil {
		t.Fatal(err)
	}
	// Traversable by anyone: a container in a user namespace runs as a
	// mapped, unprivileged host uid and must reach its rootfs.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, root: filepath.Join(dir, "state"), bin: huskBin, keep: map[string]bool{}}
	if err := os.Mkdir(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanup)
	return e
}

func (e *env) cleanup() {
	r := runCmd(e.t, cmdOpts{}, e.bin, "--root", e.root, "list", "-q")
	for _, id := range lines(r.stdout) {
		runCmd(e.t, cmdOpts{}, e.bin, "--root", e.root, "delete", "-f", id)
	}
	// Detach anything still mounted below the directory (a broken runtime,
	// a test's own host mounts) so RemoveAll cannot descend into a bind
	// mount of somewhere else.
	mps := mountPointsUnder(e.t, e.dir)
	sort.Sort(sort.Reverse(sort.StringSlice(mps)))
	for _, mp := range mps {
		_ = unix.Unmount(mp, unix.MNT_DETACH)
	}
	if err := os.RemoveAll(e.dir); err != nil {
		e.t.Errorf("cleanup: %v", err)
	}
}

// mkdir makes a fresh directory inside the test's private directory.
func (e *env) mkdir(prefix string) string {
	e.t.Helper()
	d, err := os.MkdirTemp(e.dir, prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return d
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// newID returns a container ID unique across tests and concurrent runs (some
// runtime resources, such as cgroups, are named after the ID globally).
func (e *env) newID() string {
	name := idUnsafe.ReplaceAllString(e.t.Name(), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("%s-%d-%d", name, os.Getpid(), idCounter.Add(1))
}

func (e *env) huskArgs(args []string) []string {
	return append([]string{e.bin, "--root", e.root}, args...)
}

// husk runs the runtime with the test's state root.
func (e *env) husk(args ...string) result {
	e.t.Helper()
	return runCmd(e.t, cmdOpts{}, e.huskArgs(args)...)
}

func (e *env) huskOpts(o cmdOpts, args ...string) result {
	e.t.Helper()
	return runCmd(e.t, o, e.huskArgs(args)...)
}

// ---------------------------------------------------------------------------
// Bundles and specs

type bundle struct {
	dir    string
	rootfs string
}

// baseSpec mirrors `runc spec` without a terminal, capabilities, seccomp,
// resources or cgroupsPath, and with a writable root. The version is the
// one `runc spec` writes, which every 1.x runtime accepts.
func baseSpec(args ...string) *specs.Spec {
	return &specs.Spec{
		Version: "1.0.2-dev",
		Process: &specs.Process{
			Terminal: false,
			User:     specs.User{UID: 0, GID: 0},
			Args:     args,
			Env:      []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cwd:      "/",
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: false},
		Hostname: "husk-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
				Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
				Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs",
				Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

func bindMount(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"bind"}, opts...)}
}

func tmpfsMount(dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts}
}

// setNamespace adds a namespace or replaces the one of the same type.
func setNamespace(s *specs.Spec, ns specs.LinuxNamespace) {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == ns.Type {
			s.Linux.Namespaces[i] = ns
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, ns)
}

func removeNamespace(s *specs.Spec, typ specs.LinuxNamespaceType) {
	var kept []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != typ {
			kept = append(kept, ns)
		}
	}
	s.Linux.Namespaces = kept
}

// hostDir makes a directory on the host, e.g. to bind-mount into a container
// and collect what the container writes.
func (e *env) hostDir() string { return e.mkdir("host-") }

// newBundle makes a bundle directory with a private copy of the busybox
// rootfs at spec.Root.Path and the spec as config.json.
func (e *env) newBundle(spec *specs.Spec) *bundle {
	e.t.Helper()
	b := &bundle{dir: e.mkdir("bundle-")}
	b.rootfs = spec.Root.Path
	if !filepath.IsAbs(b.rootfs) {
		b.rootfs = filepath.Join(b.dir, b.rootfs)
	}
	if out, err := exec.Command("cp", "-a", baseRootfs, b.rootfs).CombinedOutput(); err != nil {
		e.t.Fatalf("copying rootfs: %v: %s", err, out)
	}
	b.writeSpec(e.t, spec)
	return b
}

func (b *bundle) writeSpec(t testing.TB, spec *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(b.dir, "config.json"), string(data), 0o644)
}

// ---------------------------------------------------------------------------
// Containers

type container struct {
	e  *env
	id string
	b  *bundle
}

func (e *env) newContainer(spec *specs.Spec) *container {
	e.t.Helper()
	return &container{e: e, id: e.newID(), b: e.newBundle(spec)}
}

// create makes a bundle for spec and runs `create`, failing the test if it
// fails. Extra flags go before the ID.
func (e *env) create(spec *specs.Spec, flags ...string) *container {
	e.t.Helper()
	c := e.newContainer(spec)
	mustSucceed(e.t, c.husk("create", flags...))
	return c
}

// runDetached is create+start through `run -d`.
func (e *env) runDetached(spec *specs.Spec, flags ...string) *container {
	e.t.Helper()
	c := e.newContainer(spec)
	mustSucceed(e.t, c.husk("run", append([]string{"-d"}, flags...)...))
	return c
}

// husk runs `CMD --bundle B [flags] ID` for commands that take a bundle.
func (c *container) husk(cmd string, flags ...string) result {
	c.e.t.Helper()
	args := append([]string{cmd, "--bundle", c.b.dir}, flags...)
	return c.e.husk(append(args, c.id)...)
}

type runOpts struct {
	flags      []string // extra `run` flags
	stdin      io.Reader
	extraFiles []*os.File
	dir        string // the runtime's working directory
}

// runContainer runs args (when given) in the foreground with `run` and
// checks that nothing is left behind once it returns.
func (e *env) runContainer(spec *specs.Spec, args ...string) result {
	e.t.Helper()
	return e.runContainerOpts(runOpts{}, spec, args...)
}

func (e *env) runContainerOpts(o runOpts, spec *specs.Spec, args ...string) result {
	e.t.Helper()
	if len(args) > 0 {
		spec.Process.Args = args
	}
	return e.newContainer(spec).run(o)
}

// run runs the container in the foreground and checks that nothing is left
// behind once `run` returns.
func (c *container) run(o runOpts) result {
	c.e.t.Helper()
	r := c.runOpts(o)
	c.assertGone()
	return r
}

// runOK is run requiring exit 0; it returns stdout.
func (c *container) runOK(o runOpts) string {
	c.e.t.Helper()
	return mustSucceed(c.e.t, c.run(o)).stdout
}

func (c *container) runOpts(o runOpts) result {
	c.e.t.Helper()
	args := append([]string{"run", "--bundle", c.b.dir}, o.flags...)
	args = append(args, c.id)
	return c.e.huskOpts(cmdOpts{stdin: o.stdin, extraFiles: o.extraFiles, dir: o.dir}, args...)
}

// runOK runs a container in the foreground, requires exit 0 and returns its
// stdout.
func (e *env) runOK(spec *specs.Spec, args ...string) string {
	e.t.Helper()
	return mustSucceed(e.t, e.runContainer(spec, args...)).stdout
}

// sh runs a shell script in a container built from spec and returns its
// stdout, requiring success.
func (e *env) sh(spec *specs.Spec, script string) string {
	e.t.Helper()
	return e.runOK(spec, "sh", "-c", script)
}

func (c *container) start() {
	c.e.t.Helper()
	mustSucceed(c.e.t, c.e.husk("start", c.id))
}

func (c *container) state() specs.State {
	c.e.t.Helper()
	r := mustSucceed(c.e.t, c.e.husk("state", c.id))
	var st specs.State
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		c.e.t.Fatalf("state output is not JSON: %v\n%v", err, r)
	}
	return st
}

func (c *container) kill(args ...string) result {
	c.e.t.Helper()
	return c.e.husk(append([]string{"kill", c.id}, args...)...)
}

func (c *container) delete(flags ...string) result {
	c.e.t.Helper()
	return c.e.husk(append(append([]string{"delete"}, flags...), c.id)...)
}

// exec runs `exec ID args...`.
func (c *container) exec(args ...string) result {
	c.e.t.Helper()
	return c.execWith(cmdOpts{}, nil, args...)
}

// execWith runs `exec [flags...] ID args...` with the given command options.
func (c *container) execWith(o cmdOpts, flags []string, args ...string) result {
	c.e.t.Helper()
	full := append(append([]string{"exec"}, flags...), c.id)
	return c.e.huskOpts(o, append(full, args...)...)
}

func (c *container) waitStatus(want specs.ContainerState) specs.State {
	c.e.t.Helper()
	var st specs.State
	poll(c.e.t, fmt.Sprintf("container %s to be %s", c.id, want), func() bool {
		st = c.state()
		return st.Status == want
	})
	return st
}

// waitReady waits for a file that the container program creates once it
// runs, e.g. `touch /ready; exec sleep 300` creates rootfs/ready.
func (c *container) waitReady(rel string) {
	c.e.t.Helper()
	waitFile(c.e.t, filepath.Join(c.b.rootfs, rel))
}

// assertGone checks that nothing of the container is left: `list` shows no
// container but those the test keeps (env.keep), no state entry, no mount
// mentioning the bundle, no process rooted or working inside the bundle.
func (c *container) assertGone() {
	c.e.t.Helper()
	c.e.assertNothingLeft(c.id, c.b)
}

func (e *env) assertNothingLeft(id string, b *bundle) {
	t := e.t
	t.Helper()
	r := mustSucceed(t, e.husk("list", "-q"))
	for _, l := range lines(r.stdout) {
		if l == id || !e.keep[l] {
			t.Errorf("container %q is listed (checking that %q is gone)", l, id)
		}
	}
	if id != "" {
		if _, err := os.Lstat(filepath.Join(e.root, id)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("state root still has an entry for %s (%v)", id, err)
		}
	}
	if b == nil {
		return
	}
	assertNoMountsOf(t, b.dir)
	for _, p := range leftProcesses(t, b.dir, "") {
		t.Errorf("process left behind: %s", p.desc)
	}
}

// assertNoMountsOf fails for every host mount whose line names dir (as
// mount point, root or source).
func assertNoMountsOf(t testing.TB, dir string) {
	t.Helper()
	for _, l := range mountinfoLines(t, "/proc/self/mountinfo") {
		if strings.Contains(l, dir) {
			t.Errorf("mount left behind: %s", l)
		}
	}
}

func mountinfoLines(t testing.TB, path string) []string {
	t.Helper()
	return lines(readFile(t, path))
}

// mountPointsUnder lists host mount points at or below dir (decoded: the
// kernel octal-escapes spaces and the like).
func mountPointsUnder(t testing.TB, dir string) []string {
	return mountinfo.PointsUnder(readFile(t, "/proc/self/mountinfo"), dir)
}

type devIno struct{ dev, ino uint64 }

func statDevIno(path string) (devIno, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return devIno{}, false
	}
	return devIno{st.Dev, st.Ino}, true
}

// leftProc is a process found where none should be, with what gave it away.
type leftProc struct {
	pid  int
	desc string
}

// processesInside finds live processes whose root or cwd is dir or below.
// Paths of processes in another mount namespace do not resolve from here
// (readlink gives "/"), so directories are also matched by device and inode.
// A process both rooted and working there is listed twice.
func processesInside(t testing.TB, dir string) []leftProc {
	dirs := map[devIno]bool{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if di, ok := statDevIno(p); ok {
				dirs[di] = true
			}
		}
		return nil
	})
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var found []leftProc
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		for _, link := range []string{"root", "cwd"} {
			l := filepath.Join(p, link)
			target, err := os.Readlink(l)
			if err != nil {
				continue // gone, zombie or kernel thread
			}
			di, ok := statDevIno(l)
			if target == dir || strings.HasPrefix(target, dir+"/") || (ok && dirs[di]) {
				comm, _ := os.ReadFile(filepath.Join(p, "comm"))
				found = append(found, leftProc{pid, fmt.Sprintf("%s (%s) %s -> %s", p, strings.TrimSpace(string(comm)), link, target)})
			}
		}
	}
	return found
}

// pidAlive tells whether pid exists and is not a zombie.
func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// nsLink is what `readlink /proc/PID/ns/TYPE` prints, e.g. "net:[4026531840]".
func nsLink(t testing.TB, pid string, typ string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%s/ns/%s", pid, typ))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// scanLines returns the fields of each non-empty line.
func fieldsOf(s string) [][]string {
	var out [][]string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			out = append(out, f)
		}
	}
	return out
}
