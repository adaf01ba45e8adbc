package libcontainer

import (
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultDevices are created in every container with its own /dev, as the
// runtime-spec requires.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

var devSymlinks = [][2]string{
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
	{"pts/ptmx", "/dev/ptmx"},
}

// needsDevSetup is false when the config bind-mounts a /dev of its own.
func needsDevSetup(mounts []specs.Mount) bool {
	for _, m := range mounts {
		if filepath.Clean(m.Destination) != "/dev" {
			continue
		}
		opts, err := parseMountOptions(m.Options)
		if err == nil && opts.isBind(m.Type) {
			return false
		}
	}
	return true
}

func (r *rootfs) setupDev(devices []specs.LinuxDevice) error {
	oldMask := unix.Umask(0)
	defer unix.Umask(oldMask)
	// Every default node and link is in /dev: open each directory once.
	dirs := map[string]handle{}
	defer func() {
		for _, h := range dirs {
			h.Close()
		}
	}()
	dir := func(p string) (handle, string, error) {
		d := filepath.Dir(p)
		h, ok := dirs[d]
		if !ok {
			var err error
			if h, err = r.mkdirAll(d); err != nil {
				return -1, "", err
			}
			dirs[d] = h
		}
		return h, filepath.Base(p), nil
	}
	for _, d := range append(append([]specs.LinuxDevice{}, defaultDevices...), devices...) {
		h, name, err := dir(d.Path)
		if err == nil {
			err = r.createDevice(h, name, d)
		}
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	for _, l := range devSymlinks {
		h, name, err := dir(l[1])
		if err == nil {
			err = symlinkAt(l[0], h, name)
		}
		if err != nil {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	return nil
}

// createDevice makes the node d as name in dir; an existing node (a
// default device listed again) is replaced.
func (r *rootfs) createDevice(dir handle, name string, d specs.LinuxDevice) error {
	dirfd := int(dir)
	if r.userns {
		return createAt(dir, name, func() error { return bindHostDevice(dirfd, name, d.Path) })
	}
	typ, _ := deviceMode(d.Type)
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	dev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	if d.Type == "p" {
		dev = 0
	}
	if err := createAt(dir, name, func() error { return unix.Mknodat(dirfd, name, typ|perm, int(dev)) }); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	uid, gid := -1, -1
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if uid == -1 && gid == -1 {
		return nil
	}
	if err := unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

// bindHostDevice is the fallback in a user namespace, where mknod is refused:
// the host's node of the same path is bind-mounted on an empty file.
func bindHostDevice(dirfd int, name, hostPath string) error {
	fd, err := unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// Remount the file's fd path: it names exactly the file just made.
	if err := unix.Mount(hostPath, handle(fd).path(), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind host device: %w", err)
	}
	return nil
}

// symlink makes newname (a path in the container) a link to oldname,
// replacing what is there.
func (r *rootfs) symlink(oldname, newname string) error {
	parent, err := r.mkdirAll(filepath.Dir(newname))
	if err != nil {
		return err
	}
	defer parent.Close()
	return symlinkAt(oldname, parent, filepath.Base(newname))
}

func symlinkAt(oldname string, dir handle, name string) error {
	return createAt(dir, name, func() error { return unix.Symlinkat(oldname, int(dir), name) })
}
