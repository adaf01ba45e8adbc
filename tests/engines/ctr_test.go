package engines

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ctrCLI drives containerd through ctr and the runc v2 shim, with husk as
// the shim's runc binary.
type ctrCLI struct {
	base        []string // ctr --address ...
	runtimeRoot string   // husk's --root, through the shim
	fifoDir     string   // the client's stdio fifos (default: under /run)
	execs       int      // numbers exec ids
}

// ctrDefaultCaps are the capabilities of containerd's default spec.
var ctrDefaultCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
	"SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
	"AUDIT_WRITE",
}

func (c *ctrCLI) name() string { return "containerd" }

func (c *ctrCLI) cmd(t testing.TB, args ...string) result {
	t.Helper()
	return run(t, cmdOpts{}, append(append([]string{}, c.base...), args...)...)
}

func (c *ctrCLI) must(t testing.TB, args ...string) result {
	t.Helper()
	return mustOK(t, c.cmd(t, args...))
}

func (c *ctrCLI) runArgs(id string, o runOpts, detach bool, cmd []string) ([]string, string) {
	switch {
	case o.user != "":
		return nil, "ctr run has no flag for the user"
	case o.pids != 0:
		return nil, "ctr run has no flag for a pids limit"
	case o.cgroupFS:
		return nil, "ctr's default spec mounts no cgroup filesystem (the lifecycle checks the memory limit in the host's cgroup)"
	}
	argv := append(append([]string{}, c.base...), "run", "--fifo-dir", c.fifoDir, "--runc-binary", huskBin, "--runc-root", c.runtimeRoot)
	if detach {
		argv = append(argv, "--detach")
	} else {
		argv = append(argv, "--rm")
	}
	if o.tty {
		argv = append(argv, "--tty")
	}
	if o.readOnly {
		argv = append(argv, "--read-only")
	}
	// ctr has no ALL and adds before it drops: drop each default the
	// scenario does not add.
	if o.capDropAll {
		for _, c := range ctrDefaultCaps {
			if !slices.Contains(o.capAdd, c) {
				argv = append(argv, "--cap-drop", "CAP_"+c)
			}
		}
	}
	for _, c := range o.capAdd {
		argv = append(argv, "--cap-add", "CAP_"+c)
	}
	if o.seccomp != "" {
		argv = append(argv, "--seccomp", "--seccomp-profile", o.seccomp)
	}
	if o.memory != 0 {
		argv = append(argv, "--memory-limit", strconv.FormatInt(o.memory, 10))
	}
	return append(append(argv, imageRef, id), cmd...), ""
}

// ctr -t wants its own stdin to be a terminal.
func (c *ctrCLI) runCmdOpts(o runOpts) cmdOpts { return cmdOpts{tty: o.tty} }

// ctr reports a task that could not start as its own failure.
func (c *ctrCLI) startErrorExit(int) int { return 1 }

func (c *ctrCLI) exec(t *testing.T, id string, tty bool, cmd ...string) result {
	t.Helper()
	c.execs++
	argv := append(append([]string{}, c.base...), "task", "exec", "--fifo-dir", c.fifoDir, "--exec-id", fmt.Sprintf("exec%d", c.execs))
	if tty {
		argv = append(argv, "--tty")
	}
	return run(t, cmdOpts{tty: tty}, append(append(argv, id), cmd...)...)
}

// task returns the PID and STATUS columns of id in 'ctr task ls'.
func (c *ctrCLI) task(t *testing.T, id string) (pid int, status string) {
	t.Helper()
	for _, line := range strings.Split(c.must(t, "task", "ls").stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == id {
			pid, _ = strconv.Atoi(f[1])
			return pid, strings.ToLower(f[2])
		}
	}
	return 0, ""
}

func (c *ctrCLI) status(t *testing.T, id string) string {
	t.Helper()
	_, s := c.task(t, id)
	if s == "stopped" {
		return "exited"
	}
	return s
}

func (c *ctrCLI) pid(t *testing.T, id string) int {
	t.Helper()
	pid, _ := c.task(t, id)
	if pid <= 0 {
		t.Fatalf("%s: no task pid", id)
	}
	return pid
}

// top lists the task's pids ('ctr task ps', which asks the runtime's ps)
// with their command lines from the host.
func (c *ctrCLI) top(t *testing.T, id string) string {
	t.Helper()
	var pids []int
	for _, line := range strings.Split(c.must(t, "task", "ps", id).stdout, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			pid, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("task ps: line %q", line)
			}
			pids = append(pids, pid)
		}
	}
	return hostCmdlines(pids)
}

func (c *ctrCLI) pause(t *testing.T, id string) {
	t.Helper()
	c.must(t, "task", "pause", id)
}

func (c *ctrCLI) resume(t *testing.T, id string) {
	t.Helper()
	c.must(t, "task", "resume", id)
}

// exitCodeRE finds the status 'ctr task delete' warns about.
var exitCodeRE = regexp.MustCompile(`exit with non-zero exit code (\d+)`)

func (c *ctrCLI) stop(t *testing.T, id string) int {
	t.Helper()
	c.must(t, "task", "kill", "--signal", "SIGTERM", id)
	waitStatus(t, c, id, "exited")
	r := c.must(t, "task", "delete", id)
	if m := exitCodeRE.FindStringSubmatch(r.stderr); m != nil {
		code, _ := strconv.Atoi(m[1])
		return code
	}
	return 0
}

func (c *ctrCLI) remove(t *testing.T, id string) {
	t.Helper()
	c.must(t, "container", "delete", id)
	if r := c.cmd(t, "container", "info", id); r.exit == 0 {
		t.Errorf("%s still there after container delete", id)
	}
}

func (c *ctrCLI) forceRemove(t *testing.T, id string) {
	t.Helper()
	c.cmd(t, "task", "delete", "--force", id)
	c.cmd(t, "container", "delete", id)
}
