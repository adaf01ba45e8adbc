package tests

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Leftovers: what containers could leave on the host after they are gone,
// checked the same way after storms, crashes and ordinary deletes.

// markerEnv is the variable that marks processes a test starts (container
// processes and hooks), so that a survivor is found by its environment or
// command line whatever its root, cwd or namespace.
const markerEnv = "HUSK_TEST_MARKER"

// newMarker returns a marker unique to this test, for markerEnv.
func (e *env) newMarker() string {
	return fmt.Sprintf("m%d-%d", os.Getpid(), idCounter.Add(1))
}

// markEnv is the process.env (or hook env) entry that carries marker.
func markEnv(marker string) string { return markerEnv + "=" + marker }

// leftovers is the set of things a test's containers must not leave.
type leftovers struct {
	ids    []string // container IDs: state entries and cgroup directories
	marker string   // processes with this marker in cmdline or environ
}

// assertNoLeftovers checks the host for anything left of the containers:
// a state entry under the root (the ID, or a directory named after it such
// as "<id>~deleted"), a cgroup directory named after an ID in any
// hierarchy (every v1 controller under /sys/fs/cgroup and the unified one),
// a mount mentioning the test's directory (bundles, rootfs), and a process
// rooted or working there or carrying the marker. Processes get a bounded
// time to finish dying; survivors are reported and then killed so that one
// failure does not spill into other tests.
func (e *env) assertNoLeftovers(l leftovers) {
	t := e.t
	t.Helper()
	ids := map[string]bool{}
	for _, id := range l.ids {
		ids[id] = true
	}
	if entries, err := os.ReadDir(e.root); err == nil {
		for _, d := range entries {
			base, _, _ := strings.Cut(d.Name(), "~")
			if ids[base] {
				t.Errorf("state entry left behind: %s", filepath.Join(e.root, d.Name()))
			}
		}
	}
	for _, d := range cgroupDirsNamed(t, ids) {
		t.Errorf("cgroup directory left behind: %s (procs: %q)", d, readIfExists(t, filepath.Join(d, "cgroup.procs")))
	}
	assertNoMountsOf(t, e.dir)
	var procs []leftProc
	deadline := time.Now().Add(pollTimeout)
	for {
		procs = leftProcesses(t, e.dir, l.marker)
		if len(procs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range procs {
		t.Errorf("process left behind: %s", p.desc)
		unix.Kill(p.pid, unix.SIGKILL)
	}
}

// cgroupRoots are the roots of every cgroup hierarchy mounted under
// /sys/fs/cgroup (or /sys/fs/cgroup itself on a cgroup v2 host).
func cgroupRoots(t testing.TB) []string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRootDir, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return []string{cgroupRootDir}
	}
	var roots []string
	for _, m := range hostCgroupMounts(t) {
		roots = append(roots, m.point)
	}
	return roots
}

// cgroupDirsNamed walks every hierarchy for directories named exactly as
// one of ids (the default cgroupsPath ends in the ID; husk adds no suffix).
func cgroupDirsNamed(t testing.TB, ids map[string]bool) []string {
	t.Helper()
	var found []string
	for _, root := range cgroupRoots(t) {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if ids[d.Name()] {
				found = append(found, p)
				return fs.SkipDir
			}
			return nil
		})
	}
	return found
}

// leftProcesses finds live processes rooted or working in dir, or with
// marker in their command line or environment.
func leftProcesses(t testing.TB, dir, marker string) []leftProc {
	t.Helper()
	var out []leftProc
	seen := map[int]bool{}
	if dir != "" {
		for _, p := range processesInside(t, dir) {
			if !seen[p.pid] {
				seen[p.pid] = true
				out = append(out, p)
			}
		}
	}
	if marker == "" {
		return out
	}
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || seen[pid] || pid == os.Getpid() || !pidAlive(pid) {
			continue
		}
		for _, f := range []string{"cmdline", "environ"} {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
			if strings.Contains(string(b), marker) {
				seen[pid] = true
				out = append(out, leftProc{pid, fmt.Sprintf("%d %q (marker in %s)", pid, strings.ReplaceAll(cmdlineOf(pid), "\x00", " "), f)})
				break
			}
		}
	}
	return out
}

// markedPids lists the live processes carrying marker.
func markedPids(t testing.TB, marker string) []int {
	t.Helper()
	var pids []int
	for _, p := range leftProcesses(t, "", marker) {
		pids = append(pids, p.pid)
	}
	return pids
}
