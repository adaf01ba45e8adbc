package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// fakeFS is a cgroup v2 filesystem made of a plain directory tree. Like
// the kernel it gives a new directory the files of the controllers its
// parent's cgroup.subtree_control enables, refuses to write a file that
// does not exist, refuses to enable a controller in a cgroup with
// processes, and refuses to remove a cgroup with processes; writes are
// logged relative to the root.
type fakeFS struct {
	root string

	mu       sync.Mutex
	log      []string                    // "path: value" per write(2)
	progs    map[string]asm.Instructions // attached device programs
	failOnce map[string]error            // a path's next write fails
	onWrite  func(path string, chunks []string)
}

var fakeFiles = map[string]map[string]string{
	"": {
		"cgroup.procs": "", "cgroup.controllers": "", "cgroup.subtree_control": "",
		"cgroup.events": "populated 0\nfrozen 0\n", "cgroup.freeze": "0\n", "cgroup.kill": "",
		"cgroup.type": "domain\n", "cgroup.max.depth": "max\n", "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
	},
	"memory": {
		"memory.max": "max\n", "memory.low": "0\n", "memory.high": "max\n", "memory.swap.max": "max\n",
		"memory.current": "0\n", "memory.peak": "0\n", "memory.swap.current": "0\n", "memory.stat": "anon 0\nfile 0\n",
		"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
	},
	"cpu":     {"cpu.weight": "100\n", "cpu.max": "max 100000\n", "cpu.max.burst": "0\n", "cpu.idle": "0\n"},
	"cpuset":  {"cpuset.cpus": "\n", "cpuset.mems": "\n", "cpuset.cpus.effective": "0-1\n", "cpuset.mems.effective": "0\n"},
	"io":      {"io.max": "", "io.weight": "default 100\n", "io.stat": ""},
	"pids":    {"pids.max": "max\n", "pids.current": "0\n"},
	"hugetlb": {"hugetlb.2MB.max": "max\n", "hugetlb.2MB.rsvd.max": "max\n", "hugetlb.2MB.current": "0\n", "hugetlb.2MB.events": "max 0\n"},
	"rdma":    {"rdma.max": ""},
}

const fakeControllers = "cpuset cpu io memory hugetlb pids rdma"

// newFakeV2 makes a fake cgroup2 root with all the controllers and a
// manager for <root>/husk/c1.
func newFakeV2(t *testing.T) (*fakeFS, *v2Manager) {
	t.Helper()
	f := &fakeFS{root: t.TempDir(), progs: map[string]asm.Instructions{}, failOnce: map[string]error{}}
	f.populate(f.root, strings.Fields(fakeControllers))
	f.put("cgroup.controllers", fakeControllers+"\n")
	return f, &v2Manager{fs: f, root: f.root, dir: filepath.Join(f.root, "husk/c1")}
}

func (f *fakeFS) rel(path string) string {
	r, err := filepath.Rel(f.root, path)
	if err != nil {
		panic(err)
	}
	return r
}

func (f *fakeFS) populate(dir string, ctrls []string) {
	for _, c := range append([]string{""}, ctrls...) {
		for name, v := range fakeFiles[c] {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
				panic(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte(strings.Join(ctrls, " ")+"\n"), 0o644); err != nil {
		panic(err)
	}
}

// put sets a file (relative to the root) as the kernel would.
func (f *fakeFS) put(rel, value string) {
	if err := os.WriteFile(filepath.Join(f.root, rel), []byte(value), 0o644); err != nil {
		panic(err)
	}
}

func (f *fakeFS) get(rel string) string {
	b, err := os.ReadFile(filepath.Join(f.root, rel))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return strings.TrimSpace(string(b))
}

func (f *fakeFS) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fakeFS) ReadFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

func (f *fakeFS) WriteFile(path string, chunks ...string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return &os.PathError{Op: "open", Path: path, Err: unix.EISDIR}
	}
	f.mu.Lock()
	for _, c := range chunks {
		f.log = append(f.log, f.rel(path)+": "+c)
	}
	ferr := f.failOnce[path]
	delete(f.failOnce, path)
	hook := f.onWrite
	f.mu.Unlock()
	if ferr != nil {
		return &os.PathError{Op: "write", Path: path, Err: ferr}
	}
	dir, name := filepath.Split(path)
	var content string
	switch name {
	case "cgroup.procs":
		old, _ := os.ReadFile(path)
		content = string(old) + strings.Join(chunks, "\n") + "\n"
	case "cgroup.subtree_control":
		procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if filepath.Clean(dir) != f.root && len(strings.TrimSpace(string(procs))) > 0 {
			return &os.PathError{Op: "write", Path: path, Err: unix.EBUSY}
		}
		avail, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		old, _ := os.ReadFile(path)
		set := strings.Fields(string(old))
		for _, c := range chunks {
			for _, w := range strings.Fields(c) {
				name := w[1:]
				if !slices.Contains(strings.Fields(string(avail)), name) {
					return &os.PathError{Op: "write", Path: path, Err: unix.EINVAL}
				}
				if w[0] == '+' && !slices.Contains(set, name) {
					set = append(set, name)
				}
			}
		}
		content = strings.Join(set, " ") + "\n"
	default:
		content = strings.Join(chunks, "\n") + "\n"
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return err
	}
	if hook != nil {
		hook(path, chunks)
	}
	return nil
}

func (f *fakeFS) Mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	sub, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "cgroup.subtree_control"))
	f.populate(path, strings.Fields(string(sub)))
	return nil
}

func (f *fakeFS) Rmdir(path string) error {
	subs, err := f.SubDirs(path)
	if err != nil {
		return err
	}
	if len(subs) > 0 {
		return &os.PathError{Op: "rmdir", Path: path, Err: unix.ENOTEMPTY}
	}
	if procs, _ := os.ReadFile(filepath.Join(path, "cgroup.procs")); len(strings.TrimSpace(string(procs))) > 0 {
		return &os.PathError{Op: "rmdir", Path: path, Err: unix.EBUSY}
	}
	return os.RemoveAll(path)
}

func (f *fakeFS) SubDirs(path string) ([]string, error) { return hostFS{}.SubDirs(path) }

func (f *fakeFS) Exists(path string) bool { return hostFS{}.Exists(path) }

func (f *fakeFS) AttachDevices(dir string, prog asm.Instructions) error {
	if !f.Exists(dir) {
		return &os.PathError{Op: "open", Path: dir, Err: unix.ENOENT}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.progs[dir] = prog
	f.log = append(f.log, fmt.Sprintf("%s: <device program of %d instructions>", f.rel(dir), len(prog)))
	return nil
}

var _ fileSystem = (*fakeFS)(nil)

func TestFakeFSRefusesMissingFiles(t *testing.T) {
	f, _ := newFakeV2(t)
	if err := f.WriteFile(filepath.Join(f.root, "memory.nope"), "1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}
