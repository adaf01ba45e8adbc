package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"husk/libcontainer"
)

func TestParseSignal(t *testing.T) {
	good := []struct {
		in   string
		want unix.Signal
	}{
		{"TERM", unix.SIGTERM},
		{"SIGTERM", unix.SIGTERM},
		{"term", unix.SIGTERM},
		{"sigterm", unix.SIGTERM},
		{"SigTerm", unix.SIGTERM},
		{"9", unix.SIGKILL},
		{"KILL", unix.SIGKILL},
		{"15", unix.SIGTERM},
		{"1", unix.SIGHUP},
		{"HUP", unix.SIGHUP},
		{"USR1", unix.SIGUSR1},
		{"SIGWINCH", unix.SIGWINCH},
		{"64", unix.Signal(64)},
	}
	for _, tt := range good {
		got, err := parseSignal(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "-9", "1000", "FOO", "SIG", "SIGFOO", "9x", " TERM", "TERM ", "SIGSIGTERM"} {
		if got, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) = %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), "signal") || !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("parseSignal(%q) error %q does not name the bad signal", in, err)
		}
	}
}

func TestParseUser(t *testing.T) {
	good := []struct {
		in       string
		uid, gid uint32
	}{
		{"1000", 1000, 0},
		{"1000:1000", 1000, 1000},
		{"0:0", 0, 0},
		{"5:7", 5, 7},
		{"4294967295:4294967295", 4294967295, 4294967295},
	}
	for _, tt := range good {
		uid, gid, err := parseUser(tt.in)
		if err != nil || uid != tt.uid || gid != tt.gid {
			t.Errorf("parseUser(%q) = %d, %d, %v; want %d, %d", tt.in, uid, gid, err, tt.uid, tt.gid)
		}
	}
	for _, in := range []string{"", "x", "1:y", "x:1", "-1", "1:-1", "4294967296", "1:4294967296", "1:2:3", "root", " 1"} {
		if uid, gid, err := parseUser(in); err == nil {
			t.Errorf("parseUser(%q) = %d, %d; want an error", in, uid, gid)
		} else if !strings.Contains(err.Error(), "--user") {
			t.Errorf("parseUser(%q) error %q does not name --user", in, err)
		}
	}
}

func TestExitCode(t *testing.T) {
	if err := exitCode(0); err != nil {
		t.Errorf("exitCode(0) = %v, want nil", err)
	}
	for _, code := range []int{1, 3, 137, 255} {
		err := exitCode(code)
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != code {
			t.Errorf("exitCode(%d) = %#v, want an ExitCoder with code %d", code, err, code)
			continue
		}
		// main prints nothing for an empty message: the container spoke.
		if err.Error() != "" {
			t.Errorf("exitCode(%d) message %q, want none", code, err)
		}
	}
}

// run runs husk's CLI in-process and returns what it printed on stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(r)
		r.Close()
		out <- string(data)
	}()
	saved := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = saved }()
	err = newApp().Run(append([]string{"husk"}, args...))
	os.Stdout = saved
	w.Close()
	return <-out, err
}

func TestSpecCommand(t *testing.T) {
	dir := t.TempDir()
	if _, err := run(t, "spec", "--bundle", dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("config.json is not valid JSON: %v", err)
	}
	// It is the default spec, as written.
	want, _ := json.Marshal(libcontainer.DefaultSpec())
	got, _ := json.Marshal(&spec)
	if string(got) != string(want) {
		t.Errorf("config.json differs from DefaultSpec:\n%s\n%s", got, want)
	}
	// With a rootfs it loads, terminal and all.
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err = libcontainer.LoadBundle(dir); err != nil {
		t.Errorf("LoadBundle of the written spec: %v", err)
	}

	// A second run must not overwrite it.
	if err := os.WriteFile(path, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "spec", "--bundle", dir)
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), path) {
		t.Errorf("spec over an existing config.json = %v, want an already-exists error naming it", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "mine" {
		t.Errorf("config.json was overwritten: %q", data)
	}

	// Into a bundle directory that does not exist.
	if _, err := run(t, "spec", "-b", filepath.Join(dir, "missing")); err == nil {
		t.Errorf("spec into a missing directory: no error")
	}
}

func TestSpecCommandRootless(t *testing.T) {
	dir := t.TempDir()
	if _, err := run(t, "spec", "--rootless", "--bundle", dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	user := false
	for _, ns := range spec.Linux.Namespaces {
		user = user || ns.Type == specs.UserNamespace
	}
	if !user || len(spec.Linux.UIDMappings) != 1 || spec.Linux.UIDMappings[0].HostID != uint32(os.Geteuid()) ||
		len(spec.Linux.GIDMappings) != 1 || spec.Linux.GIDMappings[0].HostID != uint32(os.Getegid()) {
		t.Errorf("rootless spec: namespaces %v uid %v gid %v, want a user namespace mapping root to the caller",
			spec.Linux.Namespaces, spec.Linux.UIDMappings, spec.Linux.GIDMappings)
	}
}

func TestListEmpty(t *testing.T) {
	for _, root := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		out, err := run(t, "--root", root, "list")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 1 || !reflect.DeepEqual(strings.Fields(lines[0]), []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
			t.Errorf("list of an empty root printed %q, want the header only", out)
		}
		if out, err := run(t, "--root", root, "list", "--format", "json"); err != nil || out != "[]\n" {
			t.Errorf("list -f json of an empty root = %q, %v; want []", out, err)
		}
		if out, err := run(t, "--root", root, "list", "-q"); err != nil || out != "" {
			t.Errorf("list -q of an empty root = %q, %v; want nothing", out, err)
		}
		if _, err := os.Stat(root); err != nil && !strings.HasSuffix(root, "missing") {
			t.Errorf("root vanished: %v", err)
		}
	}
	if _, err := run(t, "--root", t.TempDir(), "list", "--format", "xml"); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Errorf("list --format xml = %v, want an error naming the format", err)
	}
}

// fakeContainer writes root/id/state.json for a container whose init is
// gone, so commands see a stopped container.
func fakeContainer(t *testing.T, root, id string) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	rec := map[string]any{
		"ociVersion": specs.Version, "id": id, "status": "created", "pid": 0, "bundle": "/bundles/" + id,
		"rootfs": "/bundles/" + id + "/rootfs", "created": "2024-01-02T03:04:05Z", "owner": "",
		"config": map[string]any{
			"ociVersion": "1.0.2",
			"process":    map[string]any{"args": []string{"sh"}, "cwd": "/", "env": []string{"PATH=/bin"}, "user": map[string]any{"uid": 0, "gid": 0}},
			"linux":      map[string]any{"namespaces": []any{map[string]any{"type": "mount"}}},
		},
	}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestListAndState(t *testing.T) {
	root := t.TempDir()
	fakeContainer(t, root, "beta")
	fakeContainer(t, root, "alpha")
	if err := os.Mkdir(filepath.Join(root, "gamma"), 0o711); err != nil { // an abandoned create: no state.json, nobody holds its lock
		t.Fatal(err)
	}

	out, err := run(t, "--root", root, "list", "-q")
	if err != nil || out != "alpha\nbeta\ngamma\n" {
		t.Errorf("list -q = %q, %v", out, err)
	}

	out, err = run(t, "--root", root, "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("list printed %q, want a header and three rows", out)
	}
	if f := strings.Fields(lines[1]); len(f) < 5 || f[0] != "alpha" || f[1] != "0" || f[2] != "stopped" || f[3] != "/bundles/alpha" || f[4] != "2024-01-02T03:04:05Z" {
		t.Errorf("row %q", lines[1])
	}

	out, err = run(t, "--root", root, "list", "-f", "json")
	if err != nil {
		t.Fatal(err)
	}
	var states []map[string]any
	if err := json.Unmarshal([]byte(out), &states); err != nil {
		t.Fatalf("list -f json printed %q: %v", out, err)
	}
	if len(states) != 3 || states[0]["id"] != "alpha" || states[0]["status"] != "stopped" || states[2]["status"] != "stopped" {
		t.Errorf("list -f json = %v", states)
	}

	out, err = run(t, "--root", root, "state", "beta")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state printed %q: %v", out, err)
	}
	if st["id"] != "beta" || st["status"] != "stopped" || st["bundle"] != "/bundles/beta" || st["ociVersion"] != specs.Version {
		t.Errorf("state = %v", st)
	}
	if _, ok := st["config"]; ok {
		t.Errorf("state prints the stored config: %v", st)
	}

	if _, err := run(t, "--root", root, "state", "nope"); !errors.Is(err, libcontainer.ErrNotExist) {
		t.Errorf("state of a missing container = %v, want ErrNotExist", err)
	}
	if _, err := run(t, "--root", root, "state"); err == nil || err.Error() != "state: container ID is required" {
		t.Errorf("state without an ID = %v", err)
	}
	if _, err := run(t, "--root", root, "state", "../beta"); err == nil {
		t.Errorf("state ../beta: no error")
	}
}

func TestKillCommand(t *testing.T) {
	root := t.TempDir()
	fakeContainer(t, root, "stopped")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"kill", "stopped", "BOGUS"}, `unknown signal "BOGUS"`},
		{[]string{"kill", "stopped", "0"}, `invalid signal "0"`},
		{[]string{"kill", "stopped"}, "not running"},
		{[]string{"kill", "stopped", "KILL"}, "not running"},
		{[]string{"kill", "--all", "stopped", "9"}, "not running"},
		{[]string{"kill", "nope"}, "does not exist"},
		{[]string{"kill"}, "kill: container ID is required"},
	}
	for _, tt := range tests {
		_, err := run(t, append([]string{"--root", root}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestDeleteCommand(t *testing.T) {
	root := t.TempDir()
	if _, err := run(t, "--root", root, "delete", "nope"); !errors.Is(err, libcontainer.ErrNotExist) {
		t.Errorf("delete of a missing container = %v, want ErrNotExist", err)
	}
	if _, err := run(t, "--root", root, "delete", "--force", "nope"); err != nil {
		t.Errorf("delete --force of a missing container = %v, want nil", err)
	}

	fakeContainer(t, root, "done")
	if _, err := run(t, "--root", root, "delete", "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "done")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted container still there: %v", err)
	}

	// What an interrupted create leaves: a directory without state.json.
	if err := os.Mkdir(filepath.Join(root, "half"), 0o711); err != nil {
		t.Fatal(err)
	}
	run(t, "--root", root, "delete", "half")
	if _, err := os.Stat(filepath.Join(root, "half")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale directory still there: %v", err)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "spec", "-b", bundle); err != nil { // asks for a terminal
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "state")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"create", "--bundle", bundle, "c1"}, "cannot allocate tty if husk will detach without setting console socket"},
		{[]string{"run", "-d", "--bundle", bundle, "c1"}, "cannot allocate tty if husk will detach without setting console socket"},
		{[]string{"run", "--console-socket", "/x.sock", "--bundle", bundle, "c1"}, "cannot use console socket if husk will not detach or allocate tty"},
		{[]string{"create", "--bundle", t.TempDir(), "c1"}, "config.json: no such file"},
		{[]string{"create", "--bundle", bundle, "--console-socket", "/x.sock", "c1"}, "--console-socket /x.sock: connect: no such file or directory"},
		{[]string{"create", "--bundle", bundle, "--preserve-fds", "-1", "c1"}, "--preserve-fds"},
		{[]string{"create", "--bundle", bundle, "a/b"}, "invalid container ID"},
		{[]string{"create", "--bundle", bundle}, "create: container ID is required"},
		{[]string{"exec", "--tty", "c1", "sh"}, "does not exist"},
		{[]string{"exec", "c1", "sh"}, "does not exist"},
		{[]string{"start", "c1"}, "does not exist"},
	}
	for _, tt := range tests {
		_, err := run(t, append([]string{"--root", root}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused create left the state root behind: %v", err)
	}
}

func TestGlobalFlags(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		args []string
		want string // "" for success
	}{
		{[]string{"--rootless", "true", "list"}, "--rootless"},
		{[]string{"--rootless", "maybe", "list"}, `"maybe"`},
		{[]string{"--rootless", "false", "list"}, ""},
		{[]string{"--rootless", "auto", "list"}, ""},
		{[]string{"--systemd-cgroup", "list"}, "systemd"},
		{[]string{"--log-format", "xml", "list"}, `"xml"`},
		{[]string{"--log", filepath.Join(root, "missing", "log"), "list"}, "--log"},
	}
	for _, tt := range tests {
		_, err := run(t, append([]string{"--root", root}, tt.args...)...)
		resetLogger()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q = %v", tt.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

func resetLogger() {
	if logger.file != nil {
		logger.file.Close()
	}
	logger.file, logger.json, logger.debug = nil, false, false
}

// captureStderr runs f with os.Stderr going to a pipe.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	f()
	os.Stderr = saved
	w.Close()
	data, _ := io.ReadAll(r)
	r.Close()
	return string(data)
}

func TestLogJSON(t *testing.T) {
	defer resetLogger()
	path := filepath.Join(t.TempDir(), "log.json")
	if err := openLog(path, "json", false); err != nil {
		t.Fatal(err)
	}
	stderr := captureStderr(t, func() {
		logError("container \"x\": failed\nbadly")
		logWarn("careful %d", 3)
	})
	if want := "husk: container \"x\": failed\nbadly\nhusk: warning: careful 3\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("log %q, want two lines", data)
	}
	for i, want := range []map[string]string{
		{"level": "error", "msg": "container \"x\": failed\nbadly"},
		{"level": "warning", "msg": "careful 3"},
	} {
		var entry map[string]string
		if err := json.Unmarshal([]byte(lines[i]), &entry); err != nil {
			t.Fatalf("log line %q: %v", lines[i], err)
		}
		if entry["level"] != want["level"] || entry["msg"] != want["msg"] || entry["time"] == "" {
			t.Errorf("log line %v, want %v and a time", entry, want)
		}
	}
}

func TestLogText(t *testing.T) {
	defer resetLogger()
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := openLog(path, "text", false); err != nil {
		t.Fatal(err)
	}
	captureStderr(t, func() { logError(`bad "thing"`) })
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 || lines[0] != "earlier" {
		t.Fatalf("log %q, want the earlier line kept and one more", data)
	}
	if !strings.HasPrefix(lines[1], `time="`) || !strings.HasSuffix(lines[1], ` level=error msg="bad \"thing\""`) {
		t.Errorf("log line %q", lines[1])
	}
}

func TestLogNoFile(t *testing.T) {
	defer resetLogger()
	if err := openLog("", "text", false); err != nil {
		t.Fatal(err)
	}
	if out := captureStderr(t, func() { logError("x") }); out != "husk: x\n" {
		t.Errorf("stderr %q", out)
	}
}

// execContext parses exec's flags and arguments. Unlike the CLI, it does
// not copy short aliases of string flags to their long names: use --user.
func execContext(t *testing.T, args ...string) *cli.Context {
	t.Helper()
	set := flag.NewFlagSet("exec", flag.ContinueOnError)
	for _, f := range execCommand.Flags {
		if err := f.Apply(set); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cli.NewContext(newApp(), set, nil)
}

func baseProcess() *specs.Process {
	return &specs.Process{
		Terminal: true,
		Args:     []string{"sh"},
		Env:      []string{"PATH=/bin", "HOME=/root"},
		Cwd:      "/work",
		User:     specs.User{UID: 5, GID: 6, AdditionalGids: []uint32{10}},
		Rlimits:  []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 10}},
	}
}

func TestExecProcess(t *testing.T) {
	base := baseProcess()
	p, err := execProcess(execContext(t, "c1", "ls", "-l", "/"), base)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Args, []string{"ls", "-l", "/"}) || p.Terminal || p.Cwd != "/work" ||
		p.User.UID != 5 || p.User.GID != 6 || !reflect.DeepEqual(p.Env, base.Env) || len(p.Rlimits) != 1 {
		t.Errorf("exec process %+v, want the container's with the new args and no terminal", p)
	}
	if !reflect.DeepEqual(base, baseProcess()) {
		t.Errorf("execProcess changed the container's process: %+v", base)
	}

	p, err = execProcess(execContext(t, "-e", "A=1", "--env", "B=2", "--cwd", "/tmp", "--user", "1000:1001",
		"-g", "20", "--additional-gids", "21", "--no-new-privs", "c1", "id"), base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PATH=/bin", "HOME=/root", "A=1", "B=2"}; !reflect.DeepEqual(p.Env, want) {
		t.Errorf("env %q, want %q", p.Env, want)
	}
	if p.Cwd != "/tmp" || p.User.UID != 1000 || p.User.GID != 1001 || !p.NoNewPrivileges {
		t.Errorf("process %+v, want cwd /tmp, user 1000:1001, no_new_privs", p)
	}
	if want := []uint32{10, 20, 21}; !reflect.DeepEqual(p.User.AdditionalGids, want) {
		t.Errorf("additional gids %v, want %v", p.User.AdditionalGids, want)
	}
	if !reflect.DeepEqual(base, baseProcess()) {
		t.Errorf("execProcess changed the container's process: %+v", base)
	}
}

func TestExecProcessFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("p.json", `{"args": ["cat", "/etc/hostname"], "env": ["X=1"], "user": {"uid": 7, "gid": 8}, "unknownField": 1}`)
	p, err := execProcess(execContext(t, "--process", good, "-e", "Y=2", "c1"), baseProcess())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Args, []string{"cat", "/etc/hostname"}) || p.Cwd != "/" || p.User.UID != 7 ||
		!reflect.DeepEqual(p.Env, []string{"X=1", "Y=2"}) || len(p.Rlimits) != 0 {
		t.Errorf("process %+v, want the file's with cwd / and Y=2 added", p)
	}

	// A terminal: from the file, or with -t; never the config's without -t.
	tty := write("tty.json", `{"args": ["sh"], "terminal": true}`)
	base := baseProcess()
	base.Terminal = true
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"--process", tty, "c1"}, true},
		{[]string{"--process", good, "-t", "c1"}, true},
		{[]string{"--process", good, "c1"}, false},
		{[]string{"-t", "c1", "sh"}, true},
		{[]string{"c1", "sh"}, false},
	} {
		p, err := execProcess(execContext(t, tt.args...), base)
		if err != nil || p.Terminal != tt.want {
			t.Errorf("%q: terminal %v (%v), want %v", tt.args, p != nil && p.Terminal, err, tt.want)
		}
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--process", write("bad.json", `{"args": [`), "c1"}, "bad.json"},
		{[]string{"--process", write("noargs.json", `{"cwd": "/"}`), "c1"}, "a command is required"},
		{[]string{"--process", filepath.Join(dir, "missing.json"), "c1"}, "--process"},
		{[]string{"c1"}, "a command is required"},
		{[]string{"c1", ""}, "a command is required"},
		{[]string{"--user", "x", "c1", "sh"}, "--user"},
		{[]string{"--user", "1:y", "c1", "sh"}, "--user"},
	}
	for _, tt := range tests {
		_, err := execProcess(execContext(t, tt.args...), baseProcess())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// exec parses its process before it looks at the container's state.
func TestExecCommandStopped(t *testing.T) {
	root := t.TempDir()
	fakeContainer(t, root, "c1")
	if _, err := run(t, "--root", root, "exec", "c1"); err == nil || !strings.Contains(err.Error(), "a command is required") {
		t.Errorf("exec without a command = %v", err)
	}
	if _, err := run(t, "--root", root, "exec", "-u", "x", "c1", "true"); err == nil || !strings.Contains(err.Error(), `--user "x"`) {
		t.Errorf("exec -u x = %v, want a --user error", err)
	}
	if _, err := run(t, "--root", root, "exec", "c1", "true"); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("exec in a stopped container = %v, want a stopped error", err)
	}
}

func TestMergeEnv(t *testing.T) {
	base := make([]string, 3, 10) // spare capacity: a write through it would show
	copy(base, []string{"PATH=/bin", "HOME=/root", "PATHX=1"})
	tests := []struct {
		extra, want []string
	}{
		{nil, []string{"PATH=/bin", "HOME=/root", "PATHX=1"}},
		{[]string{"HOME=/x"}, []string{"PATH=/bin", "HOME=/x", "PATHX=1"}},
		{[]string{"NEW=1", "PATH=/usr/bin"}, []string{"PATH=/usr/bin", "HOME=/root", "PATHX=1", "NEW=1"}},
		{[]string{"A=1", "A=2"}, []string{"PATH=/bin", "HOME=/root", "PATHX=1", "A=2"}},
		{[]string{"PATHX=2"}, []string{"PATH=/bin", "HOME=/root", "PATHX=2"}},
		{[]string{"EMPTY="}, []string{"PATH=/bin", "HOME=/root", "PATHX=1", "EMPTY="}},
		{[]string{"X=a=b"}, []string{"PATH=/bin", "HOME=/root", "PATHX=1", "X=a=b"}},
	}
	for _, tt := range tests {
		if got := mergeEnv(base, tt.extra); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("mergeEnv(%q) = %q, want %q", tt.extra, got, tt.want)
		}
		if !reflect.DeepEqual(base[:4], []string{"PATH=/bin", "HOME=/root", "PATHX=1", ""}) {
			t.Fatalf("mergeEnv wrote into its base: %q", base[:4])
		}
	}
}

func TestAddCaps(t *testing.T) {
	// No capabilities in the config: the added ones only, no ambient.
	p := &specs.Process{}
	addCaps(p, []string{"CAP_NET_ADMIN"})
	want := &specs.LinuxCapabilities{Bounding: []string{"CAP_NET_ADMIN"}, Effective: []string{"CAP_NET_ADMIN"}, Permitted: []string{"CAP_NET_ADMIN"}}
	if !reflect.DeepEqual(p.Capabilities, want) {
		t.Errorf("capabilities %+v, want %+v", p.Capabilities, want)
	}

	// With inheritable ones: inheritable and ambient too, so a non-root
	// process can raise it. The config's slices stay as they were.
	grow := func(s ...string) []string { return append(make([]string, 0, 10), s...) }
	base := &specs.LinuxCapabilities{
		Bounding: grow("CAP_KILL"), Effective: grow("CAP_KILL"), Permitted: grow("CAP_KILL"),
		Inheritable: grow("CAP_KILL"), Ambient: grow("CAP_KILL"),
	}
	p = &specs.Process{Capabilities: base}
	addCaps(p, []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"})
	both := []string{"CAP_KILL", "CAP_NET_ADMIN", "CAP_SYS_TIME"}
	want = &specs.LinuxCapabilities{Bounding: both, Effective: both, Permitted: both, Inheritable: both, Ambient: both}
	if !reflect.DeepEqual(p.Capabilities, want) {
		t.Errorf("capabilities %+v, want %+v", p.Capabilities, want)
	}
	for _, s := range [][]string{base.Bounding, base.Effective, base.Permitted, base.Inheritable, base.Ambient} {
		if len(s) != 1 || s[:2][1] != "" {
			t.Errorf("addCaps changed the config's set: %q", s[:2])
		}
	}

	p = &specs.Process{Capabilities: base}
	addCaps(p, nil)
	if p.Capabilities != base {
		t.Errorf("addCaps without names replaced the capabilities")
	}
}

func TestExecProcessCap(t *testing.T) {
	base := baseProcess()
	base.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}
	p, err := execProcess(execContext(t, "--cap", "CAP_NET_RAW", "-c", "CAP_CHOWN", "c1", "ping"), base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"}; !reflect.DeepEqual(p.Capabilities.Bounding, want) {
		t.Errorf("bounding %q, want %q", p.Capabilities.Bounding, want)
	}
	if !reflect.DeepEqual(base.Capabilities.Bounding, []string{"CAP_KILL"}) {
		t.Errorf("the container's capabilities changed: %q", base.Capabilities.Bounding)
	}
}
