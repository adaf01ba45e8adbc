package tests

import (
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Process attributes runc 1.1 does not implement: linux.personality,
// process.ioPriority, process.scheduler and process.execCPUAffinity.

const runcLacksProcAttrs = "runc 1.1 has no personality, ioPriority, scheduler or execCPUAffinity"

func TestSecurityPersonalityLinux32(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, runcLacksProcAttrs)
	if runtime.GOARCH != "amd64" {
		t.Skip("uname -m under LINUX32 is checked on x86_64 only")
	}
	s := baseSpec()
	// Control: the default personality.
	wantLines(t, lines(e.sh(s, "uname -m; cat /proc/self/personality")), "x86_64", "00000000")
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	wantLines(t, lines(e.sh(s, "uname -m; cat /proc/self/personality")), "i686", "00000008")
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux}
	wantLines(t, lines(e.sh(s, "uname -m; cat /proc/self/personality")), "x86_64", "00000000")
}

func TestSecurityPersonalityBadDomain(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, runcLacksProcAttrs)
	s := baseSpec("true")
	s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"}
	for _, cmd := range []string{"create", "run"} {
		e.failsCleanly(s, cmd, "linux.personality.domain")
	}
}

// busybox ionice prints the class ("idle", "best-effort: prio N") of a pid.
func TestSecurityIOPriority(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, runcLacksProcAttrs)
	s := baseSpec()
	wantLines(t, lines(e.sh(s, "ionice -p $$")), "none: prio 0") // control
	s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
	wantLines(t, lines(e.sh(s, "ionice -p $$")), "idle")
	s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
	wantLines(t, lines(e.sh(s, "ionice -p $$")), "best-effort: prio 6")

	// exec --process: its own priority; a plain exec has none set.
	s.Process.IOPriority = nil
	c := e.runningContainer(s)
	p := baseProcess("sh", "-c", "ionice -p $$")
	p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 3}
	wantLines(t, lines(mustSucceed(t, c.execProcess(p)).stdout), "best-effort: prio 3")
	wantLines(t, lines(mustSucceed(t, c.exec("sh", "-c", "ionice -p $$")).stdout), "none: prio 0")

	for _, bad := range []struct {
		prio  specs.LinuxIOPriority
		field string
	}{
		{specs.LinuxIOPriority{Class: "IOPRIO_CLASS_FOO"}, "process.ioPriority.class"},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}, "process.ioPriority.priority"},
	} {
		bs := baseSpec("true")
		bs.Process.IOPriority = &bad.prio
		e.failsCleanly(bs, "create", bad.field)
	}
}

// schedOf returns the policy (field 41) and nice value (field 19) of a
// /proc/PID/stat line.
func schedOf(t *testing.T, stat string) (policy, nice string) {
	t.Helper()
	i := strings.LastIndexByte(stat, ')')
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if i < 0 || len(f) < 39 {
		t.Fatalf("malformed stat %q", stat)
	}
	return f[38], f[16]
}

func TestSecurityScheduler(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, runcLacksProcAttrs)
	s := baseSpec("cat", "/proc/self/stat")
	if pol, nice := schedOf(t, e.runOK(s)); pol != "0" || nice != "0" {
		t.Fatalf("control: policy %s nice %s, want 0 0", pol, nice)
	}
	s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
	if pol, nice := schedOf(t, e.runOK(s)); pol != "3" || nice != "5" {
		t.Errorf("SCHED_BATCH nice 5: policy %s nice %s, want 3 5", pol, nice)
	}
	s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedIdle}
	if pol, _ := schedOf(t, e.runOK(s)); pol != "5" {
		t.Errorf("SCHED_IDLE: policy %s, want 5", pol)
	}

	c := e.runningContainer(baseSpec())
	p := baseProcess("cat", "/proc/self/stat")
	p.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}
	if pol, nice := schedOf(t, mustSucceed(t, c.execProcess(p)).stdout); pol != "3" || nice != "7" {
		t.Errorf("exec --process SCHED_BATCH nice 7: policy %s nice %s", pol, nice)
	}

	bs := baseSpec("true")
	bs.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FOO"}
	e.failsCleanly(bs, "create", "process.scheduler.policy")
}

// execCPUAffinity.final pins the exec'd process; the container's init and
// other exec'd processes keep their CPUs.
func TestSecurityExecCPUAffinity(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, runcLacksProcAttrs)
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() < 2 || !set.IsSet(0) {
		t.Skip("needs CPU 0 and at least one more")
	}
	c := e.runningContainer(baseSpec())
	const script = "grep Cpus_allowed_list /proc/self/status /proc/1/status"
	before := mustSucceed(t, c.exec("sh", "-c", script)).stdout
	if strings.Contains(before, ":\t0\n") {
		t.Fatalf("already on CPU 0 only:\n%s", before)
	}

	p := baseProcess("sh", "-c", script)
	p.ExecCPUAffinity = &specs.CPUAffinity{Final: "0"}
	out := lines(mustSucceed(t, c.execProcess(p)).stdout)
	if len(out) != 2 || !strings.HasSuffix(out[0], "Cpus_allowed_list:\t0") && !strings.HasSuffix(out[0], "Cpus_allowed_list: 0") {
		t.Errorf("exec with final \"0\": %q", out)
	}
	if got := lines(before); len(out) == 2 && len(got) == 2 && out[1] != got[1] {
		t.Errorf("the init's CPUs changed: %q, was %q", out[1], got[1])
	}
	if after := mustSucceed(t, c.exec("sh", "-c", script)).stdout; after != before {
		t.Errorf("a later exec has %q, want %q", after, before)
	}

	for _, tc := range []struct{ initial, final, field string }{
		{"", "0-foo", "process.execCPUAffinity.final"},
		{"3-1", "", "process.execCPUAffinity.initial"},
		{"", "99999", "process.execCPUAffinity.final"},
	} {
		p := baseProcess("touch", "/affinity-ran")
		p.ExecCPUAffinity = &specs.CPUAffinity{Initial: tc.initial, Final: tc.final}
		r := mustFail(t, c.execProcess(p))
		checkErrorMessage(t, r, tc.field)
		if exists(c.b.hostPath("affinity-ran")) {
			t.Errorf("exec with %+v ran", tc)
		}
	}
	bs := baseSpec("true")
	bs.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "x"}
	e.failsCleanly(bs, "create", "process.execCPUAffinity.final")
}
