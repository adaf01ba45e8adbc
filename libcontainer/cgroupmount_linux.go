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
	t, err := r.target(dest, true)
	if err != nil {
		return err
	}
	defer t.Close()
	if len(hier) == 1 && hier[0].mountpoint == cgroupRoot {
		if bound, err := r.mountHierarchy(dest, hier[0]); err != nil || !bound {
			return err
		}
		return r.finishMount(dest, mountOptions{flags: flags | unix.MS_BIND})
	}
	if err := unix.Mount("tmpfs", procFd(t), "tmpfs", flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs for cgroups: %w", err)
	}
	var bound []string
	for _, h := range hier {
		d := filepath.Join(dest, filepath.Base(h.mountpoint))
		ok, err := r.mountHierarchy(d, h)
		if err != nil {
			return err
		}
		if ok {
			bound = append(bound, d)
		}
	}
	if err := r.copyCgroupSymlinks(dest); err != nil {
		return err
	}
	t2, err := r.target(dest, true)
	if err != nil {
		return err
	}
	defer t2.Close()
	// One recursive mount_setattr for the tmpfs and every bind in it,
	// instead of a remount (and a path resolution) per hierarchy.
	if attr, ok := recursiveAttrs(flags); ok {
		err := unix.MountSetattr(int(t2.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr})
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
		return remountBind(procFd(t2), flags)
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

// mountHierarchy binds the container's directory in hierarchy h at dest;
// false when the container has no cgroup in h.
func (r *rootfs) mountHierarchy(dest string, h mountEntry) (bool, error) {
	src := ""
	for _, p := range r.cgroupPaths {
		if p == h.mountpoint || strings.HasPrefix(p, h.mountpoint+"/") {
			src = p
			break
		}
	}
	if src == "" {
		return false, nil // a hierarchy the container has no cgroup in: leave it out
	}
	t, err := r.target(dest, true)
	if err != nil {
		return false, err
	}
	defer t.Close()
	if err := unix.Mount(src, procFd(t), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return false, fmt.Errorf("bind %s: %w", src, err)
	}
	return true, nil
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
