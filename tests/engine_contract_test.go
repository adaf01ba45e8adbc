package tests

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Engines tell "not found" from "cannot run" by the runtime's message:
// podman maps these patterns to exit codes 127 and 126 (conmon passes on
// the runtime's stderr), and containerd takes the last error line of the
// JSON --log. A failed exec itself exits 255, as runc's does.
var (
	podmanNotFound = regexp.MustCompile(`(?i)executable file not found in|no such file or directory`)
	podmanDenied   = regexp.MustCompile(`(?i)permission denied|operation not permitted`)
)

func TestEngineExecFailures(t *testing.T) {
	e := newEnv(t)
	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")
	e.keep[c.id] = true
	for _, tc := range []struct {
		name    string
		args    []string
		pattern *regexp.Regexp
	}{
		{"not-in-path", []string{"no-such-program"}, podmanNotFound},
		{"missing-path", []string{"/no/such/program"}, podmanNotFound},
		{"not-executable", []string{"/etc/passwd"}, podmanDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(e.mkdir("log-"), "log.json")
			r := e.husk(append([]string{"--log", log, "--log-format", "json", "exec", c.id}, tc.args...)...)
			if r.code != 255 {
				t.Errorf("exec exited %d, want 255 as runc\n%v", r.code, r)
			}
			checkErrorMessage(t, r, "exec")
			if !tc.pattern.MatchString(r.stderr) {
				t.Errorf("stderr %q does not match %v, the pattern podman maps", r.stderr, tc.pattern)
			}
			var last string
			for _, l := range lines(readFile(t, log)) {
				var entry struct{ Level, Msg, Time string }
				if err := json.Unmarshal([]byte(l), &entry); err != nil {
					t.Fatalf("log line is not JSON: %q", l)
				}
				if entry.Level == "error" && entry.Time != "" {
					last = entry.Msg
				}
			}
			if !tc.pattern.MatchString(last) {
				t.Errorf("last error in the JSON log %q does not match %v", last, tc.pattern)
			}
		})
	}
	// run with a missing program fails before the container starts.
	r := mustFail(t, e.runContainer(baseSpec("no-such-program")))
	if !isRunc() && !podmanNotFound.MatchString(r.stderr) {
		t.Errorf("run of a missing program: stderr %q does not match %v", r.stderr, podmanNotFound)
	}
	if strings.Contains(r.stdout, "no-such-program") {
		t.Errorf("the error went to stdout: %q", r.stdout)
	}
}

// containerd's shim reads kill errors by their words: "container not
// running" means the process already finished, "does not exist" no such
// container; anything else fails `docker stop` of a container that has
// just exited.
func TestEngineKillErrors(t *testing.T) {
	e := newEnv(t)
	c := e.create(baseSpec("true"))
	c.start()
	c.waitStatus("stopped")
	for _, all := range [][]string{nil, {"--all"}} {
		r := mustFail(t, e.husk(append(append([]string{"kill"}, all...), c.id, "KILL")...))
		if !strings.Contains(r.stderr, "container not running") {
			t.Errorf("kill %v of a stopped container: stderr %q lacks \"container not running\"", all, r.stderr)
		}
	}
	r := mustFail(t, e.husk("kill", "no-such-container", "KILL"))
	if !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("kill of a missing container: stderr %q lacks \"does not exist\"", r.stderr)
	}
	mustSucceed(t, c.delete())
}
