package libcontainer

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestInFile(t *testing.T) {
	prefixed := []string{
		"process.cwd /x: no such file or directory",
		"process.args[0]: exec: \"x\": executable file not found in $PATH",
		"mounts[2] /proc: mount proc: permission denied",
		"linux.sysctl.net.ipv4.ip_forward: permission denied",
		"linux.uidMappings: write /proc/1/uid_map: invalid argument",
		"root.path: x",
		"hostname: operation not permitted",
		"domainname: operation not permitted",
		"hooks.createContainer[0] /bin/x: exit status 1",
	}
	for _, msg := range prefixed {
		inner := errors.New(msg)
		err := inFile("/b/config.json", inner)
		if err.Error() != "/b/config.json: "+msg {
			t.Errorf("inFile(%q) = %q, want it prefixed with the file", msg, err)
		}
		if !errors.Is(err, inner) {
			t.Errorf("inFile(%q) does not wrap the error", msg)
		}
	}
	for _, msg := range []string{"nsenter: setns /proc/1/ns/net: invalid argument", "init exited unexpectedly (exit status 1)", "processing: x", "rootfs: x"} {
		if err := inFile("/b/config.json", errors.New(msg)); err.Error() != msg {
			t.Errorf("inFile(%q) = %q, want it unchanged", msg, err)
		}
	}
}

func TestWriteIDMapsError(t *testing.T) {
	err := writeIDMaps(1<<30, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "linux.uidMappings: write /proc/1073741824/uid_map: ") {
		t.Errorf("writeIDMaps for a missing process = %v, want an error naming linux.uidMappings and the file", err)
	}
}

// The wait status ends up in "init exited unexpectedly (...)".
func TestDescribeWait(t *testing.T) {
	tests := []struct {
		ws   unix.WaitStatus
		want string
	}{
		{0, "exit status 0"},
		{1 << 8, "exit status 1"},
		{127 << 8, "exit status 127"},
	}
	for _, tt := range tests {
		if got := describeWait(tt.ws); got != tt.want {
			t.Errorf("describeWait(%#x) = %q, want %q", uint32(tt.ws), got, tt.want)
		}
	}
	for _, sig := range []unix.Signal{unix.SIGKILL, unix.SIGSEGV, unix.SIGTERM} {
		got := describeWait(unix.WaitStatus(sig))
		name := unix.SignalName(sig)
		if !strings.Contains(got, name) && !strings.Contains(got, fmt.Sprintf("signal %d", sig)) {
			t.Errorf("describeWait(killed by %s) = %q, want it to name the signal (%s)", name, got, name)
		}
	}
}
