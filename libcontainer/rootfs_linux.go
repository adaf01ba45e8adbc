package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rootfs prepares a container's root filesystem inside the init's private
// mount namespace; every path under it is resolved with
// openat2(RESOLVE_IN_ROOT) (inroot_linux.go) so that a symlink in the image
// can never send a mount outside the rootfs.
type rootfs struct {
	path   string
	bundle string
	handle *os.File // O_PATH handle of path
	userns bool     // mknod is refused: bind devices from the host
	// The container's cgroup directories, for the cgroup mount.
	cgroupPaths map[string]string
}

func procFd(f *os.File) string { return handle(f.Fd()).path() }

func (r *rootfs) prepare(spec *specs.Spec) error {
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if p := spec.Linux.RootfsPropagation; p != "" {
		prop = propagationFlags[p]
	}
	// An unbindable mount cannot be the source of the rootfs bind: private
	// for now; finishRootfs makes the new / unbindable after pivot_root.
	if prop&unix.MS_UNBINDABLE != 0 {
		prop = prop&^unix.MS_UNBINDABLE | unix.MS_PRIVATE
	}
	// Keep the container's mounts from reaching the host.
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("set propagation of / to %s: %w", spec.Linux.RootfsPropagation, err)
	}
	if prop&unix.MS_SHARED != 0 {
		// pivot_root refuses a new root whose parent mount is shared.
		if err := makeParentMountPrivate(r.path); err != nil {
			return err
		}
	}
	if err := unix.Mount(r.path, r.path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount rootfs %s: %w", r.path, err)
	}
	h, err := os.OpenFile(r.path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs %s: %w", r.path, err)
	}
	r.handle = h
	for i, m := range spec.Mounts {
		if err := r.mount(m); err != nil {
			return fmt.Errorf("mounts[%d] %s: %w", i, m.Destination, err)
		}
	}
	if needsDevSetup(spec.Mounts) {
		if err := r.setupDev(spec.Linux.Devices); err != nil {
			return fmt.Errorf("/dev: %w", err)
		}
	}
	if _, err := r.mkdirAll(spec.Process.Cwd); err != nil {
		return fmt.Errorf("process.cwd %s: %w", spec.Process.Cwd, err)
	}
	return nil
}

// inRoot resolves the symlinks of p as if the rootfs were /, so a link to
// a path that exists only on the host names that path inside the rootfs.
func (r *rootfs) inRoot(p string) (string, error) {
	full, err := securejoin.SecureJoin(r.path, p)
	if err != nil {
		return "", err
	}
	return filepath.Join("/", strings.TrimPrefix(full, r.path)), nil
}

// mkdirAll creates dir inside the rootfs and returns an O_PATH handle to
// it.
func (r *rootfs) mkdirAll(dir string) (handle, error) {
	dir, err := r.inRoot(dir)
	if err != nil {
		return -1, err
	}
	return mkdirAllInRoot(r.handle, dir, 0o755)
}

// target returns an O_PATH handle of dest inside the rootfs, creating it as
// a directory or an empty file when it is missing.
func (r *rootfs) target(dest string, dir bool) (handle, error) {
	dest, err := r.inRoot(dest)
	if err != nil {
		return -1, err
	}
	return r.resolvedTarget(dest, dir)
}

// resolvedTarget is target for a dest that inRoot already gave.
func (r *rootfs) resolvedTarget(dest string, dir bool) (handle, error) {
	if dir {
		return mkdirAllInRoot(r.handle, dest, 0o755)
	}
	if h, err := openInRoot(r.handle, dest, 0); err == nil || !errors.Is(err, unix.ENOENT) {
		return h, err
	}
	parent, err := mkdirAllInRoot(r.handle, filepath.Dir(dest), 0o755)
	if err != nil {
		return -1, err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent), filepath.Base(dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err == nil {
		// The file just made, not a path to it: a fine mount target.
		return handle(fd), nil
	}
	if !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("create mount point: %w", err)
	}
	return openInRoot(r.handle, dest, 0)
}

func (r *rootfs) mount(m specs.Mount) error {
	opts, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	dest, err := r.inRoot(filepath.Join("/", m.Destination))
	if err != nil {
		return err
	}
	if err := checkProcMount(dest, m.Type); err != nil {
		return err
	}
	if opts.isBind(m.Type) {
		return r.bindMount(m, dest, opts)
	}
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return r.mountCgroup(dest, opts)
	}
	t, err := r.resolvedTarget(dest, true)
	if err != nil {
		return err
	}
	defer t.Close()
	if opts.copyUp {
		if err := r.mountTmpfsCopyUp(m, dest, t, opts); err != nil {
			return err
		}
		return r.finishMount(dest, opts)
	}
	data := strings.Join(opts.data, ",")
	if err := unix.Mount(m.Source, t.path(), m.Type, opts.flags, data); err != nil {
		if m.Type == "sysfs" && r.userns && errors.Is(err, unix.EPERM) {
			// A user namespace without its own network namespace may not
			// mount sysfs; show the host's read-only instead, as runc does.
			return r.bindMount(specs.Mount{Source: "/sys"}, dest, mountOptions{flags: opts.flags | unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY})
		}
		return mountError(m.Type, data, err)
	}
	return r.finishMount(dest, opts)
}

// procFiles are the files under /proc that may be mounted over, for
// lxcfs-style views of host statistics (runc allows the same list).
var procFiles = []string{
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
	"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
}

// checkProcMount refuses a destination inside /proc (after the rootfs's
// symlinks are resolved): a mount there would replace what procfs shows the
// container, such as its sysctls, with something else (CVE-2021-30465 class).
func checkProcMount(dest, typ string) error {
	if dest == "/proc" {
		if typ == "proc" {
			return nil
		}
		return fmt.Errorf("resolves to /proc, where only a proc mount may go")
	}
	if !strings.HasPrefix(dest, "/proc/") || slices.Contains(procFiles, dest) {
		return nil
	}
	return fmt.Errorf("resolves to %s, inside /proc: refused", dest)
}

func mountError(typ, data string, err error) error {
	switch {
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("type %q: unknown filesystem type", typ)
	case errors.Is(err, unix.EINVAL) && data != "":
		return fmt.Errorf("mount %s with options %q: %w (unknown option?)", typ, data, err)
	}
	return fmt.Errorf("mount %s: %w", typ, err)
}

func (r *rootfs) bindMount(m specs.Mount, dest string, opts mountOptions) error {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(r.bundle, src)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	t, err := r.resolvedTarget(dest, fi.IsDir())
	if err != nil {
		return err
	}
	defer t.Close()
	if err := unix.Mount(src, t.path(), "", unix.MS_BIND|opts.flags&unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return r.finishMount(dest, opts)
}

// finishMount applies what mount(2) cannot do in the first call: the flags
// of a bind mount, propagation, and recursive attributes. It works on a
// fresh handle, because the one used to mount still names the covered
// directory, not the new mount.
func (r *rootfs) finishMount(dest string, opts mountOptions) error {
	if opts.flags&(unix.MS_BIND|unix.MS_REC) == unix.MS_BIND|unix.MS_REC {
		// A remount changes only the top of an rbind: submounts would stay
		// writable (or suid, dev, exec). Apply those flags to all of it.
		for flag, attr := range map[uintptr]uint64{
			unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY, unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID,
			unix.MS_NODEV: unix.MOUNT_ATTR_NODEV, unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC,
		} {
			if opts.flags&flag != 0 && opts.attrClr&attr == 0 {
				opts.attrSet |= attr
			}
		}
	}
	// Other filesystems got their flags from mount(2) already.
	var remount uintptr
	if opts.flags&unix.MS_BIND != 0 {
		remount = opts.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	}
	if remount == 0 && len(opts.propagation) == 0 && opts.attrSet|opts.attrClr == 0 {
		return nil
	}
	t, err := openInRoot(r.handle, dest, 0)
	if err != nil {
		return err
	}
	defer t.Close()
	if remount != 0 {
		if err := remountBind(t.path(), remount); err != nil {
			return err
		}
	}
	for _, p := range opts.propagation {
		if err := unix.Mount("", t.path(), "", p, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	if opts.attrSet|opts.attrClr != 0 {
		if err := setAttrs(t, opts.attrSet, opts.attrClr); err != nil {
			return fmt.Errorf("set recursive mount attributes: %w", err)
		}
	}
	return nil
}

// setAttrs sets and clears MOUNT_ATTR_* bits on the mount at t and every
// mount under it.
func setAttrs(t handle, set, clr uint64) error {
	attr := &unix.MountAttr{Attr_set: set, Attr_clr: clr}
	return unix.MountSetattr(int(t), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr)
}

// remountBind applies flags to the bind mount at target. Flags the mount
// already has locked (nosuid, nodev, ... inherited from a more privileged
// mount namespace) must be kept, so on EPERM retry with them added.
func remountBind(target string, flags uintptr) error {
	err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
	if errors.Is(err, unix.EPERM) {
		var st unix.Statfs_t
		if serr := unix.Statfs(target, &st); serr == nil {
			err = unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags|statfsFlags(st.Flags), "")
		}
	}
	if err != nil {
		return fmt.Errorf("remount with flags 0x%x: %w", flags, err)
	}
	return nil
}

func statfsFlags(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_RDONLY: unix.MS_RDONLY, unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV,
		unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_NOATIME: unix.MS_NOATIME, unix.ST_NODIRATIME: unix.MS_NODIRATIME,
		unix.ST_RELATIME: unix.MS_RELATIME,
	} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out
}

// makeParentMountPrivate makes the mount holding path private.
func makeParentMountPrivate(path string) error {
	mounts, err := readMountinfo()
	if err != nil {
		return err
	}
	best := "/"
	for _, m := range mounts {
		if (path == m.mountpoint || strings.HasPrefix(path, strings.TrimSuffix(m.mountpoint, "/")+"/")) && len(m.mountpoint) > len(best) {
			best = m.mountpoint
		}
	}
	if err := unix.Mount("", best, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", best, err)
	}
	return nil
}

// pivot makes the rootfs the process's root and detaches the old root.
func (r *rootfs) pivot(noPivot bool) error {
	if noPivot {
		if err := unix.Chdir(r.path); err != nil {
			return err
		}
		if err := unix.Mount(r.path, "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move rootfs to /: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldRoot)
	if err := unix.Fchdir(int(r.handle.Fd())); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on top of the new one; it is
	// then unmounted from under us without needing a directory for it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", r.path, err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// protect applies the masked and read-only paths. It runs before
// pivot_root: each target is a handle resolved inside the rootfs, and the
// /dev/null bound over masked files is the host's, so a symlink the image
// put at /dev/null or on the path cannot redirect either side.
func (r *rootfs) protect(l *specs.Linux) error {
	if len(l.MaskedPaths) > 0 {
		if err := checkDevNull(); err != nil {
			return err
		}
	}
	for _, p := range l.MaskedPaths {
		if err := r.maskPath(p); err != nil {
			return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
		}
	}
	for _, p := range l.ReadonlyPaths {
		if err := r.readonlyPath(p); err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
	}
	return nil
}

// checkDevNull makes sure the host's /dev/null is the null device.
func checkDevNull() error {
	var st unix.Stat_t
	if err := unix.Stat("/dev/null", &st); err != nil {
		return fmt.Errorf("host /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return fmt.Errorf("host /dev/null is not the null device")
	}
	return nil
}

// existing opens p inside the rootfs, or returns -1 when it is missing.
func (r *rootfs) existing(p string) (handle, error) {
	h, err := openInRoot(r.handle, p, 0)
	if errors.Is(err, unix.ENOENT) {
		return -1, nil
	}
	return h, err
}

func (r *rootfs) maskPath(p string) error {
	t, err := r.existing(p)
	if t < 0 || err != nil {
		return err
	}
	defer t.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(t), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", t.path(), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
	}
	return unix.Mount("/dev/null", t.path(), "", unix.MS_BIND, "")
}

// readonlyPath binds p on itself and makes all of it read-only, nosuid,
// nodev and noexec with one mount_setattr (a remount of the top where the
// kernel has none).
func (r *rootfs) readonlyPath(p string) error {
	t, err := r.existing(p)
	if t < 0 || err != nil {
		return err
	}
	defer t.Close()
	if err := unix.Mount(t.path(), t.path(), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	top, err := openInRoot(r.handle, p, 0)
	if err != nil {
		return err
	}
	defer top.Close()
	const attrs = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	if err := setAttrs(top, attrs, 0); !errors.Is(err, unix.ENOSYS) {
		return err
	}
	return remountBind(top.path(), unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
}

// finishRootfs applies what must happen after pivot_root.
func finishRootfs(spec *specs.Spec) error {
	l := spec.Linux
	if l.RootfsPropagation != "" {
		if err := unix.Mount("", "/", "", propagationFlags[l.RootfsPropagation], ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation: %w", err)
		}
	}
	if spec.Root.Readonly {
		if err := remountBind("/", unix.MS_RDONLY); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	return nil
}
