package cgroups

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// Placement is how a new process enters a container's cgroup without
// being moved by pid. Writing a pid to cgroup.procs (v1 or v2) takes the
// kernel's global cgroup_threadgroup_rwsem for writing, and its first
// writer waits for an RCU grace period: 5 to 20 ms per container on a
// small machine, the largest single cost of a container start. Two ways
// avoid it:
//   - clone(2) with CLONE_INTO_CGROUP puts the child straight into a v2
//     directory (only the read side of the lock is taken);
//   - a thread that writes "0" to a v1 hierarchy's tasks file moves only
//     itself, and the kernel then takes no global lock. A single-threaded
//     process moves whole; a Go process moves the thread that will exec.
type Placement struct {
	// CloneInto is the v2 directory to clone the process into: the one
	// directory on v2, the unified one on a hybrid host; "" on v1.
	CloneInto string
	// Tasks are the tasks files of the v1 hierarchies, each once.
	Tasks []string
}

// MkdirAll creates one cgroup directory (a Placement's CloneInto) and what
// is missing above it ahead of Apply, so that a process can be cloned into
// it while Apply makes the others.
func MkdirAll(dir string) error {
	if err := mkdirAll(hostFS{}, dir, nil); err != nil {
		return fmt.Errorf("cgroups: create %s: %w", dir, err)
	}
	return nil
}

// HasV1 says whether there are v1 hierarchies to join through Tasks.
func (p Placement) HasV1() bool { return len(p.Tasks) > 0 }

func (m *v1Manager) Placement() Placement {
	var p Placement
	for _, k := range slices.Sorted(maps.Keys(m.paths)) {
		dir := m.paths[k]
		if k == "" {
			p.CloneInto = dir
			continue
		}
		if t := filepath.Join(dir, "tasks"); !slices.Contains(p.Tasks, t) {
			p.Tasks = append(p.Tasks, t)
		}
	}
	return p
}

func (m *v2Manager) Placement() Placement { return Placement{CloneInto: m.dir} }

// TasksFile is a v1 tasks file opened for JoinTasks: a bare fd, as
// os.File would register it with Go's poller for nothing.
type TasksFile struct {
	fd   int
	path string
}

// OpenTasks opens the tasks files for JoinTasks, while they can still be
// reached by path (before pivot_root).
func OpenTasks(paths []string) ([]TasksFile, error) {
	files := make([]TasksFile, 0, len(paths))
	for _, p := range paths {
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			CloseTasks(files)
			return nil, fmt.Errorf("cgroups: open %s: %w", p, err)
		}
		files = append(files, TasksFile{fd, p})
	}
	return files, nil
}

// JoinTasks moves the calling OS thread (the caller locks it) into each
// opened tasks file's cgroup, and closes the files.
func JoinTasks(files []TasksFile) error {
	defer CloseTasks(files)
	for _, f := range files {
		if _, err := unix.Write(f.fd, []byte("0")); err != nil {
			return fmt.Errorf("cgroups: join %s: %w", f.path, err)
		}
	}
	return nil
}

// CloseTasks closes every file.
func CloseTasks(files []TasksFile) {
	for _, f := range files {
		unix.Close(f.fd)
	}
}
