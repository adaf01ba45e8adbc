package tests

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// AppArmor and SELinux on a host that runs neither: a label the config
// asks for cannot be applied, so the container must not run unconfined.

// skipIfLSM skips a test when the host runs AppArmor or SELinux: these
// tests are about a host that runs neither.
func skipIfLSM(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.HasPrefix(string(b), "Y") {
		t.Skip("AppArmor is enabled on this host")
	}
	if exists("/sys/fs/selinux/enforce") {
		t.Skip("SELinux is enabled on this host")
	}
}

func TestSecurityLSMApparmorNotEnabled(t *testing.T) {
	e := newEnv(t)
	skipIfLSM(t)
	s := baseSpec("true")
	s.Process.ApparmorProfile = "husk-test-profile"
	for _, cmd := range []string{"create", "run"} {
		r := e.failsCleanly(s, cmd, "process.apparmorProfile")
		if !isRunc() && !strings.Contains(r.stderr, "not enabled") {
			t.Errorf("%s: the error does not say AppArmor is not enabled: %q", cmd, r.stderr)
		}
	}
}

func TestSecurityLSMSelinuxNotEnabled(t *testing.T) {
	e := newEnv(t)
	skipIfLSM(t)
	s := baseSpec("true")
	s.Process.SelinuxLabel = "system_u:system_r:container_t:s0:c1,c2"
	for _, cmd := range []string{"create", "run"} {
		r := e.failsCleanly(s, cmd, "process.selinuxLabel")
		if !isRunc() && !strings.Contains(r.stderr, "not enabled") {
			t.Errorf("%s: the error does not say SELinux is not enabled: %q", cmd, r.stderr)
		}
	}
}

// An exec'd process asking for a label is refused the same way, and the
// container keeps running.
func TestSecurityLSMExecNotEnabled(t *testing.T) {
	e := newEnv(t)
	skipIfLSM(t)
	c := e.runningContainer(baseSpec())
	for _, field := range []string{"apparmorProfile", "selinuxLabel"} {
		p := baseProcess("touch", "/ran-"+field)
		if field == "apparmorProfile" {
			p.ApparmorProfile = "husk-test-profile"
		} else {
			p.SelinuxLabel = "system_u:system_r:container_t:s0"
		}
		r := mustFail(t, c.execProcess(p))
		checkErrorMessage(t, r, "process."+field)
		if !isRunc() && !strings.Contains(r.stderr, "not enabled") {
			t.Errorf("exec with %s: %q does not say it is not enabled", field, r.stderr)
		}
		if exists(c.b.hostPath("ran-" + field)) {
			t.Errorf("exec with %s ran the process unconfined", field)
		}
	}
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("container is %s after the refused execs", st.Status)
	}
}

// linux.mountLabel alone is ignored when SELinux is off, as newer runc
// versions do.
func TestSecurityLSMMountLabelIgnored(t *testing.T) {
	e := newEnv(t)
	skipIfLSM(t)
	skipIfRunc(t, "runc 1.1.5 adds context= to the mount options even without SELinux, and the mount fails")
	s := baseSpec()
	s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
	s.Mounts = append(s.Mounts, tmpfsMount("/mnt/t"))
	out, mi := e.runWithMountinfo(s, "echo ran")
	wantLines(t, out, "ran")
	if strings.Contains(mi, "context=") {
		t.Errorf("a mount got an SELinux context:\n%s", mi)
	}
}

// CVE-2019-16884 class: a bind mount of a host directory over /proc (a
// fake procfs whose attr files would swallow the label) plus an AppArmor
// profile. Here AppArmor is off, so the config is refused before anything
// is mounted; the fake attr file stays untouched.
func TestSecurityLSMFakeProcApparmor(t *testing.T) {
	e := newEnv(t)
	skipIfLSM(t)
	fake := fakeProc(t, e)
	s := baseSpec("true")
	s.Mounts[0] = bindMount(fake, "/proc")
	s.Process.ApparmorProfile = "husk-test-profile"
	for _, cmd := range []string{"create", "run"} {
		e.failsCleanly(s, cmd, "process.apparmorProfile")
	}
	for _, f := range []string{"self/attr/apparmor/exec", "self/attr/exec", "thread-self/attr/apparmor/exec", "thread-self/attr/exec"} {
		if got := readFile(t, fake+"/"+f); got != "" {
			t.Errorf("fake %s was written: %q", f, got)
		}
	}
}

// fakeProc makes a host directory that looks like the parts of procfs a
// runtime writes to: LSM attr files and a sysctl.
func fakeProc(t *testing.T, e *env) string {
	t.Helper()
	dir := e.hostDir()
	for _, f := range []string{"self/attr/apparmor/exec", "self/attr/exec", "thread-self/attr/apparmor/exec", "thread-self/attr/exec"} {
		writeFile(t, dir+"/"+f, "", 0o666)
	}
	writeFile(t, dir+"/sys/net/ipv4/ip_forward", "0\n", 0o644)
	return dir
}
