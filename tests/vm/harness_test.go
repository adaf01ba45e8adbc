package vmtests

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	cgroupRoot = "/sys/fs/cgroup"
	// cgroupParent holds the containers' cgroups: /vmtests/<id>.
	cgroupParent = "vmtests"
	// Under software emulation a runtime command takes a second or two;
	// these are safety nets against hangs, not assertions about speed.
	cmdTimeout  = 120 * time.Second
	pollTimeout = 60 * time.Second
)

var (
	runtimeBin string
	rootfsDir  string
	counter    atomic.Int64
	// setupErr is why the environment cannot run the tests (not root, no
	// cgroup v2, no runtime): each test skips or fails with it.
	setupErr string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	flag.Parse()
	switch {
	case !isCgroup2(cgroupRoot):
		setupErr = cgroupRoot + " is not cgroup2 (this host has cgroup v1 or hybrid): run 'make test-vm' to run these tests in a VM"
	case os.Geteuid() != 0:
		setupErr = "containers need root"
	case os.Getenv("HUSK_VM") != "1" && os.Getenv("RUNTIME") == "":
		// A cgroup v2 host that is not the test VM: the tests would make
		// cgroups at the root of its hierarchy, so only on request.
		setupErr = "not in the test VM (HUSK_VM unset): set RUNTIME to run these on this cgroup v2 host, or run 'make test-vm'"
	}
	if setupErr != "" {
		return m.Run()
	}

	bin := os.Getenv("RUNTIME")
	if bin == "" {
		bin = os.Getenv("HUSK_BIN")
	}
	if bin == "" {
		bin = "/vm/husk"
		if _, err := os.Stat(bin); err != nil {
			bin = filepath.Join("..", "..", "bin", "husk")
		}
	}
	abs, err := exec.LookPath(bin)
	if err == nil {
		abs, err = filepath.Abs(abs)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtests: runtime %q: %v (set RUNTIME)\n", bin, err)
		return 1
	}
	runtimeBin = abs

	rootfsDir = os.Getenv("VM_ROOTFS")
	if rootfsDir == "" {
		tmp, err := os.MkdirTemp("", "vmtests-rootfs-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "vmtests: %v\n", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		rootfsDir = filepath.Join(tmp, "rootfs")
		script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "mkrootfs.sh"))
		cmd := exec.Command("bash", script, rootfsDir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "vmtests: %s: %v\n", script, err)
			return 1
		}
	}
	if _, err := os.Stat(filepath.Join(rootfsDir, "bin", "busybox")); err != nil {
		fmt.Fprintf(os.Stderr, "vmtests: rootfs %s: %v\n", rootfsDir, err)
		return 1
	}
	// The rootfs is shared read-only: /out must exist in it beforehand.
	if err := os.MkdirAll(filepath.Join(rootfsDir, "out"), 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "vmtests: %v\n", err)
		return 1
	}
	out, _ := exec.Command(runtimeBin, "--version").Output()
	fmt.Fprintf(os.Stderr, "vmtests: runtime %s: %s\n", runtimeBin, firstLine(string(out)))
	return m.Run()
}

func isCgroup2(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// requireEnv skips the test where it cannot run, or fails it inside the VM
// (HUSK_VM=1), where cgroup v2 must be there.
func requireEnv(t *testing.T) {
	t.Helper()
	if setupErr == "" {
		return
	}
	if os.Getenv("HUSK_VM") == "1" {
		t.Fatalf("HUSK_VM=1 (in the test VM) but %s", setupErr)
	}
	t.Skip(setupErr)
}

// cgroupTest runs a test of the runtime's cgroup support. With
// VM_EXPECT_CGROUPS=0 the runtime is not expected to pass it yet: the test
// runs alone in a child process with the expectation on, and its failure is
// reported here as a skip, its pass as a pass.
func cgroupTest(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	requireEnv(t)
	if os.Getenv("VM_EXPECT_CGROUPS") != "0" {
		body(t)
		return
	}
	// The child must end before this binary's -test.timeout does.
	timeout := 2 * time.Minute
	if d, ok := t.Deadline(); ok && time.Until(d)-10*time.Second < timeout {
		timeout = time.Until(d) - 10*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "VM_EXPECT_CGROUPS=1")
	out := tempFile(t)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	text := readFile(t, out)
	if err == nil && strings.Contains(text, "--- PASS: "+t.Name()) {
		t.Logf("passes with VM_EXPECT_CGROUPS=1: time to set it for this runtime")
		return
	}
	var why []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "harness_test.go") || strings.Contains(l, "_test.go:") {
			why = append(why, strings.TrimSpace(l))
		}
	}
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("%v: %s", err, lastLines(text, 10)))
	}
	t.Skipf("expected failure (VM_EXPECT_CGROUPS=0): %s", strings.Join(why, " | "))
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// ---------------------------------------------------------------------------
// Running the runtime

type result struct {
	cmd            string
	stdout, stderr string
	code           int // -1: killed by a signal or the timeout
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %q\nstderr: %q", r.cmd, r.code, r.stdout, r.stderr)
}

func tempFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.CreateTemp("", "vmtests-out-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.Name())
	t.Cleanup(func() { f.Close() })
	return f
}

func readFile(t testing.TB, f *os.File) string {
	t.Helper()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// container is one container of a test: its bundle, state root and cgroup.
type container struct {
	t      *testing.T
	id     string
	root   string // --root
	bundle string
	out    string // host side of /out
	spec   *specs.Spec
}

// newContainer writes a bundle running args that shares the rootfs
// read-only, with /out bind-mounted read-write from c.out.
func newContainer(t *testing.T, args ...string) *container {
	t.Helper()
	dir := t.TempDir()
	c := &container{
		t:      t,
		id:     fmt.Sprintf("vmt-%d-%d", os.Getpid(), counter.Add(1)),
		root:   filepath.Join(dir, "state"),
		bundle: filepath.Join(dir, "bundle"),
		out:    filepath.Join(dir, "out"),
	}
	for _, d := range []string{c.root, c.bundle, c.out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.spec = defaultSpec(rootfsDir, c.out, "/"+cgroupParent+"/"+c.id, args)
	t.Cleanup(func() {
		// Whatever the test did, leave no container or cgroup behind.
		c.runtime("delete", "-f", c.id)
		os.Remove(c.cgroupDir())
	})
	return c
}

func (c *container) cgroupDir() string { return filepath.Join(cgroupRoot, cgroupParent, c.id) }

// cgroupFile reads a file of the container's cgroup, trimmed.
func (c *container) cgroupFile(name string) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.cgroupDir(), name))
	if err != nil {
		c.t.Fatalf("the container's cgroup: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// cgroupKey reads "key value" lines of a cgroup file such as memory.events.
func (c *container) cgroupKey(name, key string) string {
	c.t.Helper()
	for _, l := range strings.Split(c.cgroupFile(name), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && k == key {
			return v
		}
	}
	c.t.Fatalf("%s/%s has no %q: %q", c.cgroupDir(), name, key, c.cgroupFile(name))
	return ""
}

func (c *container) writeSpec() {
	c.t.Helper()
	b, err := json.MarshalIndent(c.spec, "", "\t")
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), b, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// runtime runs the runtime with --root and args; its output goes to files:
// a container started by create inherits them, and would hold a pipe open.
func (c *container) runtime(args ...string) result {
	c.t.Helper()
	return c.runtimeStdin("", args...)
}

// runtimeStdin is runtime with stdin read from a string.
func (c *container) runtimeStdin(stdin string, args ...string) result {
	c.t.Helper()
	argv := append([]string{"--root", c.root}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtimeBin, argv...)
	cmd.Dir = c.bundle
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	stdout, stderr := tempFile(c.t), tempFile(c.t)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{cmd: filepath.Base(runtimeBin) + " " + strings.Join(argv, " "), code: cmd.ProcessState.ExitCode()}
	r.stdout, r.stderr = readFile(c.t, stdout), readFile(c.t, stderr)
	if ctx.Err() != nil {
		r.code = -1
		r.stderr += fmt.Sprintf("\n[killed after %v: %v]", cmdTimeout, err)
	} else if err != nil && cmd.ProcessState == nil {
		c.t.Fatalf("%s: %v", r.cmd, err)
	}
	return r
}

// on returns the container with its checks reporting to t, a subtest:
// FailNow must be called from the goroutine of the test that fails.
func (c *container) on(t *testing.T) *container {
	cc := *c
	cc.t = t
	return &cc
}

// isHusk says whether the runtime under test is husk (RUNTIME=/vm/husk in
// the VM), for the checks that other runtimes, runc 1.1.5 among them, do
// not pass by design.
func isHusk() bool { return strings.HasPrefix(filepath.Base(runtimeBin), "husk") }

// huskOnly skips the rest of a (sub)test for any runtime but husk.
func huskOnly(t *testing.T, why string) {
	t.Helper()
	if !isHusk() {
		t.Skipf("husk-only check (%s): %s does not do it", why, filepath.Base(runtimeBin))
	}
}

// background is a runtime command left running, such as events.
type background struct {
	cmd  *exec.Cmd
	out  string // file with its stdout and stderr
	done chan struct{}
}

// background starts the runtime with --root and args and returns at once.
// t's cleanup kills it if the test has not stopped it.
func (c *container) background(args ...string) *background {
	c.t.Helper()
	argv := append([]string{"--root", c.root}, args...)
	out, err := os.CreateTemp(c.t.TempDir(), "bg-")
	if err != nil {
		c.t.Fatal(err)
	}
	defer out.Close()
	b := &background{cmd: exec.Command(runtimeBin, argv...), out: out.Name(), done: make(chan struct{})}
	b.cmd.Dir = c.bundle
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err := b.cmd.Start(); err != nil {
		c.t.Fatalf("%s %s: %v", runtimeBin, strings.Join(argv, " "), err)
	}
	go func() {
		b.cmd.Wait()
		close(b.done)
	}()
	c.t.Cleanup(b.stop)
	return b
}

// output is what the command has printed so far.
func (b *background) output() string {
	data, _ := os.ReadFile(b.out)
	return string(data)
}

// stop kills the command and waits for it.
func (b *background) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Kill()
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
	}
}

func (c *container) must(args ...string) result {
	c.t.Helper()
	r := c.runtime(args...)
	if r.code != 0 {
		c.t.Fatalf("%v", r)
	}
	return r
}

// run writes the spec and runs the container in the foreground.
func (c *container) run() result {
	c.t.Helper()
	c.writeSpec()
	return c.runtime("run", "--bundle", c.bundle, c.id)
}

// start writes the spec, creates and starts the container and returns the
// host pid of its process.
func (c *container) start() int {
	c.t.Helper()
	c.writeSpec()
	c.must("create", "--bundle", c.bundle, c.id)
	c.must("start", c.id)
	st := c.state()
	if st.Pid <= 0 {
		c.t.Fatalf("state after start: pid %d", st.Pid)
	}
	return st.Pid
}

func (c *container) state() specs.State {
	c.t.Helper()
	r := c.must("state", c.id)
	var st specs.State
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		c.t.Fatalf("state: %v: %q", err, r.stdout)
	}
	return st
}

func (c *container) waitStatus(want specs.ContainerState) {
	c.t.Helper()
	var st specs.State
	eventually(c.t, "status "+string(want), func() bool {
		st = c.state()
		return st.Status == want
	})
}

// outFile waits until the container has written /out/name, then returns it.
func (c *container) outFile(name string) string {
	c.t.Helper()
	p := filepath.Join(c.out, name)
	var b []byte
	eventually(c.t, "/out/"+name+" from the container", func() bool {
		var err error
		b, err = os.ReadFile(p)
		return err == nil && len(b) > 0
	})
	return strings.TrimSpace(string(b))
}

// checkInCgroup checks that pid is in the container's cgroup, as the
// cgroupsPath asked.
func (c *container) checkInCgroup(pid int) {
	c.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		c.t.Fatal(err)
	}
	want := "0::/" + cgroupParent + "/" + c.id
	if got := strings.TrimSpace(string(b)); got != want {
		c.t.Fatalf("/proc/%d/cgroup = %q, want %q (linux.cgroupsPath)", pid, got, want)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", pollTimeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// defaultSpec is the config of 'runc spec' without a terminal, running args,
// with /out bound to out and the cgroup at cgroupsPath.
func defaultSpec(rootfs, out, cgroupsPath string, args []string) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: rootfs, Readonly: true},
		Hostname: "vmtests",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
			{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind", "rw"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: cgroupsPath,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}
