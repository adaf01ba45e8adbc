package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsScript prints `readlink /proc/self/ns/X` for each type, one a line.
func nsScript(types []string) string {
	var b strings.Builder
	for _, ns := range types {
		fmt.Fprintf(&b, "readlink /proc/self/ns/%s; ", ns)
	}
	return b.String()
}

// containerNS runs spec and returns the container's namespace links by type.
func (e *env) containerNS(s *specs.Spec, types ...string) map[string]string {
	e.t.Helper()
	out := lines(e.sh(s, nsScript(types)))
	if len(out) != len(types) {
		e.t.Fatalf("namespace links: %q", out)
	}
	m := map[string]string{}
	for i, typ := range types {
		m[typ] = out[i]
	}
	return m
}

func TestNamespacesUnshared(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Hostname = "ns-host"
	setNamespace(s, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	out := lines(e.sh(s, "echo $$; hostname; "+nsScript([]string{"pid", "uts", "ipc", "net", "mnt", "cgroup"})))
	if len(out) != 8 || out[0] != "1" || out[1] != "ns-host" {
		t.Fatalf("pid/hostname/namespaces: %q", out)
	}
	for i, typ := range []string{"pid", "uts", "ipc", "net", "mnt", "cgroup"} {
		if host := nsLink(t, "self", typ); out[i+2] == host {
			t.Errorf("%s namespace is the host's (%s)", typ, host)
		}
	}
}

// Every namespace is in place when create returns: the cgroup namespace,
// which the init unshares last (once in its cgroup), too. Several
// containers, as a late unshare shows only now and then.
func TestNamespacesCompleteAfterCreate(t *testing.T) {
	e := newEnv(t)
	host := nsLink(t, "self", "cgroup")
	for i := 0; i < 8; i++ {
		s := baseSpec(sleeper...)
		setNamespace(s, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		c := e.create(s)
		pid := strconv.Itoa(c.state().Pid)
		if got := nsLink(t, pid, "cgroup"); got == host {
			t.Errorf("container %d: cgroup namespace is still the host's (%s) after create", i, host)
		}
		mustSucceed(t, c.delete("-f"))
	}
}

// Namespaces absent from the config are shared with the runtime's.
func TestNamespacesShared(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Hostname = "" // a hostname needs a private UTS namespace
	removeNamespace(s, specs.IPCNamespace)
	removeNamespace(s, specs.UTSNamespace)
	got := e.containerNS(s, "ipc", "uts", "net")
	for _, typ := range []string{"ipc", "uts"} {
		if host := nsLink(t, "self", typ); got[typ] != host {
			t.Errorf("%s namespace %s, want the host's %s", typ, got[typ], host)
		}
	}
	if got["net"] == nsLink(t, "self", "net") {
		t.Error("net namespace is the host's although the config asks for a new one")
	}
}

func chownTree(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUserNamespace(t *testing.T) {
	e := newEnv(t)
	const hostID, size = 100000, 65536
	out := e.hostDir()
	chownTree(t, out, hostID, hostID)
	s := baseSpec("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; readlink /proc/self/ns/user; touch /out/made")
	setNamespace(s, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	c := e.newContainer(s)
	// The container's root is host uid 100000: give it its rootfs.
	chownTree(t, c.b.rootfs, hostID, hostID)
	stdout := c.runOK(runOpts{})
	f := fieldsOf(stdout)
	want := []string{"0", strconv.Itoa(hostID), strconv.Itoa(size)}
	if len(f) != 5 || strings.Join(f[0], " ") != strings.Join(want, " ") || strings.Join(f[1], " ") != strings.Join(want, " ") ||
		f[2][0] != "0" || f[3][0] != "0" || f[4][0] == nsLink(t, "self", "user") {
		t.Fatalf("inside the user namespace:\n%s", stdout)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(out, "made"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != hostID || st.Gid != hostID {
		t.Errorf("file made by container root is owned by %d:%d on the host, want %d:%d", st.Uid, st.Gid, hostID, hostID)
	}
}

// runc 1.1 has no time namespace support (it rejects the type).
func TestTimeNamespace(t *testing.T) {
	e := newEnv(t)
	skipIfRunc(t, "no time namespace support")
	const offset = 10 * 24 * 3600
	s := baseSpec("sh", "-c", "cat /proc/uptime; readlink /proc/self/ns/time")
	setNamespace(s, specs.LinuxNamespace{Type: specs.TimeNamespace})
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: offset}, "monotonic": {Secs: offset}}
	hostUptime := uptime(t, readFile(t, "/proc/uptime"))
	out := lines(e.runOK(s))
	if len(out) != 2 {
		t.Fatalf("output: %q", out)
	}
	if inside := uptime(t, out[0]); inside < hostUptime+offset {
		t.Errorf("uptime inside %.0fs, want at least host %.0fs + %ds", inside, hostUptime, offset)
	}
	if out[1] == nsLink(t, "self", "time") {
		t.Error("time namespace is the host's")
	}
}

func uptime(t *testing.T, procUptime string) float64 {
	t.Helper()
	f := strings.Fields(procUptime)
	if len(f) == 0 {
		t.Fatalf("bad /proc/uptime %q", procUptime)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestJoinNamespaceByPath(t *testing.T) {
	e := newEnv(t)
	name := filepath.Base(e.dir) // unique
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	path := "/run/netns/" + name
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	s := baseSpec()
	setNamespace(s, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: path})
	got := e.containerNS(s, "net")["net"]
	if want := fmt.Sprintf("net:[%d]", st.Ino); got != want {
		t.Errorf("container net namespace %s, want the one at %s: %s", got, path, want)
	}
}

func TestHostnameAndDomainname(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Hostname = "box.example"
	s.Domainname = "dom.example"
	out := lines(e.sh(s, "hostname; cat /proc/sys/kernel/domainname"))
	if len(out) != 2 || out[0] != "box.example" {
		t.Fatalf("hostname/domainname: %q", out)
	}
	// runc 1.1 ignores domainname.
	if !isRunc() && out[1] != "dom.example" {
		t.Errorf("domainname = %q, want dom.example", out[1])
	}
}
