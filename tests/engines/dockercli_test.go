package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// dockerCLI drives docker and podman, whose command lines agree on
// everything the suite uses.
type dockerCLI struct {
	engineName string
	base       []string // client and global flags
	env        []string
	runFlags   []string // flags every run gets (network, runtime)
}

func (c *dockerCLI) name() string { return c.engineName }

func (c *dockerCLI) cmd(t testing.TB, args ...string) result {
	t.Helper()
	return run(t, cmdOpts{env: c.env}, append(append([]string{}, c.base...), args...)...)
}

func (c *dockerCLI) must(t testing.TB, args ...string) result {
	t.Helper()
	return mustOK(t, c.cmd(t, args...))
}

func (c *dockerCLI) runArgs(id string, o runOpts, detach bool, cmd []string) ([]string, string) {
	argv := append(append([]string{}, c.base...), "run", "--name", id)
	if detach {
		argv = append(argv, "-d")
	} else {
		argv = append(argv, "--rm")
	}
	argv = append(argv, c.runFlags...)
	if o.tty {
		argv = append(argv, "-t")
	}
	if o.user != "" {
		argv = append(argv, "--user", o.user)
	}
	if o.readOnly {
		argv = append(argv, "--read-only")
	}
	if o.capDropAll {
		argv = append(argv, "--cap-drop", "ALL")
	}
	for _, c := range o.capAdd {
		argv = append(argv, "--cap-add", c)
	}
	if o.seccomp != "" {
		argv = append(argv, "--security-opt", "seccomp="+o.seccomp)
	}
	if o.memory != 0 {
		argv = append(argv, "--memory", strconv.FormatInt(o.memory, 10))
	}
	if o.pids != 0 {
		argv = append(argv, "--pids-limit", strconv.FormatInt(o.pids, 10))
	}
	return append(append(argv, imageRef), cmd...), ""
}

func (c *dockerCLI) runCmdOpts(runOpts) cmdOpts { return cmdOpts{env: c.env} }

// Both turn the runtime's "no such file" and "permission denied" into the
// shell's statuses.
func (c *dockerCLI) startErrorExit(wanted int) int { return wanted }

func (c *dockerCLI) exec(t *testing.T, id string, tty bool, cmd ...string) result {
	t.Helper()
	args := []string{"exec"}
	if tty {
		args = append(args, "--tty")
	}
	return c.cmd(t, append(append(args, id), cmd...)...)
}

func (c *dockerCLI) inspect(t *testing.T, id, format string) string {
	t.Helper()
	return strings.TrimSpace(c.must(t, "inspect", "--format", format, id).stdout)
}

func (c *dockerCLI) status(t *testing.T, id string) string {
	t.Helper()
	return c.inspect(t, id, "{{.State.Status}}")
}

func (c *dockerCLI) pid(t *testing.T, id string) int {
	t.Helper()
	s := c.inspect(t, id, "{{.State.Pid}}")
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		t.Fatalf("%s: pid %q", id, s)
	}
	return pid
}

func (c *dockerCLI) top(t *testing.T, id string) string {
	t.Helper()
	return c.must(t, "top", id).stdout
}

func (c *dockerCLI) pause(t *testing.T, id string) {
	t.Helper()
	c.must(t, "pause", id)
}

func (c *dockerCLI) resume(t *testing.T, id string) {
	t.Helper()
	c.must(t, "unpause", id)
}

func (c *dockerCLI) stop(t *testing.T, id string) int {
	t.Helper()
	c.must(t, "stop", "--time", "30", id)
	s := c.inspect(t, id, "{{.State.ExitCode}}")
	code, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s: exit code %q", id, s)
	}
	return code
}

func (c *dockerCLI) remove(t *testing.T, id string) {
	t.Helper()
	c.must(t, "rm", id)
	if r := c.cmd(t, "inspect", id); r.exit == 0 {
		t.Errorf("%s still there after rm", id)
	}
}

func (c *dockerCLI) forceRemove(t *testing.T, id string) {
	t.Helper()
	c.cmd(t, "rm", "--force", id)
}

// newPodmanCLI is podman with every store in the suite's directory, husk as
// its runtime (its state root there too), cgroupfs, no network, and
// ulimits that hosts without CAP_SYS_RESOURCE can grant.
func newPodmanCLI(t testing.TB) *dockerCLI {
	t.Helper()
	dir := filepath.Join(topDir, "podman")
	conf := filepath.Join(dir, "containers.conf")
	storage := filepath.Join(dir, "storage.conf")
	if !fileExists(conf) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		write := func(p, s string) {
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(conf, `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
`)
		write(storage, fmt.Sprintf(`[storage]
driver = "overlay"
graphroot = "%s/root"
runroot = "%s/run"
`, dir, dir))
		// No registry: the image is imported.
		write(filepath.Join(dir, "registries.conf"), "")
	}
	bin := "podman"
	if p, err := lookBin("podman"); err == nil {
		bin = p
	}
	runtimeRoot := filepath.Join(dir, "husk")
	registerRuntimeRoot(runtimeRoot)
	return &dockerCLI{
		engineName: "podman",
		base: []string{
			bin,
			"--root", filepath.Join(dir, "root"),
			"--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "tmp"),
			"--network-config-dir", filepath.Join(dir, "net"),
			"--volumepath", filepath.Join(dir, "volumes"),
			"--runtime", huskBin,
			"--runtime-flag", "root=" + runtimeRoot,
			"--cgroup-manager", "cgroupfs",
			"--events-backend", "file",
		},
		env: []string{
			"CONTAINERS_CONF=" + conf,
			"CONTAINERS_STORAGE_CONF=" + storage,
			"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(dir, "registries.conf"),
		},
		runFlags: []string{"--network", "none"},
	}
}
