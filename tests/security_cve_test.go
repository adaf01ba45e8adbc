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
)

// Regression tests for classes of container escapes that runc had. Each
// sets up what the attack needs and checks what the container can see or
// do; the runtime may also refuse the config.

// ---------------------------------------------------------------------------
// CVE-2024-21626: a runtime fd open on a host directory reaches the
// container as its cwd (process.cwd or exec --cwd /proc/self/fd/N), or as
// an inherited fd.

// cwdProbe prints the cwd, whether climbing .. from it stays in the
// container (the marker is only in the container's root), and the fds of
// a child of the process.
func cwdProbe(marker string) string {
	return `pwd -P
cat ` + strings.Repeat("../", 24) + marker + ` 2>/dev/null || echo "marker not found"
echo fds: $(ls /proc/self/fd)`
}

// checkCwdProbe checks the output of cwdProbe.
func checkCwdProbe(t *testing.T, what string, r result, marker string) {
	t.Helper()
	out := lines(r.stdout)
	if len(out) != 3 {
		t.Errorf("%s: unexpected output:\n%v", what, r)
		return
	}
	if !strings.HasPrefix(out[0], "/") || strings.Contains(out[0], "unreachable") {
		t.Errorf("%s: the cwd is outside the container: pwd -P says %q", what, out[0])
	}
	if out[1] != marker {
		t.Errorf("%s: .. from the cwd leaves the container's root: %q", what, out[1])
	}
	// ls has 3 open on the directory it lists.
	if out[2] != "fds: 0 1 2 3" {
		t.Errorf("%s: the process has other fds than stdio: %q", what, out[2])
	}
}

func TestSecurityCVE202421626ProcessCwd(t *testing.T) {
	e := newEnv(t)
	marker := "cwd-marker-" + strconv.Itoa(os.Getpid())
	for n := 3; n <= 20; n++ {
		s := baseSpec("sh", "-c", cwdProbe(marker))
		s.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n)
		c := e.newContainer(s)
		writeFile(t, c.b.hostPath(marker), marker+"\n", 0o644)
		r := c.run(runOpts{}) // checks that nothing is left either way
		if r.code != 0 {
			t.Logf("cwd %s refused: %s", s.Process.Cwd, strings.TrimSpace(r.stderr))
			continue
		}
		checkCwdProbe(t, "cwd "+s.Process.Cwd, r, marker)
	}
	// Control: an ordinary cwd passes the same checks.
	s := baseSpec("sh", "-c", cwdProbe(marker))
	s.Process.Cwd = "/etc"
	c := e.newContainer(s)
	writeFile(t, c.b.hostPath(marker), marker+"\n", 0o644)
	checkCwdProbe(t, "cwd /etc", mustSucceed(t, c.run(runOpts{})), marker)
}

func TestSecurityCVE202421626ExecCwd(t *testing.T) {
	e := newEnv(t)
	marker := "cwd-marker-" + strconv.Itoa(os.Getpid())
	c := e.newContainer(baseSpec(sleeper...))
	writeFile(t, c.b.hostPath(marker), marker+"\n", 0o644)
	mustSucceed(t, c.husk("run", "-d"))
	c.waitReady("ready")
	checkCwdProbe(t, "exec", mustSucceed(t, c.exec("sh", "-c", cwdProbe(marker))), marker)
	for n := 3; n <= 20; n++ {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		r := c.execWith(cmdOpts{}, []string{"--cwd", cwd}, "sh", "-c", cwdProbe(marker))
		if r.code != 0 {
			t.Logf("exec --cwd %s refused: %s", cwd, strings.TrimSpace(r.stderr))
		} else {
			checkCwdProbe(t, "exec --cwd "+cwd, r, marker)
		}
		p := baseProcess("sh", "-c", cwdProbe(marker))
		p.Cwd = cwd
		if r := c.execProcess(p); r.code != 0 {
			t.Logf("exec --process with cwd %s refused: %s", cwd, strings.TrimSpace(r.stderr))
		} else {
			checkCwdProbe(t, "exec --process cwd "+cwd, r, marker)
		}
	}
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("container is %s", st.Status)
	}
}

// ---------------------------------------------------------------------------
// CVE-2025-31133 class: the image's /dev/null (or another device node) is a
// symlink to a host file reachable through procfs, such as
// /proc/sys/kernel/core_pattern (global, not namespaced). A runtime that
// follows it binds that file over the masked paths, writable, or lets the
// container write it through the device path.

const corePattern = "/proc/sys/kernel/core_pattern"

// guardCorePattern returns the host's core_pattern and makes sure the test
// leaves it as it found it.
func guardCorePattern(t *testing.T) string {
	t.Helper()
	before := readFile(t, corePattern)
	t.Cleanup(func() {
		if now := readFile(t, corePattern); now != before {
			t.Errorf("the host's core_pattern changed to %q: restoring %q", now, before)
			if err := os.WriteFile(corePattern, []byte(before), 0); err != nil {
				t.Errorf("restoring core_pattern: %v", err)
			}
		}
	})
	return before
}

// The value the container tries to write: a plain file name, harmless if
// it ever reached the host (cores would be named so in the crashing
// process's cwd).
const pwnedPattern = "core.husk-test-pwned"

// existingProcFiles lists the files of candidates this kernel has.
func existingProcFiles(candidates ...string) []string {
	var out []string
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out
}

// devProbe prints, for each path, what it is (type and device numbers,
// following links) and what reading it gives, then tries to write the
// pwned pattern to it.
func devProbe(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "echo \"%s type=$(stat -L -c '%%F/%%t:%%T' %s 2>&1) link=$(stat -c %%F %s 2>&1) read=$(head -c 64 %s 2>&1 | tr '\\n' ' ')\"\n", p, p, p, p)
		fmt.Fprintf(&b, "echo %s > %s 2>/dev/null\n", pwnedPattern, p)
	}
	fmt.Fprintf(&b, "echo \"core_pattern=$(cat %s)\"\n", corePattern)
	return b.String()
}

// probeLine finds the devProbe line of path.
func probeLine(t *testing.T, out, path string) string {
	t.Helper()
	for _, l := range lines(out) {
		if strings.HasPrefix(l, path+" type=") {
			return l
		}
	}
	t.Errorf("no probe line for %s in:\n%s", path, out)
	return ""
}

// noDevMount is baseSpec without the /dev tmpfs: the image's own /dev
// directory is used and the runtime creates the device nodes in it.
func noDevMount(args ...string) *specs.Spec {
	s := baseSpec(args...)
	var kept []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination != "/dev" {
			kept = append(kept, m)
		}
	}
	s.Mounts = kept
	return s
}

// plantSymlink replaces rootfs path p with a symlink to target.
func plantSymlink(t *testing.T, b *bundle, p, target string) {
	t.Helper()
	host := b.hostPath(p)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(host); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, host); err != nil {
		t.Fatal(err)
	}
}

// The masked paths of a container whose image has /dev/null -> core_pattern
// are still masked by the null device: empty to read, and writes go
// nowhere; the container's /dev/null is the real device.
func TestSecurityCVE202531133MaskedPathsDevNullSymlink(t *testing.T) {
	e := newEnv(t)
	before := guardCorePattern(t)
	masked := existingProcFiles("/proc/timer_list", "/proc/keys", "/proc/version", "/proc/cmdline")
	if len(masked) == 0 {
		t.Skip("none of the candidate /proc files exists")
	}
	s := noDevMount("sh", "-c", devProbe(append(append([]string{}, masked...), "/dev/null")...))
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, masked...)
	c := e.newContainer(s)
	plantSymlink(t, c.b, "dev/null", corePattern)
	r := c.run(runOpts{})
	if r.code != 0 {
		t.Logf("refused: %s", strings.TrimSpace(r.stderr))
	} else {
		for _, p := range masked {
			if l := probeLine(t, r.stdout, p); !strings.Contains(l, "type=character special file/1:3 ") || !strings.HasSuffix(l, "read=") {
				t.Errorf("masked %s is not the null device: %s", p, l)
			}
		}
		if l := probeLine(t, r.stdout, "/dev/null"); !strings.Contains(l, "type=character special file/1:3 link=character special file ") {
			t.Errorf("the container's /dev/null is not the null device: %s", l)
		}
		if out := lines(r.stdout); len(out) == 0 || out[len(out)-1] != "core_pattern="+strings.TrimSpace(before) {
			t.Errorf("the container does not see the host's core_pattern %q:\n%s", before, r.stdout)
		}
	}
	if now := readFile(t, corePattern); now != before {
		t.Errorf("the container wrote the host's core_pattern: %q, was %q\n%v", now, before, r)
	}
}

// Every device the runtime creates by default (and one from
// linux.devices) replaces whatever the image has at its path, here a
// symlink to core_pattern: the container gets the device, and writing to
// it does not reach the host file.
func TestSecurityCVE202531133DeviceSymlinks(t *testing.T) {
	e := newEnv(t)
	before := guardCorePattern(t)
	devs := map[string]string{
		"/dev/null": "1:3", "/dev/zero": "1:5", "/dev/full": "1:7", "/dev/random": "1:8",
		"/dev/urandom": "1:9", "/dev/tty": "5:0", "/dev/husk-extra": "1:3",
	}
	var paths []string
	for p := range devs {
		paths = append(paths, p)
	}
	s := noDevMount("sh", "-c", devProbe(paths...))
	mode := os.FileMode(0o666)
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/husk-extra", Type: "c", Major: 1, Minor: 3, FileMode: &mode}}
	c := e.newContainer(s)
	for _, p := range paths {
		plantSymlink(t, c.b, p, corePattern)
	}
	r := c.run(runOpts{})
	if r.code != 0 {
		t.Logf("refused: %s", strings.TrimSpace(r.stderr))
	} else {
		for p, numbers := range devs {
			if l := probeLine(t, r.stdout, p); !strings.Contains(l, "type=character special file/"+numbers+" link=character special file ") {
				t.Errorf("%s is not device %s: %s", p, numbers, l)
			}
		}
	}
	if now := readFile(t, corePattern); now != before {
		t.Errorf("the container wrote the host's core_pattern: %q, was %q\n%v", now, before, r)
	}
}

// With /dev bind-mounted from a host directory the runtime creates no
// devices, so the container's /dev/null may be anything; masked paths must
// still be covered by the real null device.
func TestSecurityCVE202531133BindDevDevNullSymlink(t *testing.T) {
	e := newEnv(t)
	before := guardCorePattern(t)
	masked := existingProcFiles("/proc/timer_list", "/proc/keys", "/proc/version")
	if len(masked) == 0 {
		t.Skip("none of the candidate /proc files exists")
	}
	dev := e.hostDir()
	if err := os.Symlink(corePattern, filepath.Join(dev, "null")); err != nil {
		t.Fatal(err)
	}
	s := noDevMount("sh", "-c", devProbe(masked...))
	s.Mounts = append([]specs.Mount{s.Mounts[0], bindMount(dev, "/dev")}, s.Mounts[1:]...)
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, masked...)
	r := e.runContainer(s)
	if r.code != 0 {
		t.Logf("refused: %s", strings.TrimSpace(r.stderr))
	} else {
		for _, p := range masked {
			if l := probeLine(t, r.stdout, p); !strings.Contains(l, "type=character special file/1:3 ") || !strings.HasSuffix(l, "read=") {
				t.Errorf("masked %s is not the null device: %s", p, l)
			}
		}
	}
	if now := readFile(t, corePattern); now != before {
		t.Errorf("the container wrote the host's core_pattern: %q, was %q\n%v", now, before, r)
	}
}

// ---------------------------------------------------------------------------
// CVE-2021-30465 class: a mount destination that is (or goes through) a
// symlink in the image. It must be resolved inside the rootfs: never on
// the host, and never onto procfs, where a bind could hide or replace the
// files the kernel and runtime rely on.

// The destination points into /proc: the bind must not cover procfs (or
// the runtime refuses the config).
func TestSecurityCVE202130465MountOverProcSymlink(t *testing.T) {
	e := newEnv(t)
	host := e.hostDir()
	writeFile(t, filepath.Join(host, "marker"), "host-dir\n", 0o644)
	hostCore := strings.TrimSpace(readFile(t, corePattern))
	for _, tc := range []struct{ link, target string }{
		{"/evil", "/proc/sys/kernel"},
		{"/evil", "proc/sys/kernel"},
		{"/evil", "/proc/self"},
		{"/evil", "/proc/1/attr"},
		{"/data/evil", "../../../../../../proc/sys/kernel"},
		{"/data", "/proc/sys"}, // destination below a symlinked directory
	} {
		dest := tc.link
		if tc.link == "/data" {
			dest = "/data/kernel"
		}
		t.Run(strings.ReplaceAll(tc.target, "/", "_"), func(t *testing.T) {
			script := `echo "core_pattern=$(cat /proc/sys/kernel/core_pattern)"
ls /proc/sys/kernel/marker /proc/1/marker /proc/1/attr/marker /proc/self/marker 2>/dev/null
echo "kernel-fs=$(stat -f -c %T /proc/sys/kernel)"
echo "dest=$(cat ` + dest + `/marker 2>&1)"`
			s := baseSpec("sh", "-c", script)
			s.Mounts = append(s.Mounts, bindMount(host, dest))
			c := e.newContainer(s)
			plantSymlink(t, c.b, tc.link, tc.target)
			r := c.run(runOpts{})
			if r.code != 0 {
				t.Logf("refused: %s", strings.TrimSpace(r.stderr))
				return
			}
			out := lines(r.stdout)
			if len(out) != 3 || out[0] != "core_pattern="+hostCore || out[1] != "kernel-fs=proc" {
				t.Errorf("the bind of %s at %s (-> %s) covers procfs:\n%s", host, tc.link, tc.target, r.stdout)
			}
		})
	}
}

// The destination climbs out of the rootfs: the mount lands inside the
// rootfs (the link is resolved as if the rootfs were /), nothing is mounted
// on the host.
func TestSecurityCVE202130465MountEscapeSymlink(t *testing.T) {
	e := newEnv(t)
	host := e.hostDir()
	writeFile(t, filepath.Join(host, "marker"), "host-dir\n", 0o644)
	victim := e.hostDir() // where an escaping mount would land on the host
	writeFile(t, filepath.Join(victim, "victim-file"), "victim\n", 0o644)
	rel, err := filepath.Rel("/", victim)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{
		strings.Repeat("../", 30) + rel,
		victim,
	} {
		s := baseSpec("sh", "-c", "cat /mnt/evil/marker; cat /"+rel+"/marker; ls /"+rel)
		s.Mounts = append(s.Mounts, bindMount(host, "/mnt/evil"))
		c := e.newContainer(s)
		plantSymlink(t, c.b, "mnt/evil", target)
		r := c.run(runOpts{})
		if r.code != 0 {
			t.Logf("link to %s refused: %s", target, strings.TrimSpace(r.stderr))
		} else {
			// The mount is at the link's target inside the rootfs.
			wantLines(t, lines(r.stdout), "host-dir", "host-dir", "marker")
			if !exists(c.b.hostPath(rel)) {
				t.Errorf("link to %s: the mount point was not made inside the rootfs", target)
			}
		}
		if mps := mountPointsUnder(t, victim); len(mps) > 0 {
			t.Errorf("link to %s: mounted on the host: %q", target, mps)
		}
		if got := readFile(t, filepath.Join(victim, "victim-file")); got != "victim\n" {
			t.Errorf("the host directory changed: %q", got)
		}
	}
}

// ---------------------------------------------------------------------------
// CVE-2019-16884 class: a fake procfs (a host directory bind-mounted at
// /proc) must not swallow what the runtime writes to procfs. A sysctl still
// takes effect in the container's network namespace, and the fake file is
// untouched (or the runtime refuses a /proc that is not procfs).
func TestSecurityCVE201916884FakeProcSysctl(t *testing.T) {
	e := newEnv(t)
	fake := fakeProc(t, e)
	s := baseSpec()
	s.Mounts[0] = bindMount(fake, "/proc")
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Process.Args = sleeper
	c := e.newContainer(s)
	r := c.husk("run", "-d")
	if r.code != 0 {
		t.Logf("refused: %s", strings.TrimSpace(r.stderr))
		c.assertGone()
	} else {
		c.waitReady("ready")
		pid := strconv.Itoa(c.state().Pid)
		out, err := exec.Command("nsenter", "--net=/proc/"+pid+"/ns/net", "cat", "/proc/sys/net/ipv4/ip_forward").CombinedOutput()
		if err != nil {
			t.Fatalf("nsenter: %v: %s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "1" {
			t.Errorf("ip_forward in the container's network namespace is %s, want 1", got)
		}
		// The container really sees the fake /proc.
		if got := mustSucceed(t, c.exec("cat", "/proc/sys/net/ipv4/ip_forward")).stdout; got != "0\n" {
			t.Errorf("the container's /proc/sys/net/ipv4/ip_forward says %q, want the fake 0", got)
		}
	}
	if got := readFile(t, filepath.Join(fake, "sys/net/ipv4/ip_forward")); got != "0\n" {
		t.Errorf("the sysctl went into the fake /proc: %q", got)
	}
}
