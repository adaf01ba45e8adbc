package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// runOpts is what a scenario asks of a container, in engine-neutral terms;
// each engine turns it into its own flags.
type runOpts struct {
	tty        bool
	user       string // uid:gid
	readOnly   bool
	capDropAll bool
	capAdd     []string // without the CAP_ prefix
	seccomp    string   // profile file
	memory     int64    // bytes
	pids       int64
	// cgroupFS: the scenario reads its limits from /sys/fs/cgroup inside.
	cgroupFS bool
}

// engine drives one container engine that runs husk as its OCI runtime.
type engine interface {
	name() string
	// runArgs is the argv that runs cmd in a new container id: in the
	// foreground and removed afterwards, or detached. skip is set when the
	// engine has no way to ask for something in o.
	runArgs(id string, o runOpts, detach bool, cmd []string) (argv []string, skip string)
	// runCmdOpts is how a foreground run is started (ctr -t needs a terminal).
	runCmdOpts(o runOpts) cmdOpts
	// startErrorExit is the status the client exits with when the runtime
	// cannot start the process with wanted (126 or 127) as its reason.
	startErrorExit(wanted int) int
	// exec runs cmd in the running container id, with a terminal if tty.
	exec(t *testing.T, id string, tty bool, cmd ...string) result
	status(t *testing.T, id string) string // running, paused or exited
	pid(t *testing.T, id string) int       // the init's pid on the host
	top(t *testing.T, id string) string    // the container's processes, with their arguments
	pause(t *testing.T, id string)
	resume(t *testing.T, id string)
	stop(t *testing.T, id string) int // SIGTERM, waits for the exit and returns its status
	remove(t *testing.T, id string)
	forceRemove(t *testing.T, id string) // cleanup: errors ignored
}

// scenario is one foreground container run and what it must show.
type scenario struct {
	name string
	opts runOpts
	cmd  []string
	exit int      // the status wanted (126 and 127: see startErrorExit)
	out  []string // each must be in the output
	// errOut, for a process that cannot start: the runtime's reason, which
	// the client must show.
	errOut string
}

// seccompProfile is a profile every engine takes (Docker's format is a
// superset of the runtime-spec's for these fields): mkdir fails with EPERM,
// everything else is allowed.
const seccompProfile = `{
	"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
	]
}`

// cgroupFile prints a cgroup v1 file of the container's own cgroup, or its
// v2 counterpart on a unified host.
func cgroupFile(v1, v2 string) []string {
	return []string{"sh", "-c", fmt.Sprintf("cat /sys/fs/cgroup/%s 2>/dev/null || cat /sys/fs/cgroup/%s", v1, v2)}
}

func scenarios(dir string) []scenario {
	profile := filepath.Join(dir, "seccomp.json")
	return []scenario{
		{name: "output", cmd: []string{"echo", "hello from husk"}, out: []string{"hello from husk"}},
		{name: "exit status", cmd: []string{"sh", "-c", "exit 3"}, exit: 3},
		{name: "missing command", cmd: []string{"/no/such/command"}, exit: 127, errOut: "no such file or directory"},
		{name: "not executable", cmd: []string{"/etc/passwd"}, exit: 126, errOut: "permission denied"},
		{
			name: "terminal", opts: runOpts{tty: true},
			cmd: []string{"sh", "-c", "tty; test -t 1 && echo stdout-is-a-tty"},
			out: []string{"/dev/pts/", "stdout-is-a-tty"},
		},
		{
			name: "user", opts: runOpts{user: "1000:1000"},
			cmd: []string{"sh", "-c", "echo uid=$(id -u) gid=$(id -g)"},
			out: []string{"uid=1000 gid=1000"},
		},
		{
			name: "read-only root", opts: runOpts{readOnly: true},
			cmd: []string{"sh", "-c", "touch /written 2>&1; echo touched=$?"},
			out: []string{"Read-only file system", "touched=1"},
		},
		{
			// CHOWN is bit 0, NET_RAW bit 13.
			name: "capabilities", opts: runOpts{capDropAll: true, capAdd: []string{"CHOWN", "NET_RAW"}},
			cmd: []string{"grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status"},
			out: []string{"CapEff:\t0000000000002001", "CapBnd:\t0000000000002001"},
		},
		{
			name: "seccomp profile", opts: runOpts{seccomp: profile},
			cmd: []string{"sh", "-c", "mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f && echo touch=ok"},
			out: []string{"Operation not permitted", "mkdir=1", "touch=ok"},
		},
		{
			name: "memory limit", opts: runOpts{memory: 64 << 20, cgroupFS: true},
			cmd: cgroupFile("memory/memory.limit_in_bytes", "memory.max"),
			out: []string{"67108864"},
		},
		{
			name: "pids limit", opts: runOpts{pids: 50, cgroupFS: true},
			cmd: cgroupFile("pids/pids.max", "pids.max"),
			out: []string{"50"},
		},
	}
}

// testEngine runs the scenarios, the engine's own ones (more) and the
// detached lifecycle on e, one after the other; extra, when set, runs while
// the lifecycle's container runs.
func testEngine(t *testing.T, e engine, dir string, more []scenario, extra func(t *testing.T, id string)) {
	if err := os.WriteFile(filepath.Join(dir, "seccomp.json"), []byte(seccompProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, sc := range append(scenarios(dir), more...) {
		t.Run(sc.name, func(t *testing.T) {
			id := fmt.Sprintf("husk-%s-%d", e.name(), i)
			argv, skip := e.runArgs(id, sc.opts, false, sc.cmd)
			if skip != "" {
				t.Skip(skip)
			}
			t.Cleanup(func() { e.forceRemove(t, id) })
			r := run(t, e.runCmdOpts(sc.opts), argv...)
			want := sc.exit
			if sc.errOut != "" {
				want = e.startErrorExit(sc.exit)
			}
			if r.exit != want {
				t.Fatalf("want exit %d, got %v", want, r)
			}
			for _, s := range sc.out {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("want %q in the output, got %v", s, r)
				}
			}
			if sc.errOut != "" && !strings.Contains(r.stderr, sc.errOut) {
				t.Errorf("want the runtime's reason %q, got %v", sc.errOut, r)
			}
		})
	}
	t.Run("detached lifecycle", func(t *testing.T) { lifecycle(t, e, extra) })
}

// lifecycle: a detached container, exec into it, its processes, pause and
// resume as the freezer shows them, stop with the exit status its TERM
// trap chose, and removal.
func lifecycle(t *testing.T, e engine, extra func(t *testing.T, id string)) {
	id := "husk-" + e.name() + "-detached"
	// wait returns when TERM arrives, so the trap runs at once.
	opts := runOpts{memory: 48 << 20}
	argv, skip := e.runArgs(id, opts, true, []string{"sh", "-c", `trap "exit 7" TERM; sleep 1000 & wait`})
	if skip != "" {
		t.Skip(skip)
	}
	t.Cleanup(func() { e.forceRemove(t, id) })
	mustRun(t, e.runCmdOpts(opts), argv...)
	waitStatus(t, e, id, "running")
	pid := e.pid(t, id)
	if got := hostCgroupFile(t, pid, "memory", "memory.limit_in_bytes", "memory.max"); got != "50331648" {
		t.Errorf("memory limit in the host's cgroup: want 50331648, got %q", got)
	}

	r := e.exec(t, id, false, "sh", "-c", "echo in-exec pid1=$(cat /proc/1/comm); exit 5")
	if r.exit != 5 || !strings.Contains(r.stdout, "in-exec pid1=sh") {
		t.Errorf("exec: want exit 5 and %q, got %v", "in-exec pid1=sh", r)
	}
	t.Run("exec with a terminal", func(t *testing.T) {
		r := e.exec(t, id, true, "sh", "-c", "tty; test -t 1 && echo exec-stdout-is-a-tty; exit 4")
		if r.exit != 4 || !strings.Contains(r.stdout, "/dev/pts/") || !strings.Contains(r.stdout, "exec-stdout-is-a-tty") {
			t.Errorf("exec -t: want exit 4, a /dev/pts/ name and a terminal on stdout, got %v", r)
		}
	})

	if top := e.top(t, id); !strings.Contains(top, "sleep 1000") {
		t.Errorf("top: want the container's %q, got:\n%s", "sleep 1000", top)
	}
	if extra != nil {
		extra(t, id)
	}

	e.pause(t, id)
	waitStatus(t, e, id, "paused")
	if got := freezerState(t, pid); got != "FROZEN" {
		t.Errorf("paused: want the freezer FROZEN, got %q", got)
	}
	e.resume(t, id)
	waitStatus(t, e, id, "running")
	if got := freezerState(t, pid); got != "THAWED" {
		t.Errorf("resumed: want the freezer THAWED, got %q", got)
	}

	if code := e.stop(t, id); code != 7 {
		t.Errorf("stop: want exit status 7 from the TERM trap, got %d", code)
	}
	e.remove(t, id)
}

// waitStatus waits until the engine reports want for id; a container that
// never gets there fails the test after a minute.
func waitStatus(t *testing.T, e engine, id, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var got string
	for time.Now().Before(deadline) {
		if got = e.status(t, id); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: want status %q, still %q", id, want, got)
}

// freezerState reads the freezer state of pid's cgroup on the host: v1's
// freezer.state, or v2's cgroup.freeze as FROZEN or THAWED.
func freezerState(t *testing.T, pid int) string {
	t.Helper()
	switch s := hostCgroupFile(t, pid, "freezer", "freezer.state", "cgroup.freeze"); s {
	case "0":
		return "THAWED"
	case "1":
		return "FROZEN"
	default:
		return s
	}
}

// hostCgroupFile reads a file of pid's cgroup on the host: v1File in the
// v1 hierarchy of controller when the host has one, else v2File in the
// unified hierarchy.
func hostCgroupFile(t *testing.T, pid int, controller, v1File, v2File string) string {
	t.Helper()
	var unified string
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid))), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if slices.Contains(strings.Split(parts[1], ","), controller) {
			return strings.TrimSpace(readFile(t, filepath.Join("/sys/fs/cgroup", controller, parts[2], v1File)))
		}
		if parts[0] == "0" {
			unified = parts[2]
		}
	}
	return strings.TrimSpace(readFile(t, filepath.Join("/sys/fs/cgroup", unified, v2File)))
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostCmdlines turns pids into "pid args..." lines read from the host's
// /proc, for engines whose ps shows pids only.
func hostCmdlines(pids []int) string {
	var b strings.Builder
	for _, pid := range pids {
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		fmt.Fprintf(&b, "%d %s\n", pid, strings.TrimSpace(strings.ReplaceAll(string(cl), "\x00", " ")))
	}
	return b.String()
}
