package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// freezeTimeout bounds the wait for a cgroup to freeze (runc's too).
const freezeTimeout = 10 * time.Second

// freezeV2 writes cgroup.freeze and waits for cgroup.events to say
// "frozen 1" (or 0): the kernel signals a change of cgroup.events as a
// modification, so the wait is an inotify watch, set up before the write.
// A freeze that does not finish in time is undone.
func freezeV2(fs fileSystem, dir string, frozen bool) error {
	want := "0"
	if frozen {
		want = "1"
	}
	events := filepath.Join(dir, "cgroup.events")
	w, err := watchFile(events)
	if err != nil {
		return fmt.Errorf("cgroups: watch %s: %w", events, err)
	}
	defer w.close()
	freeze := filepath.Join(dir, "cgroup.freeze")
	if err := fs.WriteFile(freeze, want); err != nil {
		if !fs.Exists(freeze) && fs.Exists(dir) {
			return fmt.Errorf("cgroups: this kernel has no cgroup v2 freezer (cgroup.freeze, Linux 5.2): %w", err)
		}
		return fmt.Errorf("cgroups: %w", err)
	}
	deadline := time.Now().Add(freezeTimeout)
	for {
		data, err := fs.ReadFile(events)
		if err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
		if eventValue(data, "frozen") == want {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			if frozen {
				_ = fs.WriteFile(freeze, "0")
			}
			return fmt.Errorf("cgroups: %s did not report frozen %s within %v", dir, want, freezeTimeout)
		}
		if err := w.wait(left); err != nil {
			return fmt.Errorf("cgroups: wait for %s: %w", events, err)
		}
	}
}

// eventValue is the value of a key of cgroup.events.
func eventValue(data, key string) string {
	for _, line := range strings.Split(data, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// inotifyWatch is one inotify instance watching one file for writes.
type inotifyWatch struct{ fd int }

func watchFile(path string) (*inotifyWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &inotifyWatch{fd: fd}, nil
}

// wait returns when the file was modified, the time is up, or a signal
// interrupted the wait; the caller reads the file again in each case.
func (w *inotifyWatch) wait(d time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	n, err := unix.Poll(fds, ms)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return nil
		}
		return err
	}
	if n > 0 {
		var buf [4096]byte
		for {
			if _, err := unix.Read(w.fd, buf[:]); err != nil {
				break // EAGAIN: drained
			}
		}
	}
	return nil
}

func (w *inotifyWatch) close() { unix.Close(w.fd) }

// freezeV1 writes freezer.state and reads it until it shows the state.
// The v1 freezer has no notification: a process freezes when it next
// runs, and reading freezer.state is what moves FREEZING to FROZEN. The
// reads yield the CPU a few times, then back off from 100µs to 10ms,
// within freezeTimeout; a freeze that does not finish is undone. Every
// 100 reads FROZEN is written again, which freezes tasks that were forked
// while the cgroup was FREEZING.
func freezeV1(fs fileSystem, dir string, frozen bool) error {
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	path := filepath.Join(dir, "freezer.state")
	if err := fs.WriteFile(path, want); err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	deadline := time.Now().Add(freezeTimeout)
	delay := 50 * time.Microsecond
	for i := 1; ; i++ {
		s, err := readString(fs, path)
		if err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
		if s == want {
			return nil
		}
		if time.Now().After(deadline) {
			if frozen {
				_ = fs.WriteFile(path, "THAWED")
			}
			return fmt.Errorf("cgroups: %s is still %s after %v", path, s, freezeTimeout)
		}
		if frozen && i%100 == 0 {
			if err := fs.WriteFile(path, want); err != nil {
				return fmt.Errorf("cgroups: %w", err)
			}
		}
		if i <= 10 {
			unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			continue
		}
		delay = min(2*delay, 10*time.Millisecond)
		time.Sleep(delay)
	}
}

// signalAll sends sig to every process of the cgroup; processes that exit
// meanwhile are no error.
func signalAll(m Manager, sig unix.Signal) error {
	pids, err := m.Pids()
	if err != nil {
		return err
	}
	var errs []error
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("cgroups: signal %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// freezeKillThaw kills every process with no chance to fork meanwhile: the
// frozen processes get SIGKILL and die as they thaw. If the freeze fails
// (a process stuck in the kernel) they are killed anyway, and the error
// says so.
func freezeKillThaw(m Manager) error {
	// Nothing to kill, and so nothing to freeze first: the common case of
	// delete, after the container's init has exited.
	if pids, err := m.Pids(); err == nil && len(pids) == 0 {
		return nil
	}
	ferr := m.Freeze()
	kerr := m.Signal(unix.SIGKILL)
	terr := m.Thaw()
	if kerr != nil || terr != nil {
		return errors.Join(kerr, terr)
	}
	if ferr != nil {
		return fmt.Errorf("cgroups: sent SIGKILL without freezing first (processes forked meanwhile may live): %w", ferr)
	}
	return nil
}
