package libcontainer

import (
	"errors"
	"fmt"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The pty multiplexer of a devpts instance: /dev/pts/ptmx, inode 2, 5:2.
const (
	ptmxMajor = 5
	ptmxMinor = 2
	ptmxIno   = 2
)

// masterName is the name the master is sent under to --console-socket, as
// runc sends it (receivers only log it).
const masterName = "/dev/ptmx"

// newTerminal allocates a pty on the container's own devpts: root is an
// O_PATH handle of the container's root directory, and /dev/pts/ptmx is
// resolved inside it. The slave comes from TIOCGPTPEER, never from a
// /dev/pts/N path the container could redirect.
func newTerminal(root *os.File, size *specs.Box) (master, slave *os.File, err error) {
	h, err := pathrs.OpenatInRoot(root, "/dev/pts/ptmx")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("process.terminal: the container has no /dev/pts/ptmx (a devpts mount at /dev/pts is needed)")
		}
		return nil, nil, fmt.Errorf("process.terminal: open /dev/pts/ptmx: %w", err)
	}
	defer h.Close()
	if err := checkPtmx(h); err != nil {
		return nil, nil, err
	}
	master, err = pathrs.Reopen(h, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("process.terminal: open /dev/pts/ptmx: %w", err)
	}
	defer func() {
		if err != nil {
			master.Close()
		}
	}()
	// The reopened file, not only the handle, must be the multiplexer.
	if err := checkPtmx(master); err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return nil, nil, fmt.Errorf("process.terminal: unlock pty: %w", err)
	}
	if size != nil && size.Width > 0 && size.Height > 0 {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws); err != nil {
			return nil, nil, fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return nil, nil, fmt.Errorf("process.terminal: open pty slave (TIOCGPTPEER): %w", errno)
	}
	return master, os.NewFile(sfd, "pty-slave"), nil
}

// checkPtmx makes sure f is the ptmx node of a devpts mount.
func checkPtmx(f *os.File) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		return fmt.Errorf("process.terminal: /dev/pts/ptmx: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("process.terminal: /dev/pts/ptmx: %w", err)
	}
	if fs.Type != unix.DEVPTS_SUPER_MAGIC || st.Ino != ptmxIno || st.Mode&unix.S_IFMT != unix.S_IFCHR ||
		st.Rdev != unix.Mkdev(ptmxMajor, ptmxMinor) {
		return fmt.Errorf("process.terminal: /dev/pts/ptmx is not the ptmx of a devpts mount (filesystem magic %#x, inode %d, mode %#o, device %d:%d)",
			fs.Type, st.Ino, st.Mode&unix.S_IFMT, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return nil
}

// bindConsole binds the pty slave over /dev/console, resolved inside the
// rootfs, so that programs writing to the console reach the container's
// terminal, as in runc.
func (r *rootfs) bindConsole(slave *os.File) error {
	target, err := r.target("/dev/console", false)
	if err != nil {
		return fmt.Errorf("process.terminal: /dev/console: %w", err)
	}
	defer target.Close()
	if err := unix.Mount(procFd(slave), target.path(), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("process.terminal: bind the pty over /dev/console: %w", err)
	}
	return nil
}

// sendMaster hands the master to the parent on the init socket and
// closes it: the container never keeps it.
func sendMaster(c conn, master *os.File) error {
	defer master.Close()
	if err := c.sendFd(msgConsole, nil, int(master.Fd())); err != nil {
		return fmt.Errorf("process.terminal: send the pty master: %w", err)
	}
	return nil
}

// attachTerminal makes tty the controlling terminal and the stdio of the
// process about to exec. The caller is a session leader.
func attachTerminal(tty *os.File) error {
	fd := int(tty.Fd())
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("process.terminal: make the pty the controlling terminal: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("process.terminal: dup the pty to fd %d: %w", i, err)
		}
	}
	return tty.Close()
}

// chownStdio gives the process's pipes (and its terminal, now on fd 0-2)
// to its user, so that it can reopen /dev/stdout and friends, as runc
// does. Other files (a host terminal, a log file) are left alone, and so
// is what cannot be chowned (an owner not mapped in the user namespace).
func chownStdio(uid int, tty bool) error {
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue
			}
			return fmt.Errorf("stdio fd %d: %w", fd, err)
		}
		ours := st.Mode&unix.S_IFMT == unix.S_IFIFO || (tty && st.Mode&unix.S_IFMT == unix.S_IFCHR)
		if !ours || int(st.Uid) == uid {
			continue
		}
		err := unix.Fchown(fd, uid, -1)
		if err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("process.user.uid %d: chown stdio fd %d: %w", uid, fd, err)
		}
	}
	return nil
}

// terminal makes the terminal of a new container before pivot_root, with
// /dev/pts/ptmx and /dev/console resolved inside the rootfs, sends the
// master to the parent and returns the slave.
func (r *rootfs) terminal(c conn, size *specs.Box) (*os.File, error) {
	master, slave, err := newTerminal(r.handle, size)
	if err != nil {
		return nil, err
	}
	if err := r.bindConsole(slave); err != nil {
		master.Close()
		slave.Close()
		return nil, err
	}
	if err := sendMaster(c, master); err != nil {
		slave.Close()
		return nil, err
	}
	return slave, nil
}

// execTerminal makes the terminal of an exec'd process, which has joined
// the container's mount namespace: its / is the container's root.
func execTerminal(c conn, size *specs.Box) (*os.File, error) {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("process.terminal: open /: %w", err)
	}
	defer root.Close()
	master, slave, err := newTerminal(root, size)
	if err != nil {
		return nil, err
	}
	if err := sendMaster(c, master); err != nil {
		slave.Close()
		return nil, err
	}
	return slave, nil
}

// processStdio is the stdio to start the init with: with a terminal,
// /dev/null until the pty takes over at exec (the caller's own stdio must
// not stay open in the container), otherwise the caller's. Call the
// returned func once the init is started.
func processStdio(terminal bool, console func(*os.File) error, stdio [3]*os.File) ([3]*os.File, func(), error) {
	if !terminal {
		return stdio, func() {}, nil
	}
	if console == nil {
		return stdio, nil, errors.New("process.terminal: nothing receives the terminal")
	}
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		return stdio, nil, fmt.Errorf("process.terminal: stdio until the terminal takes over: %w", err)
	}
	return [3]*os.File{null, null, null}, func() { null.Close() }, nil
}

// consoleReceiver takes the pty master the init sends and hands it on.
type consoleReceiver struct {
	want bool // process.terminal is set
	got  bool
	fn   func(*os.File) error
}

func newConsoleReceiver(want bool, fn func(*os.File) error) *consoleReceiver {
	return &consoleReceiver{want: want, fn: fn}
}

func (r *consoleReceiver) receive(fd int) error {
	if fd < 0 {
		return errors.New("init sent a terminal message without an fd")
	}
	if r == nil || !r.want || r.got || r.fn == nil {
		unix.Close(fd)
		return errors.New("init sent a terminal that was not asked for")
	}
	r.got = true
	return r.fn(os.NewFile(uintptr(fd), masterName))
}

// check fails when a terminal was asked for and never came.
func (r *consoleReceiver) check() error {
	if r != nil && r.want && !r.got {
		return errors.New("process.terminal: the container's init sent no terminal")
	}
	return nil
}
