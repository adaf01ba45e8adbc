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

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExec runs the exec checks against one running container; the subtests
// share it and run in order.
func TestExec(t *testing.T) {
	e := newEnv(t)
	s := baseSpec(sleeper...)
	s.Hostname = "exec-host"
	s.Process.Env = append(s.Process.Env, "FROM_CONFIG=config")
	s.Mounts = append(s.Mounts, tmpfsMount("/tmp", "mode=1777"))
	c := e.newContainer(s)
	writeFile(t, filepath.Join(c.b.rootfs, "etc/hostname-marker"), "marker-42\n", 0o644)
	mustSucceed(t, c.husk("run", "-d"))
	c.waitReady("ready")
	initPid := strconv.Itoa(c.state().Pid)

	want := func(t *testing.T, r result, stdout string) {
		t.Helper()
		mustSucceed(t, r)
		if r.stdout != stdout {
			t.Errorf("stdout = %q, want %q", r.stdout, stdout)
		}
	}

	t.Run("rootfs-and-hostname", func(t *testing.T) {
		want(t, c.exec("sh", "-c", "cat /etc/hostname-marker; hostname"), "marker-42\nexec-host\n")
	})
	t.Run("exit-status", func(t *testing.T) {
		if r := c.exec("sh", "-c", "exit 5"); r.code != 5 {
			t.Errorf("exit status %d, want 5\n%v", r.code, r)
		}
	})
	t.Run("env", func(t *testing.T) {
		// --env adds to the config's env and overrides a variable it has.
		// env itself prints the environment exactly as exec'd (a shell would
		// tidy up duplicates).
		r := mustSucceed(t, c.execWith(cmdOpts{}, []string{"--env", "FOO=bar", "--env", "FROM_CONFIG=override"}, "env"))
		var got []string
		for _, l := range lines(r.stdout) {
			if strings.HasPrefix(l, "FOO=") || strings.HasPrefix(l, "FROM_CONFIG=") || strings.HasPrefix(l, "PATH=") {
				got = append(got, l)
			}
		}
		sort.Strings(got)
		wantLines(t, got, "FOO=bar", "FROM_CONFIG=override", s.Process.Env[0])
	})
	t.Run("cwd", func(t *testing.T) {
		want(t, c.execWith(cmdOpts{}, []string{"--cwd", "/tmp"}, "pwd"), "/tmp\n")
	})
	t.Run("user", func(t *testing.T) {
		want(t, c.execWith(cmdOpts{}, []string{"--user", "1000:1000"}, "sh", "-c", "id -u; id -g"), "1000\n1000\n")
	})
	t.Run("same-namespaces", func(t *testing.T) {
		// The exec'd process is in the container's namespaces: pid 1 is the
		// container's init, and every namespace link matches the init's.
		want(t, c.exec("cat", "/proc/1/cmdline"), "sleep\x00300\x00")
		var script, expect strings.Builder
		for _, ns := range []string{"pid", "mnt", "net", "ipc", "uts"} {
			fmt.Fprintf(&script, "readlink /proc/self/ns/%s; ", ns)
			fmt.Fprintln(&expect, nsLink(t, initPid, ns))
		}
		want(t, c.exec("sh", "-c", script.String()), expect.String())
		if r := mustSucceed(t, c.exec("sh", "-c", "echo $$")); strings.TrimSpace(r.stdout) == "1" {
			t.Error("the exec'd process claims to be pid 1")
		}
	})
	t.Run("detached-with-pid-file", func(t *testing.T) {
		// The process waits for /go, which the test creates only after exec
		// returns: a non-detaching exec would never return.
		pidFile := filepath.Join(e.dir, "exec.pid")
		r := c.execWith(cmdOpts{timeout: pollTimeout}, []string{"-d", "--pid-file", pidFile},
			"sh", "-c", "while [ ! -e /tmp/go ]; do usleep 10000; done; touch /done")
		mustSucceed(t, r)
		pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
		if err != nil || !pidAlive(pid) {
			t.Fatalf("pid file %q: %v (alive %v)", readFile(t, pidFile), err, pidAlive(pid))
		}
		if got, want := nsLink(t, strconv.Itoa(pid), "pid"), nsLink(t, initPid, "pid"); got != want {
			t.Errorf("pid-file process is in pid namespace %s, container is in %s", got, want)
		}
		mustSucceed(t, c.exec("touch", "/tmp/go"))
		c.waitReady("done")
	})
	t.Run("process-file", func(t *testing.T) {
		p := specs.Process{
			Args: []string{"sh", "-c", "echo $PF; pwd; id -u"},
			Env:  []string{"PF=from-file", "PATH=/bin"},
			Cwd:  "/etc",
			User: specs.User{UID: 1000, GID: 1000},
		}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(e.dir, "process.json")
		writeFile(t, file, string(data), 0o644)
		want(t, c.execWith(cmdOpts{}, []string{"--process", file}), "from-file\n/etc\n1000\n")
	})

	mustSucceed(t, c.delete("-f"))
	c.assertGone()
}

func TestSpecCommand(t *testing.T) {
	e := newEnv(t)
	decode := func(path string) *specs.Spec {
		t.Helper()
		var s specs.Spec
		if err := json.Unmarshal([]byte(readFile(t, path)), &s); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if s.Process == nil || strings.Join(s.Process.Args, " ") != "sh" || s.Root == nil || s.Root.Path != "rootfs" {
			t.Fatalf("%s is not the default spec: %+v", path, s)
		}
		return &s
	}

	cwd := e.mkdir("cwd-")
	mustSucceed(t, e.huskOpts(cmdOpts{dir: cwd}, "spec"))
	decode(filepath.Join(cwd, "config.json"))

	// Refuses to overwrite an existing config.json (runc behaviour).
	writeFile(t, filepath.Join(cwd, "config.json"), "keep me", 0o644)
	mustFail(t, e.huskOpts(cmdOpts{dir: cwd}, "spec"))
	if got := readFile(t, filepath.Join(cwd, "config.json")); got != "keep me" {
		t.Errorf("spec overwrote config.json: %q", got)
	}

	// --bundle writes there, not in the working directory.
	other, elsewhere := e.mkdir("bundle-"), e.mkdir("cwd-")
	mustSucceed(t, e.huskOpts(cmdOpts{dir: elsewhere}, "spec", "--bundle", other))
	decode(filepath.Join(other, "config.json"))
	if exists(filepath.Join(elsewhere, "config.json")) {
		t.Error("spec --bundle also wrote config.json in the working directory")
	}

	rootless := e.mkdir("rootless-")
	mustSucceed(t, e.husk("spec", "--rootless", "--bundle", rootless))
	s := decode(filepath.Join(rootless, "config.json"))
	hasUserNS := false
	for _, ns := range s.Linux.Namespaces {
		hasUserNS = hasUserNS || (ns.Type == specs.UserNamespace && ns.Path == "")
	}
	if !hasUserNS || len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
		t.Errorf("spec --rootless: namespaces %v, uid mappings %v, gid mappings %v",
			s.Linux.Namespaces, s.Linux.UIDMappings, s.Linux.GIDMappings)
	}
	if entries, _ := os.ReadDir(e.root); len(entries) != 0 {
		t.Errorf("spec touched the state root: %v", entries)
	}
}
