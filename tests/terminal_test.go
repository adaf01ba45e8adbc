package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// This file drives terminals the way engines do: as the receiver of
// --console-socket (containerd, conmon), and as the terminal husk itself
// runs on (a foreground `run` or `exec -t`), through ptys the test makes
// with raw ioctls (the package stays free of cgo).

// ptyScript prints what the container sees of its terminal: the name of
// stdin's terminal, its size, /dev/console, and whether it has a
// controlling terminal (/dev/tty opens only then). Then it echoes a line
// read from the terminal.
const ptyScript = `tty; stty size; ls -l /dev/console; (: > /dev/tty) 2>/dev/null && echo ctty=yes || echo ctty=no; ` +
	`echo ready; read line; echo "got:$line"`

// newPty returns a pty: the master (non-blocking, read through Go's
// poller so reads can be given up) and the slave.
func newPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	master = os.NewFile(uintptr(fd), "test-pty-master")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlock pty: %v", err)
	}
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		master.Close()
		t.Fatalf("TIOCGPTPEER: %v", errno)
	}
	slave = os.NewFile(sfd, "test-pty-slave")
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

func setWinsize(t *testing.T, master *os.File, rows, cols uint16) {
	t.Helper()
	masterIoctl(t, master, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
}

// ptyOutput collects what comes out of a pty master until it reports
// that no process holds the slave any more (EIO).
type ptyOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func readPty(t *testing.T, master *os.File) *ptyOutput {
	o := &ptyOutput{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// Unblock the reader when the test ends, whatever happened.
	t.Cleanup(func() { master.SetReadDeadline(time.Now()) })
	return o
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *ptyOutput) waitFor(t *testing.T, s string) {
	t.Helper()
	poll(t, "terminal output "+s, func() bool { return strings.Contains(o.String(), s) })
}

// waitClosed waits for the end of the output: every holder of the slave
// has closed it.
func (o *ptyOutput) waitClosed(t *testing.T) string {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(cmdTimeout):
		t.Fatalf("terminal still open; output so far: %q", o.String())
	}
	return o.String()
}

// checkPtyScript checks what ptyScript printed. console says whether the
// container was made with a terminal, so has a /dev/console: an exec -t
// into one made without gets a pty but no console.
func checkPtyScript(t *testing.T, out, size string, console bool) {
	t.Helper()
	for _, want := range []string{"/dev/pts/", "\r\n" + size + "\r\n", "ctty=yes", "got:hello"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	// /dev/console is the same pty (major 136).
	listed := false
	for _, l := range strings.Split(out, "\r\n") {
		if strings.HasSuffix(l, "/dev/console") {
			listed = true
			if !strings.Contains(l, " 136,") {
				t.Errorf("/dev/console is not the container's pty: %q", l)
			}
		}
	}
	if console && !listed {
		t.Errorf("terminal output lacks the ls -l of /dev/console:\n%s", out)
	}
}

// consoleSocket is the receiving end of --console-socket, as an engine
// has it: one connection, one message whose SCM_RIGHTS carry the master.
type consoleSocket struct {
	path string
	got  chan received
}

type received struct {
	master *os.File
	name   string
	err    error
}

func newConsoleSocket(t *testing.T, e *env) *consoleSocket {
	t.Helper()
	s := &consoleSocket{path: filepath.Join(e.mkdir("console-"), "sock"), got: make(chan received, 1)}
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: s.path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Shutdown(lfd, unix.SHUT_RDWR) // wakes a pending accept
		unix.Close(lfd)
	})
	go func() { s.got <- acceptMaster(lfd) }()
	return s
}

func acceptMaster(lfd int) received {
	cfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		return received{err: err}
	}
	defer unix.Close(cfd)
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(cfd, name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return received{err: err}
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return received{err: errors.New("no control message with the fd")}
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return received{err: errors.New("not exactly one fd")}
	}
	// Pollable, like the test's own ptys.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return received{err: err}
	}
	return received{master: os.NewFile(uintptr(fds[0]), "received-master"), name: string(name[:n])}
}

// master returns the received master; the runtime sends it before the
// command that got --console-socket returns.
func (s *consoleSocket) master(t *testing.T) *os.File {
	t.Helper()
	select {
	case r := <-s.got:
		if r.err != nil {
			t.Fatalf("console socket: %v", r.err)
		}
		if r.name == "" {
			t.Errorf("the master came without a name (runc sends the file's name)")
		}
		t.Cleanup(func() { r.master.Close() })
		return r.master
	case <-time.After(cmdTimeout):
		t.Fatal("no master received on the console socket")
	}
	return nil
}

// terminalSpec is a spec with a terminal of the given size running args.
func terminalSpec(rows, cols uint, args ...string) *specs.Spec {
	s := baseSpec(args...)
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: rows, Width: cols}
	return s
}

// TestTerminalConsoleSocket: create with --console-socket, as containerd
// and conmon do; the test is the engine and talks to the container
// through the master it receives.
func TestTerminalConsoleSocket(t *testing.T) {
	e := newEnv(t)
	for _, how := range []string{"create", "run-detached"} {
		t.Run(how, func(t *testing.T) {
			sock := newConsoleSocket(t, e)
			c := e.newContainer(terminalSpec(33, 111, "sh", "-c", ptyScript))
			if how == "create" {
				mustSucceed(t, c.husk("create", "--console-socket", sock.path))
			} else {
				mustSucceed(t, c.husk("run", "-d", "--console-socket", sock.path))
			}
			master := sock.master(t)
			out := readPty(t, master)
			if how == "create" {
				c.start()
			}
			out.waitFor(t, "ready")
			if _, err := master.Write([]byte("hello\r")); err != nil {
				t.Fatal(err)
			}
			checkPtyScript(t, out.waitClosed(t), "33 111", true)
			c.waitStatus(specs.StateStopped)
			mustSucceed(t, c.delete())
		})
	}
}

// TestTerminalNonRootUser: the terminal belongs to the process's user,
// who can reopen it through /dev/stdout.
func TestTerminalNonRootUser(t *testing.T) {
	e := newEnv(t)
	sock := newConsoleSocket(t, e)
	s := terminalSpec(24, 80, "sh", "-c", `ls -ln "$(tty)" | awk '{print "owner=" $3}'; echo reopened > /dev/stdout && echo reopen=ok`)
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	c := e.create(s, "--console-socket", sock.path)
	out := readPty(t, sock.master(t))
	c.start()
	got := out.waitClosed(t)
	for _, want := range []string{"owner=1000", "reopened", "reopen=ok"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, got)
		}
	}
}

// startOnPty starts the runtime with the pty's slave as its stdio and
// controlling terminal, as a shell in a terminal would.
func startOnPty(t *testing.T, slave *os.File, argv ...string) (*exec.Cmd, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	slave.Close() // the child has it; the output ends when the child closes it
	return cmd, cancel
}

// wantExit waits for a command startOnPty started and checks its exit
// status; out is the terminal's output, shown on failure.
func wantExit(t *testing.T, cmd *exec.Cmd, want int, out string) {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != want {
		t.Errorf("%s exited with %v, want status %d; output:\n%s", strings.Join(cmd.Args, " "), err, want, out)
	}
}

// masterIoctl runs fn on the master's fd without making it blocking
// (File.Fd would).
func masterIoctl(t *testing.T, master *os.File, fn func(fd int) error) {
	t.Helper()
	rc, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) { ierr = fn(int(fd)) }); err != nil {
		t.Fatal(err)
	}
	if ierr != nil {
		t.Fatal(ierr)
	}
}

// slaveTermios reads the mode of the master's slave by opening it briefly
// (a slave kept open would keep the output from ever ending).
func slaveTermios(t *testing.T, master *os.File) unix.Termios {
	t.Helper()
	var n uint32
	masterIoctl(t, master, func(fd int) (err error) {
		n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		return err
	})
	f, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}

// TestTerminalRunForeground: `run` on a terminal relays it: the container
// gets the terminal's size (and later changes of it), the keys typed,
// and husk's terminal is back in its own mode afterwards.
func TestTerminalRunForeground(t *testing.T) {
	e := newEnv(t)
	master, slave := newPty(t)
	setWinsize(t, master, 40, 120)
	before := slaveTermios(t, master)
	script := ptyScript + `; while read l; do [ "$l" = q ] && break; stty size; done; exit 3`
	c := e.newContainer(terminalSpec(10, 10, "sh", "-c", script))
	out := readPty(t, master)
	cmd, cancel := startOnPty(t, slave, e.huskArgs([]string{"run", "--bundle", c.b.dir, c.id})...)
	defer cancel()
	out.waitFor(t, "ready")
	if _, err := master.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "got:hello")
	if raw := slaveTermios(t, master); raw.Lflag&unix.ICANON != 0 {
		t.Errorf("husk's terminal is not in raw mode while the container runs")
	}
	// A resize reaches the container (SIGWINCH to husk, which copies it).
	setWinsize(t, master, 50, 130)
	poll(t, "the new size inside", func() bool {
		master.Write([]byte("\r"))
		time.Sleep(20 * time.Millisecond)
		return strings.Contains(out.String(), "50 130")
	})
	master.Write([]byte("q\r"))
	got := out.waitClosed(t)
	wantExit(t, cmd, 3, got)
	checkPtyScript(t, got, "40 120", true)
	if after := slaveTermios(t, master); after != before {
		t.Errorf("husk left its terminal changed:\nbefore %+v\nafter  %+v", before, after)
	}
	c.assertGone()
}

// TestTerminalExec: exec -t in the foreground relays a new terminal; with
// --detach it goes to --console-socket; --process with terminal true
// works too.
func TestTerminalExec(t *testing.T) {
	e := newEnv(t)
	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")

	t.Run("foreground", func(t *testing.T) {
		master, slave := newPty(t)
		setWinsize(t, master, 25, 90)
		out := readPty(t, master)
		cmd, cancel := startOnPty(t, slave, e.huskArgs([]string{"exec", "-t", c.id, "sh", "-c", ptyScript + "; exit 4"})...)
		defer cancel()
		out.waitFor(t, "ready")
		master.Write([]byte("hello\r"))
		got := out.waitClosed(t)
		wantExit(t, cmd, 4, got)
		checkPtyScript(t, got, "25 90", false)
	})
	t.Run("output-drained", func(t *testing.T) {
		// Everything written before the exit reaches husk's terminal
		// before husk exits (and closes it).
		master, slave := newPty(t)
		out := readPty(t, master)
		script := `i=0; while [ $i -lt 5000 ]; do echo line-$i; i=$((i+1)); done; echo END`
		cmd, cancel := startOnPty(t, slave, e.huskArgs([]string{"exec", "-t", c.id, "sh", "-c", script})...)
		defer cancel()
		got := out.waitClosed(t)
		if err := cmd.Wait(); err != nil {
			t.Errorf("exec -t: %v", err)
		}
		if !strings.Contains(got, "line-4999\r\nEND\r\n") {
			t.Errorf("output not drained: %d bytes, ends %q", len(got), got[max(0, len(got)-60):])
		}
	})
	t.Run("detached-console-socket", func(t *testing.T) {
		sock := newConsoleSocket(t, e)
		pidFile := filepath.Join(e.dir, "exec.pid")
		mustSucceed(t, c.execWith(cmdOpts{}, []string{"-t", "-d", "--console-socket", sock.path, "--pid-file", pidFile},
			"sh", "-c", ptyScript))
		master := sock.master(t)
		out := readPty(t, master)
		out.waitFor(t, "ready")
		master.Write([]byte("hello\r"))
		got := out.waitClosed(t)
		// The exec'd process runs with the config's (absent) console size.
		if !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "got:hello") || !strings.Contains(got, "ctty=yes") {
			t.Errorf("terminal output:\n%s", got)
		}
		if readIfExists(t, pidFile) == "" {
			t.Errorf("--pid-file %s not written", pidFile)
		}
	})
	t.Run("process-file", func(t *testing.T) {
		sock := newConsoleSocket(t, e)
		p := terminalSpec(21, 61, "sh", "-c", ptyScript).Process
		mustSucceed(t, c.execProcess(p, "-d", "--console-socket", sock.path))
		master := sock.master(t)
		out := readPty(t, master)
		out.waitFor(t, "ready")
		master.Write([]byte("hello\r"))
		checkPtyScript(t, out.waitClosed(t), "21 61", false)
	})
}

// TestTerminalFlagRules: runc's rules on terminals and --console-socket;
// each failure is one line and leaves nothing behind.
func TestTerminalFlagRules(t *testing.T) {
	e := newEnv(t)
	sock := newConsoleSocket(t, e) // accepts nothing in these cases
	term := terminalSpec(24, 80, "true")
	plain := baseSpec("true")

	fails := func(t *testing.T, r result, words ...string) {
		t.Helper()
		mustFail(t, r)
		checkErrorMessage(t, r, words...)
	}
	// Without a devpts of its own the container has no terminal to give.
	noDevpts := terminalSpec(24, 80, "true")
	noDevpts.Mounts = slices.DeleteFunc(noDevpts.Mounts, func(m specs.Mount) bool { return m.Type == "devpts" })
	// A socket file nobody listens on refuses the connection.
	dead := filepath.Join(e.dir, "dead.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: dead}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		spec  *specs.Spec
		cmd   string
		flags []string
		words []string
	}{
		{"create-terminal-without-socket", term, "create", nil, []string{"console socket"}},
		{"run-detached-terminal-without-socket", term, "run", []string{"-d"}, []string{"console socket"}},
		{"create-socket-without-terminal", plain, "create", []string{"--console-socket", sock.path}, []string{"console socket"}},
		{"run-foreground-with-socket", term, "run", []string{"--console-socket", sock.path}, []string{"console socket"}},
		{"socket-missing", term, "create", []string{"--console-socket", filepath.Join(e.dir, "nothing-here")}, []string{"no such file", "console-socket"}},
		{"no-devpts", noDevpts, "create", []string{"--console-socket", sock.path}, []string{"process.terminal", "ptmx"}},
		{"socket-not-listening", term, "create", []string{"--console-socket", dead}, []string{"connection refused", "console-socket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.newContainer(tc.spec)
			fails(t, c.husk(tc.cmd, tc.flags...), tc.words...)
			c.assertGone()
			assertNoCgroupDirs(t, tc.name, defaultCgroupDirs(t, c.id))
		})
	}

	c := e.runDetached(baseSpec(sleeper...))
	c.waitReady("ready")
	e.keep[c.id] = true
	t.Run("exec-detached-tty-without-socket", func(t *testing.T) {
		fails(t, c.execWith(cmdOpts{}, []string{"-t", "-d"}, "true"), "console socket")
	})
	t.Run("exec-socket-without-tty", func(t *testing.T) {
		fails(t, c.execWith(cmdOpts{}, []string{"-d", "--console-socket", sock.path}, "true"), "console socket")
	})
	t.Run("exec-foreground-with-socket", func(t *testing.T) {
		fails(t, c.execWith(cmdOpts{}, []string{"-t", "--console-socket", sock.path}, "true"), "console socket")
	})
	// The glob is expanded by the shell itself: the init and the shell.
	if r := mustSucceed(t, c.exec("sh", "-c", "echo /proc/[0-9]*")); len(strings.Fields(r.stdout)) != 2 {
		t.Errorf("a refused exec left processes: %q (want the init and this shell)", r.stdout)
	}
}

// TestListenFds: socket activation as runc passes it on: with LISTEN_PID
// naming husk, fds 3.. go to the container, LISTEN_FDS=N and LISTEN_PID=1
// are in its environment, and --preserve-fds fds come after them.
func TestListenFds(t *testing.T) {
	e := newEnv(t)
	// Fresh files for each run: the container reads them to the end.
	open := func() []*os.File {
		var files []*os.File
		for _, content := range []string{"listen-a", "listen-b", "preserved-c"} {
			path := filepath.Join(e.dir, content)
			writeFile(t, path, content+"\n", 0o644)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			files = append(files, f)
		}
		return files
	}
	script := `echo "fds=$LISTEN_FDS pid=$LISTEN_PID"; cat <&3; cat <&4; cat <&5; [ -e /proc/self/fd/6 ] && echo fd6-open; true`
	// The shell puts its own pid in LISTEN_PID and execs husk: that pid is husk's.
	run := func(listenPid string) string {
		c := e.newContainer(baseSpec("sh", "-c", script))
		argv := append([]string{"/bin/sh", "-c", `export LISTEN_PID=` + listenPid + ` LISTEN_FDS=2; exec "$@"`, "sh"},
			e.huskArgs([]string{"run", "--preserve-fds", "1", "--bundle", c.b.dir, c.id})...)
		r := runCmd(t, cmdOpts{extraFiles: open()}, argv...)
		c.assertGone()
		return r.stdout
	}
	wantLines(t, lines(run("$$")), "fds=2 pid=1", "listen-a", "listen-b", "preserved-c")
	// LISTEN_PID of another process: nothing is passed on but --preserve-fds.
	got := lines(run("1"))
	if len(got) == 0 || got[0] != "fds= pid=" || !strings.Contains(strings.Join(got, "\n"), "listen-a") {
		t.Errorf("with a foreign LISTEN_PID the container printed %q, want no LISTEN_* and fd 3 preserved as the first", got)
	}
}

// TestNonRootStdioPipes: the stdio pipes a non-root process inherits are
// its own, so it can reopen them (/dev/stdout is /proc/self/fd/1).
func TestNonRootStdioPipes(t *testing.T) {
	e := newEnv(t)
	s := baseSpec("sh", "-c", "echo via-dev-stdout > /dev/stdout; echo via-dev-stderr > /dev/stderr")
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	c := e.newContainer(s)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	argv := e.huskArgs([]string{"run", "--bundle", c.b.dir, c.id})
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = outW, outW
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	var got bytes.Buffer
	got.ReadFrom(outR)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run: %v; output %q", err, got.String())
	}
	wantLines(t, lines(got.String()), "via-dev-stdout", "via-dev-stderr")
	c.assertGone()
}

// TestTerminalUserNamespace: in a user namespace the terminal comes from
// the container's own devpts and belongs to the process's user as the
// container sees it; exec -t gets one there too.
func TestTerminalUserNamespace(t *testing.T) {
	e := newEnv(t)
	const hostID, size = 100000, 65536
	script := `ls -ln "$(tty)" | awk '{print "owner=" $3}'; ` + ptyScript + `; exec sleep 300`
	s := terminalSpec(30, 70, "sh", "-c", script)
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	setNamespace(s, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	sock := newConsoleSocket(t, e)
	c := e.newContainer(s)
	chownTree(t, c.b.rootfs, hostID, hostID)
	mustSucceed(t, c.husk("create", "--console-socket", sock.path))
	master := sock.master(t)
	out := readPty(t, master)
	c.start()
	out.waitFor(t, "ready")
	master.Write([]byte("hello\r"))
	out.waitFor(t, "got:hello")
	got := out.String()
	checkPtyScript(t, got, "30 70", true)
	if !strings.Contains(got, "owner=1000") {
		t.Errorf("the terminal does not belong to uid 1000 inside:\n%s", got)
	}

	esock := newConsoleSocket(t, e)
	mustSucceed(t, c.execWith(cmdOpts{}, []string{"-t", "-d", "--console-socket", esock.path}, "sh", "-c", ptyScript))
	emaster := esock.master(t)
	eout := readPty(t, emaster)
	eout.waitFor(t, "ready")
	emaster.Write([]byte("hello\r"))
	if got := eout.waitClosed(t); !strings.Contains(got, "ctty=yes") || !strings.Contains(got, "got:hello") {
		t.Errorf("exec -t in the user namespace:\n%s", got)
	}
	mustSucceed(t, c.kill("KILL"))
	c.waitStatus(specs.StateStopped)
	mustSucceed(t, c.delete())
}
