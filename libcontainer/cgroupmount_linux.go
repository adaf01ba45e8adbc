package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mountCgroup gives the container its own view of the cgroup filesystem:
// read-only bind mounts of its own cgroup directories (the paths the
// parent computed), so it sees the same whether or not it has a cgroup
// namespace, and whether or not the init has joined the cgroup yet. On a
// v1 or hybrid host each hierarchy gets a directory in a tmpfs, as the
// host has it.
func (r *rootfs) mountCgroup(dest string, opts mountOptions) error {
	mounts, err := readMountinfo()
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
	t, err := r.resolvedTarget(dest, true)
	if err != nil {
		return err
	}
	defer t.Close()
	if len(hier) == 1 && hier[0].mountpoint == cgroupRoot {
		src := r.cgroupSource(hier[0])
		if src == "" {
			return nil
		}
		if err := bindCgroup(src, t); err != nil {
			return err
		}
		return r.finishMount(dest, mountOptions{flags: flags | unix.MS_BIND})
	}
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
		src := r.cgroupSource(h)
		if src == "" {
			continue // a hierarchy the container has no cgroup in: leave it out
		}
		name := filepath.Base(h.mountpoint)
		if err := unix.Mkdirat(int(top), name, 0o755); err != nil {
			return fmt.Errorf("cgroup mount point %s: %w", name, err)
		}
		d, err := openBeneath(top, name, unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		err = bindCgroup(src, d)
		d.Close()
		if err != nil {
			return err
		}
		bound = append(bound, filepath.Join(dest, name))
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

// cgroupSource is the container's directory in hierarchy h, or "" when
// it has no cgroup there.
func (r *rootfs) cgroupSource(h mountEntry) string {
	for _, p := range r.cgroupPaths {
		if p == h.mountpoint || strings.HasPrefix(p, h.mountpoint+"/") {
			return p
		}
	}
	return ""
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
