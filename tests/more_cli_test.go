package tests

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// --log with --log-format json records a failed create as a JSON line with
// level "error", the message and a time.
func TestMoreLogJSONOnFailedCreate(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Process.Args = []string{}
	c := e.newContainer(s)
	log := filepath.Join(e.dir, "log.json")
	r := mustFail(t, e.husk("--log", log, "--log-format", "json", "create", "--bundle", c.b.dir, c.id))
	c.assertGone()
	content := readFile(t, log)
	found := false
	for _, l := range lines(content) {
		var entry map[string]any
		if err := json.Unmarshal([]byte(l), &entry); err != nil {
			t.Errorf("log line is not JSON: %q: %v", l, err)
			continue
		}
		if entry["level"] != "error" {
			continue
		}
		found = true
		msg, _ := entry["msg"].(string)
		if !isRunc() && !strings.Contains(msg, "process.args") {
			t.Errorf("error message %q does not name process.args", msg)
		}
		ts, _ := entry["time"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("error entry has no valid time: %q: %v", l, err)
		}
	}
	if !found {
		t.Errorf("no error entry in the JSON log:\n%s\ncreate: %v", content, r)
	}
}

// --log with the default (text) format and with --log-format text writes a
// level=error line; an unknown format is refused.
func TestMoreLogTextAndInvalidFormat(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Process.Args = []string{}
	for _, format := range [][]string{nil, {"--log-format", "text"}} {
		c := e.newContainer(s)
		log := filepath.Join(e.mkdir("log-"), "log.txt")
		args := append(append([]string{"--log", log}, format...), "create", "--bundle", c.b.dir, c.id)
		mustFail(t, e.husk(args...))
		c.assertGone()
		found := false
		for _, l := range lines(readFile(t, log)) {
			if strings.Contains(l, "level=error") {
				found = true
				if !isRunc() && !strings.Contains(l, "process.args") {
					t.Errorf("error line %q does not name process.args", l)
				}
			}
		}
		if !found {
			t.Errorf("format %q: no level=error line in the log:\n%s", format, readFile(t, log))
		}
	}

	log := filepath.Join(e.dir, "xml.log")
	r := mustFail(t, e.husk("--log", log, "--log-format", "xml", "list"))
	checkErrorMessage(t, r, "log-format", "xml")
	mustFail(t, e.husk("--log-format", "xml", "list"))
}

// exec reports a process killed by a signal as 128+N, and a missing
// executable as a failure that leaves the container running and nothing of
// the failed exec behind.
func TestMoreExecSignalAndMissingBinary(t *testing.T) {
	e := newEnv(t)
	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")
	initPid := c.state().Pid
	ns := nsLink(t, strconv.Itoa(initPid), "pid")

	if r := c.exec("sh", "-c", "kill -9 $$"); r.code != 137 {
		t.Errorf("exec of a process that kills itself with KILL: exit %d, want 137\n%v", r.code, r)
	}
	if r := c.exec("sh", "-c", "kill -USR1 $$"); r.code != 128+10 {
		t.Errorf("exec of a process that kills itself with USR1: exit %d, want 138\n%v", r.code, r)
	}

	for _, prog := range []string{"no-such-program", "/no/such/program"} {
		r := mustFail(t, c.exec(prog))
		if !strings.Contains(r.stderr, "executable file not found") && !strings.Contains(strings.ToLower(r.stderr), "no such file") {
			t.Errorf("exec %s: error does not say the executable is missing:\n%v", prog, r)
		}
		checkErrorMessage(t, r, prog)
		if st := c.state(); st.Status != specs.StateRunning || st.Pid != initPid || !pidAlive(initPid) {
			t.Fatalf("container after a failed exec: %+v", st)
		}
	}
	// The failed execs' processes are gone: the init is alone again.
	poll(t, "the init to be the container's only process", func() bool {
		pids := pidsInPidNS(ns)
		return len(pids) == 1 && pids[0] == initPid
	})
	if r := mustSucceed(t, c.exec("echo", "still-works")); r.stdout != "still-works\n" {
		t.Errorf("exec after the failures printed %q", r.stdout)
	}
	mustSucceed(t, c.delete("-f"))
	c.assertGone()
}

// `run` in the foreground passes a signal it receives to the container's
// process: the container traps TERM, prints and exits 7, and run exits 7.
func TestMoreRunForwardsSignal(t *testing.T) {
	e := newEnv(t)
	out := e.hostDir()
	// As the init of a pid namespace, sh only gets TERM because it traps it.
	s := baseSpec("sh", "-c", "trap 'echo got-term; exit 7' TERM; touch /out/ready; while :; do sleep 0.1; done")
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	c := e.newContainer(s)
	p := startCmd(t, cmdOpts{}, e.huskArgs([]string{"run", "--bundle", c.b.dir, c.id})...)
	waitFile(t, filepath.Join(out, "ready"))
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := p.wait()
	if r.code != 7 || !strings.Contains(r.stdout, "got-term") {
		t.Errorf("run after SIGTERM: exit %d, want 7 with got-term printed\n%v", r.code, r)
	}
	c.assertGone()
}
