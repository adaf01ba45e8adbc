package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Helpers shared by the more_*_test.go files.

// pidsInPidNS lists the live (not zombie) host pids whose pid namespace is
// ns, a link as nsLink returns it (e.g. "pid:[4026532301]"), sorted.
func pidsInPidNS(ns string) []int {
	procs, _ := os.ReadDir("/proc")
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && l == ns && pidAlive(pid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// aliveInPidNS tells whether pid is alive and still in pid namespace ns
// (so a recycled pid is not mistaken for a container process).
func aliveInPidNS(pid int, ns string) bool {
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	return err == nil && l == ns && pidAlive(pid)
}

// cmdlineOf returns /proc/PID/cmdline ("" once the process is gone).
func cmdlineOf(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(b)
}

// goCrash matches what a Go program prints when it panics or the runtime
// aborts it.
var goCrash = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine \d+ \[|runtime: |SIGSEGV)`)

// runNoFatal runs a command like runCmd, but never fails the test itself:
// goroutines other than the test's may call it. A harness problem comes back
// as code -2 with the reason on stderr.
func runNoFatal(argv ...string) result {
	res := result{cmd: strings.Join(argv, " "), code: -2}
	files := make([]*os.File, 2)
	for i := range files {
		f, err := os.CreateTemp("", "husk-test-out-")
		if err != nil {
			res.stderr = err.Error()
			return res
		}
		os.Remove(f.Name())
		defer f.Close()
		files[i] = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		res.stderr = err.Error()
		return res
	}
	werr := cmd.Wait()
	res.code = cmd.ProcessState.ExitCode()
	out := make([]string, 2)
	for i, f := range files {
		if _, err := f.Seek(0, io.SeekStart); err == nil {
			b, _ := io.ReadAll(f)
			out[i] = string(b)
		}
	}
	res.stdout, res.stderr = out[0], out[1]
	if ctx.Err() == context.DeadlineExceeded {
		res.code = -1
		res.stderr += fmt.Sprintf("\n[killed by the test harness: no exit within the safety timeout: %v]", werr)
	}
	return res
}

// parseState decodes the output of `state`.
func parseState(out string) (specs.State, error) {
	var st specs.State
	err := json.Unmarshal([]byte(out), &st)
	return st, err
}

// listIDs returns `list -q`.
func (e *env) listIDs(t *testing.T) []string {
	t.Helper()
	return lines(mustSucceed(t, e.husk("list", "-q")).stdout)
}
