package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// drainTimeout bounds how long husk keeps copying the terminal's output
// once the process has ended: a daemon left holding the terminal must not
// keep husk from exiting.
const drainTimeout = 2 * time.Second

// checkTerminal applies runc's rules: a detached process with a terminal
// needs someone to take the terminal, and only such a process may name one.
func checkTerminal(terminal, detach bool, socket string) error {
	if detach && terminal && socket == "" {
		return errors.New("cannot allocate tty if husk will detach without setting console socket")
	}
	if (!detach || !terminal) && socket != "" {
		return errors.New("cannot use console socket if husk will not detach or allocate tty")
	}
	return nil
}

// terminalIO is where the pty master of a process with a terminal goes:
// to --console-socket, or relayed to husk's own stdio.
type terminalIO struct {
	sock  *os.File // connection to --console-socket
	relay *relay
}

// setupTerminal checks the flags and connects to the console socket, so
// that a bad one fails the command before anything is made.
func setupTerminal(terminal, detach bool, socket string) (*terminalIO, error) {
	if err := checkTerminal(terminal, detach, socket); err != nil {
		return nil, err
	}
	if !terminal {
		return nil, nil
	}
	if !detach {
		return &terminalIO{relay: &relay{}}, nil
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("--console-socket %s: socket: %w", socket, err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: socket}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("--console-socket %s: connect: %w", socket, err)
	}
	return &terminalIO{sock: os.NewFile(uintptr(fd), socket)}, nil
}

// console is the receiver of the master for libcontainer; nil without a
// terminal.
func (t *terminalIO) console() func(*os.File) error {
	switch {
	case t == nil:
		return nil
	case t.relay != nil:
		return t.relay.attach
	}
	return t.send
}

// send passes the master on as runc does: one message whose data is the
// file's name and whose SCM_RIGHTS carry the fd (what containerd's and
// conmon's receivers expect).
func (t *terminalIO) send(master *os.File) error {
	defer master.Close()
	err := unix.Sendmsg(int(t.sock.Fd()), []byte(master.Name()), unix.UnixRights(int(master.Fd())), nil, unix.MSG_NOSIGNAL)
	if err != nil {
		return fmt.Errorf("--console-socket %s: send the terminal: %w", t.sock.Name(), err)
	}
	return nil
}

// close ends the relay (draining the output first) or the socket
// connection; the caller's terminal gets its settings back.
func (t *terminalIO) close() {
	if t == nil {
		return
	}
	if t.sock != nil {
		t.sock.Close()
		t.sock = nil
	}
	if t.relay != nil {
		t.relay.close()
	}
}

// relay copies between the pty master and husk's stdio while the process
// runs, with husk's terminal (if stdin is one) in raw mode so that every
// key reaches the container's terminal, which does the line editing.
type relay struct {
	fd     int      // the master, non-blocking
	master *os.File // fd, through Go's poller
	host   int      // husk's terminal for its size, or -1
	saved  *unix.Termios
	winch  chan os.Signal
	// The resizer and the output copier, waited for before the master closes.
	resizer, out sync.WaitGroup
}

// attach starts relaying the master.
func (r *relay) attach(master *os.File) error {
	// A duplicate made non-blocking, so that reads have a deadline.
	fd, err := unix.Dup(int(master.Fd()))
	master.Close()
	if err != nil {
		return fmt.Errorf("terminal: duplicate the pty master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("terminal: make the pty master non-blocking: %w", err)
	}
	r.fd, r.master, r.host = fd, os.NewFile(uintptr(fd), "pty-master"), -1
	for _, h := range []int{0, 1, 2} {
		if isTerminal(h) {
			r.host = h
			break
		}
	}
	if r.host == 0 { // stdin, the first one tried, is a terminal
		saved, err := makeRaw(0)
		if err != nil {
			return err
		}
		r.saved = saved
	}
	if r.host >= 0 {
		r.resize()
		r.winch = make(chan os.Signal, 1)
		signal.Notify(r.winch, unix.SIGWINCH)
		r.resizer.Add(1)
		go func(c chan os.Signal) {
			defer r.resizer.Done()
			for range c {
				r.resize()
			}
		}(r.winch)
	}
	go io.Copy(r.master, os.Stdin)
	r.out.Add(1)
	go func() {
		defer r.out.Done()
		io.Copy(os.Stdout, r.master) // ends with EIO once no process holds the terminal
	}()
	return nil
}

// resize gives the container's terminal the size of husk's.
func (r *relay) resize() {
	// A terminal that does not know its size (0x0) keeps process.consoleSize.
	if ws, err := unix.IoctlGetWinsize(r.host, unix.TIOCGWINSZ); err == nil && ws.Row > 0 && ws.Col > 0 {
		unix.IoctlSetWinsize(r.fd, unix.TIOCSWINSZ, ws)
	}
}

// close drains what the process wrote (bounded), then restores husk's
// terminal. It runs on error paths too.
func (r *relay) close() {
	if r.master != nil {
		if r.winch != nil {
			signal.Stop(r.winch)
			close(r.winch)
			r.resizer.Wait()
		}
		r.master.SetReadDeadline(time.Now().Add(drainTimeout))
		r.out.Wait()
		r.master.Close()
		r.master = nil
	}
	if r.saved != nil {
		unix.IoctlSetTermios(0, unix.TCSETS, r.saved)
		r.saved = nil
	}
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// makeRaw puts the terminal on fd in raw mode (cfmakeraw) and returns
// its previous settings.
func makeRaw(fd int) (*unix.Termios, error) {
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("terminal: fd %d: read its settings: %w", fd, err)
	}
	raw := *saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("terminal: fd %d: set raw mode: %w", fd, err)
	}
	return saved, nil
}
