package libcontainer

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// exitedPidfd runs a short process and returns a pidfd of it once it has
// exited (not reaped: the pidfd is readable).
func exitedPidfd(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(pidfd); cmd.Wait() })
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, 10_000); err != nil || fds[0].Revents == 0 {
		t.Fatalf("true did not exit: %v", err)
	}
	return pidfd
}

// nsenter that forks the init and dies before reporting leaves the socket
// open in the init: the wait must end through the pidfd, not hang.
func TestRecvWatchingPeerExited(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")
	defer parent.Close()
	// The "forked init": holds the other end and stays.
	holder := exec.Command("sleep", "30")
	holder.ExtraFiles = []*os.File{child}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	// Our own copy of the holder's end, to send a message through later.
	peer := conn{child}
	defer peer.f.Close()

	c := conn{parent}
	if _, _, _, err := c.recvWatching(exitedPidfd(t)); !errors.Is(err, errPeerExited) {
		t.Fatalf("recvWatching after the process exited = %v, want errPeerExited", err)
	}
	// A message sent before the exit is still read first.
	if err := peer.send(msgPid, []byte{1, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	typ, payload, _, err := c.recvWatching(exitedPidfd(t))
	if err != nil || typ != msgPid || len(payload) != 4 {
		t.Errorf("recvWatching with a message waiting = %d %v %v, want the message", typ, payload, err)
	}
}
