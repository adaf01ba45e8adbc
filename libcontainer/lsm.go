package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Hooks for tests: where the kernel tells which LSMs are on.
var (
	apparmorEnabledFile = "/sys/module/apparmor/parameters/enabled"
	selinuxEnforceFile  = "/sys/fs/selinux/enforce"
)

func apparmorEnabled() bool {
	buf, err := os.ReadFile(apparmorEnabledFile)
	return err == nil && len(buf) > 0 && buf[0] == 'Y'
}

func selinuxEnabled() bool {
	_, err := os.Stat(selinuxEnforceFile)
	return err == nil
}

// checkLSM refuses labels for an LSM the host does not run, as runc does;
// a process would otherwise run without the confinement its config asks for.
func checkLSM(field string, p *specs.Process) error {
	if p.ApparmorProfile != "" && !apparmorEnabled() {
		return fmt.Errorf("%s.apparmorProfile: AppArmor is not enabled on this host", field)
	}
	if p.SelinuxLabel != "" && !selinuxEnabled() {
		return fmt.Errorf("%s.selinuxLabel: SELinux is not enabled on this host", field)
	}
	return nil
}

// execLabel is the LSM label the next execve of this thread takes.
type execLabel struct {
	file  *os.File
	value string
}

// openExecLabel opens the thread's attr file for the label the process
// asks for. The caller must stay on this OS thread until exec. The file is
// checked to be real procfs, so a fake /proc cannot swallow the label.
func openExecLabel(p *specs.Process) (*execLabel, error) {
	var attr, value, field string
	switch {
	case p.ApparmorProfile != "":
		attr, value, field = "apparmor/exec", "exec "+p.ApparmorProfile, "process.apparmorProfile"
	case p.SelinuxLabel != "":
		attr, value, field = "exec", p.SelinuxLabel, "process.selinuxLabel"
	default:
		return nil, nil
	}
	f, err := os.OpenFile("/proc/thread-self/attr/"+attr, os.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(attr, "apparmor/") {
		f, err = os.OpenFile("/proc/thread-self/attr/exec", os.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		f.Close()
		return nil, fmt.Errorf("%s: /proc is not procfs", field)
	}
	return &execLabel{file: f, value: value}, nil
}

// apply sets the label for the coming execve.
func (l *execLabel) apply() error {
	if l == nil {
		return nil
	}
	defer l.file.Close()
	if _, err := l.file.WriteString(l.value); err != nil {
		return fmt.Errorf("set LSM label %q: %w", l.value, err)
	}
	return nil
}
