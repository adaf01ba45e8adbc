package vmtests

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// (a) Sanity: a container runs and prints, whatever the runtime's cgroup
// support. It always runs, VM_EXPECT_CGROUPS or not.
func TestHello(t *testing.T) {
	requireEnv(t)
	c := newContainer(t, "echo", "hello")
	r := c.run()
	if r.code != 0 || r.stdout != "hello\n" {
		t.Fatalf("want exit 0 and \"hello\\n\": %v", r)
	}
}

// (b) linux.resources.memory.limit becomes memory.max, and a process that
// grows past it is OOM-killed while the container's init lives on.
func TestMemoryLimit(t *testing.T) { cgroupTest(t, testMemoryLimit) }

func testMemoryLimit(t *testing.T) {
	const limit = 32 << 20
	// The inner shell keeps 64 MiB of output in a variable: killed at 32 MiB.
	c := newContainer(t, "sh", "-c",
		`sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived ${#x}' >/out/hog.out 2>&1; `+
			`echo $? >/out/hog; exec sleep 600`)
	c.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(limit))}
	pid := c.start()
	c.checkInCgroup(pid)
	if got := c.cgroupFile("memory.max"); got != strconv.Itoa(limit) {
		t.Errorf("memory.max = %q, want %d", got, limit)
	}
	status := c.outFile("hog")
	if status != "137" {
		t.Errorf("the memory hog exited %s, want 137 (SIGKILL by the OOM killer); its output: %q",
			status, readOut(t, c, "hog.out"))
	}
	if n, _ := strconv.Atoi(c.cgroupKey("memory.events", "oom_kill")); n < 1 {
		t.Errorf("memory.events: oom_kill %d, want >= 1", n)
	}
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("the container's init should outlive the hog: status %s", st.Status)
	}
}

// (c) linux.resources.pids.limit becomes pids.max, and fork fails past it.
func TestPidsLimit(t *testing.T) { cgroupTest(t, testPidsLimit) }

func testPidsLimit(t *testing.T) {
	const limit = 12
	// The subshell forks sleeps until ash gives up on a failed fork; the
	// sleeps it started keep the count at the limit.
	c := newContainer(t, "sh", "-c",
		`(i=0; while [ $i -lt 40 ]; do sleep 600 & i=$((i+1)); done; echo all forked) >/out/fork.out 2>&1; `+
			`echo $? >/out/fork; exec sleep 600`)
	c.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(limit))}
	pid := c.start()
	c.checkInCgroup(pid)
	status := c.outFile("fork")
	out := readOut(t, c, "fork.out")
	if got := c.cgroupFile("pids.max"); got != strconv.Itoa(limit) {
		t.Errorf("pids.max = %q, want %d", got, limit)
	}
	if status == "0" || strings.Contains(out, "all forked") || !strings.Contains(out, "fork") {
		t.Errorf("want fork to fail past %d tasks: subshell exit %s, output %q", limit, status, out)
	}
	if n, _ := strconv.Atoi(c.cgroupFile("pids.current")); n > limit {
		t.Errorf("pids.current = %d, above the limit %d", n, limit)
	}
	if n, _ := strconv.Atoi(c.cgroupKey("pids.events", "max")); n < 1 {
		t.Errorf("pids.events: max %d, want >= 1", n)
	}
}

// (d) The device program: a node that linux.devices creates but no rule of
// linux.resources.devices allows cannot be opened; one that a rule allows
// can. /dev/kmsg (c 1:11) opens for writing without any capability, so only
// the cgroup's device program can refuse it.
func TestDevices(t *testing.T) { cgroupTest(t, testDevices) }

func testDevices(t *testing.T) {
	c := newContainer(t, "sh", "-c", `
		for d in vmt-denied vmt-allowed; do [ -c /dev/$d ] || echo "no /dev/$d"; done
		if echo vmtests >/dev/vmt-denied; then echo denied-opened; fi
		if echo vmtests >/dev/vmt-allowed; then echo allowed-opened; fi
		true`)
	mode := os.FileMode(0o666)
	zero := uint32(0)
	c.spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/vmt-denied", Type: "c", Major: 1, Minor: 11, FileMode: &mode, UID: &zero, GID: &zero},
		{Path: "/dev/vmt-allowed", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &zero, GID: &zero},
	}
	c.spec.Linux.Resources.Devices = append(c.spec.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rw"})
	r := c.run()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if strings.Contains(r.stdout, "no /dev/") {
		t.Fatalf("the device nodes of linux.devices are missing: %v", r)
	}
	if strings.Contains(r.stdout, "denied-opened") || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("c 1:11, allowed by no rule, should fail to open with EPERM: %v", r)
	}
	if !strings.Contains(r.stdout, "allowed-opened") {
		t.Errorf("c 1:3, allowed by a rule, should open: %v", r)
	}
}

// (e) pause and resume freeze and thaw the cgroup (cgroup.freeze).
func TestPauseResume(t *testing.T) { cgroupTest(t, testPauseResume) }

func testPauseResume(t *testing.T) {
	c := newContainer(t, "sh", "-c", `i=0; while :; do i=$((i+1)); echo $i >/out/count; usleep 50000; done`)
	pid := c.start()
	c.checkInCgroup(pid)
	// The loop rewrites /out/count: compare whole contents, since a freeze
	// can land between the truncation and the write.
	count := func() string {
		b, _ := os.ReadFile(c.out + "/count")
		return string(b)
	}
	advances := func() bool {
		a := count()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			if b := count(); b != a && b != "" {
				return true
			}
		}
		return false
	}
	stands := func() bool {
		a := count()
		time.Sleep(time.Second)
		return count() == a
	}
	if !advances() {
		t.Fatal("the counter does not advance in a running container")
	}

	c.must("pause", c.id)
	if st := c.state(); st.Status != specs.ContainerState("paused") {
		t.Errorf("status after pause: %s, want paused", st.Status)
	}
	if got := c.cgroupFile("cgroup.freeze"); got != "1" {
		t.Errorf("cgroup.freeze after pause = %q, want 1", got)
	}
	if got := c.cgroupKey("cgroup.events", "frozen"); got != "1" {
		t.Errorf("cgroup.events after pause: frozen %s, want 1", got)
	}
	if !stands() {
		t.Error("the counter advances in a paused container")
	}

	c.must("resume", c.id)
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("status after resume: %s, want running", st.Status)
	}
	if got := c.cgroupFile("cgroup.freeze"); got != "0" {
		t.Errorf("cgroup.freeze after resume = %q, want 0", got)
	}
	if got := c.cgroupKey("cgroup.events", "frozen"); got != "0" {
		t.Errorf("cgroup.events after resume: frozen %s, want 0", got)
	}
	if !advances() {
		t.Error("the counter does not advance after resume")
	}
}

// (f) No cgroup is left behind: after kill and delete, after delete -f of a
// running container, and after a foreground run.
func TestCgroupRemoved(t *testing.T) { cgroupTest(t, testCgroupRemoved) }

func testCgroupRemoved(t *testing.T) {
	gone := func(c *container, after string) {
		t.Helper()
		if _, err := os.Stat(c.cgroupDir()); !os.IsNotExist(err) {
			procs, _ := os.ReadFile(c.cgroupDir() + "/cgroup.procs")
			t.Errorf("after %s, %s is still there (err %v, cgroup.procs %q)", after, c.cgroupDir(), err, procs)
		}
	}

	c := newContainer(t, "sleep", "600")
	pid := c.start()
	c.checkInCgroup(pid)
	if procs := c.cgroupFile("cgroup.procs"); procs != strconv.Itoa(pid) {
		t.Errorf("cgroup.procs = %q, want the init pid %d", procs, pid)
	}
	c.must("kill", c.id, "KILL")
	c.waitStatus(specs.StateStopped)
	c.must("delete", c.id)
	gone(c, "kill and delete")

	c = newContainer(t, "sleep", "600")
	c.checkInCgroup(c.start())
	c.must("delete", "-f", c.id)
	gone(c, "delete -f")

	c = newContainer(t, "sh", "-c", `cat /proc/self/cgroup`)
	r := c.run()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	gone(c, "run")
}

func readOut(t *testing.T, c *container, name string) string {
	t.Helper()
	b, _ := os.ReadFile(c.out + "/" + name)
	return strings.TrimSpace(string(b))
}

func ptr[T any](v T) *T { return &v }
