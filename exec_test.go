package main

// `husk exec`, `state`, `kill` and `delete` against a "container" whose
// init is a sleeping child of the test in the host's namespaces: the test
// binary links nsenter and becomes `husk init` when started as one, so the
// whole exec path runs without making a container. Needs root.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/urfave/cli/v2"

	"husk/libcontainer"
)

func TestMain(m *testing.M) {
	if os.Getenv("_HUSK_INITPIPE") != "" {
		libcontainer.Init() // does not return
	}
	os.Exit(m.Run())
}

// liveContainer writes root/id/state.json for a container whose init is a
// sleeping child and whose config has the given process capabilities.
func liveContainer(t *testing.T, root, id string, caps map[string]any) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	cmd := exec.Command("/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat)) // comm is "sleep": no spaces
	start, err := strconv.ParseUint(fields[21], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	process := map[string]any{"args": []string{"sh"}, "cwd": "/", "env": []string{"PATH=/usr/bin:/bin", "FOO=config"}}
	if caps != nil {
		process["capabilities"] = caps
	}
	rec := map[string]any{
		"ociVersion": "1.0.2", "id": id, "status": "created", "pid": cmd.Process.Pid, "bundle": "/bundles/" + id,
		"rootfs": "/", "created": "2024-01-02T03:04:05Z", "owner": "", "initStartTime": start,
		"config": map[string]any{
			"ociVersion": "1.0.2",
			"process":    process,
			"linux": map[string]any{"namespaces": []any{
				map[string]any{"type": "mount"}, map[string]any{"type": "network"}, map[string]any{"type": "ipc"},
				map[string]any{"type": "uts"}, map[string]any{"type": "pid"},
			}},
		},
	}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func exitCodeOf(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestExecCommand(t *testing.T) {
	root := t.TempDir()
	liveContainer(t, root, "c1", nil)
	tests := []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"exec", "c1", "sh", "-c", "echo hello; exit 3"}, "hello\n", 3},
		{[]string{"exec", "c1", "sh", "-c", `echo "$FOO"`}, "config\n", 0},
		{[]string{"exec", "--env", "FOO=flag", "--env", "BAR=x", "c1", "sh", "-c", `echo "$FOO $BAR"`}, "flag x\n", 0},
		{[]string{"exec", "-u", "1234:5678", "--cwd", "/tmp", "c1", "sh", "-c", `echo "$(id -u):$(id -g) $(pwd) $HOME"`}, "1234:5678 /tmp /\n", 0},
		{[]string{"exec", "c1", "sh", "-c", "kill -TERM $$"}, "", 143},
	}
	for _, tt := range tests {
		out, err := run(t, append([]string{"--root", root}, tt.args...)...)
		if code := exitCodeOf(err); out != tt.out || code != tt.code {
			t.Errorf("%q: printed %q, exit %d (%v); want %q, exit %d", tt.args, out, code, err, tt.out, tt.code)
		}
	}
}

func TestExecCommandErrors(t *testing.T) {
	root := t.TempDir()
	liveContainer(t, root, "c1", nil)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"exec", "c1", "no-such-command"}, `process.args[0]: exec: "no-such-command": executable file not found in $PATH`},
		{[]string{"exec", "--cwd", "/no/such/dir", "c1", "true"}, "process.cwd /no/such/dir: no such file or directory"},
		{[]string{"exec", "-e", "JUNK", "c1", "true"}, `"JUNK" is not KEY=VALUE`},
		{[]string{"exec", "--cap", "cap_net_admin", "c1", "true"}, "malformed capability name"},
	}
	for _, tt := range tests {
		_, err := run(t, append([]string{"--root", root}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q = %v, want one line containing %q", tt.args, err, tt.want)
		}
	}
}

func TestExecCommandDetachPidFile(t *testing.T) {
	root := t.TempDir()
	liveContainer(t, root, "c1", nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	out, err := run(t, "--root", root, "exec", "-d", "--pid-file", pidFile, "c1", "true")
	if err != nil || out != "" {
		t.Fatalf("exec -d = %q, %v", out, err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file %q", data)
	}
	// The detached process is ours to collect (husk made itself a subreaper).
	var ws syscall.WaitStatus
	if wpid, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || wpid != pid || ws.ExitStatus() != 0 {
		t.Errorf("wait for the detached process %d: %d %v, status %v", pid, wpid, err, ws)
	}
}

// `exec --cap` adds the capability to the ambient set when the config has
// inheritable capabilities, as runc does; runc only warns when it cannot
// raise an ambient capability that is not also inheritable.
func TestExecCommandCapWithInheritable(t *testing.T) {
	root := t.TempDir()
	kill := []string{"CAP_KILL"}
	liveContainer(t, root, "c1", map[string]any{"bounding": kill, "effective": kill, "permitted": kill, "inheritable": kill, "ambient": kill})
	out, err := run(t, "--root", root, "exec", "--cap", "CAP_NET_ADMIN", "c1", "grep", "CapEff", "/proc/self/status")
	if err != nil {
		t.Fatalf("exec --cap CAP_NET_ADMIN: %v", err)
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("output %q", out)
	}
	eff, err := strconv.ParseUint(f[1], 16, 64)
	if err != nil || eff&(1<<12) == 0 || eff&(1<<5) == 0 {
		t.Errorf("CapEff %s, want CAP_NET_ADMIN and CAP_KILL", f[1])
	}
}

func TestLiveContainerCommands(t *testing.T) {
	root := t.TempDir()
	sleeper := liveContainer(t, root, "c1", nil)
	pid := sleeper.Process.Pid

	out, err := run(t, "--root", root, "state", "c1")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st["status"] != "running" || st["pid"] != float64(pid) {
		t.Errorf("state %v, want running with pid %d", st, pid)
	}
	if _, err := run(t, "--root", root, "delete", "c1"); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("delete of a running container = %v", err)
	}
	if _, err := run(t, "--root", root, "kill", "c1", "USR1"); err != nil {
		t.Fatal(err)
	}
	sleeper.Wait()
	if ws := sleeper.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGUSR1 {
		t.Errorf("init ended with %v, want SIGUSR1", sleeper.ProcessState)
	}
	out, _ = run(t, "--root", root, "list", "-f", "json")
	if !strings.Contains(out, `"status": "stopped"`) {
		t.Errorf("list after the init died: %s", out)
	}
	if _, err := run(t, "--root", root, "delete", "c1"); err != nil {
		t.Errorf("delete of a stopped container: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state left after delete: %v", err)
	}
}
