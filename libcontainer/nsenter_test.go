package libcontainer

// These tests run the real nsenter constructor: the test binary links it
// and, started with _HUSK_INITPIPE, becomes a `husk init` process. With
// _HUSK_TEST_HELPER=report it reports what nsenter did instead of going on
// to Init. No container is made: the processes run on the host's root.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	_ "husk/nsenter"
)

const helperEnv = "_HUSK_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv("_HUSK_INITPIPE") != "" {
		if os.Getenv(helperEnv) == "report" {
			nsenterReport()
		}
		Init() // does not return
	}
	os.Exit(m.Run())
}

// nsReport is what a process tells about itself after nsenter ran.
type nsReport struct {
	Pid, UID, GID int
	Oom           string
	NS            map[string]string
	Mono, Boot    int64 // CLOCK_MONOTONIC and CLOCK_BOOTTIME, ns
}

func readNS(pid string) map[string]string {
	ns := map[string]string{}
	for _, name := range namespaceProcName {
		if link, err := os.Readlink("/proc/" + pid + "/ns/" + name); err == nil {
			ns[name] = link
		}
	}
	return ns
}

func clockNs(id int32) int64 {
	var ts unix.Timespec
	unix.ClockGettime(id, &ts)
	return ts.Nano()
}

func nsenterReport() {
	fd, _ := strconv.Atoi(os.Getenv("_HUSK_INITPIPE"))
	c := conn{os.NewFile(uintptr(fd), "init-pipe")}
	oom, _ := os.ReadFile("/proc/self/oom_score_adj")
	r := nsReport{
		Pid: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(), Oom: strings.TrimSpace(string(oom)),
		NS: readNS("self"), Mono: clockNs(unix.CLOCK_MONOTONIC), Boot: clockNs(unix.CLOCK_BOOTTIME),
	}
	data, err := json.Marshal(r)
	if err != nil || c.send(msgReady, data) != nil {
		os.Exit(3)
	}
	c.recv() // stay until the parent has looked at us and closed the socket
	os.Exit(0)
}

// nsenterProc is a helper process after nsenter: its host pid and report.
type nsenterProc struct {
	pid    int
	report nsReport
}

// runNsenter starts the test binary as an init, sends req and drives
// nsenter as launch does; the helper lives until the end of the test.
func runNsenter(t *testing.T, req nsRequest) (*nsenterProc, error) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{"_HUSK_INITPIPE=3", helperEnv + "=report"}
	cmd.ExtraFiles = []*os.File{child}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	t.Cleanup(func() {
		parent.Close()
		cmd.Wait()
	})
	c := conn{parent}
	if err := c.send(msgNsConfig, req.encode()); err != nil {
		return nil, err
	}
	p := &nsenterProc{}
	for p.pid == 0 {
		typ, payload, err := c.recv()
		if err != nil {
			return nil, fmt.Errorf("recv: %w", err)
		}
		switch typ {
		case msgUsermapReq:
			if err := writeIDMaps(cmd.Process.Pid, req.uidMap, req.gidMap); err != nil {
				return nil, err
			}
			if err := c.send(msgUsermapAck, nil); err != nil {
				return nil, err
			}
		case msgPid:
			if len(payload) != 4 {
				return nil, fmt.Errorf("pid message of %d bytes", len(payload))
			}
			p.pid = int(binary.NativeEndian.Uint32(payload))
		case msgError:
			return nil, remoteError(payload)
		default:
			return nil, fmt.Errorf("unexpected message %d", typ)
		}
	}
	payload, err := c.expect(msgReady)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if err := json.Unmarshal(payload, &p.report); err != nil {
		return nil, err
	}
	if p.pid == cmd.Process.Pid {
		return p, nil
	}
	// nsenter forked: the process that started exits at once.
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("nsenter's first process: %w", err)
	}
	return p, nil
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestNsenterNothingToDo(t *testing.T) {
	var req nsRequest
	oom := 500
	// nsenter makes itself non-dumpable first, which leaves /proc/self
	// owned by root: only root can set the score then.
	if os.Geteuid() == 0 {
		req.oom = &oom
	}
	p, err := runNsenter(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.report.Pid != p.pid {
		t.Errorf("nsenter reported pid %d, the process is %d (no fork without new pid or time namespace)", p.pid, p.report.Pid)
	}
	if req.oom != nil && p.report.Oom != "500" {
		t.Errorf("oom_score_adj %q, want 500", p.report.Oom)
	}
	if want := readNS("self"); fmt.Sprint(p.report.NS) != fmt.Sprint(want) {
		t.Errorf("namespaces %v, want ours %v", p.report.NS, want)
	}
}

func TestNsenterErrors(t *testing.T) {
	tests := []struct {
		req  nsRequest
		want string
	}{
		{nsRequest{join: [][2]string{{"bogus", "/proc/self/ns/net"}}}, "nsenter: unknown namespace type bogus"},
		{nsRequest{join: [][2]string{{"network", "/nonexistent/ns"}}}, "nsenter: open namespace /nonexistent/ns: No such file or directory"},
		// Only the first colon separates the type from the path.
		{nsRequest{join: [][2]string{{"network", "/nonexistent/a:b"}}}, "nsenter: open namespace /nonexistent/a:b: No such file or directory"},
	}
	for _, tt := range tests {
		_, err := runNsenter(t, tt.req)
		var re remoteError
		if !errors.As(err, &re) || err.Error() != tt.want {
			t.Errorf("nsenter error %v, want %q from nsenter", err, tt.want)
		}
	}
}

func TestNsenterCloneAndJoin(t *testing.T) {
	needRoot(t)
	mine := readNS("self")
	a, err := runNsenter(t, nsRequest{clone: unix.CLONE_NEWUTS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC})
	if err != nil {
		t.Fatal(err)
	}
	for name, link := range a.report.NS {
		changed := name == "uts" || name == "net" || name == "ipc"
		if changed == (link == mine[name]) {
			t.Errorf("new process: %s namespace %s, ours %s; want new ones for uts, net and ipc only", name, link, mine[name])
		}
	}
	// A second process joins the first one's namespaces by path, as exec does.
	pid := strconv.Itoa(a.pid)
	b, err := runNsenter(t, nsRequest{join: [][2]string{
		{"uts", "/proc/" + pid + "/ns/uts"}, {"network", "/proc/" + pid + "/ns/net"}, {"ipc", "/proc/" + pid + "/ns/ipc"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(b.report.NS) != fmt.Sprint(a.report.NS) {
		t.Errorf("joined namespaces %v, want %v", b.report.NS, a.report.NS)
	}
}

func TestNsenterUserNamespace(t *testing.T) {
	needRoot(t)
	req := nsRequest{
		clone:  unix.CLONE_NEWUSER | unix.CLONE_NEWUTS,
		uidMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}},
		gidMap: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 10}, {ContainerID: 10, HostID: 300000, Size: 1}},
	}
	p, err := runNsenter(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.report.UID != 0 || p.report.GID != 0 {
		t.Errorf("in the user namespace: uid %d gid %d, want root", p.report.UID, p.report.GID)
	}
	for file, want := range map[string]string{"uid_map": "0 100000 1000", "gid_map": "0 200000 10|10 300000 1"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", p.pid, file))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
		if got := strings.Join(lines, "|"); got != want {
			t.Errorf("%s %q, want %q", file, got, want)
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t100000\t100000\t100000\t100000\n") {
		t.Errorf("host view of the process's uids is not 100000:\n%s", status)
	}
}

func TestNsenterPidAndTimeNamespaces(t *testing.T) {
	needRoot(t)
	spec := nsSpec(
		specs.LinuxNamespace{Type: specs.PIDNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace},
		specs.LinuxNamespace{Type: specs.MountNamespace},
	)
	spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
		"monotonic": {Secs: 86400},
		"boottime":  {Secs: 2 * 86400, Nanosecs: 500},
	}
	oom := 321
	spec.Process.OOMScoreAdj = &oom
	mono0, boot0 := clockNs(unix.CLOCK_MONOTONIC), clockNs(unix.CLOCK_BOOTTIME)
	p, err := runNsenter(t, createRequest(spec))
	if err != nil {
		t.Fatal(err)
	}
	mono1, boot1 := clockNs(unix.CLOCK_MONOTONIC), clockNs(unix.CLOCK_BOOTTIME)
	if p.report.Pid != 1 {
		t.Errorf("pid in the new pid namespace %d, want 1", p.report.Pid)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("\nNSpid:\t%d\t1\n", p.pid); !strings.Contains(string(status), want) {
		t.Errorf("reported host pid %d is not the init of the new namespace:\n%s", p.pid, status)
	}
	const day = int64(86400e9)
	if m := p.report.Mono; m < mono0+day || m > mono1+day {
		t.Errorf("monotonic clock %d, want between %d and %d (one day ahead)", m, mono0+day, mono1+day)
	}
	if b := p.report.Boot; b < boot0+2*day+500 || b > boot1+2*day+500 {
		t.Errorf("boottime clock %d, want between %d and %d (two days ahead)", b, boot0+2*day+500, boot1+2*day+500)
	}
	if p.report.Oom != "321" {
		t.Errorf("oom_score_adj %q, want 321", p.report.Oom)
	}
}

// execInOwnNamespaces runs p through Container.Exec. The container's
// "init" is a sleeping child in our own namespaces, so joining them changes
// nothing and the whole path (sealed binary, nsenter, Go init, exec) runs
// without a container. It returns the process's output and exit code.
func execInOwnNamespaces(t *testing.T, p *specs.Process) (string, int) {
	t.Helper()
	needRoot(t)
	root := t.TempDir()
	sleeper := startSleeper(t, "")
	_, start := startTimeOf(t, sleeper.Process.Pid, "sleep")
	cfg := `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"linux":{"namespaces":[` +
		`{"type":"mount"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"pid"},{"type":"cgroup"}]}}`
	makeContainerDir(t, root, testRecord("box", sleeper.Process.Pid, start, cfg))
	c, err := Open(root, "box")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	pid, err := c.Exec(ExecOpts{Process: p, ProcessFile: "process.json", Stdio: [3]*os.File{devnull, f, f}})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	code := NewForwarder().Wait(pid)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data)), code
}

func TestExecInOwnNamespaces(t *testing.T) {
	cwd := t.TempDir()
	umask := uint32(0o027)
	script := `echo "foo=$FOO home=$HOME umask=$(umask) pwd=$(pwd)"; ulimit -n; id -u; id -G; grep NoNewPrivs /proc/self/status; ls /proc/self/fd`
	out, code := execInOwnNamespaces(t, &specs.Process{
		Args: []string{"sh", "-c", script}, Cwd: cwd, Env: []string{"PATH=/usr/bin:/bin", "FOO=bar baz"},
		User:            specs.User{UID: 3999999, GID: 3888888, AdditionalGids: []uint32{44, 55}, Umask: &umask},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456}},
		NoNewPrivileges: true,
	})
	if code != 0 {
		t.Errorf("exit code %d", code)
	}
	want := []string{
		"foo=bar baz home=/ umask=0027 pwd=" + cwd,
		"123",
		"3999999",
		"3888888 44 55",
		"NoNewPrivs:\t1",
		"0", "1", "2", "3", // ls's own directory fd is 3: nothing else leaked
	}
	if out != strings.Join(want, "\n") {
		t.Errorf("the exec'd process saw\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
}

func TestExecErrors(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	sleeper := startSleeper(t, "")
	_, start := startTimeOf(t, sleeper.Process.Pid, "sleep")
	makeContainerDir(t, root, testRecord("box", sleeper.Process.Pid, start, minimalConfig))
	c, err := Open(root, "box")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		p    *specs.Process
		want string
	}{
		{&specs.Process{Args: []string{"sh"}, Cwd: missing, Env: []string{"PATH=/bin"}}, "process.cwd " + missing + ": no such file or directory"},
		{&specs.Process{Args: []string{"no-such-tool"}, Cwd: "/", Env: []string{"PATH=/bin"}}, `process.args[0]: exec: "no-such-tool": executable file not found in $PATH`},
		{&specs.Process{Args: []string{"sh"}, Cwd: "/", Env: []string{"PATH=/bin"}, Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1 << 40, Hard: 1 << 40}}},
			"process.rlimits RLIMIT_NOFILE: operation not permitted"},
	}
	for _, tt := range tests {
		pid, err := c.Exec(ExecOpts{Process: tt.p, Stdio: [3]*os.File{os.Stdin, os.Stdout, os.Stderr}})
		if err == nil || err.Error() != tt.want {
			t.Errorf("Exec = %d, %v; want %q", pid, err, tt.want)
		}
	}
}
