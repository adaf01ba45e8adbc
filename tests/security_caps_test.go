package tests

import (
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The container process gets exactly the capability sets of
// process.capabilities, read back from /proc/self/status.

const capsScript = "grep ^Cap /proc/self/status"

// Root with a bounding, effective and permitted set of two capabilities
// and nothing inheritable: exec as root gives permitted = effective =
// bounding, inheritable and ambient empty. What is not in the sets really
// is gone: chown (CAP_CHOWN) fails.
func TestSecurityCapsRootSubset(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	two := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: two, Effective: two, Permitted: two,
	}
	mask := capMask(t, two...)
	out := e.sh(s, capsScript+"; touch /f; chown 1000 /f && echo chown-ok || echo chown-denied")
	wantCaps(t, "root with [KILL NET_BIND_SERVICE]", parseCaps(t, out), 0, mask, mask, mask, 0)
	if !strings.Contains(out, "chown-denied") {
		t.Errorf("chown worked without CAP_CHOWN:\n%s", out)
	}
}

// uid 1000 with CAP_NET_BIND_SERVICE in every set, ambient included: the
// capability survives the exec of a non-root program in effective,
// permitted and ambient. Without ambient the same process has inheritable
// only: a non-root exec drops the rest.
func TestSecurityCapsNonRootAmbient(t *testing.T) {
	e := newEnv(t)
	nbs := capMask(t, "CAP_NET_BIND_SERVICE")
	t.Run("ambient", func(t *testing.T) {
		s := baseSpec()
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Capabilities = allCaps("CAP_NET_BIND_SERVICE")
		out := e.sh(s, "id -u; "+capsScript)
		if got := lines(out); len(got) == 0 || got[0] != "1000" {
			t.Fatalf("not uid 1000: %q", out)
		}
		wantCaps(t, "uid 1000 with ambient", parseCaps(t, out), nbs, nbs, nbs, nbs, nbs)
	})
	t.Run("no-ambient", func(t *testing.T) {
		s := baseSpec()
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		c := allCaps("CAP_NET_BIND_SERVICE")
		c.Ambient = nil
		s.Process.Capabilities = c
		wantCaps(t, "uid 1000 without ambient", parseCaps(t, e.sh(s, capsScript)), nbs, 0, 0, nbs, 0)
	})
}

// A config without a capabilities object runs with no capability at all,
// as runc does (not with a default set).
func TestSecurityCapsAbsentMeansNone(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Process.Capabilities = nil
	out := e.sh(s, capsScript+"; touch /f; chown 1000 /f && echo chown-ok || echo chown-denied")
	wantCaps(t, "no capabilities object", parseCaps(t, out), 0, 0, 0, 0, 0)
	if !strings.Contains(out, "chown-denied") {
		t.Errorf("root without capabilities could chown:\n%s", out)
	}
}

// A well-formed name this kernel does not know (a config written for a
// newer kernel) is skipped with a warning naming it; the known ones apply.
func TestSecurityCapsUnknownNameWarns(t *testing.T) {
	e := newEnv(t)
	s := baseSpec("sh", "-c", capsScript)
	s.Process.Capabilities = allCaps("CAP_KILL", "CAP_FUTURE_THING")
	r := mustSucceed(t, e.runContainer(s))
	if !strings.Contains(r.stderr, "CAP_FUTURE_THING") {
		t.Errorf("no warning naming CAP_FUTURE_THING on stderr: %q", r.stderr)
	}
	kill := capMask(t, "CAP_KILL")
	wantCaps(t, "known part of [KILL FUTURE_THING]", parseCaps(t, r.stdout), kill, kill, kill, kill, kill)
}

// A malformed name is a config error, whichever set it is in: create and
// run fail with one line naming the set and index, and leave nothing.
func TestSecurityCapsMalformedName(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, "runc 1.1 only warns about unknown capability names")
	for _, set := range []string{"bounding", "effective", "permitted", "inheritable", "ambient"} {
		s := baseSpec("true")
		c := allCaps("CAP_KILL")
		bad := []string{"CAP_KILL", "net_admin"}
		switch set {
		case "bounding":
			c.Bounding = bad
		case "effective":
			c.Effective = bad
		case "permitted":
			c.Permitted = bad
		case "inheritable":
			c.Inheritable = bad
		case "ambient":
			c.Ambient = bad
		}
		s.Process.Capabilities = c
		for _, cmd := range []string{"create", "run"} {
			r := e.failsCleanly(s, cmd, "process.capabilities."+set+"[1]")
			if !strings.Contains(r.stderr, "net_admin") {
				t.Errorf("%s with a malformed name in %s: the error does not quote it: %q", cmd, set, r.stderr)
			}
		}
	}
}

// `exec --cap` adds a capability for the exec'd process only: the init and
// a later plain exec keep the config's sets. `exec --process` with its own
// capabilities object gets exactly that object, here another capability
// than the container has.
func TestSecurityCapsExec(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	two := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: two, Effective: two, Permitted: two}
	c := e.runningContainer(s)
	base := capMask(t, two...)
	withAdmin := base | capMask(t, "CAP_SYS_ADMIN")

	got := parseCaps(t, mustSucceed(t, c.execWith(cmdOpts{}, []string{"--cap", "CAP_SYS_ADMIN"}, "sh", "-c", capsScript)).stdout)
	for _, k := range []string{"CapPrm", "CapEff", "CapBnd"} {
		if got[k] != withAdmin {
			t.Errorf("exec --cap CAP_SYS_ADMIN: %s = %#x, want %#x (%v)", k, got[k], withAdmin, got)
		}
	}
	if !isRunc() && (got["CapInh"] != 0 || got["CapAmb"] != 0) {
		t.Errorf("exec --cap with no inheritable set: %v, want inheritable and ambient empty", got)
	}
	// Only that process got it.
	wantCaps(t, "plain exec after exec --cap", parseCaps(t, mustSucceed(t, c.exec("sh", "-c", capsScript)).stdout),
		0, base, base, base, 0)
	wantCaps(t, "the container's init after exec --cap", parseCaps(t, mustSucceed(t, c.exec("grep", "^Cap", "/proc/1/status")).stdout),
		0, base, base, base, 0)
	wantCaps(t, "the init seen from the host", parseCaps(t, readFile(t, "/proc/"+strconv.Itoa(c.state().Pid)+"/status")),
		0, base, base, base, 0)

	p := baseProcess("sh", "-c", capsScript)
	p.Capabilities = &specs.LinuxCapabilities{
		Bounding: []string{"CAP_CHOWN"}, Effective: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_CHOWN"},
	}
	chown := capMask(t, "CAP_CHOWN")
	wantCaps(t, "exec --process with its own capabilities", parseCaps(t, mustSucceed(t, c.execProcess(p)).stdout),
		0, chown, chown, chown, 0)

	// Without a capabilities object the exec'd process has none, like a
	// container without one (runc 1.1 gives it the container's sets).
	if !isRunc() {
		wantCaps(t, "exec --process without capabilities", parseCaps(t, mustSucceed(t, c.execProcess(baseProcess("sh", "-c", capsScript))).stdout),
			0, 0, 0, 0, 0)
	}

	// A non-root exec'd process with ambient capabilities keeps them.
	p = baseProcess("sh", "-c", capsScript)
	p.User = specs.User{UID: 1000, GID: 1000}
	p.Capabilities = allCaps("CAP_NET_BIND_SERVICE")
	nbs := capMask(t, "CAP_NET_BIND_SERVICE")
	wantCaps(t, "exec --process uid 1000 with ambient", parseCaps(t, mustSucceed(t, c.execProcess(p)).stdout),
		nbs, nbs, nbs, nbs, nbs)
}

// A malformed capability name in `exec --process` fails the exec, not the
// container.
func TestSecurityCapsExecMalformed(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, "runc 1.1 only warns about unknown capability names")
	c := e.runningContainer(baseSpec())
	p := baseProcess("true")
	p.Capabilities = allCaps("CAP_KILL")
	p.Capabilities.Permitted = []string{"net_admin"}
	r := mustFail(t, c.execProcess(p))
	checkErrorMessage(t, r, "process.capabilities.permitted[0]")
	mustSucceed(t, c.exec("true"))
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("container is %s after a failed exec", st.Status)
	}
}

// no_new_privs is set exactly when asked, for the container process and
// for exec'd processes (from the container's process, --no-new-privs, or
// the process.json).
func TestSecurityNoNewPrivsExec(t *testing.T) {
	e := newEnv(t)
	nnp := func(t *testing.T, r result) string {
		t.Helper()
		return statusField(t, mustSucceed(t, r).stdout, "NoNewPrivs")
	}
	for _, on := range []bool{false, true} {
		want := "0"
		if on {
			want = "1"
		}
		s := baseSpec()
		s.Process.NoNewPrivileges = on
		c := e.runningContainer(s)
		if got := nnp(t, c.exec("grep", "NoNewPrivs", "/proc/1/status")); got != want {
			t.Errorf("noNewPrivileges %v: the init has NoNewPrivs %s", on, got)
		}
		if got := nnp(t, c.exec("grep", "NoNewPrivs", "/proc/self/status")); got != want {
			t.Errorf("noNewPrivileges %v: exec has NoNewPrivs %s, want %s", on, got, want)
		}
		if got := nnp(t, c.execWith(cmdOpts{}, []string{"--no-new-privs"}, "grep", "NoNewPrivs", "/proc/self/status")); got != "1" {
			t.Errorf("noNewPrivileges %v: exec --no-new-privs has NoNewPrivs %s", on, got)
		}
		for _, pOn := range []bool{false, true} {
			p := baseProcess("grep", "NoNewPrivs", "/proc/self/status")
			p.NoNewPrivileges = pOn
			pWant := "0"
			if pOn {
				pWant = "1"
			}
			if got := nnp(t, c.execProcess(p)); got != pWant {
				t.Errorf("container noNewPrivileges %v, exec --process noNewPrivileges %v: NoNewPrivs %s", on, pOn, got)
			}
		}
	}
}
