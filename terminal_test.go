package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// runc's rules for terminals and --console-socket.
func TestCheckTerminal(t *testing.T) {
	for _, tt := range []struct {
		terminal, detach bool
		socket           string
		want             string // "" for no error
	}{
		{false, false, "", ""},
		{false, true, "", ""},
		{true, false, "", ""},
		{true, true, "/s", ""},
		{true, true, "", "cannot allocate tty"},
		{false, true, "/s", "cannot use console socket"},
		{true, false, "/s", "cannot use console socket"},
		{false, false, "/s", "cannot use console socket"},
	} {
		err := checkTerminal(tt.terminal, tt.detach, tt.socket)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.HasPrefix(err.Error(), tt.want)) {
			t.Errorf("terminal %v detach %v socket %q: %v, want %q", tt.terminal, tt.detach, tt.socket, err, tt.want)
		}
	}
}

// Socket activation counts only when LISTEN_PID names husk itself.
func TestListenFdsEnv(t *testing.T) {
	for _, tt := range []struct {
		pid, fds string
		want     int
	}{
		{"self", "2", 2},
		{"self", "0", 0},
		{"self", "x", 0},
		{"1", "2", 0},
		{"", "2", 0},
	} {
		pid := tt.pid
		if pid == "self" {
			pid = strconv.Itoa(os.Getpid())
		}
		t.Setenv("LISTEN_PID", pid)
		t.Setenv("LISTEN_FDS", tt.fds)
		if got := listenFds(); got != tt.want {
			t.Errorf("LISTEN_PID=%s LISTEN_FDS=%s: %d fds, want %d", tt.pid, tt.fds, got, tt.want)
		}
	}
}
