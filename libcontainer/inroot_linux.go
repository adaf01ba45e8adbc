package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// handle is a descriptor of a file inside the rootfs, opened O_PATH (or
// O_PATH|O_DIRECTORY) by openInRoot or mkdirAllInRoot. It is a bare fd, not
// an *os.File: os.NewFile costs an fcntl per file, and every mount takes two
// or three handles.
type handle int

func (h handle) Close() error { return unix.Close(int(h)) }

// path names the handle's file for mount(2) and friends: the magic link
// goes to exactly that file, whatever happens to its path.
func (h handle) path() string { return "/proc/self/fd/" + strconv.Itoa(int(h)) }

// inRootResolve keeps a lookup inside the root: absolute symlinks and ".."
// stop at it, and procfs magic links (which jump anywhere) are refused.
const inRootResolve = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openInRoot resolves p inside root with openat2(RESOLVE_IN_ROOT), so the
// kernel keeps every step inside it, and returns an O_PATH handle; flags may
// add O_DIRECTORY or O_NOFOLLOW. This is the lookup pathrs-lite makes, without
// what it adds on top (a procfs readlink of the new fd to name the file, and
// a dup), ten syscalls a lookup that a mount target does not need. Kernels
// without openat2 get pathrs-lite's own emulation.
func openInRoot(root *os.File, p string, flags uint64) (handle, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | flags, Resolve: inRootResolve}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(int(root.Fd()), p, &how)
		switch {
		case err == nil:
			return handle(fd), nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN) && tries < 64:
			// EAGAIN: a rename or mount raced with a ".." step; the kernel
			// asks to retry rather than risk an escape.
			continue
		case errors.Is(err, unix.ENOSYS):
			return openInRootCompat(root, p, flags)
		}
		return -1, &os.PathError{Op: "openat2", Path: p, Err: err}
	}
}

// openInRootCompat is openInRoot for kernels before 5.6.
func openInRootCompat(root *os.File, p string, flags uint64) (handle, error) {
	f, err := pathrs.OpenatInRoot(root, p)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	if flags&unix.O_DIRECTORY != 0 {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return -1, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return -1, &os.PathError{Op: "open", Path: p, Err: unix.ENOTDIR}
		}
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	return handle(fd), nil
}

// mkdirAllInRoot creates the directory p (absolute, clean) and its missing
// parents inside root and returns an O_PATH handle of it. The deepest
// existing directory is resolved in the root; below it each new directory is
// made with mkdirat and entered by name without following a symlink or
// crossing a mount, so nothing created or swapped in meanwhile can lead out.
func mkdirAllInRoot(root *os.File, p string, mode uint32) (handle, error) {
	h, err := openInRoot(root, p, unix.O_DIRECTORY)
	if !errors.Is(err, unix.ENOENT) {
		return h, err
	}
	// The deepest existing ancestor: missing directories are usually one
	// or two at the end of the path.
	end := len(p)
	for {
		end = strings.LastIndexByte(p[:end], '/')
		if end <= 0 {
			end = 0
			h, err = openInRoot(root, "/", unix.O_DIRECTORY)
		} else {
			h, err = openInRoot(root, p[:end], unix.O_DIRECTORY)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, unix.ENOENT) || end == 0 {
			return -1, err
		}
	}
	for _, name := range strings.Split(p[end:], "/") {
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			h.Close()
			return -1, fmt.Errorf("mkdir %s: \"..\" after a missing directory", p)
		}
		if err := unix.Mkdirat(int(h), name, mode); err != nil && !errors.Is(err, unix.EEXIST) {
			h.Close()
			return -1, &os.PathError{Op: "mkdirat", Path: p, Err: err}
		}
		next, err := openBeneath(h, name, unix.O_DIRECTORY)
		h.Close()
		if err != nil {
			return -1, err
		}
		h = next
	}
	return h, nil
}

// openBeneath opens name, a single component in dir, as an O_PATH handle:
// never through a symlink or into another mount.
func openBeneath(dir handle, name string, flags uint64) (handle, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW | flags,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
	}
	for {
		fd, err := unix.Openat2(int(dir), name, &how)
		switch {
		case err == nil:
			return handle(fd), nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS):
			// No openat2: a single name with O_NOFOLLOW cannot leave dir,
			// and a symlink there fails O_DIRECTORY, or is opened itself.
			fd, err := unix.Openat(int(dir), name, int(how.Flags), 0)
			if err != nil {
				return -1, &os.PathError{Op: "openat", Path: name, Err: err}
			}
			return handle(fd), nil
		}
		return -1, &os.PathError{Op: "openat2", Path: name, Err: err}
	}
}

// createAt makes the entry name in dir with create, replacing what is
// there (a device listed twice, a link made again); the common case, an
// empty directory, takes one syscall.
func createAt(dir handle, name string, create func() error) error {
	err := create()
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	if err := unix.Unlinkat(int(dir), name, 0); err != nil {
		return err
	}
	return create()
}
