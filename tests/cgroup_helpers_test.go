package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Helpers shared by the cgroup_*_test.go files. These tests observe real
// limits on a cgroup v1 (or hybrid) host: the container's cgroup
// directories are found from /proc/PID/cgroup of its init and the host's
// cgroup mounts, which works for husk and runc alike; husk's own record of
// them (state.json's "cgroupPaths") is only read by husk-only checks. A
// cgroup v2 host is covered by tests/vm instead.

const cgroupRootDir = "/sys/fs/cgroup"

// cgroupDirs maps a hierarchy to a container's directory in it: a v1
// controller ("memory", "pids", "name=systemd") or "" for the unified
// hierarchy. Co-mounted controllers ("cpu,cpuacct") get one key each.
type cgroupDirs map[string]string

// dir returns the directory of a controller, failing the test when the
// container has none.
func (d cgroupDirs) dir(t testing.TB, controller string) string {
	t.Helper()
	p, ok := d[controller]
	if !ok {
		t.Fatalf("no %q cgroup in %v", controller, d)
	}
	return p
}

// file is the path of a file in a controller's directory.
func (d cgroupDirs) file(t testing.TB, controller, name string) string {
	t.Helper()
	return filepath.Join(d.dir(t, controller), name)
}

// read returns a cgroup file's content without the trailing newline.
func (d cgroupDirs) read(t testing.TB, controller, name string) string {
	t.Helper()
	return strings.TrimSpace(readFile(t, d.file(t, controller, name)))
}

// unique lists the directories once each, sorted.
func (d cgroupDirs) unique() []string {
	out := slices.Collect(maps.Values(d))
	slices.Sort(out)
	return slices.Compact(out)
}

// cgroupMount is a cgroup filesystem mounted on the host.
type cgroupMount struct {
	point       string
	root        string   // the hierarchy's directory mounted there
	controllers []string // nil for cgroup2
}

// hostCgroupMounts lists the host's cgroup mounts under /sys/fs/cgroup
// that show a whole hierarchy (root "/").
func hostCgroupMounts(t testing.TB) []cgroupMount {
	t.Helper()
	known := map[string]bool{} // the kernel's controllers, from /proc/cgroups
	for _, f := range fieldsOf(readFile(t, "/proc/cgroups")) {
		if !strings.HasPrefix(f[0], "#") {
			known[f[0]] = true
		}
	}
	var out []cgroupMount
	for _, l := range mountinfoLines(t, "/proc/self/mountinfo") {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || !strings.HasPrefix(f[4], cgroupRootDir+"/") {
			continue
		}
		m := cgroupMount{point: f[4], root: f[3]}
		switch g[0] {
		case "cgroup2":
		case "cgroup":
			for _, o := range strings.Split(g[2], ",") {
				if known[o] || strings.HasPrefix(o, "name=") {
					m.controllers = append(m.controllers, o)
				}
			}
		default:
			continue
		}
		out = append(out, m)
	}
	return out
}

// requireCgroupV1 skips a test unless /sys/fs/cgroup holds v1
// hierarchies (plain v1 or hybrid) with the controllers these tests use.
func requireCgroupV1(t *testing.T) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRootDir, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Skip("not a cgroup v1 host (tests/vm covers cgroup v2)")
	}
	have := map[string]bool{}
	for _, m := range hostCgroupMounts(t) {
		for _, c := range m.controllers {
			have[c] = true
		}
	}
	for _, c := range []string{"memory", "pids", "cpu", "cpuset", "devices", "freezer"} {
		if !have[c] {
			t.Skipf("the host has no v1 %s hierarchy", c)
		}
	}
}

// parseProcCgroup reads a /proc/PID/cgroup dump into the host
// directories, using the host's cgroup mounts.
func parseProcCgroup(t testing.TB, data string) cgroupDirs {
	t.Helper()
	mounts := hostCgroupMounts(t)
	out := cgroupDirs{}
	for _, l := range lines(data) {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			t.Fatalf("bad cgroup line %q", l)
		}
		var ctrls []string
		if parts[1] != "" {
			ctrls = strings.Split(parts[1], ",")
		}
		i := slices.IndexFunc(mounts, func(m cgroupMount) bool {
			if len(ctrls) == 0 {
				return m.controllers == nil
			}
			return slices.Equal(slices.Sorted(slices.Values(m.controllers)), slices.Sorted(slices.Values(ctrls)))
		})
		if i < 0 {
			continue // a hierarchy the host does not mount under /sys/fs/cgroup
		}
		m := mounts[i]
		rel, ok := strings.CutPrefix(parts[2], m.root)
		if !ok {
			t.Fatalf("cgroup %q is outside the mounted %q at %s", parts[2], m.root, m.point)
		}
		dir := filepath.Join(m.point, rel)
		if len(ctrls) == 0 {
			out[""] = dir
		}
		for _, c := range ctrls {
			out[c] = dir
		}
	}
	return out
}

// cgroupsOfPid is where a host pid is in each hierarchy.
func cgroupsOfPid(t testing.TB, pid int) cgroupDirs {
	t.Helper()
	return parseProcCgroup(t, readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid)))
}

// cgroups is where the container's init is, checked to be a cgroup of its
// own in the hierarchies these tests use (not the test's).
func (c *container) cgroups() cgroupDirs {
	t := c.e.t
	t.Helper()
	pid := c.state().Pid
	if pid <= 0 {
		t.Fatalf("container %s has no pid", c.id)
	}
	d := cgroupsOfPid(t, pid)
	own := cgroupsOfPid(t, os.Getpid())
	for _, ctl := range []string{"memory", "pids", "cpu", "cpuset", "devices", "freezer"} {
		if d.dir(t, ctl) == own[ctl] {
			t.Fatalf("container %s shares the test's %s cgroup %s", c.id, ctl, own[ctl])
		}
	}
	return d
}

// stateCgroupPaths is husk's record of a container's cgroup (state.json
// "cgroupPaths"); husk-only.
func (e *env) stateCgroupPaths(id string) cgroupDirs {
	e.t.Helper()
	var st struct {
		CgroupPaths map[string]string `json:"cgroupPaths"`
	}
	data := readFile(e.t, filepath.Join(e.root, id, "state.json"))
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		e.t.Fatalf("state.json of %s: %v", id, err)
	}
	if len(st.CgroupPaths) == 0 {
		e.t.Fatalf("state.json of %s has no cgroupPaths: %s", id, data)
	}
	return st.CgroupPaths
}

// defaultCgroupDirs is where the default cgroupsPath puts a container
// with this ID: <the test's own cgroup>/<id> in each hierarchy (husk's and
// runc's cgroupfs default alike).
func defaultCgroupDirs(t testing.TB, id string) cgroupDirs {
	t.Helper()
	own := cgroupsOfPid(t, os.Getpid())
	out := cgroupDirs{}
	for k, d := range own {
		out[k] = filepath.Join(d, id)
	}
	return out
}

// assertNoCgroupDirs checks that none of the directories exists.
func assertNoCgroupDirs(t testing.TB, what string, dirs cgroupDirs) {
	t.Helper()
	for _, d := range dirs.unique() {
		if exists(d) {
			t.Errorf("%s: cgroup directory %s is left behind (procs: %q)", what, d,
				readIfExists(t, filepath.Join(d, "cgroup.procs")))
		}
	}
}

// cgroupProcs lists the pids in a cgroup directory's cgroup.procs.
func cgroupProcs(t testing.TB, dir string) []int {
	t.Helper()
	var pids []int
	for _, l := range lines(readIfExists(t, filepath.Join(dir, "cgroup.procs"))) {
		p, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("%s/cgroup.procs: %q", dir, l)
		}
		pids = append(pids, p)
	}
	return pids
}

// resources returns the spec's linux.resources, creating it.
func resources(s *specs.Spec) *specs.LinuxResources {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	return s.Linux.Resources
}

func ptrTo[T any](v T) *T { return &v }

// cgroupStats is the part of an `events --stats` line these tests read
// (the shape runc prints).
type cgroupStats struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data struct {
		Memory struct {
			Usage struct {
				Usage   uint64 `json:"usage"`
				Limit   uint64 `json:"limit"`
				Failcnt uint64 `json:"failcnt"`
			} `json:"usage"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
			Limit   uint64 `json:"limit"`
		} `json:"pids"`
	} `json:"data"`
}

// parseEvents decodes the JSON lines of `events`.
func parseEvents(t testing.TB, out string) []cgroupStats {
	t.Helper()
	var evs []cgroupStats
	for _, l := range lines(out) {
		var ev cgroupStats
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("events printed a line that is not JSON: %q: %v", l, err)
		}
		evs = append(evs, ev)
	}
	return evs
}
