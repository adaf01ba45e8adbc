package cgroups

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// cpusetFS is a fake v1 cpuset hierarchy: every new directory starts with
// empty cpus and mems.
type cpusetFS struct{ *fakeFS }

func (c cpusetFS) Mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	c.populate(path, []string{"cpuset"})
	return nil
}

// newFakeCpuset makes a root cpuset with cpus 0-1 and mems 0.
func newFakeCpuset(t *testing.T) cpusetFS {
	t.Helper()
	f := cpusetFS{&fakeFS{root: t.TempDir()}}
	f.populate(f.root, []string{"cpuset"})
	f.put("cpuset.cpus", "0-1\n")
	f.put("cpuset.mems", "0\n")
	return f
}

// A new cpuset and the missing ones above it get their parent's cpus and
// mems; an existing one keeps what it has and gets only what it lacks.
func TestEnsureCpuset(t *testing.T) {
	f := newFakeCpuset(t)
	dir := filepath.Join(f.root, "a", "b")
	if err := ensureCpuset(f, dir); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"a", "a/b"} {
		if cpus, mems := f.get(rel+"/cpuset.cpus"), f.get(rel+"/cpuset.mems"); cpus != "0-1" || mems != "0" {
			t.Errorf("%s: cpus %q mems %q, want the root's 0-1 and 0", rel, cpus, mems)
		}
	}

	// A pre-made cpuset with its own cpus but no mems.
	if err := f.Mkdir(filepath.Join(f.root, "c")); err != nil {
		t.Fatal(err)
	}
	f.put("c/cpuset.cpus", "1\n")
	f.log = nil
	if err := ensureCpuset(f, filepath.Join(f.root, "c")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"c/cpuset.mems: 0"}; !slices.Equal(f.log, want) {
		t.Errorf("writes to a cpuset with cpus: %q, want %q", f.log, want)
	}
	// A complete one is left alone.
	f.log = nil
	if err := ensureCpuset(f, dir); err != nil || len(f.log) != 0 {
		t.Errorf("complete cpuset: err %v, writes %q", err, f.log)
	}
	// An empty parent is filled from its own parent first.
	f.put("a/cpuset.cpus", "\n")
	f.put("a/cpuset.mems", "\n")
	if err := ensureCpuset(f, filepath.Join(f.root, "a", "d")); err != nil {
		t.Fatal(err)
	}
	if cpus := f.get("a/d/cpuset.cpus"); cpus != "0-1" || f.get("a/cpuset.cpus") != "0-1" {
		t.Errorf("under an emptied parent: cpus %q, parent's %q", cpus, f.get("a/cpuset.cpus"))
	}
	if _, err := os.Stat(filepath.Join(f.root, "a", "d")); err != nil {
		t.Error(err)
	}
}
