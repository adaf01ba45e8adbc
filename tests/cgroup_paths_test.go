package tests

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.cgroupsPath, the cgroup namespace and mount, and resources refused
// at create.

// randomName is a cgroup name no other test or run uses.
func randomName(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// removeCgroupTree removes rel (a path below the hierarchy roots, deepest
// component last) from every hierarchy, children first; it reports what
// it cannot remove.
func removeCgroupTree(t testing.TB, rels ...string) {
	t.Helper()
	for _, m := range hostCgroupMounts(t) {
		for _, rel := range rels {
			d := filepath.Join(m.point, rel)
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				t.Errorf("cleanup: %v", err)
			}
		}
	}
}

// An absolute cgroupsPath is below the root of every hierarchy, the unified
// one included; delete removes the container's directories (the parent
// the runtime created on the way stays, and the test removes it).
func TestCgroupAbsolutePath(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	parent := randomName(t, "husk-test-")
	s := baseSpec(sleeper...)
	c := e.newContainer(s)
	s.Linux.CgroupsPath = "/" + parent + "/" + c.id
	c.b.writeSpec(t, s)
	t.Cleanup(func() {
		e.husk("delete", "-f", c.id)
		removeCgroupTree(t, filepath.Join(parent, c.id), parent)
	})
	mustSucceed(t, c.husk("run", "-d"))
	c.waitReady("ready")
	cg := c.cgroups()
	for _, m := range hostCgroupMounts(t) {
		want := filepath.Join(m.point, parent, c.id)
		keys := m.controllers
		if keys == nil {
			keys = []string{""}
		}
		for _, k := range keys {
			if cg[k] != want {
				t.Errorf("the init's %q cgroup is %s, want %s", k, cg[k], want)
			}
		}
		if !exists(want) {
			t.Errorf("%s does not exist", want)
		}
	}
	if !isRunc() {
		if got := e.stateCgroupPaths(c.id); !equalDirs(got, cg) {
			t.Errorf("state.json cgroupPaths %v, but the init is in %v", got, cg)
		}
	}
	mustSucceed(t, c.delete("-f"))
	c.assertGone()
	assertNoCgroupDirs(t, "delete -f", cg)
}

// A cgroupsPath that climbs out of the hierarchy root (absolute) or out of
// the runtime's own cgroup (relative) with ".." is refused by create,
// naming linux.cgroupsPath; no cgroup is made where it would have led.
func TestCgroupPathEscape(t *testing.T) {
	requireRoot(t)
	requireCgroupV1(t)
	t.Parallel()
	for _, tc := range []struct{ name, path string }{
		{"absolute", "/../NAME/x"},
		{"relative", "../NAME"},
		{"relative-deep", "a/../../../NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			skipIfRunc(t, "runc 1.1 cleans \"..\" away and uses the path")
			name := randomName(t, "husk-test-esc-")
			s := baseSpec("true")
			s.Linux.CgroupsPath = strings.ReplaceAll(tc.path, "NAME", name)
			c := e.newContainer(s)
			t.Cleanup(func() {
				e.husk("delete", "-f", c.id)
				removeCgroupTree(t, filepath.Join(name, "x"), name)
			})
			r := mustFail(t, c.husk("create"))
			checkErrorMessage(t, r, "linux.cgroupsPath")
			if !isRunc() && strings.Count(r.stderr, "linux.cgroupsPath") > 1 {
				t.Errorf("the error repeats the field name: %q", r.stderr)
			}
			c.assertGone()
			// Where the path could have led: below a hierarchy root, below
			// the test's own cgroup or the one above it.
			for k, own := range cgroupsOfPid(t, os.Getpid()) {
				for _, d := range []string{filepath.Dir(own), own} {
					if p := filepath.Join(d, name); exists(p) {
						t.Errorf("%q cgroup %s was made", k, p)
					}
				}
			}
			for _, m := range hostCgroupMounts(t) {
				if p := filepath.Join(m.point, name); exists(p) {
					t.Errorf("cgroup %s was made", p)
				}
			}
			assertNoCgroupDirs(t, "refused create", defaultCgroupDirs(t, c.id))
		})
	}
}

// In a cgroup namespace with the cgroup filesystem mounted, the container
// sees its own cgroups as "/" and the limits at the top of the mounted
// hierarchies.
func TestCgroupNamespaceMount(t *testing.T) {
	e := newEnv(t)
	requireCgroupV1(t)
	if !exists("/proc/self/ns/cgroup") {
		t.Skip("no cgroup namespaces")
	}
	const limit = 48 << 20
	s := baseSpec()
	setNamespace(s, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
	r := resources(s)
	r.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(limit))}
	r.Pids = &specs.LinuxPids{Limit: ptrTo(int64(33))}
	out := e.sh(s, `cat /proc/self/cgroup; echo ---; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max`)
	cgroups, limits, ok := strings.Cut(out, "---\n")
	if !ok {
		t.Fatalf("unexpected output %q", out)
	}
	ls := lines(cgroups)
	if len(ls) == 0 {
		t.Errorf("/proc/self/cgroup is empty")
	}
	for _, l := range ls {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("/proc/self/cgroup line %q: want the namespace root /", l)
		}
	}
	if got := lines(limits); strings.Join(got, " ") != strconv.Itoa(limit)+" 33" {
		t.Errorf("memory.limit_in_bytes and pids.max at the top of the cgroup mount: %q, want %d and 33", got, limit)
	}
}

// Resources the kernel or the host cannot take are refused by create with
// one line naming the field; no container and no cgroup are left.
func TestCgroupBadResources(t *testing.T) {
	requireRoot(t)
	requireCgroupV1(t)
	t.Parallel()
	for _, tc := range []struct {
		name  string
		set   func(*specs.LinuxResources)
		field string
	}{
		{"negative-memory", func(r *specs.LinuxResources) {
			r.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(-5))}
		}, "linux.resources.memory.limit"},
		{"cpuset-offline", func(r *specs.LinuxResources) {
			r.CPU = &specs.LinuxCPU{Cpus: "99"}
		}, "linux.resources.cpu.cpus"},
		{"unified-key-with-slash", func(r *specs.LinuxResources) {
			r.Unified = map[string]string{"../memory.max": "1"}
		}, "linux.resources.unified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.name == "cpuset-offline" && exists("/sys/devices/system/cpu/cpu99") {
				t.Skip("the host has a CPU 99")
			}
			s := baseSpec("true")
			tc.set(resources(s))
			c := e.newContainer(s)
			r := mustFail(t, c.husk("create"))
			checkErrorMessage(t, r, tc.field)
			c.assertGone()
			assertNoCgroupDirs(t, "refused create", defaultCgroupDirs(t, c.id))
		})
	}
}
