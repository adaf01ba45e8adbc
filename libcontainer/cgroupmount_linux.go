package libcontainer

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// ownCgroup is one line of /proc/self/cgroup.
type ownCgroup struct {
	controllers []string // empty for the unified hierarchy
	path        string
}

func readOwnCgroups() ([]ownCgroup, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ownCgroup
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		cg := ownCgroup{path: parts[2]}
		if parts[1] != "" {
			cg.controllers = strings.Split(parts[1], ",")
		}
		out = append(out, cg)
	}
	return out, s.Err()
}

// matches says whether a cgroup mount with these super options holds this
// hierarchy.
func (cg ownCgroup) matches(m mountEntry) bool {
	if m.fstype == "cgroup2" {
		return len(cg.controllers) == 0
	}
	if m.fstype != "cgroup" || len(cg.controllers) == 0 {
		return false
	}
	opts := strings.Split(m.superOpts, ",")
	for _, c := range cg.controllers {
		if !contains(opts, c) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mountCgroup gives the container its own view of the cgroup filesystem:
// with a cgroup namespace, fresh cgroup mounts rooted at the namespace's
// cgroup; without one, bind mounts of the container's own cgroup directories.
// On a v1 or hybrid host each hierarchy gets a directory in a tmpfs, as
// the host has it.
func (r *rootfs) mountCgroup(m specs.Mount, dest string, opts mountOptions) error {
	mounts, err := readMountinfo()
	if err != nil {
		return err
	}
	own, err := readOwnCgroups()
	if err != nil {
		return err
	}
	var hier []mountEntry
	for _, mi := range mounts {
		if (mi.fstype == "cgroup" || mi.fstype == "cgroup2") && (mi.mountpoint == cgroupRoot || filepath.Dir(mi.mountpoint) == cgroupRoot) {
			hier = append(hier, mi)
		}
	}
	flags := opts.flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	t, err := r.target(dest, true)
	if err != nil {
		return err
	}
	defer t.Close()
	if len(hier) == 1 && hier[0].mountpoint == cgroupRoot {
		return r.mountHierarchy(dest, hier[0], own, flags)
	}
	if err := unix.Mount("tmpfs", procFd(t), "tmpfs", flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs for cgroups: %w", err)
	}
	for _, h := range hier {
		if err := r.mountHierarchy(filepath.Join(dest, filepath.Base(h.mountpoint)), h, own, flags); err != nil {
			return err
		}
	}
	if err := r.copyCgroupSymlinks(dest); err != nil {
		return err
	}
	if flags&unix.MS_RDONLY != 0 {
		t2, err := r.target(dest, true)
		if err != nil {
			return err
		}
		defer t2.Close()
		return remountBind(procFd(t2), flags)
	}
	return nil
}

// mountHierarchy mounts one cgroup hierarchy at dest inside the rootfs.
func (r *rootfs) mountHierarchy(dest string, h mountEntry, own []ownCgroup, flags uintptr) error {
	var cg *ownCgroup
	for i := range own {
		if own[i].matches(h) {
			cg = &own[i]
			break
		}
	}
	if cg == nil {
		return nil // a hierarchy this process is not in: leave it out
	}
	t, err := r.target(dest, true)
	if err != nil {
		return err
	}
	defer t.Close()
	if r.cgroupns {
		data := strings.Join(cg.controllers, ",")
		if err := unix.Mount("cgroup", procFd(t), h.fstype, flags, data); err != nil {
			return fmt.Errorf("mount %s %s: %w", h.fstype, data, err)
		}
		return nil
	}
	rel, err := filepath.Rel(h.root, cg.path)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = "."
	}
	src := filepath.Join(h.mountpoint, rel)
	if err := unix.Mount(src, procFd(t), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return r.finishMount(dest, mountOptions{flags: flags | unix.MS_BIND})
}

// copyCgroupSymlinks repeats the host's links for co-mounted controllers
// (cpu -> cpu,cpuacct).
func (r *rootfs) copyCgroupSymlinks(dest string) error {
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		link, err := os.Readlink(filepath.Join(cgroupRoot, e.Name()))
		if err != nil || strings.Contains(link, "/") {
			continue
		}
		if err := r.symlink(link, filepath.Join(dest, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
