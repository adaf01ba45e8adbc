package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// copyUpOption makes a tmpfs start with the content of the directory it
// covers (podman puts it on /run, /tmp and /var/tmp of --read-only
// containers, and crun and runc implement it).
const copyUpOption = "tmpcopyup"

// mountTmpfsCopyUp mounts the tmpfs m on t, the O_PATH handle of dest in the
// rootfs, and copies into it what the directory held. The copy goes from a
// descriptor of the directory opened before the tmpfs covers it to a
// descriptor of the new mount, entry by entry with *at calls that never
// follow a symlink: no path is resolved on the host, and a symlink in the
// image is copied as a symlink.
func (r *rootfs) mountTmpfsCopyUp(m specs.Mount, dest string, t handle, opts mountOptions) error {
	src, err := openDirAt(int(t), ".")
	if err != nil {
		return fmt.Errorf("%s: open the directory to copy: %w", copyUpOption, err)
	}
	defer unix.Close(src)
	data := strings.Join(opts.data, ",")
	// Writable for the copy; made read-only after it when asked.
	if err := unix.Mount(m.Source, t.path(), m.Type, opts.flags&^unix.MS_RDONLY, data); err != nil {
		return mountError(m.Type, data, err)
	}
	top, err := openInRoot(r.handle, dest, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer top.Close()
	dst, err := openDirAt(int(top), ".")
	if err != nil {
		return fmt.Errorf("%s: open the new tmpfs: %w", copyUpOption, err)
	}
	defer unix.Close(dst)
	if err := copyDirAt(src, dst); err != nil {
		return fmt.Errorf("%s: %w", copyUpOption, err)
	}
	if opts.flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", top.path(), "", unix.MS_REMOUNT|opts.flags, data); err != nil {
			return fmt.Errorf("%s: remount read-only: %w", copyUpOption, err)
		}
	}
	return nil
}

// copyDirAt copies the entries of the directory src into the directory
// dst, recursively, with their mode, owner and times. Regular files,
// directories, symlinks, device nodes, fifos and sockets are copied; a hard
// link becomes a separate file.
func copyDirAt(src, dst int) error {
	names, err := readDirNames(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := copyEntryAt(src, dst, name); err != nil {
			return err
		}
	}
	return nil
}

func copyEntryAt(src, dst int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = copySubdirAt(src, dst, name)
	case unix.S_IFREG:
		err = copyFileAt(src, dst, name)
	case unix.S_IFLNK:
		var target string
		if target, err = readlinkAt(src, name); err == nil {
			err = unix.Symlinkat(target, dst, name)
		}
	default:
		err = unix.Mknodat(dst, name, st.Mode, int(st.Rdev))
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	// Owner before mode: chown clears the set-id bits. An id the user
	// namespace does not map (EINVAL) leaves the copy owned by root.
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// Not a symlink, and nothing else writes to the new tmpfs yet.
		if err := unix.Fchmodat(dst, name, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dst, name, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", name, err)
	}
	return nil
}

func copySubdirAt(src, dst int, name string) error {
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return err
	}
	s, err := openDirAt(src, name)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	d, err := openDirAt(dst, name)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	return copyDirAt(s, d)
}

func copyFileAt(src, dst int, name string) error {
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	sf := os.NewFile(uintptr(s), name)
	defer sf.Close()
	d, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	df := os.NewFile(uintptr(d), name)
	defer df.Close()
	_, err = io.Copy(df, sf)
	return err
}

// openDirAt opens the directory name in dir for reading; a symlink is
// refused, not followed. "." gives a readable fd of an O_PATH handle, or a
// second one with its own offset.
func openDirAt(dir int, name string) (int, error) {
	return unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// readDirNames lists the directory fd; the fd stays open and is not moved.
func readDirNames(fd int) ([]string, error) {
	dup, err := openDirAt(fd, ".")
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

func readlinkAt(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
