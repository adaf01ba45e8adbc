package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The config `spec --rootless` writes runs when the caller is root: it maps
// the caller's uid and gid (0) to 0, size 1, and the rootfs belongs to root.
func TestMoreSpecRootlessRunsAsRoot(t *testing.T) {
	e := newEnv(t)
	c := e.rootlessSpecContainer("cat /proc/self/uid_map /proc/self/gid_map; id -u; readlink /proc/self/ns/user")
	f := fieldsOf(c.runOK(runOpts{}))
	if len(f) != 4 || strings.Join(f[0], " ") != "0 0 1" || strings.Join(f[1], " ") != "0 0 1" || f[2][0] != "0" {
		t.Fatalf("uid_map, gid_map, uid inside: %q, want \"0 0 1\" twice and 0", f)
	}
	if f[3][0] == nsLink(t, "self", "user") {
		t.Errorf("the container is in the host's user namespace %s", f[3][0])
	}
}

// A container whose root is the host's root mapped through a user namespace
// (uid 0 to 0, as the `spec --rootless` config gets when root runs it), and
// without a network namespace of its own, sees the host's /sys bound
// read-only. Only read-only mounts keep it from writing the host's /sys, so
// the submounts of that bind (the cgroup hierarchies below /sys/fs/cgroup)
// must not be writable through it either: the container tries to add a file
// and a directory to the host's /sys/fs/cgroup. Two configs: the one `spec
// --rootless` writes (a bind of /sys), and a sysfs mount the runtime has to
// replace with a bind of the host's.
func TestMoreUserNamespaceCannotWriteHostSys(t *testing.T) {
	requireRoot(t)
	for _, name := range []string{"spec-rootless", "sysfs-fallback"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			marker := "husk-test-" + filepath.Base(e.dir)
			file, dir := filepath.Join("/sys/fs/cgroup", marker), filepath.Join("/sys/fs/cgroup", marker+".d")
			t.Cleanup(func() {
				_ = os.Remove(file)
				_ = os.Remove(dir)
			})
			script := fmt.Sprintf("touch %[1]s 2>/dev/null && echo wrote-file; mkdir %[2]s 2>/dev/null && echo made-dir; id -u; cat /proc/self/uid_map",
				file, dir)
			var c *container
			if name == "spec-rootless" {
				c = e.rootlessSpecContainer(script)
			} else {
				skipIfRunc(t, "runc 1.1 fails to mount sysfs in a user namespace without a network namespace")
				s := baseSpec("sh", "-c", script)
				setNamespace(s, specs.LinuxNamespace{Type: specs.UserNamespace})
				removeNamespace(s, specs.NetworkNamespace)
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}
				for i, m := range s.Mounts {
					if m.Destination == "/dev/pts" { // gid 5 is not mapped
						s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "gid=5" })
					}
				}
				c = e.newContainer(s)
			}
			out := c.runOK(runOpts{})
			for _, p := range []string{file, dir} {
				if exists(p) {
					t.Errorf("the container created %s on the host; it printed %q", p, lines(out))
				}
			}
		})
	}
}

// rootlessSpecContainer makes a bundle from `spec --rootless` with a copy
// of the busybox rootfs (owned by root), and with only the program (sh -c
// script) and the terminal changed from the generated config.
func (e *env) rootlessSpecContainer(script string) *container {
	t := e.t
	t.Helper()
	dir := e.mkdir("bundle-")
	mustSucceed(t, e.husk("spec", "--rootless", "--bundle", dir))
	if out, err := exec.Command("cp", "-a", baseRootfs, filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copying rootfs: %v: %s", err, out)
	}
	path := filepath.Join(dir, "config.json")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(readFile(t, path)), &cfg); err != nil {
		t.Fatal(err)
	}
	proc, ok := cfg["process"].(map[string]any)
	if !ok {
		t.Fatalf("no process in %s", path)
	}
	proc["terminal"] = false
	proc["args"] = []string{"sh", "-c", script}
	data, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data), 0o644)
	return &container{e: e, id: e.newID(), b: &bundle{dir: dir, rootfs: filepath.Join(dir, "rootfs")}}
}

// A container in a user namespace that keeps the host's network namespace
// cannot mount a sysfs of its own; it still gets a read-only /sys with the
// usual content.
func TestMoreUserNamespaceSysfsWithoutNetNamespace(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, "runc 1.1 fails to mount sysfs there (EPERM) instead of binding the host's")
	const hostID, size = 100000, 65536
	s := baseSpec(withMountinfo("ls /sys; readlink /proc/self/ns/user; readlink /proc/self/ns/net")...)
	setNamespace(s, specs.LinuxNamespace{Type: specs.UserNamespace})
	removeNamespace(s, specs.NetworkNamespace)
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	if i := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/sys" }); i < 0 || s.Mounts[i].Type != "sysfs" {
		t.Fatalf("base spec has no sysfs at /sys: %+v", s.Mounts)
	}
	c := e.newContainer(s)
	chownTree(t, c.b.rootfs, hostID, hostID)
	out, mi := splitMountinfo(t, c.runOK(runOpts{}))
	if len(out) < 3 {
		t.Fatalf("output: %q", out)
	}
	entries, userNS, netNS := out[:len(out)-2], out[len(out)-2], out[len(out)-1]
	if !slices.Contains(entries, "class") && !slices.Contains(entries, "bus") {
		t.Errorf("/sys lists %q, want class or bus", entries)
	}
	if userNS == nsLink(t, "self", "user") || netNS != nsLink(t, "self", "net") {
		t.Errorf("user namespace %s (host %s), net namespace %s (host %s)",
			userNS, nsLink(t, "self", "user"), netNS, nsLink(t, "self", "net"))
	}
	if m := findMount(t, mi, "/sys"); !slices.Contains(m.opts, "ro") {
		t.Errorf("/sys is mounted with %v, want ro", m.opts)
	}
}
