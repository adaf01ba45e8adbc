package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// fileSystem is the cgroup filesystem access of a manager. hostFS is the
// kernel's; tests give v2 managers a plain directory tree that records
// what is written.
type fileSystem interface {
	// ReadFile reads a whole cgroup file.
	ReadFile(path string) (string, error)
	// WriteFile writes to an existing file (never creating it), one
	// write(2) per chunk: cgroup files take one value or line per write.
	WriteFile(path string, chunks ...string) error
	// Mkdir creates one cgroup directory.
	Mkdir(path string) error
	// Rmdir removes one empty cgroup directory.
	Rmdir(path string) error
	// SubDirs lists the names of the sub-cgroups of a directory.
	SubDirs(path string) ([]string, error)
	// Exists says whether a file or directory exists.
	Exists(path string) bool
	// AttachDevices attaches a BPF_PROG_TYPE_CGROUP_DEVICE program to a
	// cgroup v2 directory in place of the ones attached before.
	AttachDevices(dir string, prog asm.Instructions) error
}

// hostFS is the kernel's cgroup filesystem.
type hostFS struct{}

// ReadFile and WriteFile use bare fds: os.File would register each
// (pollable) kernfs file with Go's poller, three system calls for nothing.
func (hostFS) ReadFile(path string) (string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

func (hostFS) WriteFile(path string, chunks ...string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	// One write each: the kernel takes a cgroup file's value per write.
	for _, c := range chunks {
		_, err := unix.Write(fd, []byte(c))
		for err == unix.EINTR {
			_, err = unix.Write(fd, []byte(c))
		}
		if err != nil {
			return &chunkError{chunk: c, err: &os.PathError{Op: "write", Path: path, Err: err}}
		}
	}
	return nil
}

// chunkError names the value of a multi-value write that the kernel
// refused.
type chunkError struct {
	chunk string
	err   error
}

func (e *chunkError) Error() string { return e.err.Error() }
func (e *chunkError) Unwrap() error { return e.err }

func (hostFS) Mkdir(path string) error { return os.Mkdir(path, 0o755) }

// Rmdir refuses anything that is not on a cgroup filesystem, so that a
// damaged state file cannot make Destroy remove other empty directories.
func (hostFS) Rmdir(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return &os.PathError{Op: "rmdir", Path: path, Err: errors.New("not on a cgroup filesystem")}
	}
	if err := unix.Rmdir(path); err != nil {
		return &os.PathError{Op: "rmdir", Path: path, Err: err}
	}
	return nil
}

func (hostFS) SubDirs(path string) ([]string, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (hostFS) Exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func (hostFS) AttachDevices(dir string, prog asm.Instructions) error {
	return attachDeviceProgram(dir, prog)
}

// readString reads a cgroup file without its trailing newline.
func readString(fs fileSystem, path string) (string, error) {
	s, err := fs.ReadFile(path)
	return strings.TrimSpace(s), err
}

// mkdirAll creates dir and the missing directories above it. made, when
// not nil, is called for each directory it creates, parents first, and
// for dir itself if it was there already (existed).
func mkdirAll(fs fileSystem, dir string, made func(dir string, existed bool) error) error {
	// The directory first: it is new and its parent exists, nearly always,
	// and a stat of each level cost as much as the mkdir.
	err := fs.Mkdir(dir)
	if errors.Is(err, os.ErrNotExist) && filepath.Dir(dir) != dir {
		if err := mkdirAll(fs, filepath.Dir(dir), made); err != nil {
			return err
		}
		err = fs.Mkdir(dir)
	}
	existed := errors.Is(err, os.ErrExist)
	if err != nil && !existed {
		return err
	}
	if made == nil {
		return nil
	}
	return made(dir, existed)
}

// writePid moves a process (all its threads) into a cgroup.
func writePid(fs fileSystem, dir string, pid int) error {
	if err := fs.WriteFile(filepath.Join(dir, "cgroup.procs"), fmt.Sprint(pid)); err != nil {
		return fmt.Errorf("cgroups: move process %d into %s: %w", pid, dir, err)
	}
	return nil
}

// readPids lists cgroup.procs of dir and every sub-cgroup. A cgroup that is
// gone has no processes.
func readPids(fs fileSystem, dir string, out []int) ([]int, error) {
	data, err := fs.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
			return out, nil
		}
		return out, err
	}
	for _, f := range strings.Fields(data) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	subs, err := fs.SubDirs(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return out, nil
		}
		return out, err
	}
	for _, s := range subs {
		if out, err = readPids(fs, filepath.Join(dir, s), out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// removeTree removes dir and its sub-cgroups, deepest first. rmdir fails
// with EBUSY while the cgroup still has processes, which can be the case
// for a moment after they were killed: it is retried with a backoff of
// about one second in total.
func removeTree(fs fileSystem, dir string) error {
	// Most cgroups have no sub-cgroups: try without listing first.
	if err := fs.Rmdir(dir); err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	subs, err := fs.SubDirs(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("cgroups: %w", err)
	}
	for _, s := range subs {
		if err := removeTree(fs, filepath.Join(dir, s)); err != nil {
			return err
		}
	}
	delay := time.Millisecond
	for attempt := 0; ; attempt++ {
		err := fs.Rmdir(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || attempt == 10 {
			return fmt.Errorf("cgroups: %w", err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 200*time.Millisecond)
	}
}
