package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sleeper is a long-running container program that announces it runs by
// creating /ready in its rootfs (see container.waitReady).
var sleeper = []string{"sh", "-c", "touch /ready; exec sleep 300"}

func TestRunPrintsOutput(t *testing.T) {
	e := newEnv(t)
	r := mustSucceed(t, e.runContainer(baseSpec(), "sh", "-c", "echo out-line; echo err-line >&2"))
	if r.stdout != "out-line\n" {
		t.Errorf("stdout = %q, want %q", r.stdout, "out-line\n")
	}
	if !strings.Contains(r.stderr, "err-line") {
		t.Errorf("stderr = %q, want it to contain err-line", r.stderr)
	}
}

func TestRunExitStatus(t *testing.T) {
	requireRoot(t)
	for _, code := range []int{0, 3, 255} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			e := newEnv(t)
			r := e.runContainer(baseSpec(), "sh", "-c", fmt.Sprintf("exit %d", code))
			if r.code != code {
				t.Errorf("exit status %d, want %d\n%v", r.code, code, r)
			}
		})
	}
}

// A process killed by signal N makes `run` exit with 128+N. The process kills
// itself without a pid namespace: the kernel ignores signals that a pid
// namespace's init sends to itself when it has no handler.
func TestRunKilledBySignalExitStatus(t *testing.T) {
	requireRoot(t)
	for _, sig := range []struct {
		name string
		num  int
	}{{"KILL", 9}, {"USR1", 10}} {
		t.Run(sig.name, func(t *testing.T) {
			e := newEnv(t)
			s := baseSpec()
			removeNamespace(s, specs.PIDNamespace)
			r := e.runContainer(s, "sh", "-c", "kill -"+sig.name+" $$; sleep 5")
			if r.code != 128+sig.num {
				t.Errorf("exit status %d, want %d\n%v", r.code, 128+sig.num, r)
			}
		})
	}
}

// The init of a pid namespace killed from outside (`kill ID KILL` while `run`
// waits in the foreground) also gives 128+9.
func TestRunKilledFromOutside(t *testing.T) {
	e := newEnv(t)
	c := e.newContainer(baseSpec(sleeper...))
	p := startCmd(t, cmdOpts{}, e.huskArgs([]string{"run", "--bundle", c.b.dir, c.id})...)
	c.waitReady("ready")
	mustSucceed(t, c.kill("KILL"))
	r := p.wait()
	if r.code != 137 {
		t.Errorf("run exit status %d, want 137\n%v", r.code, r)
	}
	c.assertGone()
}

func TestRunStdin(t *testing.T) {
	e := newEnv(t)
	r := mustSucceed(t, e.runContainerOpts(runOpts{stdin: strings.NewReader("hi\nthere\n")}, baseSpec(), "cat"))
	if r.stdout != "hi\nthere\n" {
		t.Errorf("stdout = %q, want the stdin given to run", r.stdout)
	}
}

func TestRunDetached(t *testing.T) {
	e := newEnv(t)
	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")
	st := c.state()
	if st.Status != specs.StateRunning || !pidAlive(st.Pid) {
		t.Fatalf("state after run -d: %+v (pid alive: %v)", st, pidAlive(st.Pid))
	}
	mustSucceed(t, c.kill("KILL"))
	c.waitStatus(specs.StateStopped)
	mustSucceed(t, c.delete())
	c.assertGone()
}

func TestCreateStartKillDelete(t *testing.T) {
	e := newEnv(t)
	out := e.hostDir()
	s := baseSpec("sh", "-c", "echo ran > /out/ran; exec sleep 300")
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	pidFile := filepath.Join(e.dir, "pidfile")
	c := e.create(s, "--pid-file", pidFile)

	st := c.state()
	if st.Status != specs.StateCreated || st.Pid <= 0 || !pidAlive(st.Pid) {
		t.Fatalf("state after create: %+v", st)
	}
	if got := strings.TrimSpace(readFile(t, pidFile)); got != strconv.Itoa(st.Pid) {
		t.Errorf("--pid-file holds %q, state pid is %d", got, st.Pid)
	}
	// Created means the runtime's init waits: the user program has not run
	// and the init process is not (yet) running the rootfs's busybox.
	if exists(filepath.Join(out, "ran")) {
		t.Fatal("the user program ran before start")
	}
	if exe, ok := statDevIno(fmt.Sprintf("/proc/%d/exe", st.Pid)); ok {
		if bb, _ := statDevIno(filepath.Join(c.b.rootfs, "bin/busybox")); exe == bb {
			t.Fatal("the container process already executes the user program after create")
		}
	}

	c.start()
	waitFile(t, filepath.Join(out, "ran"))
	if st2 := c.state(); st2.Status != specs.StateRunning || st2.Pid != st.Pid {
		t.Errorf("state after start: %+v, want running with pid %d", st2, st.Pid)
	}
	mustSucceed(t, c.kill("KILL"))
	if st3 := c.waitStatus(specs.StateStopped); st3.ID != c.id {
		t.Errorf("stopped state has id %q", st3.ID)
	}
	mustSucceed(t, c.delete())
	c.assertGone()
}

// Each accepted spelling of KILL stops a container that survives TERM, and
// the default signal is TERM: the container traps it, records it in /out/sigs
// and keeps running.
func TestKillSignals(t *testing.T) {
	requireRoot(t)
	for _, sig := range []string{"", "KILL", "SIGKILL", "9"} {
		name := sig
		if name == "" {
			name = "default-TERM"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			out := e.hostDir()
			sigs := filepath.Join(out, "sigs")
			// `wait` returns as soon as the trapped signal arrives.
			s := baseSpec("sh", "-c", "trap 'echo TERM >> /out/sigs' TERM; touch /ready; while :; do sleep 300 & wait; done")
			s.Mounts = append(s.Mounts, bindMount(out, "/out"))
			c := e.runDetached(s)
			c.waitReady("ready")
			if sig == "" {
				mustSucceed(t, c.kill())
				poll(t, "the container to get SIGTERM", func() bool { return readIfExists(t, sigs) != "" })
				if st := c.state(); st.Status != specs.StateRunning {
					t.Fatalf("a trapped TERM stopped the container: %+v", st)
				}
				sig = "KILL"
			}
			mustSucceed(t, c.kill(sig))
			c.waitStatus(specs.StateStopped)
			want := "" // KILL cannot be trapped
			if name == "default-TERM" {
				want = "TERM\n"
			}
			if got := readIfExists(t, sigs); got != want {
				t.Errorf("signals recorded by the container: %q, want %q", got, want)
			}
			mustSucceed(t, c.delete())
			c.assertGone()
		})
	}
}

func TestStartRunningOrStoppedFails(t *testing.T) {
	e := newEnv(t)
	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")
	mustFail(t, c.e.husk("start", c.id))
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("after a failed start of a running container: %+v", st)
	}
	mustSucceed(t, c.kill("KILL"))
	c.waitStatus(specs.StateStopped)
	mustFail(t, c.e.husk("start", c.id))
	mustFail(t, c.exec("true"))
	if st := c.state(); st.Status != specs.StateStopped {
		t.Errorf("after a failed start or exec of a stopped container: %+v", st)
	}
}

func TestNonexistentID(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"start", "nope"},
		{"state", "nope"},
		{"kill", "nope"},
		{"kill", "nope", "KILL"},
		{"delete", "nope"},
		{"exec", "nope", "true"},
	} {
		mustFail(t, e.husk(args...))
	}
}

func TestDeleteRunning(t *testing.T) {
	e := newEnv(t)
	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")
	pid := c.state().Pid
	mustFail(t, c.delete())
	if st := c.state(); st.Status != specs.StateRunning || !pidAlive(pid) {
		t.Fatalf("a refused delete changed the container: %+v", st)
	}
	mustSucceed(t, c.delete("-f"))
	// delete -f returns once the container is gone, process included.
	if pidAlive(pid) {
		t.Errorf("container process %d still alive after delete -f", pid)
	}
	c.assertGone()
}

func TestStateJSON(t *testing.T) {
	e := newEnv(t)
	s := baseSpec(sleeper...)
	s.Annotations = map[string]string{"org.example.one": "1", "two": "second value"}
	c := e.newContainer(s)
	// A relative --bundle must come back absolute.
	mustSucceed(t, e.huskOpts(cmdOpts{dir: e.dir}, "create", "--bundle", filepath.Base(c.b.dir), c.id))
	r := mustSucceed(t, e.husk("state", c.id))
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatalf("state is not JSON: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("state lacks %q: %s", k, r.stdout)
		}
	}
	st := c.state()
	if st.Version == "" || st.ID != c.id || st.Status != specs.StateCreated || st.Pid <= 0 {
		t.Errorf("state = %+v", st)
	}
	if st.Bundle != c.b.dir {
		t.Errorf("state bundle = %q, want %q", st.Bundle, c.b.dir)
	}
	if len(st.Annotations) != 2 || st.Annotations["org.example.one"] != "1" || st.Annotations["two"] != "second value" {
		t.Errorf("state annotations = %v, want %v", st.Annotations, s.Annotations)
	}
}

func TestList(t *testing.T) {
	e := newEnv(t)
	created := e.create(baseSpec(sleeper...))
	running := e.runDetached(baseSpec(sleeper...))
	running.waitReady("ready")
	want := map[string]specs.State{created.id: created.state(), running.id: running.state()}

	r := mustSucceed(t, e.husk("list"))
	rows := fieldsOf(r.stdout)
	if len(rows) != 3 || strings.Join(rows[0], " ") != "ID PID STATUS BUNDLE CREATED OWNER" {
		t.Fatalf("list table:\n%s", r.stdout)
	}
	for _, row := range rows[1:] {
		st, ok := want[row[0]]
		if !ok || len(row) != 6 {
			t.Errorf("unexpected row %q", row)
			continue
		}
		if row[1] != strconv.Itoa(st.Pid) || row[2] != string(st.Status) || row[3] != st.Bundle || row[5] != "root" {
			t.Errorf("row %q does not match state %+v", row, st)
		}
		if _, err := time.Parse(time.RFC3339Nano, row[4]); err != nil {
			t.Errorf("CREATED %q: %v", row[4], err)
		}
	}

	ids := lines(mustSucceed(t, e.husk("list", "-q")).stdout)
	sort.Strings(ids)
	wantIDs := []string{created.id, running.id}
	sort.Strings(wantIDs)
	if strings.Join(ids, ",") != strings.Join(wantIDs, ",") {
		t.Errorf("list -q = %q, want %q", ids, wantIDs)
	}

	r = mustSucceed(t, e.husk("list", "--format", "json"))
	var items []struct {
		ID     string `json:"id"`
		Pid    int    `json:"pid"`
		Status string `json:"status"`
		Bundle string `json:"bundle"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("list --format json: %v\n%s", err, r.stdout)
	}
	if len(items) != 2 {
		t.Fatalf("list --format json has %d entries: %s", len(items), r.stdout)
	}
	for _, it := range items {
		st, ok := want[it.ID]
		if !ok || it.Pid != st.Pid || it.Status != string(st.Status) || it.Bundle != st.Bundle {
			t.Errorf("json entry %+v does not match state %+v", it, st)
		}
	}
}

func TestDuplicateID(t *testing.T) {
	e := newEnv(t)
	c := e.create(baseSpec(sleeper...))
	e.keep[c.id] = true
	before := c.state()
	other := e.newBundle(baseSpec("true"))
	check := func(status specs.ContainerState) {
		t.Helper()
		r := mustFail(t, e.husk("create", "--bundle", other.dir, c.id))
		checkErrorMessage(t, r, c.id, "exists")
		mustFail(t, e.husk("run", "--bundle", other.dir, c.id))
		st := c.state()
		if st.Status != status || st.Pid != before.Pid || st.Bundle != c.b.dir || !pidAlive(st.Pid) {
			t.Fatalf("the first container changed: %+v, was %+v", st, before)
		}
	}
	check(specs.StateCreated)
	c.start()
	c.waitReady("ready")
	check(specs.StateRunning)
	e.assertNothingLeft("", other)
}

// treeSnapshot lists every path below dir except the contents of skip.
func treeSnapshot(t *testing.T, dir, skip string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInvalidID(t *testing.T) {
	e := newEnv(t)
	// A deep state root, so that escaping IDs would land inside the test's
	// directory where the snapshot sees them.
	e.root = filepath.Join(e.dir, "1", "2", "3", "4", "root")
	if err := os.MkdirAll(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	b := e.newBundle(baseSpec("true"))
	before := treeSnapshot(t, e.dir, b.rootfs)
	for _, id := range []string{"", ".", "..", "a/b", "../x", "../../x", "../../../x", "/abs", "x/", "a b", "a\nb"} {
		for _, cmd := range []string{"create", "run"} {
			r := mustFail(t, e.husk(cmd, "--bundle", b.dir, id))
			checkErrorMessage(t, r, "id", "ID")
			after := treeSnapshot(t, e.dir, b.rootfs)
			if strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Fatalf("%s with id %q changed the filesystem:\nbefore %q\nafter  %q", cmd, id, before, after)
			}
			if ids := lines(mustSucceed(t, e.husk("list", "-q")).stdout); len(ids) != 0 {
				t.Fatalf("%s with id %q left %q", cmd, id, ids)
			}
		}
	}
	e.assertNothingLeft("", b)
}
