package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Tests against the host's cgroups need root. They work under
// husk-test-<pid>-<test> directories that they remove again.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func testDirName(t *testing.T) string {
	return fmt.Sprintf("husk-test-%d-%s", os.Getpid(), regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
}

// child is a shell whose stdin, stdout and stderr the test holds. Its
// stderr is a file, so that Wait does not wait for the processes it forked
// to close it.
type child struct {
	cmd    *exec.Cmd
	in     *os.File
	out    *bufio.Reader
	outF   *os.File
	stderr *os.File
}

func (c *child) errors() string {
	b, _ := os.ReadFile(c.stderr.Name())
	return string(b)
}

func startChild(t *testing.T, script string, env ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command("sh", "-c", script)}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stderr, err = os.CreateTemp(t.TempDir(), "stderr"); err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = inR, outW, c.stderr
	c.cmd.Env = append(os.Environ(), env...)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	c.in, c.outF, c.out = inW, outR, bufio.NewReader(outR)
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		c.in.Close()
		c.outF.Close()
		c.stderr.Close()
	})
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) send(t *testing.T, line string) {
	t.Helper()
	if _, err := c.in.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

func (c *child) readLine(t *testing.T) string {
	t.Helper()
	_ = c.outF.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's output: %v (stderr: %s)", err, c.errors())
	}
	return strings.TrimSuffix(line, "\n")
}

// waitEmpty waits until the cgroup has no processes.
func waitEmpty(t *testing.T, m Manager) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := m.Pids()
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left: %v", pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// unifiedParent makes a test directory in the host's cgroup2 hierarchy
// (/sys/fs/cgroup/unified on a hybrid host) and a v2 manager for a cgroup
// in it: without the kernel's controllers on a hybrid host, but with its
// freezer, cgroup.kill and device programs.
func unifiedParent(t *testing.T) *v2Manager {
	t.Helper()
	needRoot(t)
	l, err := detectLayout(cgroupRoot)
	if err != nil {
		t.Skip(err)
	}
	root := cgroupRoot
	switch l {
	case layoutHybrid:
		root = unifiedRoot
	case layoutV1:
		t.Skip("no cgroup2 hierarchy on this host")
	}
	parent := filepath.Join(root, testDirName(t))
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &v2Manager{fs: hostFS{}, root: parent, dir: filepath.Join(parent, "c1")}
	t.Cleanup(func() {
		_ = m.Kill()
		if err := removeTree(hostFS{}, parent); err != nil {
			t.Error(err)
		}
	})
	return m
}

func TestHostV2Lifecycle(t *testing.T) {
	m := unifiedParent(t)
	c := startChild(t, "read x; sleep 60 & sleep 60 & echo started; wait")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	c.send(t, "go")
	if l := c.readLine(t); l != "started" {
		t.Fatalf("child said %q", l)
	}
	pids, err := m.Pids()
	if err != nil || len(pids) != 3 || !slices.Contains(pids, c.pid()) {
		t.Fatalf("Pids: %v %v", pids, err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if ev := readFile(t, filepath.Join(m.dir, "cgroup.events")); !strings.Contains(ev, "frozen 1") {
		t.Errorf("frozen, yet cgroup.events says %q", ev)
	}
	if p, err := m.Paused(); err != nil || !p {
		t.Errorf("Paused: %v %v", p, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if p, err := m.Paused(); err != nil || p {
		t.Errorf("Paused after Thaw: %v %v", p, err)
	}
	// Killing a frozen cgroup works too.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	err = c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(interface{ Signal() unix.Signal }); !ok || ws.Signal() != unix.SIGKILL {
		t.Errorf("the shell ended with %v", err)
	}
	waitEmpty(t, m)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.dir); !os.IsNotExist(err) {
		t.Errorf("after Destroy: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// The device program, attached for real to a cgroup2 directory: the
// kernel runs it for every open and mknod of the cgroup's processes
// (on a hybrid host too, besides the v1 devices controller).
func TestHostV2Devices(t *testing.T) {
	m := unifiedParent(t)
	tmp := t.TempDir()
	script := `
while read x; do
	for d in null zero full; do
		if head -c 1 /dev/$d >/dev/null 2>&1; then echo "$d ok"; else echo "$d denied"; fi
	done
	rm -f "$T/a" "$T/b"
	if mknod "$T/a" c 1 3 2>/dev/null; then echo "mknod 1:3 ok"; else echo "mknod 1:3 denied"; fi
	if mknod "$T/b" c 10 201 2>/dev/null; then echo "mknod 10:201 ok"; else echo "mknod 10:201 denied"; fi
done`
	c := startChild(t, script, "T="+tmp)
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	check := func(want ...string) {
		t.Helper()
		c.send(t, "go")
		var got []string
		for range 5 {
			got = append(got, c.readLine(t))
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	check("null ok", "zero ok", "full ok", "mknod 1:3 ok", "mknod 10:201 ok")

	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll, dev(false, "c", 1, 5, "rwm")}}); err != nil {
		t.Fatal(err)
	}
	check("null ok", "zero denied", "full ok", "mknod 1:3 ok", "mknod 10:201 denied")
	if n := attachedPrograms(t, m.dir); n != 1 {
		t.Errorf("%d programs attached", n)
	}

	// An update replaces the program.
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll, dev(false, "c", 1, 7, "r"), dev(true, "c", 10, wildcard, "m")}}); err != nil {
		t.Fatal(err)
	}
	check("null ok", "zero ok", "full denied", "mknod 1:3 ok", "mknod 10:201 ok")
	if n := attachedPrograms(t, m.dir); n != 1 {
		t.Errorf("%d programs attached after the update", n)
	}
}

func attachedPrograms(t *testing.T, dir string) int {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	q, err := link.QueryPrograms(link.QueryOptions{Target: int(d.Fd()), Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	return len(q.Programs)
}

// New only computes paths.
func TestHostNewCreatesNothing(t *testing.T) {
	if _, err := detectLayout(cgroupRoot); err != nil {
		t.Skip(err)
	}
	name := testDirName(t)
	m, err := New("", name)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Paths()) == 0 {
		t.Fatal("no paths")
	}
	for c, p := range m.Paths() {
		if filepath.Base(p) != name {
			t.Errorf("%s: %s", c, p)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists: %v", p, err)
		}
	}
	if _, err := New("../escape", name); err == nil || !strings.HasPrefix(err.Error(), "linux.cgroupsPath: ") {
		t.Errorf("got %v", err)
	}
}

// Resources through real v2 controllers: on a cgroup v2 host whose root
// passes memory, pids and cpu down (the VM), not on a hybrid one.
func TestHostV2Resources(t *testing.T) {
	m := unifiedParent(t)
	if l, _ := detectLayout(cgroupRoot); l != layoutV2 {
		t.Skip("the unified hierarchy of a hybrid host has no memory, pids or cpu controller")
	}
	avail := strings.Fields(readFile(t, filepath.Join(m.root, "cgroup.controllers")))
	for _, c := range []string{"memory", "pids", "cpu", "cpuset"} {
		if !slices.Contains(avail, c) {
			t.Skipf("the %s controller is not enabled below the root", c)
		}
	}
	c := startChild(t, "read x; (for i in 1 2 3 4 5; do sleep 20 & done; wait); echo status $?")
	if err := m.Apply(c.pid()); err != nil {
		t.Fatal(err)
	}
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Reservation: ptr[int64](16 << 20)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](2048), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "0", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](3)},
	}
	if m.fs.Exists(filepath.Join(m.dir, "memory.swap.max")) {
		r.Memory.Swap = ptr[int64](96 << 20)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"memory.max": "67108864", "memory.low": "16777216", "cpu.weight": "79", "cpu.max": "50000 100000",
		"cpuset.cpus": "0", "cpuset.mems": "0", "pids.max": "3",
	}
	if r.Memory.Swap != nil {
		files["memory.swap.max"] = "33554432"
	}
	for f, want := range files {
		if got := readFile(t, filepath.Join(m.dir, f)); got != want {
			t.Errorf("%s: %q, want %q", f, got, want)
		}
	}
	c.send(t, "go")
	if l := c.readLine(t); l == "status 0" {
		t.Errorf("the forks went through: %q", l)
	}
	if ev := readFile(t, filepath.Join(m.dir, "pids.events")); !strings.HasPrefix(ev, "max ") || ev == "max 0" {
		t.Errorf("pids.events %q", ev)
	}
	// checkBeforeUpdate refuses a limit below the usage.
	usage := readFile(t, filepath.Join(m.dir, "memory.current"))
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4096), CheckBeforeUpdate: ptr(true)}})
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.memory.limit: 4096 is not above the current usage") {
		t.Errorf("usage %s: got %v", usage, err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Limit != 64<<20 || st.Pids.Limit != 3 || st.Pids.Current == 0 {
		t.Errorf("stats %+v", st)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 0 {
		t.Errorf("OOMKillCount %d %v", n, err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	waitEmpty(t, m)
}
