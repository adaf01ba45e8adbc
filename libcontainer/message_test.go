package libcontainer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (conn, conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return conn{a}, conn{b}
}

func TestConnRoundTrip(t *testing.T) {
	a, b := socketPair(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, more than a socket buffer
	msgs := []struct {
		typ     uint32
		payload []byte
	}{
		{msgNsConfig, []byte("clone=0\x00")},
		{msgUsermapAck, nil},
		{msgInit, big},
		{msgPid, []byte{1, 2, 3, 4}},
		{0xdeadbeef, []byte("x")},
	}
	done := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := a.send(m.typ, m.payload); err != nil {
				done <- err
				return
			}
		}
		done <- a.f.Close()
	}()
	for i, m := range msgs {
		typ, payload, err := b.recv()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != m.typ || !bytes.Equal(payload, m.payload) {
			t.Errorf("message %d: got type %d with %d bytes, want type %d with %d bytes", i, typ, len(payload), m.typ, len(m.payload))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Closed between messages: a clean io.EOF, which died() relies on.
	if _, _, err := b.recv(); err != io.EOF {
		t.Errorf("recv after close = %v, want io.EOF", err)
	}
}

func TestConnWireFormat(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := (conn{w}).send(msgPid, []byte{9, 8, 7, 6}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	// u32 type, u32 length, payload, in host byte order: what nsenter.c reads.
	want := make([]byte, 12)
	binary.NativeEndian.PutUint32(want[0:], msgPid)
	binary.NativeEndian.PutUint32(want[4:], 4)
	copy(want[8:], []byte{9, 8, 7, 6})
	if !bytes.Equal(data, want) {
		t.Errorf("wire bytes % x, want % x", data, want)
	}
}

func TestConnSendInit(t *testing.T) {
	a, b := socketPair(t)
	go a.sendInit(initConfig{ID: "abc", PreserveFds: 2, Process: &specs.Process{Cwd: "/w"}})
	payload, err := b.expect(msgInit)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeInitConfig(payload)
	if err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	if got.ID != "abc" || got.PreserveFds != 2 || got.Process == nil || got.Process.Cwd != "/w" {
		t.Errorf("payload %s decodes to %+v", payload, got)
	}
}

func TestConnExpect(t *testing.T) {
	a, b := socketPair(t)

	go a.send(msgError, []byte("process.cwd /nope: no such file or directory"))
	_, err := b.expect(msgReady)
	if err == nil || err.Error() != "process.cwd /nope: no such file or directory" {
		t.Errorf("expect after msgError = %v, want the remote text as is", err)
	}
	var re remoteError
	if !errors.As(err, &re) {
		t.Errorf("error %T is not a remoteError", err)
	}

	go a.send(msgHooks, nil)
	if _, err := b.expect(msgReady); err == nil || !strings.Contains(err.Error(), "unexpected message 7") {
		t.Errorf("expect(msgReady) after msgHooks = %v, want an unexpected-message error", err)
	}

	go a.send(msgHooksDone, []byte("ok"))
	if payload, err := b.expect(msgHooksDone); err != nil || string(payload) != "ok" {
		t.Errorf("expect(msgHooksDone) = %q, %v", payload, err)
	}

	a.f.Close()
	if _, err := b.expect(msgReady); err != io.EOF {
		t.Errorf("expect after close = %v, want io.EOF", err)
	}
}

func TestConnRecvTooLarge(t *testing.T) {
	for _, n := range []uint32{maxMessage + 1, 1 << 30} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var hdr [8]byte
		binary.NativeEndian.PutUint32(hdr[0:], msgInit)
		binary.NativeEndian.PutUint32(hdr[4:], n)
		if _, err := w.Write(hdr[:]); err != nil {
			t.Fatal(err)
		}
		w.Close() // a check that comes too late fails on EOF, not a hang
		_, _, err = (conn{r}).recv()
		r.Close()
		if err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("recv of a %d-byte message = %v, want a too-large error", n, err)
		}
	}
}

func TestConnRecvTruncated(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"half a header", []byte{1, 0, 0}},
		{"payload cut short", func() []byte {
			b := make([]byte, 8, 10)
			binary.NativeEndian.PutUint32(b[0:], msgInit)
			binary.NativeEndian.PutUint32(b[4:], 5)
			return append(b, 'a', 'b')
		}()},
	}
	for _, tt := range tests {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(tt.data)
		w.Close()
		_, _, err = (conn{r}).recv()
		r.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: recv = %v, want io.ErrUnexpectedEOF (not a clean EOF)", tt.name, err)
		}
	}
}
