package libcontainer

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Message types exchanged over the init socket. The first five are shared
// with nsenter/nsenter.c and must keep their numbers.
const (
	msgNsConfig   uint32 = 1  // parent -> nsenter: namespaces to join/create
	msgUsermapReq uint32 = 2  // nsenter -> parent: write my uid/gid maps
	msgUsermapAck uint32 = 3  // parent -> nsenter: maps written
	msgPid        uint32 = 4  // nsenter -> parent: pid of the Go init
	msgError      uint32 = 5  // init -> parent: one-line error, then exit
	msgInit       uint32 = 6  // parent -> init: initConfig as JSON
	msgHooks      uint32 = 7  // init -> parent: run prestart/createRuntime hooks now
	msgHooksDone  uint32 = 8  // parent -> init: hooks done
	msgReady      uint32 = 9  // init -> parent: container created
	msgCommit     uint32 = 10 // parent -> init: state saved, wait for start
	msgSeccompFd  uint32 = 11 // init -> start/exec: seccomp notify fd attached (SCM_RIGHTS)
	msgConsole    uint32 = 12 // init -> create/exec: the terminal's pty master attached (SCM_RIGHTS)
)

const maxMessage = 16 << 20

// conn frames messages as u32 type, u32 length, payload (host byte order).
type conn struct{ f *os.File }

// frame is one message as it goes on the wire, sent in one write.
func frame(typ uint32, payload []byte) []byte {
	buf := make([]byte, 8+len(payload))
	binary.NativeEndian.PutUint32(buf[0:], typ)
	binary.NativeEndian.PutUint32(buf[4:], uint32(len(payload)))
	copy(buf[8:], payload)
	return buf
}

func (c conn) send(typ uint32, payload []byte) error {
	_, err := c.f.Write(frame(typ, payload))
	return err
}

// sendInit sends the init its config (msgInit).
func (c conn) sendInit(cfg initConfig) error {
	data, err := cfg.encode()
	if err != nil {
		return err
	}
	return c.send(msgInit, data)
}

// sendFd sends a message with fd attached.
func (c conn) sendFd(typ uint32, payload []byte, fd int) error {
	return unix.Sendmsg(int(c.f.Fd()), frame(typ, payload), unix.UnixRights(fd), nil, 0)
}

// recv returns io.EOF when the other side closed the socket between messages.
func (c conn) recv() (uint32, []byte, error) {
	typ, payload, _, err := c.recvFd()
	return typ, payload, err
}

// recvFd is recv that also returns an fd sent with the message, or -1.
func (c conn) recvFd() (uint32, []byte, int, error) {
	var hdr [8]byte
	oob := make([]byte, unix.CmsgSpace(4))
	// An attached fd arrives with the first byte of its message.
	n, oobn, _, _, err := unix.Recvmsg(int(c.f.Fd()), hdr[:], oob, unix.MSG_CMSG_CLOEXEC)
	for err == unix.EINTR {
		n, oobn, _, _, err = unix.Recvmsg(int(c.f.Fd()), hdr[:], oob, unix.MSG_CMSG_CLOEXEC)
	}
	if err == unix.ENOTSOCK {
		n, err = c.f.Read(hdr[:]) // a pipe carries no fds
	}
	if err != nil && !(err == io.EOF && n == 0) {
		return 0, nil, -1, err
	}
	if n == 0 {
		return 0, nil, -1, io.EOF
	}
	fd := -1
	if oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) > 0 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) > 0 {
				fd = fds[0]
			}
		}
	}
	typ, payload, err := c.recvRest(hdr, n)
	if err != nil && fd >= 0 {
		unix.Close(fd)
		fd = -1
	}
	return typ, payload, fd, err
}

func (c conn) recvRest(hdr [8]byte, have int) (uint32, []byte, error) {
	if _, err := io.ReadFull(c.f, hdr[have:]); err != nil {
		return 0, nil, io.ErrUnexpectedEOF
	}
	typ := binary.NativeEndian.Uint32(hdr[0:])
	n := binary.NativeEndian.Uint32(hdr[4:])
	if n > maxMessage {
		return 0, nil, fmt.Errorf("message %d too large (%d bytes)", typ, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(c.f, payload); err != nil {
		return 0, nil, err
	}
	return typ, payload, nil
}

// expect receives one message and turns msgError into an error.
func (c conn) expect(want uint32) ([]byte, error) {
	typ, payload, err := c.recv()
	if err != nil {
		return nil, err
	}
	if typ == msgError {
		return nil, remoteError(payload)
	}
	if typ != want {
		return nil, fmt.Errorf("unexpected message %d from init, want %d", typ, want)
	}
	return payload, nil
}

// remoteError is an error reported by the init process; its text is final.
type remoteError string

func (e remoteError) Error() string { return string(e) }
