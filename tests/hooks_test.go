package tests

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var hookKinds = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// loggingHook appends "NAME ENV STATE-JSON" to log. The log's directory is
// bind-mounted into the container at the same path (see hookSpec), so hooks
// run in the container's mount namespace write to the same file.
func loggingHook(name, log string) specs.Hook {
	h := shellHook(`echo "$1 $HOOK_ENV $(cat)" >> `+log, "HOOK_ENV=env-"+name)
	h.Args = append(h.Args, "sh", name)
	return h
}

// shellHook runs script with /bin/sh, with a PATH and env in its environment.
func shellHook(script string, env ...string) specs.Hook {
	return specs.Hook{
		Path: "/bin/sh",
		Args: []string{"sh", "-c", script},
		Env:  append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...),
	}
}

func setHook(s *specs.Spec, kind string, h specs.Hook) {
	if s.Hooks == nil {
		s.Hooks = &specs.Hooks{}
	}
	lists := map[string]*[]specs.Hook{
		//lint:ignore SA1019 deprecated in the spec, still supported and tested
		"prestart": &s.Hooks.Prestart, "createRuntime": &s.Hooks.CreateRuntime,
		"createContainer": &s.Hooks.CreateContainer, "startContainer": &s.Hooks.StartContainer,
		"poststart": &s.Hooks.Poststart, "poststop": &s.Hooks.Poststop,
	}
	*lists[kind] = append(*lists[kind], h)
}

// hookSpec returns a spec running args with a host directory bind-mounted
// at its host path, and that directory: hooks and the container program can
// leave files there at the same path whichever namespace they run in.
func (e *env) hookSpec(args ...string) (*specs.Spec, string) {
	dir := e.hostDir()
	s := baseSpec(args...)
	s.Mounts = append(s.Mounts, bindMount(dir, dir))
	return s, dir
}

type hookCall struct {
	name, env string
	state     specs.State
}

func readHookLog(t *testing.T, log string) []hookCall {
	t.Helper()
	var calls []hookCall
	for _, l := range lines(readIfExists(t, log)) {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			t.Fatalf("bad hook log line %q", l)
		}
		c := hookCall{name: f[0], env: f[1]}
		if err := json.Unmarshal([]byte(f[2]), &c.state); err != nil {
			t.Fatalf("hook %s got no state JSON on stdin: %q: %v", f[0], f[2], err)
		}
		calls = append(calls, c)
	}
	return calls
}

func hookNames(calls []hookCall) string {
	var n []string
	for _, c := range calls {
		n = append(n, c.name)
	}
	return strings.Join(n, " ")
}

func TestHooksOrderStateArgsEnv(t *testing.T) {
	e := newEnv(t)
	s, dir := e.hookSpec(sleeper...)
	log := filepath.Join(dir, "log")
	for _, k := range hookKinds {
		setHook(s, k, loggingHook(k, log))
	}
	order, afterCreate := hookKinds, 3
	if isRunc() {
		// runc 1.1 runs poststart hooks at the end of create, not start.
		order = []string{"prestart", "createRuntime", "createContainer", "poststart", "startContainer", "poststop"}
		afterCreate = 4
	}
	c := e.create(s)
	pid := c.state().Pid
	if got := hookNames(readHookLog(t, log)); got != strings.Join(order[:afterCreate], " ") {
		t.Fatalf("hooks run by create: %q, want %q", got, order[:afterCreate])
	}
	c.start()
	c.waitReady("ready")
	if got := hookNames(readHookLog(t, log)); got != strings.Join(order[:5], " ") {
		t.Fatalf("hooks run by create and start: %q, want %q", got, order[:5])
	}
	mustSucceed(t, c.kill("KILL"))
	c.waitStatus(specs.StateStopped)
	mustSucceed(t, c.delete())
	c.assertGone()

	calls := readHookLog(t, log)
	if got := hookNames(calls); got != strings.Join(order, " ") {
		t.Fatalf("hooks %q, want %q", got, order)
	}
	wantStatus := map[string]specs.ContainerState{
		"prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
		"startContainer": "created", "poststart": "running", "poststop": "stopped",
	}
	if isRunc() {
		wantStatus["poststart"] = "created" // it runs during create
	}
	for _, call := range calls {
		st := call.state
		if call.env != "env-"+call.name || st.ID != c.id || st.Bundle != c.b.dir || st.Status != wantStatus[call.name] {
			t.Errorf("hook %s: env %q, state %+v", call.name, call.env, st)
		}
		// The pid is the container process as seen from where the hook runs:
		// the runtime's namespaces, or the container's (where it is 1).
		wantPid := pid
		switch call.name {
		case "createContainer", "startContainer":
			wantPid = 1
		case "poststop":
			wantPid = 0
		}
		if st.Pid != wantPid && !(call.name == "poststop" && st.Pid == pid) {
			t.Errorf("hook %s got pid %d, want %d", call.name, st.Pid, wantPid)
		}
	}
}

func TestHookTimeout(t *testing.T) {
	e := newEnv(t)
	s, dir := e.hookSpec("true")
	log := filepath.Join(dir, "log")
	one := 1
	// Without the timeout the hook would succeed after 10s: only killing it
	// makes create fail. exec: the killed hook must leave no process behind.
	setHook(s, "createRuntime", specs.Hook{
		Path:    "/bin/sh",
		Args:    []string{"sh", "-c", "echo started >> " + log + "; exec sleep 10"},
		Timeout: &one,
	})
	c := e.newContainer(s)
	r := mustFail(t, c.husk("create"))
	checkErrorMessage(t, r, "hook", "createRuntime", "timeout", "timed out")
	if got := strings.Join(lines(readIfExists(t, log)), " "); got != "started" {
		t.Errorf("hook log %q, want the hook to have started", got)
	}
	c.assertGone()
}

// A failing hook before the container starts makes create fail, the user
// program never runs and nothing is left behind.
func TestHookFailureFailsCreate(t *testing.T) {
	requireRoot(t)
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			s, dir := e.hookSpec()
			ran := filepath.Join(dir, "ran")
			s.Process.Args = []string{"touch", ran}
			setHook(s, kind, specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 7"}})
			c := e.newContainer(s)
			r := mustFail(t, c.husk("create"))
			checkErrorMessage(t, r, "hook", kind)
			if exists(ran) {
				t.Error("the container program ran although a hook failed")
			}
			c.assertGone()
		})
	}
}

// hookAfterFailure is a hook that runs after a failing one of the same
// kind and leaves a file in dir, so a test can see the rest still ran.
func hookAfterFailure(dir string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + filepath.Join(dir, "after")}}
}

// Spec: a failing poststart hook is only a warning: start succeeds with a
// warning on stderr, the remaining poststart hooks still run, and the
// state stays consistent: running with a live process, or stopped. delete
// -f then removes everything.
func TestPoststartHookFailure(t *testing.T) {
	e := newEnv(t)
	dir := e.hostDir()
	s := baseSpec(sleeper...)
	setHook(s, "poststart", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 7"}})
	s.Hooks.Poststart = append(s.Hooks.Poststart, hookAfterFailure(dir))
	c := e.newContainer(s)
	r := c.husk("create")
	if isRunc() {
		mustFail(t, r) // runc 1.1 runs poststart hooks during create
	} else {
		mustSucceed(t, r)
		r = mustSucceed(t, e.husk("start", c.id))
		if !strings.Contains(r.stderr, "warning: hooks.poststart[0]") {
			t.Errorf("the failing poststart hook was not reported:\n%v", r)
		}
		if got := readIfExists(t, filepath.Join(dir, "after")); got != "ran\n" {
			t.Errorf("the poststart hook after the failing one did not run (its file: %q)", got)
		}
		st := c.state()
		if !(st.Status == specs.StateRunning && pidAlive(st.Pid)) && st.Status != specs.StateStopped {
			t.Errorf("inconsistent state after a failing poststart hook: %+v (alive %v)", st, pidAlive(st.Pid))
		}
		mustSucceed(t, c.delete("-f"))
	}
	c.assertGone()
}

// A failing poststop hook is reported by delete, which still runs the
// remaining poststop hooks and removes the container.
func TestPoststopHookFailure(t *testing.T) {
	e := newEnv(t)
	dir := e.hostDir()
	s := baseSpec(sleeper...)
	setHook(s, "poststop", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo poststop-failed >&2; exit 7"}})
	s.Hooks.Poststop = append(s.Hooks.Poststop, hookAfterFailure(dir))
	c := e.runDetached(s)
	c.waitReady("ready")
	mustSucceed(t, c.kill("KILL"))
	c.waitStatus(specs.StateStopped)
	r := c.delete()
	if r.code == 0 && strings.TrimSpace(r.stderr) == "" {
		t.Errorf("the failing poststop hook was not reported:\n%v", r)
	}
	if r.code < 0 {
		t.Fatal(fmt.Sprint(r))
	}
	if !isRunc() && r.code != 0 {
		t.Errorf("delete failed for a poststop hook, which is only a warning:\n%v", r)
	}
	if got := readIfExists(t, filepath.Join(dir, "after")); got != "ran\n" {
		t.Errorf("the poststop hook after the failing one did not run (its file: %q)", got)
	}
	c.assertGone()
}
