package tests

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// forwardedSignals are sent to a foreground husk one by one: the ones the
// Go runtime keeps for itself when husk did not catch them (SEGV, PIPE,
// SYS), job control (TSTP), real-time ones, and the usual ones.
var forwardedSignals = []syscall.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
	syscall.SIGALRM, syscall.SIGSEGV, syscall.SIGPIPE, syscall.SIGSYS, syscall.SIGTSTP,
	syscall.Signal(37), syscall.Signal(64),
}

// trapScript traps every forwarded signal by touching /out/<number>, then
// TERM by exiting 7, and waits.
func trapScript() string {
	var b strings.Builder
	for _, s := range forwardedSignals {
		fmt.Fprintf(&b, "trap 'touch /out/%d' %d; ", int(s), int(s))
	}
	b.WriteString("trap 'exit 7' TERM; touch /out/ready; while :; do sleep 0.1; done")
	return b.String()
}

// sendEach signals the foreground husk with every forwarded signal and
// waits until the container's process has seen each, then ends it with
// TERM; husk must exit with the process's code.
func sendEach(t *testing.T, p *running, out string) {
	t.Helper()
	waitFile(t, filepath.Join(out, "ready"))
	for _, s := range forwardedSignals {
		if err := p.cmd.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
		waitFile(t, filepath.Join(out, fmt.Sprint(int(s))))
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r := p.wait(); r.code != 7 {
		t.Errorf("exit %d after TERM, want the process's 7\n%v", r.code, r)
	}
}

// Foreground `run` and `exec` hand on every signal they can catch, as
// runc does, and none ends husk itself.
func TestForwardEverySignal(t *testing.T) {
	e := newEnv(t)
	t.Run("run", func(t *testing.T) {
		out := e.hostDir()
		s := baseSpec("sh", "-c", trapScript())
		s.Mounts = append(s.Mounts, bindMount(out, "/out"))
		c := e.newContainer(s)
		sendEach(t, startCmd(t, cmdOpts{}, e.huskArgs([]string{"run", "--bundle", c.b.dir, c.id})...), out)
		c.assertGone()
	})
	t.Run("exec", func(t *testing.T) {
		out := e.hostDir()
		s := baseSpec(sleeper...)
		s.Mounts = append(s.Mounts, bindMount(out, "/out"))
		c := e.runDetached(s)
		c.waitReady("ready")
		sendEach(t, startCmd(t, cmdOpts{}, e.huskArgs([]string{"exec", c.id, "sh", "-c", trapScript()})...), out)
		if st := c.state(); st.Status != specs.StateRunning {
			t.Errorf("container after the exec: %s, want running", st.Status)
		}
		mustSucceed(t, c.delete("-f"))
	})
}
