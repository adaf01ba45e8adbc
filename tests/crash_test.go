package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Crashes: husk SIGKILLed at each phase of `create`, and the container's
// init (or nsenter) killed at each phase. Afterwards `state` and `list` are
// truthful (the container is gone or stopped, never "creating" for ever),
// `delete` removes everything, and the ID can be used again. Each phase is
// reached while create is held there: a file or directory appearing while
// nsenter is blocked, a hook that reports and then blocks on a fifo, a
// process blocked in a syscall.

// childrenOf lists the children of pid (every thread's).
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// ppidOf is the parent of pid as the host sees it.
func ppidOf(t *testing.T, pid int) int {
	t.Helper()
	v := statusField(t, readFile(t, fmt.Sprintf("/proc/%d/status", pid)), "PPid")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("/proc/%d/status: PPid %q: %v", pid, v, err)
	}
	return n
}

// hookCtl makes hooks that report and then block until released. Their
// directory is bind-mounted into the container at the same path, so hooks
// in the container's namespaces use the same files.
type hookCtl struct {
	t      *testing.T
	dir    string
	marker string
}

// blockingHook adds a `kind` hook that saves the state it is given to
// kind.state, creates kind.ready, and then blocks reading kind.fifo: it
// succeeds once release opens and closes the fifo. It execs the blocking
// command so the hook process itself is what blocks. Run again (a second
// delete runs poststop again), it succeeds at once.
func (h *hookCtl) blockingHook(s *specs.Spec, kind string) {
	base := filepath.Join(h.dir, kind)
	if err := unix.Mkfifo(base+".fifo", 0o600); err != nil {
		h.t.Fatal(err)
	}
	setHook(s, kind, specs.Hook{
		Path: "/bin/sh",
		Args: []string{"sh", "-c", `[ -e "$1.ready" ] && exit 0; cat > "$1.state"; : > "$1.ready"; exec cat "$1.fifo" > /dev/null`, "sh", base},
		Env:  []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", markEnv(h.marker)},
	})
}

// waitHook returns once the kind hook runs and blocks, with the state it got.
func (h *hookCtl) waitHook(kind string) specs.State {
	h.t.Helper()
	waitFile(h.t, filepath.Join(h.dir, kind+".ready"))
	var st specs.State
	if err := json.Unmarshal([]byte(readFile(h.t, filepath.Join(h.dir, kind+".state"))), &st); err != nil {
		h.t.Fatalf("%s hook state: %v", kind, err)
	}
	return st
}

// release lets the kind hook finish successfully. The hook opens the fifo
// just after it reports ready: until it has, opening for writing without
// blocking fails with ENXIO.
func (h *hookCtl) release(kind string) {
	h.t.Helper()
	var f *os.File
	poll(h.t, kind+" hook to open its fifo", func() bool {
		var err error
		f, err = os.OpenFile(filepath.Join(h.dir, kind+".fifo"), os.O_WRONLY|unix.O_NONBLOCK, 0)
		if err != nil && !errors.Is(err, unix.ENXIO) {
			h.t.Fatalf("release %s hook: %v", kind, err)
		}
		return err == nil
	})
	f.Close()
}

// blockNsenter makes nsenter block before it reports the init's pid: a
// namespace path that is a fifo blocks it in open(2) for ever.
func blockNsenter(h *hookCtl, s *specs.Spec) {
	fifo := filepath.Join(h.dir, "ns.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		h.t.Fatal(err)
	}
	setNamespace(s, specs.LinuxNamespace{Type: specs.UTSNamespace, Path: fifo})
}

// waitNsenterBlocked returns nsenter's pid once it is blocked by
// blockNsenter: after the state directory, the cgroup directory the init
// is cloned into and the start socket are made, before any message.
func waitNsenterBlocked(k *crashCase, r *running) int {
	t := k.e.t
	t.Helper()
	var nsenter int
	poll(t, "nsenter to block opening the fifo", func() bool {
		for _, pid := range childrenOf(r.cmd.Process.Pid) {
			cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
			sc, _ := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
			if cwd == k.c.b.dir && strings.HasPrefix(string(sc), strconv.Itoa(unix.SYS_OPENAT)+" ") {
				nsenter = pid
				return true
			}
		}
		return false
	})
	return nsenter
}

// crashCase is a container whose create is interrupted.
type crashCase struct {
	e      *env
	c      *container
	h      *hookCtl
	marker string
}

// newCrashCase makes a container with the marker in its environment;
// prepare may add hooks (through h) or change the spec.
func (e *env) newCrashCase(prepare func(s *specs.Spec, h *hookCtl)) *crashCase {
	e.t.Helper()
	marker := e.newMarker()
	s, dir := e.hookSpec("sleep", "30")
	s.Process.Env = append(s.Process.Env, markEnv(marker))
	h := &hookCtl{t: e.t, dir: dir, marker: marker}
	if prepare != nil {
		prepare(s, h)
	}
	return &crashCase{e: e, c: e.newContainer(s), h: h, marker: marker}
}

// startCreate starts `create` in the background.
func (k *crashCase) startCreate() *running {
	k.e.t.Helper()
	return startCmd(k.e.t, cmdOpts{}, k.e.huskArgs([]string{"create", "--bundle", k.c.b.dir, k.c.id})...)
}

// killed SIGKILLs the command and returns its result.
func killed(t *testing.T, r *running) result {
	t.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	return r.wait()
}

// assertTruthful checks that `state` and `list` show the container as
// absent or stopped. A child that husk forked just before it was killed
// holds the lock for the moment it takes to exit (every forked child has
// the fds until it execs), and the container is "creating" until then.
func (k *crashCase) assertTruthful() {
	t := k.e.t
	t.Helper()
	poll(t, "the killed create's lock to be released", func() bool {
		st, err := parseState(k.e.husk("state", k.c.id).stdout)
		return err != nil || st.Status != specs.StateCreating
	})
	if r := k.e.husk("state", k.c.id); r.code == 0 {
		if st, err := parseState(r.stdout); err != nil || st.Status != specs.StateStopped || st.Pid != 0 {
			t.Errorf("state after the crash: %+v (%v), want stopped without a pid\n%v", st, err, r)
		}
	} else if !strings.Contains(r.stderr, "does not exist") && !strings.Contains(r.stderr, "corrupt") {
		t.Errorf("state after the crash: want stopped, \"does not exist\" or \"corrupt\":\n%v", r)
	}
	r := mustSucceed(t, k.e.husk("list", "--format", "json"))
	states, err := parseList(r.stdout)
	if err != nil {
		t.Fatalf("list: %v\n%v", err, r)
	}
	for _, st := range states {
		if st.ID == k.c.id && st.Status != specs.StateStopped {
			t.Errorf("list after the crash: %+v, want stopped or absent", st)
		}
	}
}

// finish deletes the container with `delete` (which must accept a stopped
// or abandoned container without -f), checks that nothing is left, and
// runs a new container with the same ID.
func (k *crashCase) finish(deleteFlags ...string) {
	t := k.e.t
	t.Helper()
	k.assertTruthful()
	mustSucceed(t, k.c.delete(deleteFlags...))
	k.e.assertNoLeftovers(leftovers{ids: []string{k.c.id}, marker: k.marker})
	again := &container{e: k.e, id: k.c.id, b: k.e.newBundle(stormSpec(k.marker, "true"))}
	mustSucceed(t, again.runOpts(runOpts{}))
	k.e.assertNoLeftovers(leftovers{ids: []string{k.c.id}, marker: k.marker})
}

// waitEntry returns once dir has an entry called name, watching dir with
// inotify so that the test acts right after the entry appears.
func waitEntry(t *testing.T, dir, name string) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR); err != nil {
		t.Fatalf("watch %s: %v", dir, err)
	}
	deadline := time.Now().Add(pollTimeout)
	buf := make([]byte, 64<<10)
	for !exists(filepath.Join(dir, name)) {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("timed out waiting for %s to appear in %s", name, dir)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		unix.Read(fd, buf) // drain; the loop looks at the directory itself
	}
}

// husk SIGKILLed at each phase of create.
func TestCrashCreateKilled(t *testing.T) {
	skipIfRunc(t, "husk's create phases")
	hooked := func(kind string) func(s *specs.Spec, h *hookCtl) {
		return func(s *specs.Spec, h *hookCtl) { h.blockingHook(s, kind) }
	}
	// The early phases block nsenter later on, so that create cannot
	// finish before the kill lands, however loaded the machine.
	blocked := func(s *specs.Spec, h *hookCtl) { blockNsenter(h, s) }
	phases := []struct {
		name    string
		prepare func(s *specs.Spec, h *hookCtl)
		reach   func(k *crashCase, r *running)
	}{
		// Watched, not polled: create goes on to block nsenter within a
		// poll's interval, and the kill must land before that.
		{"state dir made", blocked, func(k *crashCase, r *running) { waitEntry(k.e.t, k.e.root, k.c.id) }},
		// The directory the init is cloned into (v2, or the unified one
		// of a hybrid host) comes first; the others while it starts.
		{"cgroup dir made", blocked, func(k *crashCase, r *running) {
			dir := defaultCgroupDirs(k.e.t, k.c.id).dir(k.e.t, "")
			waitEntry(k.e.t, filepath.Dir(dir), filepath.Base(dir))
		}},
		{"init started", blocked, func(k *crashCase, r *running) { waitNsenterBlocked(k, r) }},
		{"prestart hook", hooked("prestart"), func(k *crashCase, r *running) { k.h.waitHook("prestart") }},
		{"createRuntime hook", hooked("createRuntime"), func(k *crashCase, r *running) { k.h.waitHook("createRuntime") }},
		// The init runs createContainer hooks while husk waits for it.
		{"waiting for init", hooked("createContainer"), func(k *crashCase, r *running) { k.h.waitHook("createContainer") }},
	}
	for _, p := range phases {
		t.Run(strings.ReplaceAll(p.name, " ", "-"), func(t *testing.T) {
			e := newEnv(t)
			k := e.newCrashCase(p.prepare)
			r := k.startCreate()
			p.reach(k, r)
			res := killed(t, r)
			if res.code == 0 {
				t.Fatalf("create finished before it could be killed:\n%v", res)
			}
			k.finish()
		})
	}
}

// The init (or nsenter) killed at each phase: create fails at once with a
// reason, or the container shows as stopped and can be deleted.
func TestCrashInitKilled(t *testing.T) {
	skipIfRunc(t, "husk's create phases")
	t.Run("nsenter", func(t *testing.T) {
		e := newEnv(t)
		k := e.newCrashCase(func(s *specs.Spec, h *hookCtl) { blockNsenter(h, s) })
		r := k.startCreate()
		unix.Kill(waitNsenterBlocked(k, r), unix.SIGKILL)
		res := r.wait()
		mustFail(t, res)
		checkErrorMessage(t, res, "init", "nsenter")
		k.finish("-f")
	})
	t.Run("createRuntime-hook", func(t *testing.T) {
		e := newEnv(t)
		k := e.newCrashCase(func(s *specs.Spec, h *hookCtl) { h.blockingHook(s, "createRuntime") })
		r := k.startCreate()
		st := k.h.waitHook("createRuntime")
		if err := unix.Kill(st.Pid, unix.SIGKILL); err != nil {
			t.Fatalf("kill init %d: %v", st.Pid, err)
		}
		k.h.release("createRuntime")
		res := r.wait()
		mustFail(t, res)
		checkErrorMessage(t, res, "init")
		k.finish("-f")
	})
	t.Run("createContainer-hook", func(t *testing.T) {
		e := newEnv(t)
		k := e.newCrashCase(func(s *specs.Spec, h *hookCtl) { h.blockingHook(s, "createContainer") })
		r := k.startCreate()
		k.h.waitHook("createContainer")
		hooks := markedPids(t, k.marker)
		if len(hooks) != 1 {
			t.Fatalf("want one hook process, found %v", hooks)
		}
		init := ppidOf(t, hooks[0])
		if err := unix.Kill(init, unix.SIGKILL); err != nil {
			t.Fatalf("kill init %d: %v", init, err)
		}
		res := r.wait()
		mustFail(t, res)
		checkErrorMessage(t, res, "init")
		k.finish("-f")
	})
	for _, started := range []bool{false, true} {
		name := map[bool]string{false: "created", true: "running"}[started]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			k := e.newCrashCase(nil)
			mustSucceed(t, k.c.husk("create"))
			if started {
				k.c.start()
			}
			pid := k.c.state().Pid
			if err := unix.Kill(pid, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			k.c.waitStatus(specs.StateStopped)
			k.finish()
		})
	}
}

// State directories that no husk could have left whole: without
// state.json, with a partial state.json beside a temporary file, or held
// by a lock whose holder is then killed.
func TestCrashStateDir(t *testing.T) {
	skipIfRunc(t, "husk's state directory layout")
	for _, tc := range []struct {
		name  string
		files map[string]string
		flags []string
	}{
		{"no state.json", nil, nil},
		{"temporary file only", map[string]string{".state.json.12345": `{"ociVersion":`}, nil},
		{"partial state.json", map[string]string{"state.json": `{"ociVersion":"1.0.2","id":"x","pid":`}, []string{"-f"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			e := newEnv(t)
			id := e.newID()
			dir := filepath.Join(e.root, id)
			if err := os.Mkdir(dir, 0o711); err != nil {
				t.Fatal(err)
			}
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content, 0o600)
			}
			k := &crashCase{e: e, c: &container{e: e, id: id}, marker: e.newMarker()}
			k.assertTruthful()
			if ids := e.listIDs(t); len(ids) != 1 || ids[0] != id {
				t.Errorf("list: %q, want the abandoned %s", ids, id)
			}
			k.finish(tc.flags...)
		})
	}
	t.Run("lock holder killed", func(t *testing.T) {
		e := newEnv(t)
		id := e.newID()
		dir := filepath.Join(e.root, id)
		if err := os.Mkdir(dir, 0o711); err != nil {
			t.Fatal(err)
		}
		// A create in progress: the directory locked, no state.json yet.
		ready := filepath.Join(e.dir, "locked")
		holder := startCmd(t, cmdOpts{}, "flock", "-o", dir, "sh", "-c", `: > "$1"; exec sleep 60`, "sh", ready)
		waitFile(t, ready)
		st := (&container{e: e, id: id}).state()
		if st.Status != specs.StateCreating {
			t.Errorf("state of a locked directory without state.json: %+v, want creating", st)
		}
		del := startCmd(t, cmdOpts{}, e.huskArgs([]string{"delete", id})...)
		// delete waits for the lock; the holder dies and releases it.
		poll(t, "delete to wait for the lock", func() bool { return waitsForLock(t, del.cmd.Process.Pid) })
		if !exists(dir) {
			t.Fatalf("delete removed %s while it was locked", dir)
		}
		killed(t, holder)
		mustSucceed(t, del.wait())
		// Nothing here runs with a marker (a new one could match no
		// process): leftover processes are looked for by directory.
		e.assertNoLeftovers(leftovers{ids: []string{id}})
		if exists(dir) {
			t.Errorf("%s is still there", dir)
		}
	})
}

// waitsForLock tells whether pid is blocked waiting for a lock, from the
// "->" lines of /proc/locks.
func waitsForLock(t *testing.T, pid int) bool {
	for _, f := range fieldsOf(readFile(t, "/proc/locks")) {
		if len(f) > 5 && f[1] == "->" && f[5] == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

// killForkedNsenter SIGKILLs every child of husk (nsenter) that has a
// child of its own (the init), and tells whether it found one.
func killForkedNsenter(husk int) bool {
	hit := false
	for _, nsenter := range childrenOf(husk) {
		if len(childrenOf(nsenter)) > 0 {
			unix.Kill(nsenter, unix.SIGKILL)
			hit = true
		}
	}
	return hit
}

// nsenter SIGKILLed as soon as it has forked the init, which is right
// around when it reports the init's pid. The kill lands before or after
// the report depending on timing, and the window is often missed, so
// this is tried until it landed a few times; create must fail or
// succeed, never hang, and nothing may be left either way.
func TestCrashNsenterKilledAfterFork(t *testing.T) {
	skipIfRunc(t, "husk's nsenter")
	e := newEnv(t)
	hits := 0
	for round := 0; round < 20 && hits < 3; round++ {
		began := time.Now()
		// A new time namespace: nsenter unshares it and forks the init
		// (without one, the clone makes every namespace and nsenter does
		// not fork, so there would be nothing to kill).
		k := e.newCrashCase(func(s *specs.Spec, h *hookCtl) {
			setNamespace(s, specs.LinuxNamespace{Type: specs.TimeNamespace})
		})
		r := startCmd(t, cmdOpts{timeout: 30 * time.Second}, e.huskArgs([]string{"create", "--bundle", k.c.b.dir, k.c.id})...)
		// Look often: the window between fork and exit is short. (Not a
		// busy loop: other tests share the machine.)
		deadline := time.Now().Add(pollTimeout)
		// The command is waited for only below, so a zombie is its end.
		for time.Now().Before(deadline) && pidAlive(r.cmd.Process.Pid) {
			if killForkedNsenter(r.cmd.Process.Pid) {
				hits++
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		res := r.wait()
		checkRan(t, res)
		t.Logf("create: exit %d %s", res.code, strings.TrimSpace(res.stderr))
		if res.code == 0 {
			k.c.start()
		}
		mustSucceed(t, k.c.delete("-f"))
		e.assertNoLeftovers(leftovers{ids: []string{k.c.id}, marker: k.marker})
		t.Logf("round took %v", time.Since(began).Round(time.Millisecond))
	}
	if hits == 0 {
		t.Error("no round caught a forked nsenter to kill: the crash was never tried")
	}
}

// `delete` SIGKILLed while a poststop hook runs (the container is dead,
// its state and cgroup still there): the container shows as stopped, and
// a second `delete` removes everything.
func TestCrashDeleteKilled(t *testing.T) {
	skipIfRunc(t, "husk's delete phases")
	e := newEnv(t)
	k := e.newCrashCase(func(s *specs.Spec, h *hookCtl) { h.blockingHook(s, "poststop") })
	mustSucceed(t, k.c.husk("create"))
	k.c.start()
	del := startCmd(t, cmdOpts{}, e.huskArgs([]string{"delete", "-f", k.c.id})...)
	if st := k.h.waitHook("poststop"); st.Status != specs.StateStopped {
		t.Errorf("poststop hook got %+v, want stopped", st)
	}
	if res := killed(t, del); res.code == 0 {
		t.Fatalf("delete finished before it could be killed:\n%v", res)
	}
	k.finish()
}
