package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// mountCgroup gives the container its own view of the cgroup filesystem:
// read-only bind mounts of its own cgroup directories (the paths the
// parent computed), so it sees the same whether or not it has a cgroup
// namespace, and whether or not the init has joined the cgroup yet. On a
// v1 or hybrid host each hierarchy gets a directory in a tmpfs, as the
// host has it.
func (r *rootfs) mountCgroup(dest string, opts mountOptions) error {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", cgroupRoot, err)
	}
	// A v2 host: the parent's paths are the one {"": dir} (cgroups.Load).
	v2 := st.Type == unix.CGROUP2_SUPER_MAGIC
	if v2 && r.cgroupPaths[""] == "" {
		return nil
	}
	flags := opts.flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	t, err := r.resolvedTarget(dest, true)
	if err != nil {
		return err
	}
	defer t.Close()
	if v2 {
		if err := bindCgroup(r.cgroupPaths[""], t); err != nil {
			return err
		}
		return r.finishMount(dest, mountOptions{flags: flags | unix.MS_BIND})
	}
	hier := r.v1Hierarchies()
	if err := unix.Mount("tmpfs", t.path(), "tmpfs", flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs for cgroups: %w", err)
	}
	// The new tmpfs is ours and empty: its directories and links are made
	// by name under one handle of it, with no further lookup in the rootfs.
	top, err := openInRoot(r.handle, dest, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer top.Close()
	var bound []string
	for _, h := range hier {
		if err := unix.Mkdirat(int(top), h.name, 0o755); err != nil {
			return fmt.Errorf("cgroup mount point %s: %w", h.name, err)
		}
		d, err := openBeneath(top, h.name, unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		err = bindCgroup(h.src, d)
		d.Close()
		if err != nil {
			return err
		}
		bound = append(bound, filepath.Join(dest, h.name))
	}
	if err := copyCgroupSymlinks(top); err != nil {
		return err
	}
	// One recursive mount_setattr for the tmpfs and every bind in it,
	// instead of a remount (and a path resolution) per hierarchy.
	if attr, ok := recursiveAttrs(flags); ok {
		err := setAttrs(top, attr, 0)
		if !errors.Is(err, unix.ENOSYS) {
			if err != nil {
				return fmt.Errorf("set cgroup mount flags: %w", err)
			}
			return nil
		}
	}
	for _, d := range bound {
		if err := r.finishMount(d, mountOptions{flags: flags | unix.MS_BIND}); err != nil {
			return err
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return remountBind(top.path(), flags)
	}
	return nil
}

// recursiveAttrs turns mount flags into MOUNT_ATTR_* bits, when all of
// them have one (relatime is the default and needs none).
func recursiveAttrs(flags uintptr) (uint64, bool) {
	var attr uint64
	rest := flags &^ unix.MS_RELATIME
	for flag, a := range map[uintptr]uint64{
		unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY, unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID,
		unix.MS_NODEV: unix.MOUNT_ATTR_NODEV, unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC,
	} {
		if rest&flag != 0 {
			attr |= a
			rest &^= flag
		}
	}
	return attr, rest == 0
}

// cgroupBind is a v1 hierarchy mountCgroup binds: its mount point's name
// under /sys/fs/cgroup and the container's directory in it.
type cgroupBind struct{ name, src string }

// v1Hierarchies works out, without reading the mount table, the
// hierarchies mounted right under /sys/fs/cgroup in which the container
// has a directory, sorted by name. The parent made every cgroup path
// under such a mount; a statfs tells a hierarchy's mount point from a
// directory of the tmpfs above them.
func (r *rootfs) v1Hierarchies() []cgroupBind {
	var hier []cgroupBind
	for _, p := range r.cgroupPaths {
		rel, ok := strings.CutPrefix(p, cgroupRoot+"/")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rel, "/")
		if slices.ContainsFunc(hier, func(h cgroupBind) bool { return h.name == name }) {
			continue // co-mounted controllers share a directory
		}
		var st unix.Statfs_t
		err := unix.Statfs(filepath.Join(cgroupRoot, name), &st)
		if err != nil || (st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC) {
			continue // not a hierarchy's mount point: one mounted deeper is left out
		}
		hier = append(hier, cgroupBind{name: name, src: p})
	}
	slices.SortFunc(hier, func(a, b cgroupBind) int { return strings.Compare(a.name, b.name) })
	return hier
}

func bindCgroup(src string, t handle) error {
	if err := unix.Mount(src, t.path(), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return nil
}

// copyCgroupSymlinks repeats the host's links for co-mounted controllers
// (cpu -> cpu,cpuacct) in dir, the new cgroup tmpfs.
func copyCgroupSymlinks(dir handle) error {
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
		if err := symlinkAt(link, dir, e.Name()); err != nil {
			return err
		}
	}
	return nil
}
