package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SCMP_ACT_NOTIFY with linux.seccomp.listenerPath: the runtime connects to
// the listener, sends the notify fd with SCM_RIGHTS and the
// specs.ContainerProcessState as JSON; the listener answers the notified
// syscalls.
//
// The listener is written here against the kernel's ioctl interface:
// package tests must stay free of cgo (the test binary is copied into
// containers and must be static), which rules out libseccomp-golang.

// Kernel structures of seccomp user notification (linux/seccomp.h).
type seccompData struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

func init() {
	// The ioctl numbers encode these sizes.
	if unsafe.Sizeof(seccompNotif{}) != 0x50 || unsafe.Sizeof(seccompNotifResp{}) != 0x18 {
		panic("seccomp notify structures do not match the kernel's")
	}
}

func notifIoctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// notifyEvent is one notified syscall as the listener saw and answered it.
type notifyEvent struct {
	conn   int    // which connection (0 for the first)
	nr     int32  // syscall number
	path   string // the path argument
	answer string // "EXDEV", "fake-success" or "continue"
}

// notifyListener is a seccomp agent on a unix socket. It answers mkdir and
// mkdirat by the path's last element: "exdev" fails with EXDEV, "fake"
// succeeds without doing anything, anything else runs for real
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
type notifyListener struct {
	path string
	ln   int // listening socket
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	states []specs.ContainerProcessState
	fds    [][]int // fds received per connection, as numbers
	events []notifyEvent
	errs   []string
}

func newNotifyListener(e *env) *notifyListener {
	e.t.Helper()
	path := filepath.Join(e.mkdir("listener-"), "agent.sock")
	// Raw sockets, not package net: net would link the cgo resolver.
	ln, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := unix.Bind(ln, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(ln)
		e.t.Fatal(err)
	}
	if err := unix.Listen(ln, 16); err != nil {
		unix.Close(ln)
		e.t.Fatal(err)
	}
	l := &notifyListener{path: path, ln: ln, stop: make(chan struct{})}
	l.wg.Add(1)
	go l.accept()
	e.t.Cleanup(l.close)
	return l
}

func (l *notifyListener) close() {
	close(l.stop)
	l.wg.Wait()
	unix.Close(l.ln)
}

func (l *notifyListener) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

// stopped tells whether the test has ended.
func (l *notifyListener) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// waitReadable waits until fd is readable (true) or hung up or the test
// ends (false). The bounded wait only lets the end of the test stop it.
func (l *notifyListener) waitReadable(fd int) (bool, error) {
	for !l.stopped() {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return false, err
		}
		if pfd[0].Revents&unix.POLLIN != 0 {
			return true, nil
		}
		if pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			return false, nil
		}
	}
	return false, nil
}

func (l *notifyListener) accept() {
	defer l.wg.Done()
	for n := 0; ; n++ {
		ok, err := l.waitReadable(l.ln)
		if err != nil {
			l.fail("accept: %v", err)
		}
		if !ok {
			return
		}
		conn, _, err := unix.Accept4(l.ln, unix.SOCK_CLOEXEC)
		if err != nil {
			l.fail("accept: %v", err)
			return
		}
		l.wg.Add(1)
		go l.serve(n, conn)
	}
}

// serve reads the runtime's message (the fd comes with the first bytes)
// and answers notifications until the filter has no process left or the
// test ends.
func (l *notifyListener) serve(n int, conn int) {
	defer l.wg.Done()
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(4*8))
	k, oobn, _, _, err := unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		unix.Close(conn)
		l.fail("connection %d: read: %v", n, err)
		return
	}
	// The JSON may take more reads. Read only until it is complete: a
	// runtime may keep the connection open.
	data := buf[:k:k]
	for !json.Valid(data) {
		m, err := unix.Read(conn, buf)
		if m > 0 {
			data = append(data, buf[:m]...)
		}
		if err != nil || m <= 0 {
			break
		}
	}
	unix.Close(conn)
	var fds []int
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		l.fail("connection %d: control message: %v", n, err)
	}
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			l.fail("connection %d: SCM_RIGHTS: %v", n, err)
			continue
		}
		fds = append(fds, got...)
	}
	var st specs.ContainerProcessState
	if err := json.Unmarshal(data, &st); err != nil {
		l.fail("connection %d: state %q: %v", n, data, err)
	}
	l.mu.Lock()
	l.states = append(l.states, st)
	l.fds = append(l.fds, fds)
	l.mu.Unlock()
	if len(fds) != 1 {
		l.fail("connection %d: %d fds, want 1", n, len(fds))
		for _, fd := range fds {
			unix.Close(fd)
		}
		return
	}
	defer unix.Close(fds[0])
	l.answer(n, fds[0])
}

func (l *notifyListener) answer(n, fd int) {
	for {
		ok, err := l.waitReadable(fd)
		if err != nil {
			l.fail("connection %d: poll: %v", n, err)
		}
		if !ok {
			return // no process uses the filter any more, or the test ended
		}
		var req seccompNotif
		if err := notifIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINTR) {
				continue // the caller went away
			}
			l.fail("connection %d: NOTIF_RECV: %v", n, err)
			return
		}
		ev := notifyEvent{conn: n, nr: req.Data.Nr}
		resp := seccompNotifResp{ID: req.ID}
		var addr uint64
		switch req.Data.Nr {
		case unix.SYS_MKDIR:
			addr = req.Data.Args[0]
		case unix.SYS_MKDIRAT:
			addr = req.Data.Args[1]
		}
		if addr != 0 {
			ev.path = readString(int(req.Pid), addr)
		}
		// The path is only trustworthy if the request is still live.
		id := req.ID
		if err := notifIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)); err != nil {
			continue
		}
		switch filepath.Base(ev.path) {
		case "exdev":
			resp.Error, ev.answer = -int32(unix.EXDEV), "EXDEV"
		case "fake":
			ev.answer = "fake-success"
		default:
			resp.Flags, ev.answer = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE, "continue"
		}
		err = notifIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp))
		if err != nil && !errors.Is(err, unix.ENOENT) {
			l.fail("connection %d: NOTIF_SEND: %v", n, err)
			return
		}
		l.mu.Lock()
		l.events = append(l.events, ev)
		l.mu.Unlock()
	}
}

// readString reads a NUL-terminated string from another process.
func readString(pid int, addr uint64) string {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
	if err != nil {
		return ""
	}
	defer f.Close()
	var out []byte
	chunk := make([]byte, 64)
	for len(out) < 4096 {
		k, err := f.ReadAt(chunk, int64(addr)+int64(len(out)))
		if i := bytes.IndexByte(chunk[:k], 0); i >= 0 {
			return string(append(out, chunk[:i]...))
		}
		out = append(out, chunk[:k]...)
		if err != nil || k == 0 {
			break
		}
	}
	return string(out)
}

// check fails the test for anything the listener found wrong.
func (l *notifyListener) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.errs {
		t.Error("listener: " + e)
	}
}

func (l *notifyListener) snapshot() ([]specs.ContainerProcessState, []notifyEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]specs.ContainerProcessState{}, l.states...), append([]notifyEvent{}, l.events...)
}

// checkState verifies what the runtime told the agent about a process.
func checkNotifyState(t *testing.T, st specs.ContainerProcessState, id, metadata string) {
	t.Helper()
	if len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName {
		t.Errorf("fds %q, want [%q]", st.Fds, specs.SeccompFdName)
	}
	if st.Metadata != metadata {
		t.Errorf("metadata %q, want %q", st.Metadata, metadata)
	}
	if st.State.ID != id {
		t.Errorf("state.id %q, want %q", st.State.ID, id)
	}
	if st.Pid <= 0 {
		t.Errorf("pid %d", st.Pid)
	}
	if st.Version == "" || st.State.Version == "" {
		t.Errorf("ociVersion missing: %+v", st)
	}
}

// notifyScript makes three directories: one the agent refuses, one it
// pretends to make, one it lets the kernel make. Each line is a verdict.
const notifyScript = `mkdir /tmp/exdev && echo exdev-made || echo exdev-failed
mkdir /tmp/fake && echo fake-made || echo fake-failed
[ -d /tmp/fake ] && echo fake-exists || echo fake-absent
mkdir /tmp/real && echo real-made || echo real-failed
[ -d /tmp/real ] && echo real-exists || echo real-absent`

func wantNotifyOutput(t *testing.T, r result) {
	t.Helper()
	wantLines(t, lines(r.stdout), "exdev-failed", "fake-made", "fake-absent", "real-made", "real-exists")
	if !strings.Contains(r.stderr, "mkdir: can't create directory '/tmp/exdev': "+msgEXDEV) {
		t.Errorf("stderr %q lacks the agent's EXDEV", r.stderr)
	}
}

// wantEvents checks the agent answered the three mkdirs of one connection.
func wantEvents(t *testing.T, events []notifyEvent, conn int) {
	t.Helper()
	var got []string
	for _, ev := range events {
		if ev.conn == conn {
			got = append(got, ev.path+" "+ev.answer)
		}
	}
	want := []string{"/tmp/exdev EXDEV", "/tmp/fake fake-success", "/tmp/real continue"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("connection %d: the agent answered %q, want %q", conn, got, want)
	}
}

func notifySpec(l *notifyListener, nnp bool) *specs.Spec {
	s := seccompSpec(allowAllBut(specs.LinuxSyscall{Names: mkdirNames, Action: specs.ActNotify}), notifyScript)
	s.Linux.Seccomp.ListenerPath = l.path
	s.Linux.Seccomp.ListenerMetadata = "husk-test-metadata"
	s.Process.NoNewPrivileges = nnp
	return s
}

// The container process's mkdirs go to the agent, which makes them fail,
// succeed without effect, or run; the agent gets one connection with the
// notify fd and the process state. With and without no_new_privs (the
// filter is then loaded before the uid switch). One state root: the second
// container loads the program cached for the first.
func TestSecuritySeccompNotifyRun(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		nnp  bool
		uid  uint32
	}{{"nnp", true, 0}, {"no-nnp-uid1000", false, 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newNotifyListener(e)
			s := notifySpec(l, tc.nnp)
			s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			c := e.newContainer(s)
			r := c.run(runOpts{})
			if r.code != 0 {
				t.Fatalf("run:\n%v", r)
			}
			wantNotifyOutput(t, r)
			states, events := l.snapshot()
			l.check(t)
			if len(states) != 1 {
				t.Fatalf("the agent got %d connections, want 1", len(states))
			}
			checkNotifyState(t, states[0], c.id, "husk-test-metadata")
			wantEvents(t, events, 0)
		})
	}
}

// Each exec'd process loads the filter again and hands its own notify fd
// to the agent, with its own pid.
func TestSecuritySeccompNotifyExec(t *testing.T) {
	e := newEnv(t)
	l := newNotifyListener(e)
	s := notifySpec(l, true)
	c := e.runningContainer(s)
	initPid := c.state().Pid

	wantNotifyOutput(t, c.exec("sh", "-c", notifyScript+"; rmdir /tmp/real"))
	p := baseProcess("sh", "-c", notifyScript)
	p.User = specs.User{UID: 1000, GID: 1000}
	wantNotifyOutput(t, c.execProcess(p))

	states, events := l.snapshot()
	l.check(t)
	if len(states) != 3 {
		t.Fatalf("the agent got %d connections, want 3 (init, exec, exec --process)", len(states))
	}
	for i, st := range states {
		checkNotifyState(t, st, c.id, "husk-test-metadata")
		if i == 0 && st.Pid != initPid {
			t.Errorf("the init's connection has pid %d, want %d", st.Pid, initPid)
		}
		if i > 0 && st.Pid == initPid {
			t.Errorf("exec connection %d has the init's pid", i)
		}
	}
	wantEvents(t, events, 1)
	wantEvents(t, events, 2)
}
