package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// `create` killed half-way (by its own createRuntime hook, which runs as its
// child while the container's init waits for the hooks) leaves no container
// process behind, and a plain `delete` removes what is left of the state so
// that `list` is empty.
func TestMoreCreateKilledMidway(t *testing.T) {
	e := newEnv(t)
	s, dir := e.hookSpec()
	ran := filepath.Join(dir, "ran")
	s.Process.Args = []string{"touch", ran}
	hookState := filepath.Join(dir, "hook-state.json")
	// The state on stdin names the init's host pid; then the hook kills its
	// parent, the runtime's create process.
	setHook(s, "createRuntime", specs.Hook{
		Path: "/bin/sh",
		Args: []string{"sh", "-c", "cat > " + hookState + " && kill -9 $PPID"},
		Env:  []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
	})
	c := e.newContainer(s)
	r := c.husk("create")
	if r.code != -1 || strings.Contains(r.stderr, "killed by the test harness") {
		t.Fatalf("create was not killed by its hook:\n%v", r)
	}
	st, err := parseState(readFile(t, hookState))
	if err != nil || st.Pid <= 0 || st.ID != c.id {
		t.Fatalf("state given to the hook: %+v (%v)", st, err)
	}
	// Nothing can tell the test when the orphaned init notices its parent
	// is gone.
	poll(t, fmt.Sprintf("container init %d to end", st.Pid), func() bool { return !pidAlive(st.Pid) })
	poll(t, "no process inside the bundle", func() bool { return len(processesInside(t, c.b.dir)) == 0 })
	if exists(ran) {
		t.Error("the container program ran although create was killed")
	}

	// runc's delete fails for a container it never finished creating, after
	// removing its directory; either outcome is fine, a crash is not.
	if r := c.delete(); r.code < 0 || goCrash.MatchString(r.stderr) {
		t.Fatalf("delete of the half-created container:\n%v", r)
	}
	if ids := e.listIDs(t); len(ids) != 0 {
		t.Errorf("list after delete: %q", ids)
	}
	c.assertGone()
	if exists(ran) {
		t.Error("the container program ran")
	}
}

// A created container that never started can be deleted without --force:
// its init is gone once delete returns and the user program never ran.
func TestMoreDeleteCreatedWithoutForce(t *testing.T) {
	e := newEnv(t)
	out := e.hostDir()
	ran := filepath.Join(out, "ran")
	s := baseSpec("touch", "/out/ran")
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	c := e.create(s)
	st := c.state()
	if st.Status != specs.StateCreated || !pidAlive(st.Pid) {
		t.Fatalf("state after create: %+v", st)
	}
	mustSucceed(t, c.delete())
	if pidAlive(st.Pid) {
		t.Errorf("init %d still alive after delete returned", st.Pid)
	}
	c.assertGone()
	mustFail(t, e.husk("start", c.id))
	if exists(ran) {
		t.Error("the user program of a deleted, never started container ran")
	}
}

// A state root whose path is too long for a unix socket address (about 108
// bytes) still works for the whole life cycle.
func TestMoreLongRootPath(t *testing.T) {
	e := newEnv(t)
	root := e.dir
	for len(root) < 150 {
		root = filepath.Join(root, strings.Repeat("r", 40))
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	e.root = root
	c := e.create(baseSpec(sleeper...))
	if len(filepath.Join(root, c.id, "start.sock")) <= 108 {
		t.Fatalf("root %q is not long enough", root)
	}
	if st := c.state(); st.Status != specs.StateCreated {
		t.Fatalf("state after create: %+v", st)
	}
	c.start()
	c.waitReady("ready")
	if st := c.state(); st.Status != specs.StateRunning {
		t.Fatalf("state after start: %+v", st)
	}
	if r := mustSucceed(t, c.exec("echo", "exec-ok")); r.stdout != "exec-ok\n" {
		t.Errorf("exec printed %q", r.stdout)
	}
	mustSucceed(t, c.kill("KILL"))
	c.waitStatus(specs.StateStopped)
	mustSucceed(t, c.delete())
	c.assertGone()

	// run in the foreground too.
	if out := e.runOK(baseSpec(), "echo", "run-ok"); out != "run-ok\n" {
		t.Errorf("run printed %q", out)
	}
}
