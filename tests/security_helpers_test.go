package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Helpers shared by the security_*_test.go files.

// capNumbers are the capabilities these tests use, by number
// (include/uapi/linux/capability.h).
var capNumbers = map[string]uint{
	"CAP_CHOWN":            0,
	"CAP_DAC_OVERRIDE":     1,
	"CAP_KILL":             5,
	"CAP_SETUID":           7,
	"CAP_NET_BIND_SERVICE": 10,
	"CAP_NET_ADMIN":        12,
	"CAP_NET_RAW":          13,
	"CAP_SYS_CHROOT":       18,
	"CAP_SYS_ADMIN":        21,
}

// capMask is the bitmask /proc/PID/status shows for names.
func capMask(t testing.TB, names ...string) uint64 {
	t.Helper()
	var m uint64
	for _, n := range names {
		bit, ok := capNumbers[n]
		if !ok {
			t.Fatalf("capMask: add %s to capNumbers", n)
		}
		m |= 1 << bit
	}
	return m
}

// capSetNames are the /proc/PID/status keys of the five sets.
var capSetNames = []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}

// capSets is what a process's status says about its capabilities.
type capSets map[string]uint64

func (c capSets) String() string {
	var b strings.Builder
	for _, k := range capSetNames {
		fmt.Fprintf(&b, "%s=%#x ", k, c[k])
	}
	return strings.TrimSpace(b.String())
}

// parseCaps reads the Cap* lines of a /proc/PID/status dump; every set
// must be there exactly once.
func parseCaps(t testing.TB, status string) capSets {
	t.Helper()
	out := capSets{}
	for _, f := range fieldsOf(status) {
		key := strings.TrimSuffix(f[0], ":")
		if !strings.HasPrefix(key, "Cap") || len(f) != 2 {
			continue
		}
		v, err := strconv.ParseUint(f[1], 16, 64)
		if err != nil {
			t.Fatalf("%s: %v", f[1], err)
		}
		if _, dup := out[key]; dup {
			t.Fatalf("%s listed twice in:\n%s", key, status)
		}
		out[key] = v
	}
	for _, k := range capSetNames {
		if _, ok := out[k]; !ok {
			t.Fatalf("no %s in:\n%s", k, status)
		}
	}
	return out
}

// wantCaps compares all five sets with the expected masks.
func wantCaps(t testing.TB, what string, got capSets, inh, prm, eff, bnd, amb uint64) {
	t.Helper()
	want := capSets{"CapInh": inh, "CapPrm": prm, "CapEff": eff, "CapBnd": bnd, "CapAmb": amb}
	for _, k := range capSetNames {
		if got[k] != want[k] {
			t.Errorf("%s: %s = %#x, want %#x\n got:  %v\n want: %v", what, k, got[k], want[k], got, want)
		}
	}
}

// statusField returns the value of one "Key:\tvalue" line of a
// /proc/PID/status dump, or fails.
func statusField(t testing.TB, status, key string) string {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in:\n%s", key, status)
	return ""
}

// writeProcessJSON writes p as a process.json for `exec --process` in the
// test's directory and returns its path.
func (e *env) writeProcessJSON(p *specs.Process) string {
	e.t.Helper()
	data, err := json.MarshalIndent(p, "", "\t")
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := os.CreateTemp(e.dir, "process-*.json")
	if err != nil {
		e.t.Fatal(err)
	}
	path := f.Name()
	f.Close()
	writeFile(e.t, path, string(data), 0o644)
	return path
}

// execProcess runs `exec --process FILE ID` for p.
func (c *container) execProcess(p *specs.Process, flags ...string) result {
	c.e.t.Helper()
	return c.execWith(cmdOpts{}, append(append([]string{}, flags...), "--process", c.e.writeProcessJSON(p)))
}

// baseProcess is a process.json for exec: the PATH of baseSpec, root, cwd /.
func baseProcess(args ...string) *specs.Process {
	return &specs.Process{
		User: specs.User{UID: 0, GID: 0},
		Args: args,
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cwd:  "/",
	}
}

// allCaps is a capabilities object with the same names in every set.
func allCaps(names ...string) *specs.LinuxCapabilities {
	set := func() []string { return append([]string{}, names...) }
	return &specs.LinuxCapabilities{Bounding: set(), Effective: set(), Permitted: set(), Inheritable: set(), Ambient: set()}
}

// failsCleanly runs cmd (create or run) for a fresh container of s and
// requires a non-zero exit, husk's one-line error naming one of words, and
// nothing left behind. It returns the result.
func (e *env) failsCleanly(s *specs.Spec, cmd string, words ...string) result {
	e.t.Helper()
	c := e.newContainer(s)
	r := mustFail(e.t, c.husk(cmd))
	checkErrorMessage(e.t, r, words...)
	c.assertGone()
	return r
}

// runningContainer runs a container of s with `run -d` whose process
// creates /ready and sleeps, and waits until it runs. It stays listed
// without failing the test's other checks that nothing is left behind.
func (e *env) runningContainer(s *specs.Spec) *container {
	e.t.Helper()
	s.Process.Args = sleeper
	c := e.runDetached(s)
	e.keep[c.id] = true
	c.waitReady("ready")
	return c
}

// hostPath is where a path of the container's rootfs is on the host.
func (b *bundle) hostPath(p string) string { return filepath.Join(b.rootfs, p) }
