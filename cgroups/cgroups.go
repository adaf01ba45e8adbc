// Package cgroups puts a container in its control groups and sets
// linux.resources on them, for cgroup v1 (one directory per hierarchy),
// cgroup v2 (one directory) and the hybrid layout (v1 hierarchies plus a
// directory in the unified hierarchy at /sys/fs/cgroup/unified, which
// holds the container's processes too, as runc does).
//
// The runtime uses it so:
//
//   - create: Validate(config.Linux.Resources) with the rest of the
//     config; m, err := New(config.Linux.CgroupsPath, id); m.Apply(-1)
//     for the directories; the process enters them as m.Placement() says
//     (cloned into the v2 directory, v1 tasks joined by the process
//     itself), or by m.Apply(pid) where that cannot be; then
//     m.Set(config.Linux.Resources) before the user process can run.
//     Store m.Paths() in state.json. On any failure: kill the processes,
//     then m.Destroy().
//   - every later command: m, err := Load(state.CgroupPaths).
//   - update: m.Set with the stored linux.resources with the update
//     merged in (Set always sets the devices from what it is given).
//   - pause/resume: Freeze/Thaw; state: Paused; ps: Pids; kill --all:
//     Signal; delete: Kill when processes remain, then Destroy; events:
//     Stats and OOMKillCount; the cgroup mount: Path.
//
// Nothing here runs at package init and nothing is cached between calls:
// New reads /proc/self/cgroup and /proc/self/mountinfo and statfs's
// /sys/fs/cgroup; Load only parses paths.
package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/internal/mountinfo"
)

// Manager is one container's cgroup: one directory per v1 hierarchy, or one
// v2 directory (plus, on a hybrid host, a directory in the unified
// hierarchy).
type Manager interface {
	// Apply creates the cgroup directories (copying the parent's cpuset
	// into new v1 cpuset directories; enabling the available controllers
	// in each v2 parent's cgroup.subtree_control) and moves pid in. A pid
	// of -1 only creates the directories.
	Apply(pid int) error
	// Set validates r completely (errors name the field, as in
	// "linux.resources.memory.limit: ...") and then writes it. r is the
	// whole linux.resources: devices are always set from it, so an update
	// must pass the container's resources with the update merged in.
	Set(r *specs.LinuxResources) error
	// Freeze freezes every process in the cgroup and returns once the
	// kernel reports the cgroup frozen.
	Freeze() error
	// Thaw undoes Freeze.
	Thaw() error
	// Paused says whether the cgroup is frozen (or being frozen).
	Paused() (bool, error)
	// Pids lists every process in the cgroup and its descendants.
	Pids() ([]int, error)
	// Signal sends sig to every process in the cgroup.
	Signal(sig unix.Signal) error
	// Kill sends SIGKILL to every process in the cgroup, atomically with
	// respect to forks: cgroup.kill where the kernel has it (v2, 5.14),
	// otherwise freeze, kill, thaw.
	Kill() error
	// Destroy removes the cgroup directories and their sub-cgroups,
	// deepest first. A directory that is already gone is not an error.
	Destroy() error
	// Stats reads the usage counters, in the shape runc's
	// `events --stats` prints.
	Stats() (*Stats, error)
	// OOMKillCount is the number of processes the OOM killer killed in
	// the cgroup.
	OOMKillCount() (uint64, error)
	// Path is the cgroup directory of a v1 controller ("memory",
	// "name=systemd", ...); "" is the v2 directory, or on a hybrid host
	// the unified-hierarchy one. On v2 every name gives the one directory.
	Path(controller string) string
	// Paths is what Load needs to reopen the cgroup: controller (as in
	// Path) to directory. It can be stored as JSON.
	Paths() map[string]string
	// Placement says how a new process can enter the cgroup without
	// Apply's pid writes, which are slow (see Placement).
	Placement() Placement
}

// The cgroup filesystems are mounted here on every supported host.
const (
	cgroupRoot  = "/sys/fs/cgroup"
	unifiedRoot = "/sys/fs/cgroup/unified"
)

// layout is how a host mounts its cgroups.
type layout int

const (
	layoutV1     layout = iota + 1 // v1 hierarchies only
	layoutHybrid                   // v1 hierarchies, cgroup2 at /sys/fs/cgroup/unified
	layoutV2                       // cgroup2 at /sys/fs/cgroup
)

func (l layout) String() string {
	switch l {
	case layoutV1:
		return "cgroup v1"
	case layoutHybrid:
		return "cgroup v1 (hybrid)"
	case layoutV2:
		return "cgroup v2"
	}
	return "unknown"
}

// detectLayout tells the layouts apart by filesystem type, as systemd
// does: cgroup2 at the root is v2; a tmpfs there holds v1 hierarchies, and
// a cgroup2 under it at unified/ makes the host hybrid.
func detectLayout(root string) (layout, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return 0, fmt.Errorf("cgroups: statfs %s: %w", root, err)
	}
	switch st.Type {
	case unix.CGROUP2_SUPER_MAGIC:
		return layoutV2, nil
	case unix.TMPFS_MAGIC:
		if err := unix.Statfs(filepath.Join(root, "unified"), &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return layoutHybrid, nil
		}
		return layoutV1, nil
	}
	return 0, fmt.Errorf("cgroups: %s is neither a cgroup2 mount nor a tmpfs of cgroup v1 mounts (filesystem type %#x)", root, st.Type)
}

// New resolves a runtime-spec cgroupsPath for container id: an absolute
// path is under the root of each hierarchy; a relative one is under
// husk's own cgroup (from /proc/self/cgroup); "" is <own cgroup>/<id>,
// runc's cgroupfs default. ".." may not leave the root (or, for a relative
// path, husk's own cgroup), and the path may not name that base itself.
// New creates nothing.
func New(cgroupsPath, id string) (Manager, error) {
	l, err := detectLayout(cgroupRoot)
	if err != nil {
		return nil, err
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	paths, err := resolvePaths(l, string(own), string(mountinfo), cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	if l == layoutV2 {
		return &v2Manager{fs: hostFS{}, root: cgroupRoot, dir: paths[""]}, nil
	}
	return &v1Manager{fs: hostFS{}, paths: paths}, nil
}

// Load reopens the cgroup of a container from the map its Manager's Paths
// returned. A map with only "" is a v2 cgroup; any other is v1 (with ""
// for the hybrid unified directory). Every path must be a clean absolute
// path under /sys/fs/cgroup.
func Load(paths map[string]string) (Manager, error) {
	if len(paths) == 0 {
		return nil, errors.New("cgroups: no cgroup paths to load")
	}
	out := make(map[string]string, len(paths))
	for k, p := range paths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || !strings.HasPrefix(p, cgroupRoot+"/") {
			return nil, fmt.Errorf("cgroups: cgroup path %q for %q is not a clean path under %s", p, k, cgroupRoot)
		}
		out[k] = p
	}
	if dir, ok := out[""]; ok && len(out) == 1 {
		return &v2Manager{fs: hostFS{}, root: cgroupRoot, dir: dir}, nil
	}
	return &v1Manager{fs: hostFS{}, paths: out}, nil
}

// cgroupPath is a cleaned cgroupsPath: relative to the hierarchy root
// (abs) or to the runtime's own cgroup.
type cgroupPath struct {
	abs bool
	rel string // no leading slash, no "." or ".." components, never empty
}

// parseCgroupsPath cleans a cgroupsPath, refusing ".." that climbs out of
// its base and a path that names the base itself.
func parseCgroupsPath(p, id string) (cgroupPath, error) {
	if p == "" {
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
			return cgroupPath{}, fmt.Errorf("linux.cgroupsPath: empty, and the container ID %q cannot name a cgroup", id)
		}
		return cgroupPath{rel: id}, nil
	}
	if strings.ContainsRune(p, 0) {
		return cgroupPath{}, fmt.Errorf("linux.cgroupsPath: %q contains a NUL byte", p)
	}
	abs := strings.HasPrefix(p, "/")
	base := "husk's own cgroup"
	if abs {
		base = "the cgroup root"
	}
	var parts []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return cgroupPath{}, fmt.Errorf("linux.cgroupsPath: %q climbs out of %s", p, base)
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return cgroupPath{}, fmt.Errorf("linux.cgroupsPath: %q names %s itself, not a cgroup below it", p, base)
	}
	return cgroupPath{abs: abs, rel: strings.Join(parts, "/")}, nil
}

// ownCgroup is one line of /proc/self/cgroup.
type ownCgroup struct {
	controllers []string // empty for the unified hierarchy
	path        string
}

func parseOwnCgroups(data string) []ownCgroup {
	var out []ownCgroup
	for _, line := range strings.Split(data, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		cg := ownCgroup{path: parts[2]}
		if parts[1] != "" {
			cg.controllers = strings.Split(parts[1], ",")
		}
		out = append(out, cg)
	}
	return out
}

// mount is a cgroup or cgroup2 line of /proc/self/mountinfo.
type mount struct {
	root, point, fstype string
	superOpts           []string
}

func parseCgroupMounts(data string) []mount {
	var out []mount
	s := bufio.NewScanner(strings.NewReader(data))
	for s.Scan() {
		// id parent maj:min root point opts [optional...] - fstype source superopts
		fields := strings.Fields(s.Text())
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 {
			continue
		}
		fstype := fields[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		out = append(out, mount{
			root:      mountinfo.Unescape(fields[3]),
			point:     mountinfo.Unescape(fields[4]),
			fstype:    fstype,
			superOpts: strings.Split(fields[sep+3], ","),
		})
	}
	return out
}

// findMount picks the mount of a hierarchy under /sys/fs/cgroup: the
// cgroup2 one at wantPoint, or the v1 one whose super options hold all of
// the hierarchy's controllers. Mounts elsewhere are not used, so that
// every path New makes is one Load accepts.
func findMount(mounts []mount, controllers []string, wantPoint string) (mount, bool) {
	for _, m := range mounts {
		if len(controllers) == 0 {
			if m.fstype == "cgroup2" && m.point == wantPoint {
				return m, true
			}
			continue
		}
		if m.fstype != "cgroup" || !strings.HasPrefix(m.point, cgroupRoot+"/") {
			continue
		}
		all := true
		for _, c := range controllers {
			if !slices.Contains(m.superOpts, c) {
				all = false
				break
			}
		}
		if all {
			return m, true
		}
	}
	return mount{}, false
}

// hierarchyDir places a cgroupPath in one hierarchy mounted at m, in which
// this process is in cgroup own.
func hierarchyDir(m mount, own string, p cgroupPath) (string, error) {
	if p.abs {
		return filepath.Join(m.point, p.rel), nil
	}
	// /proc/self/cgroup paths are from the hierarchy's (or cgroup
	// namespace's) root; the mount shows the tree from m.root down.
	rel := own
	if m.root != "/" {
		r, ok := strings.CutPrefix(own, m.root)
		if !ok || (r != "" && !strings.HasPrefix(r, "/")) {
			return "", fmt.Errorf("cgroups: own cgroup %s is not under the mount of %s (root %s)", own, m.point, m.root)
		}
		rel = r
	}
	return filepath.Join(m.point, rel, p.rel), nil
}

// resolvePaths computes the Paths map of a container from the host's
// layout, /proc/self/cgroup and /proc/self/mountinfo.
func resolvePaths(l layout, ownData, mountinfo, cgroupsPath, id string) (map[string]string, error) {
	p, err := parseCgroupsPath(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	own := parseOwnCgroups(ownData)
	mounts := parseCgroupMounts(mountinfo)
	paths := make(map[string]string)
	for _, cg := range own {
		if len(cg.controllers) == 0 {
			if l == layoutV1 {
				continue
			}
			want := cgroupRoot
			if l == layoutHybrid {
				want = unifiedRoot
			}
			m, ok := findMount(mounts, nil, want)
			if !ok {
				return nil, fmt.Errorf("cgroups: no cgroup2 mount at %s", want)
			}
			dir, err := hierarchyDir(m, cg.path, p)
			if err != nil {
				return nil, err
			}
			paths[""] = dir
			continue
		}
		if l == layoutV2 {
			continue
		}
		m, ok := findMount(mounts, cg.controllers, "")
		if !ok {
			continue // listed but not mounted: such a controller cannot be set
		}
		dir, err := hierarchyDir(m, cg.path, p)
		if err != nil {
			return nil, err
		}
		for _, c := range cg.controllers {
			paths[c] = dir
		}
	}
	if l == layoutV2 && paths[""] == "" {
		return nil, errors.New("cgroups: /proc/self/cgroup has no cgroup v2 line")
	}
	if l != layoutV2 && len(paths) == 0 {
		return nil, errors.New("cgroups: no cgroup v1 hierarchy of /proc/self/cgroup is mounted")
	}
	return paths, nil
}
