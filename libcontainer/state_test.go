package libcontainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// startTimeOf reads field 22 of /proc/<pid>/stat for a process whose
// command name is known, independently of readProcStat.
func startTimeOf(t *testing.T, pid int, comm string) (state string, start uint64) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("%d (%s) ", pid, comm)
	if !strings.HasPrefix(string(data), prefix) {
		t.Fatalf("/proc/%d/stat = %q, want it to start with %q", pid, data, prefix)
	}
	fields := strings.Fields(strings.TrimPrefix(string(data), prefix))
	start, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return fields[0], start
}

func selfComm(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(data), "\n")
}

func selfStartTime(t *testing.T) uint64 {
	t.Helper()
	_, start := startTimeOf(t, os.Getpid(), selfComm(t))
	return start
}

// startSleeper runs `sleep` as a child, from a copy named name when name
// is not empty; it is killed and collected at the end of the test unless
// the test collects it first.
func startSleeper(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	path := "/bin/sleep"
	if name != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(path, "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func TestReadProcStatSelf(t *testing.T) {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if want := selfStartTime(t); st.startTime != want {
		t.Errorf("startTime %d, want %d", st.startTime, want)
	}
	if st.state != 'R' && st.state != 'S' {
		t.Errorf("state %q, want R or S for the test itself", st.state)
	}
	if _, err := readProcStat(1 << 30); err == nil {
		t.Errorf("readProcStat of a pid that cannot exist: no error")
	}
}

func TestReadProcStatOddCommand(t *testing.T) {
	// The command name is in parentheses and may contain ") " itself; a
	// parser that stops at the first ')' reads the wrong fields.
	for _, name := range []string{"a) b", "x) Z 1 2 3 )", "((", "s p a c e"} {
		t.Run(name, func(t *testing.T) {
			cmd := startSleeper(t, name)
			pid := cmd.Process.Pid
			state, start := startTimeOf(t, pid, name)
			st, err := readProcStat(pid)
			if err != nil {
				t.Fatal(err)
			}
			if string(st.state) != state || st.startTime != start {
				t.Errorf("readProcStat = state %q start %d, want %q and %d", st.state, st.startTime, state, start)
			}
			if !processAlive(pid, start) {
				t.Errorf("processAlive(%d, %d) = false for a sleeping process", pid, start)
			}
		})
	}
}

func TestProcessAlive(t *testing.T) {
	start := selfStartTime(t)
	pid := os.Getpid()
	tests := []struct {
		pid   int
		start uint64
		want  bool
	}{
		{pid, start, true},
		{pid, 0, true},
		{pid, start + 1, false},
		{pid, start - 1, false},
		{0, 0, false},
		{0, start, false},
		{-1, 0, false},
		{1 << 30, 0, false},
	}
	for _, tt := range tests {
		if got := processAlive(tt.pid, tt.start); got != tt.want {
			t.Errorf("processAlive(%d, %d) = %v, want %v", tt.pid, tt.start, got, tt.want)
		}
	}
}

func TestProcessAliveZombie(t *testing.T) {
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	_, start := startTimeOf(t, pid, "true")
	// Wait for the exit without collecting it: the child stays a zombie.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid, start) {
		t.Errorf("processAlive = true for a zombie")
	}
	if got := status(t.TempDir(), &record{State: State{State: specs.State{Pid: pid}}, InitStartTime: start}); got != specs.StateStopped {
		t.Errorf("status of a zombie init = %s, want stopped", got)
	}
	cmd.Wait()
	if processAlive(pid, start) {
		t.Errorf("processAlive = true for a collected process")
	}
}

func testRecord(id string, pid int, start uint64, config string) *record {
	return &record{
		State: State{
			State: specs.State{
				Version: specs.Version, ID: id, Status: specs.StateCreated, Pid: pid, Bundle: "/bundles/" + id,
				Annotations: map[string]string{"org.example/key": "value"},
			},
			Rootfs:  "/bundles/" + id + "/rootfs",
			Created: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		},
		InitStartTime: start,
		Config:        json.RawMessage(config),
	}
}

// makeContainerDir writes root/id/state.json for rec.
func makeContainerDir(t *testing.T, root string, rec *record) string {
	t.Helper()
	dir := filepath.Join(root, rec.ID)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	return dir
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

const minimalConfig = `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"linux":{"namespaces":[{"type":"mount"}]}}`

func TestRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rec := testRecord("abc", 1234, 98765, minimalConfig)
	if err := writeRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	got, err := readRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rec) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, rec)
	}
	fi, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestRecordAtomicReplace(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 3; i++ {
		if err := writeRecord(dir, testRecord("abc", i, uint64(i), minimalConfig)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pid != 3 || got.InitStartTime != 3 {
		t.Errorf("read pid %d start %d, want the last write (3, 3)", got.Pid, got.InitStartTime)
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{stateFile}) {
		t.Errorf("directory holds %q, want only state.json (no temporary files)", names)
	}
}

func TestWriteRecordMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	err := writeRecord(dir, testRecord("abc", 1, 1, minimalConfig))
	if err == nil {
		t.Fatal("no error writing into a missing directory")
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, stateFile)) && !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the path", err)
	}
}

func TestReadRecordCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(`{"id": "abc", `), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := readRecord(dir)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("readRecord of a truncated file = %v, want a corruption error", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, stateFile)) {
		t.Errorf("error %q does not name the file", err)
	}
	// A corrupt record is not a container being created.
	root := filepath.Dir(dir)
	if st, err := ReadState(root, filepath.Base(dir)); err == nil || !errors.Is(err, errCorrupt) {
		t.Errorf("ReadState of a corrupt record = %+v, %v, want a corruption error", st, err)
	}
}

func TestWritePidFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := writePidFile("pid", 4321); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "4321" {
		t.Errorf("pid file %q, want 4321", data)
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"pid"}) {
		t.Errorf("directory holds %q, want only the pid file", names)
	}
}

// A directory without state.json is being created while its lock is held,
// and is an abandoned create (stopped) once it is not.
func TestReadStateCreating(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "new")
	if err := os.Mkdir(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []specs.ContainerState{specs.StateCreating, specs.StateStopped} {
		st, err := ReadState(root, "new")
		if err != nil {
			t.Fatal(err)
		}
		if st.ID != "new" || st.Status != want || st.Version != specs.Version || st.Pid != 0 {
			t.Errorf("state %+v, want id new, status %s, version %s", st, want, specs.Version)
		}
		lock.Close()
	}
}

func TestMakeLockedDir(t *testing.T) {
	root := t.TempDir()
	paths := map[string]string{"memory": "/sys/fs/cgroup/memory/c1"}
	dir, lock, err := makeLockedDir(root, "c1", paths)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(root, "c1") || !isLocked(t, dir) {
		t.Errorf("makeLockedDir = %s, locked %v", dir, isLocked(t, dir))
	}
	// The cgroups are recorded as the directory appears.
	if data, err := os.ReadFile(filepath.Join(dir, cgroupFile)); err != nil || string(data) != `{"cgroupPaths":{"memory":"/sys/fs/cgroup/memory/c1"}}` {
		t.Errorf("cgroup.json: %q, %v", data, err)
	}
	if _, _, err := makeLockedDir(root, "c1", nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second makeLockedDir = %v, want \"already exists\"", err)
	}
	lock.Close()
	if names := dirNames(t, root); !reflect.DeepEqual(names, []string{"c1"}) {
		t.Errorf("root holds %q, want only c1", names)
	}
}

func TestRemoveDir(t *testing.T) {
	root := t.TempDir()
	dir := makeContainerDir(t, root, testRecord("c1", 0, 0, minimalConfig))
	if err := removeDir(dir); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, root); len(names) != 0 {
		t.Errorf("root holds %q after removeDir", names)
	}
}

func TestReadStateMissing(t *testing.T) {
	root := t.TempDir()
	for _, r := range []string{root, filepath.Join(root, "no-root")} {
		_, err := ReadState(r, "nope")
		if !errors.Is(err, ErrNotExist) {
			t.Errorf("ReadState(%s, nope) = %v, want ErrNotExist", r, err)
		} else if !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("error %q does not name the container", err)
		}
	}
	for _, id := range []string{"", "..", "../x", "a/b"} {
		if _, err := ReadState(root, id); err == nil {
			t.Errorf("ReadState(%q): no error", id)
		}
	}
}

func TestReadStateStatus(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	pid, start := os.Getpid(), selfStartTime(t)

	dir := makeContainerDir(t, root, testRecord("live", pid, start, minimalConfig))
	st, err := ReadState(root, "live")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != specs.StateRunning || st.Pid != pid {
		t.Errorf("live init without start.sock: status %s pid %d, want running %d", st.Status, st.Pid, pid)
	}
	if st.Owner != me.Username {
		t.Errorf("owner %q, want %q", st.Owner, me.Username)
	}
	if st.Bundle != "/bundles/live" || st.Rootfs != "/bundles/live/rootfs" || st.Annotations["org.example/key"] != "value" {
		t.Errorf("state %+v lost fields of the record", st)
	}
	if !st.Created.Equal(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)) {
		t.Errorf("created %v", st.Created)
	}

	if err := os.WriteFile(filepath.Join(dir, startSock), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := ReadState(root, "live"); st.Status != specs.StateCreated || st.Pid != pid {
		t.Errorf("live init with start.sock: status %s pid %d, want created %d", st.Status, st.Pid, pid)
	}

	// A recycled pid: same number, another start time.
	makeContainerDir(t, root, testRecord("recycled", pid, start+7, minimalConfig))
	if st, _ := ReadState(root, "recycled"); st.Status != specs.StateStopped || st.Pid != 0 {
		t.Errorf("recycled pid: status %s pid %d, want stopped 0", st.Status, st.Pid)
	}
	makeContainerDir(t, root, testRecord("dead", 0, 0, minimalConfig))
	if st, _ := ReadState(root, "dead"); st.Status != specs.StateStopped || st.Pid != 0 {
		t.Errorf("pid 0: status %s pid %d, want stopped 0", st.Status, st.Pid)
	}
}

func TestListMissingRoot(t *testing.T) {
	states, err := List(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(states) != 0 {
		t.Errorf("List of a missing root = %v, %v; want nothing and no error", states, err)
	}
}

func TestListSkipsOddEntries(t *testing.T) {
	root := t.TempDir()
	makeContainerDir(t, root, testRecord("b", 0, 0, minimalConfig))
	for _, d := range []string{"a", "bad id", "é", ".hidden..x y", "b~deleted", "e~creating-1"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "c"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("b", filepath.Join(root, "d")); err != nil {
		t.Fatal(err)
	}
	states, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range states {
		got = append(got, st.ID+":"+string(st.Status))
	}
	// "a" has no state.json and nobody holds its lock: an abandoned create.
	if want := []string{"a:stopped", "b:stopped"}; !reflect.DeepEqual(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

func TestLockDirExcludes(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !isLocked(t, dir) {
		t.Fatalf("the directory is not locked while the first lock is held")
	}
	got := make(chan error, 1)
	go func() {
		second, err := lockDir(dir)
		if err == nil {
			second.Close()
		}
		got <- err
	}()
	// Wait until the kernel lists the second lock as blocked on the first:
	// then it is known to wait, without a timed guess.
	for !lockWaiter(t, dir) {
		select {
		case err := <-got:
			t.Fatalf("second lockDir returned (%v) while the first lock was held", err)
		default:
			runtime.Gosched()
		}
	}
	first.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("second lockDir: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("second lockDir still blocked 30 s after the first lock was released")
	}
	if isLocked(t, dir) {
		t.Errorf("the directory is still locked after both locks were closed")
	}
}

// lockWaiter says whether /proc/locks shows an exclusive flock request
// blocked on dir.
func lockWaiter(t *testing.T, dir string) bool {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	ino := ":" + strconv.FormatUint(st.Ino, 10)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		// 2: -> FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF
		if len(f) >= 7 && f[1] == "->" && f[2] == "FLOCK" && f[4] == "WRITE" && strings.HasSuffix(f[6], ino) {
			return true
		}
	}
	return false
}

// isLocked tries a non-blocking exclusive flock through a fresh open file.
func isLocked(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return false
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatal(err)
	}
	return true
}

func TestLockDirMissing(t *testing.T) {
	_, err := lockDir(filepath.Join(t.TempDir(), "gone"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lockDir of a missing directory = %v, want ErrNotExist (Open relies on it)", err)
	}
}

func TestOpen(t *testing.T) {
	root := t.TempDir()
	if _, err := Open(root, "nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open of a missing container = %v, want ErrNotExist", err)
	}
	if _, err := Open(root, "../x"); err == nil || errors.Is(err, ErrNotExist) {
		t.Errorf("Open(../x) = %v, want an invalid-ID error", err)
	}

	// A directory without state.json: a create that died early.
	if err := os.Mkdir(filepath.Join(root, "stale"), 0o711); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root, "stale"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open of a directory without state = %v, want ErrNotExist", err)
	}
	if isLocked(t, filepath.Join(root, "stale")) {
		t.Errorf("a failed Open left the directory locked")
	}

	dir := makeContainerDir(t, root, testRecord("c1", 0, 0, minimalConfig))
	c, err := Open(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !isLocked(t, dir) {
		t.Errorf("an open container is not locked")
	}
	if c.ID != "c1" || c.Pid() != 0 || c.Status() != specs.StateStopped {
		t.Errorf("container %s pid %d status %s", c.ID, c.Pid(), c.Status())
	}
	spec, err := c.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Hooks == nil || len(spec.Process.Args) != 1 || spec.Process.Args[0] != "sh" {
		t.Errorf("Spec() = %+v", spec)
	}
	c.Close()
	c.Close()
	if isLocked(t, dir) {
		t.Errorf("Close did not release the lock")
	}
}

func TestContainerSpecCorrupt(t *testing.T) {
	root := t.TempDir()
	makeContainerDir(t, root, testRecord("c1", 0, 0, `{"process": 5}`))
	c, err := Open(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Spec(); err == nil || !strings.Contains(err.Error(), stateFile) {
		t.Errorf("Spec() of a bad config = %v, want an error naming %s", err, stateFile)
	}
}

func TestRemoveAbandoned(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "stale", "sub"), 0o711); err != nil {
		t.Fatal(err)
	}
	makeContainerDir(t, root, testRecord("real", 0, 0, minimalConfig))
	corrupt := filepath.Join(root, "corrupt")
	if err := os.Mkdir(corrupt, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corrupt, stateFile), []byte(`{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Debris of a delete killed half way, and of one still running (locked).
	for _, d := range []string{"stale~deleted", "real~creating-1"} {
		if err := os.MkdirAll(filepath.Join(root, d, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	busy, err := lockDir(filepath.Join(root, "real~creating-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	if removed, err := RemoveAbandoned(root, "stale", false); err != nil || !removed {
		t.Fatalf("RemoveAbandoned(stale) = %v, %v", removed, err)
	}
	if removed, err := RemoveAbandoned(root, "real", false); err != nil || removed {
		t.Fatalf("RemoveAbandoned(real) = %v, %v, want false, nil", removed, err)
	}
	if _, err := os.Stat(filepath.Join(root, "real", stateFile)); err != nil {
		t.Errorf("RemoveAbandoned removed a container with state: %v", err)
	}
	if removed, err := RemoveAbandoned(root, "corrupt", false); !errors.Is(err, errCorrupt) || removed {
		t.Errorf("RemoveAbandoned(corrupt) without force = %v, %v, want a corruption error", removed, err)
	}
	if removed, err := RemoveAbandoned(root, "corrupt", true); err != nil || !removed {
		t.Errorf("RemoveAbandoned(corrupt, force) = %v, %v", removed, err)
	}
	if removed, err := RemoveAbandoned(root, "missing", false); err != nil || removed {
		t.Errorf("RemoveAbandoned of a missing container = %v, %v, want false, nil", removed, err)
	}
	if _, err := RemoveAbandoned(root, "..", false); err == nil {
		t.Errorf("RemoveAbandoned(..): no error")
	}
	if names := dirNames(t, root); !reflect.DeepEqual(names, []string{"real", "real~creating-1"}) {
		t.Errorf("root holds %q, want the real container and the locked debris", names)
	}
}

// hookConfig is a config whose hooks of kind copy their stdin to out.
func hookConfig(t *testing.T, kind, out string) string {
	t.Helper()
	cfg := map[string]any{
		"ociVersion": "1.0.2",
		"process":    map[string]any{"args": []string{"sh"}, "cwd": "/"},
		"linux":      map[string]any{"namespaces": []any{map[string]any{"type": "mount"}}},
		"hooks": map[string]any{kind: []any{map[string]any{
			"path": "/bin/sh", "args": []string{"sh", "-c", `cat > "$1"`, "sh", out},
		}}},
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func readHookState(t *testing.T, path string) specs.State {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("hook did not run: %v", err)
	}
	var st specs.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("hook stdin %q: %v", data, err)
	}
	return st
}

func TestDeleteStopped(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(t.TempDir(), "poststop")
	dir := makeContainerDir(t, root, testRecord("gone", 0, 0, hookConfig(t, "poststop", out)))
	c, err := Open(root, "gone")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Delete(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory still there: %v", err)
	}
	st := readHookState(t, out)
	if st.ID != "gone" || st.Status != specs.StateStopped || st.Bundle != "/bundles/gone" || st.Pid != 0 {
		t.Errorf("poststop hook got %+v, want id gone, status stopped, its bundle, pid 0", st)
	}
}

func TestDeleteRunningRefused(t *testing.T) {
	root := t.TempDir()
	cmd := startSleeper(t, "")
	_, start := startTimeOf(t, cmd.Process.Pid, "sleep")
	dir := makeContainerDir(t, root, testRecord("busy", cmd.Process.Pid, start, minimalConfig))
	c, err := Open(root, "busy")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Delete(false)
	if err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("Delete(false) of a running container = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		t.Errorf("a refused delete removed the state: %v", err)
	}
	if !processAlive(cmd.Process.Pid, start) {
		t.Errorf("a refused delete killed the process")
	}
}

func TestDeleteKills(t *testing.T) {
	for _, tt := range []struct {
		name    string
		created bool
		force   bool
	}{{"created", true, false}, {"running with force", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			cmd := startSleeper(t, "")
			_, start := startTimeOf(t, cmd.Process.Pid, "sleep")
			dir := makeContainerDir(t, root, testRecord("victim", cmd.Process.Pid, start, minimalConfig))
			if tt.created {
				if err := os.WriteFile(filepath.Join(dir, startSock), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Open(root, "victim")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Delete(tt.force); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Errorf("process ended with %v, want killed by SIGKILL", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state directory still there: %v", err)
			}
		})
	}
}

func TestSignal(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprintf("all=%v", all), func(t *testing.T) {
			root := t.TempDir()
			cmd := startSleeper(t, "")
			_, start := startTimeOf(t, cmd.Process.Pid, "sleep")
			makeContainerDir(t, root, testRecord("sig", cmd.Process.Pid, start, minimalConfig))
			c, err := Open(root, "sig")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Signal(unix.SIGUSR1, all); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGUSR1 {
				t.Errorf("process ended with %v, want killed by SIGUSR1", cmd.ProcessState)
			}
			if err := c.Signal(unix.SIGUSR1, all); err == nil || !strings.Contains(err.Error(), "not running") {
				t.Errorf("Signal to a stopped container = %v, want a not-running error", err)
			}
		})
	}
}

// A pid that now belongs to another process must never be signalled.
func TestSignalRecycledPid(t *testing.T) {
	root := t.TempDir()
	cmd := startSleeper(t, "")
	pid := cmd.Process.Pid
	_, start := startTimeOf(t, pid, "sleep")
	makeContainerDir(t, root, testRecord("old", pid, start-1, minimalConfig))
	c, err := Open(root, "old")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Signal(unix.SIGKILL, false); err == nil {
		t.Errorf("Signal to a container whose pid was recycled: no error")
	}
	c.Signal(unix.SIGKILL, true)
	if err := signalProcess(pid, start-1, unix.SIGKILL); err != nil {
		t.Errorf("signalProcess with a stale start time = %v, want nil", err)
	}
	if !processAlive(pid, start) {
		t.Fatalf("the unrelated process was killed")
	}
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	if !processAlive(pid, start) {
		t.Errorf("Delete(true) of a stopped container killed the unrelated process")
	}
}

func TestStartStatus(t *testing.T) {
	root := t.TempDir()
	makeContainerDir(t, root, testRecord("stopped", 0, 0, minimalConfig))
	c, err := Open(root, "stopped")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("Start of a stopped container = %v", err)
	}
	c.Close()

	cmd := startSleeper(t, "")
	_, start := startTimeOf(t, cmd.Process.Pid, "sleep")
	makeContainerDir(t, root, testRecord("running", cmd.Process.Pid, start, minimalConfig))
	c, err = Open(root, "running")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("Start of a running container = %v", err)
	}
	c.Close()
}

// Start talks to the init through start.sock; here the test plays the init.
func TestStart(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("init fails=%v", fail), func(t *testing.T) {
			root := t.TempDir()
			out := filepath.Join(t.TempDir(), "poststart")
			cmd := startSleeper(t, "")
			pid := cmd.Process.Pid
			_, start := startTimeOf(t, pid, "sleep")
			dir := makeContainerDir(t, root, testRecord("c", pid, start, hookConfig(t, "poststart", out)))
			c, err := Open(root, "c")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			listener, err := listenStart(c.lock)
			if err != nil {
				t.Fatal(err)
			}
			defer listener.Close()
			if c.Status() != specs.StateCreated {
				t.Fatalf("status %s with a start socket, want created", c.Status())
			}
			accepted := make(chan error, 1)
			go func() {
				nfd, _, err := unix.Accept4(int(listener.Fd()), unix.SOCK_CLOEXEC)
				if err != nil {
					accepted <- err
					return
				}
				f := os.NewFile(uintptr(nfd), "start")
				if fail {
					err = conn{f}.send(msgError, []byte("process.args[0]: exec: \"nope\": executable file not found in $PATH"))
				}
				f.Close()
				accepted <- err
			}()
			err = c.Start()
			if aerr := <-accepted; aerr != nil {
				t.Fatal(aerr)
			}
			if _, serr := os.Lstat(filepath.Join(dir, startSock)); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("start.sock still there after start: %v", serr)
			}
			if fail {
				if err == nil || !strings.Contains(err.Error(), "executable file not found") {
					t.Errorf("Start = %v, want the init's error", err)
				}
				if _, err := os.Stat(out); err == nil {
					t.Errorf("poststart hooks ran although the start failed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := readHookState(t, out)
			if st.Status != specs.StateRunning || st.Pid != pid || st.ID != "c" {
				t.Errorf("poststart hook got %+v, want status running and pid %d", st, pid)
			}
		})
	}
}

func TestListenStartLongRoot(t *testing.T) {
	// sun_path holds 108 bytes; the socket is bound through the directory fd.
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100), strings.Repeat("e", 100))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	l, err := listenStart(lock)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	fi, err := os.Lstat(filepath.Join(dir, startSock))
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("start.sock: %v %v, want a socket", fi, err)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		ws   unix.WaitStatus
		want int
	}{
		{0, 0},
		{3 << 8, 3},
		{255 << 8, 255},
		{unix.WaitStatus(unix.SIGKILL), 137},
		{unix.WaitStatus(unix.SIGTERM), 143},
		{unix.WaitStatus(unix.SIGSEGV) | 0x80, 139}, // with a core dump
	}
	for _, tt := range tests {
		if got := ExitCode(tt.ws); got != tt.want {
			t.Errorf("ExitCode(%#x) = %d, want %d", uint32(tt.ws), got, tt.want)
		}
	}
}

func TestWait(t *testing.T) {
	tests := []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		{"kill -KILL $$", 137},
		{"sh -c 'exit 1' & wait; exit 5", 5}, // a grandchild does not confuse it
	}
	for _, tt := range tests {
		proc, err := os.StartProcess("/bin/sh", []string{"sh", "-c", tt.script}, &os.ProcAttr{Files: []*os.File{nil, nil, os.Stderr}})
		if err != nil {
			t.Fatal(err)
		}
		if got := NewForwarder().Wait(proc.Pid); got != tt.want {
			t.Errorf("%q: Wait = %d, want %d", tt.script, got, tt.want)
		}
		proc.Release()
	}
}

// A lock waiter whose directory is deleted (renamed away) meanwhile locks
// the directory now at the path, or finds none: never the deleted one.
func TestLockDirFollowsDelete(t *testing.T) {
	root := t.TempDir()
	dir := makeContainerDir(t, root, testRecord("c1", 0, 0, minimalConfig))
	held, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		f   *os.File
		err error
	}
	got := make(chan res, 1)
	go func() {
		f, err := lockDir(dir)
		got <- res{f, err}
	}()
	for !lockWaiter(t, dir) {
		runtime.Gosched()
	}
	if err := os.Rename(dir, dir+deletedSuffix); err != nil {
		t.Fatal(err)
	}
	// A new create of the same ID: the waiter must get this one.
	again := makeContainerDir(t, root, testRecord("c1", 0, 0, minimalConfig))
	held.Close()
	r := <-got
	if r.err != nil {
		t.Fatalf("lockDir after delete and create = %v", r.err)
	}
	defer r.f.Close()
	var a, b unix.Stat_t
	if err := unix.Fstat(int(r.f.Fd()), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(again, &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino != b.Ino {
		t.Errorf("the waiter locked the deleted directory, not the new one")
	}
}

// The first record goes over cgroup.json: no new file, state.json whole,
// and a write cut off at any byte leaves the cgroup paths readable.
func TestWriteFirstRecord(t *testing.T) {
	root := t.TempDir()
	paths := map[string]string{"memory": "/sys/fs/cgroup/memory/c1", "": "/sys/fs/cgroup/unified/c1"}
	dir, lock, err := makeLockedDir(root, "c1", paths)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	old, err := os.ReadFile(filepath.Join(dir, cgroupFile))
	if err != nil {
		t.Fatal(err)
	}
	rec := testRecord("c1", 42, 7, minimalConfig)
	rec.CgroupPaths = paths
	if err := writeFirstRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{stateFile}) {
		t.Errorf("directory holds %q, want only %s", names, stateFile)
	}
	got, err := readRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pid != 42 || !reflect.DeepEqual(got.CgroupPaths, paths) {
		t.Errorf("state.json: pid %d, cgroups %v", got.Pid, got.CgroupPaths)
	}

	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= len(old) {
		t.Fatalf("the record (%d bytes) is not longer than cgroup.json (%d)", len(data), len(old))
	}
	for k := 0; k <= len(data); k++ {
		torn := append([]byte(nil), data[:k]...)
		if k < len(old) {
			torn = append(torn, old[k:]...)
		}
		if got, err := leadingCgroupPaths(torn); err != nil || !reflect.DeepEqual(got, paths) {
			t.Fatalf("cut after %d bytes: %v, %v", k, got, err)
		}
	}
	// A state.json damaged after the rename still gives its cgroups to
	// delete --force.
	if err := os.WriteFile(filepath.Join(dir, stateFile), data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readRecord(dir); !errors.Is(err, errCorrupt) {
		t.Fatalf("half a state.json: %v, want corrupt", err)
	}
	if cg, err := recordedCgroup(dir); err != nil || cg == nil || !reflect.DeepEqual(cg.Paths(), paths) {
		t.Errorf("cgroups of a corrupt state.json: %v, %v", cg, err)
	}
	// One whose start is gone too leaves nothing to find, and says so.
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(`{"oci`), 0o600); err != nil {
		t.Fatal(err)
	}
	if cg, err := recordedCgroup(dir); err != nil || cg != nil {
		t.Errorf("cgroups of a state.json cut before them: %v, %v", cg, err)
	}
	for doc, want := range map[string]string{`null`: "", `[1]`: "starts with [, not a JSON object"} {
		if got, err := leadingCgroupPaths([]byte(doc)); got != nil || (err == nil) != (want == "") || (err != nil && err.Error() != want) {
			t.Errorf("leadingCgroupPaths(%s) = %v, %v, want error %q", doc, got, err, want)
		}
	}
	// cgroup.json as husk wrote it before: a plain map.
	if got, err := leadingCgroupPaths([]byte(`{"memory":"/sys/fs/cgroup/memory/c1"}`)); err != nil || got["memory"] != "/sys/fs/cgroup/memory/c1" {
		t.Errorf("plain map: %v, %v", got, err)
	}
}

// record.marshal and initConfig.encode write what json.Marshal writes.
func TestMarshalLikeEncodingJSON(t *testing.T) {
	rec := testRecord("c1", 42, 7, minimalConfig)
	bare := testRecord("c2", 0, 0, "")
	bare.Annotations = nil
	bare.Config = nil
	rec.CgroupPaths = map[string]string{"": "/sys/fs/cgroup/unified/c1", "memory": "/sys/fs/cgroup/memory/<c1>"}
	rec.Owner = "root"
	for _, r := range []*record{rec, bare} {
		got, err := r.marshal()
		sameAsJSON(t, "record", got, err, r)
	}
	if got, want := marshalCgroupFile(rec.CgroupPaths), `{"cgroupPaths":{"":"/sys/fs/cgroup/unified/c1","memory":"/sys/fs/cgroup/memory/\u003cc1\u003e"}}`; string(got) != want {
		t.Errorf("cgroup.json %s, want %s", got, want)
	}

	full := initConfig{ID: "c1", Rootfs: "/r", State: rec.State.State, Config: json.RawMessage(minimalConfig),
		NoPivot: true, NoNewKeyring: true, RuntimeHooks: true, StartFd: 7, CgroupPaths: rec.CgroupPaths, NewCgroupNS: true,
		Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"}, Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow},
		SeccompBPF: []byte{1, 2, 3}, PreserveFds: 2, ListenFds: 1}
	for _, c := range []initConfig{full, {ID: "c2", State: bare.State.State}} {
		got, err := c.encode()
		sameAsJSON(t, "init config", got, err, c)
	}
}

// sameAsJSON checks that got (written with err) is what json.Marshal(v)
// writes.
func sameAsJSON(t *testing.T, what string, got []byte, err error, v any) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// A field added to these types must be added to their writers too.
func TestMarshalWritersKnowEveryField(t *testing.T) {
	for _, c := range []struct {
		typ    reflect.Type
		fields int
		writer string
	}{
		{reflect.TypeFor[record](), 4, "record.marshal"},
		{reflect.TypeFor[State](), 4, "record.marshal"},
		{reflect.TypeFor[specs.State](), 6, "writeSpecState"},
		{reflect.TypeFor[initConfig](), 15, "initConfig.encode"},
	} {
		if n := c.typ.NumField(); n != c.fields {
			t.Errorf("%v has %d fields, %s writes %d: update it (and this test)", c.typ, n, c.writer, c.fields)
		}
	}
}
