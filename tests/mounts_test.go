package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountEntry is one line of /proc/PID/mountinfo.
type mountEntry struct {
	opts     []string // per-mount options (ro, nosuid, ...)
	optional []string // propagation fields (shared:N, master:N, unbindable)
	fstype   string
	super    []string // superblock options
}

// findMount returns the topmost entry mounted at dest in a mountinfo dump.
func findMount(t *testing.T, mountinfo, dest string) mountEntry {
	t.Helper()
	var found *mountEntry
	for _, f := range fieldsOf(mountinfo) {
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+4 || f[4] != dest {
			continue
		}
		found = &mountEntry{
			opts:     strings.Split(f[5], ","),
			optional: f[6:sep],
			fstype:   f[sep+1],
			super:    strings.Split(f[sep+3], ","),
		}
	}
	if found == nil {
		t.Fatalf("nothing mounted at %s:\n%s", dest, mountinfo)
	}
	return *found
}

// marker separates a script's own output from the mountinfo dump after it.
const marker = "=== mountinfo ==="

// withMountinfo makes container args that run script and then dump the
// container's mountinfo (see splitMountinfo).
func withMountinfo(script string) []string {
	return []string{"sh", "-c", script + "; echo '" + marker + "'; cat /proc/self/mountinfo"}
}

// splitMountinfo splits the output of withMountinfo args into the script's
// lines and the mountinfo dump.
func splitMountinfo(t *testing.T, out string) ([]string, string) {
	t.Helper()
	before, after, ok := strings.Cut(out, marker+"\n")
	if !ok {
		t.Fatalf("no mountinfo in output:\n%s", out)
	}
	return lines(before), after
}

// runWithMountinfo runs script in a container built from s; it returns the
// script's output lines and the container's mountinfo.
func (e *env) runWithMountinfo(s *specs.Spec, script string) ([]string, string) {
	e.t.Helper()
	return splitMountinfo(e.t, e.runOK(s, withMountinfo(script)...))
}

func TestMountTmpfsSizeAndMode(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Mounts = append(s.Mounts, tmpfsMount("/mnt/t", "size=1m", "mode=1770"))
	out, mi := e.runWithMountinfo(s, "stat -c %a /mnt/t; df -k /mnt/t | tail -n 1")
	if len(out) != 2 || out[0] != "1770" || len(strings.Fields(out[1])) < 2 || strings.Fields(out[1])[1] != "1024" {
		t.Errorf("mode and df of the tmpfs: %q, want 1770 and 1024 1K-blocks", out)
	}
	if m := findMount(t, mi, "/mnt/t"); m.fstype != "tmpfs" || !slices.Contains(m.super, "size=1024k") {
		t.Errorf("tmpfs entry %+v", m)
	}
}

func TestMountBindAndRbind(t *testing.T) {
	e := newEnv(t)
	h := e.hostDir()
	writeFile(t, filepath.Join(h, "top"), "top\n", 0o644)
	// A submount, visible through rbind but not through a plain bind.
	sub := filepath.Join(h, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	writeFile(t, filepath.Join(sub, "subfile"), "sub\n", 0o644)

	s := baseSpec()
	s.Mounts = append(s.Mounts, bindMount(h, "/b"), specs.Mount{Destination: "/rb", Type: "bind", Source: h, Options: []string{"rbind"}})
	out := lines(e.sh(s, "cat /b/top; ls -A /b/sub | wc -l; cat /rb/sub/subfile; echo new > /b/new"))
	wantLines(t, out, "top", "0", "sub")
	if got := readFile(t, filepath.Join(h, "new")); got != "new\n" {
		t.Errorf("write through the bind mount reached the host as %q", got)
	}
}

// A bind mount ignores filesystem data options (key=value words, as in a
// list of options shared with tmpfs mounts): it is made, with its flags;
// a word that is no flag nor key=value is still refused by name.
func TestMountBindWithFilesystemData(t *testing.T) {
	e := newEnv(t)
	h := e.hostDir()
	writeFile(t, filepath.Join(h, "file"), "data\n", 0o644)
	s := baseSpec()
	s.Mounts = append(s.Mounts, bindMount(h, "/b", "nosuid", "mode=755", "size=1k"))
	out, mi := e.runWithMountinfo(s, "cat /b/file")
	wantLines(t, out, "data")
	if m := findMount(t, mi, "/b"); !slices.Contains(m.opts, "nosuid") {
		t.Errorf("/b options %v lack nosuid", m.opts)
	}

	s = baseSpec()
	s.Mounts = append(s.Mounts, bindMount(h, "/b", "mode=755", "nosuchflag"))
	r := mustFail(t, e.runContainer(s, "true"))
	checkErrorMessage(t, r, `.options: unknown option "nosuchflag" for a bind mount`)
}

func TestMountReadonlyBind(t *testing.T) {
	e := newEnv(t)
	ro, rw := e.hostDir(), e.hostDir()
	writeFile(t, filepath.Join(ro, "file"), "orig\n", 0o644)
	s := baseSpec()
	s.Mounts = append(s.Mounts, bindMount(ro, "/ro", "ro"), bindMount(rw, "/rw"))
	out, mi := e.runWithMountinfo(s, `cat /ro/file
		(echo x > /ro/file) 2>/dev/null && echo wrote-file || echo refused
		touch /ro/new 2>/dev/null && echo wrote-new || echo refused
		touch /rw/new && echo rw-ok`)
	wantLines(t, out, "orig", "refused", "refused", "rw-ok")
	if got := readFile(t, filepath.Join(ro, "file")); got != "orig\n" || exists(filepath.Join(ro, "new")) {
		t.Errorf("read-only bind source changed: file %q, new exists %v", got, exists(filepath.Join(ro, "new")))
	}
	if m := findMount(t, mi, "/ro"); !slices.Contains(m.opts, "ro") {
		t.Errorf("/ro mount options %v lack ro", m.opts)
	}
}

func TestMountFlags(t *testing.T) {
	e := newEnv(t)
	flags := []string{"nosuid", "nodev", "noexec"}
	s := baseSpec()
	s.Mounts = append(s.Mounts,
		tmpfsMount("/mnt/flags", flags...), tmpfsMount("/mnt/plain"),
		bindMount(e.hostDir(), "/bflags", flags...), bindMount(e.hostDir(), "/bplain"))
	out, mi := e.runWithMountinfo(s, `for d in /mnt/flags /mnt/plain /bflags /bplain; do
			cp /bin/busybox $d/true && { $d/true 2>/dev/null && echo exec || echo noexec; }
		done`)
	wantLines(t, out, "noexec", "exec", "noexec", "exec")
	for _, dest := range []string{"/mnt/flags", "/bflags"} {
		m := findMount(t, mi, dest)
		for _, f := range flags {
			if !slices.Contains(m.opts, f) {
				t.Errorf("%s options %v lack %s", dest, m.opts, f)
			}
		}
	}
	for _, dest := range []string{"/mnt/plain", "/bplain"} {
		m := findMount(t, mi, dest)
		for _, f := range flags {
			if slices.Contains(m.opts, f) {
				t.Errorf("%s options %v have %s although not asked for", dest, m.opts, f)
			}
		}
	}
}

func TestMountPropagation(t *testing.T) {
	e := newEnv(t)
	// want: the propagation field expected in mountinfo ("" for none).
	cases := map[string]string{
		"private": "", "rprivate": "", "slave": "", "rslave": "",
		"shared": "shared:", "rshared": "shared:", "unbindable": "unbindable", "runbindable": "unbindable",
	}
	s := baseSpec()
	for opt := range cases {
		s.Mounts = append(s.Mounts, tmpfsMount("/p/"+opt, opt))
	}
	_, mi := e.runWithMountinfo(s, "true")
	for opt, want := range cases {
		m := findMount(t, mi, "/p/"+opt)
		field := strings.Join(m.optional, " ")
		if (want == "" && field != "") || !strings.Contains(field, want) {
			t.Errorf("mount with %s has propagation %q, want %q", opt, field, want)
		}
	}
}

// linux.rootfsPropagation, every value: the container's / shows it in
// mountinfo. unbindable must not keep husk from binding the rootfs.
func TestRootfsPropagation(t *testing.T) {
	e := newEnv(t)
	cases := map[string]string{
		"private": "", "rprivate": "", "slave": "", "rslave": "",
		"shared": "shared:", "rshared": "shared:", "unbindable": "unbindable", "runbindable": "unbindable",
	}
	for prop, want := range cases {
		t.Run(prop, func(t *testing.T) {
			s := baseSpec()
			s.Linux.RootfsPropagation = prop
			r := e.runContainer(s, withMountinfo("true")...)
			if r.code != 0 {
				t.Fatalf("container failed:\n%v", r)
			}
			_, mi := splitMountinfo(t, r.stdout)
			field := strings.Join(findMount(t, mi, "/").optional, " ")
			if (want == "" && field != "") || !strings.Contains(field, want) {
				t.Errorf("/ with rootfsPropagation %s has propagation %q, want %q", prop, field, want)
			}
		})
	}
}

func TestMountCreatesDestination(t *testing.T) {
	e := newEnv(t)
	h := e.hostDir()
	writeFile(t, filepath.Join(h, "file.txt"), "bound file\n", 0o644)
	s := baseSpec()
	s.Mounts = append(s.Mounts, tmpfsMount("/new/deep/dir"),
		specs.Mount{Destination: "/etc/new/file.txt", Type: "bind", Source: filepath.Join(h, "file.txt"), Options: []string{"bind"}})
	out, mi := e.runWithMountinfo(s, "test -d /new/deep/dir && echo dir; cat /etc/new/file.txt")
	wantLines(t, out, "dir", "bound file")
	findMount(t, mi, "/new/deep/dir")
	findMount(t, mi, "/etc/new/file.txt")
}

// A mount destination that is a symlink pointing out of the rootfs must be
// resolved inside the rootfs: nothing may be created or mounted on the host
// path the symlink names.
func TestMountSymlinkDestinationStaysInRootfs(t *testing.T) {
	e := newEnv(t)
	target := e.hostDir() // what the symlinks name, on the host
	src := e.hostDir()
	writeFile(t, filepath.Join(src, "marker"), "from-src\n", 0o644)
	s := baseSpec("sh", "-c", "cat /evil/marker; echo w > /evil/written; test -d /evil2/created && grep -c ' "+target+"/created ' /proc/self/mountinfo")
	s.Mounts = append(s.Mounts, bindMount(src, "/evil"), tmpfsMount("/evil2/created"))
	c := e.newContainer(s)
	// evil is absolute, evil2 climbs out with more ".." than the rootfs is deep.
	for name, link := range map[string]string{"evil": target, "evil2": "../../../../../../../../.." + target} {
		if err := os.Symlink(link, filepath.Join(c.b.rootfs, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Inside, the symlinks resolve within the rootfs, where the mounts are.
	wantLines(t, lines(c.runOK(runOpts{})), "from-src", "1")
	if got := readFile(t, filepath.Join(src, "written")); got != "w\n" {
		t.Errorf("write through /evil reached the bind source as %q", got)
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Errorf("the host directory named by the symlinks was touched: %v", entries)
	}
}

func TestRootReadonly(t *testing.T) {
	e := newEnv(t)
	s := baseSpec(withMountinfo(`touch /x 2>/dev/null && echo wrote || echo refused
		touch /tmp/x && echo tmp-ok`)...)
	s.Root.Readonly = true
	s.Mounts = append(s.Mounts, tmpfsMount("/tmp", "mode=1777"))
	c := e.newContainer(s)
	out, mi := splitMountinfo(t, c.runOK(runOpts{}))
	wantLines(t, out, "refused", "tmp-ok")
	if m := findMount(t, mi, "/"); !slices.Contains(m.opts, "ro") {
		t.Errorf("/ mount options %v lack ro", m.opts)
	}
	if exists(filepath.Join(c.b.rootfs, "x")) {
		t.Error("a file was created in the read-only rootfs")
	}
}

func TestRootPathRelativeToBundle(t *testing.T) {
	e := newEnv(t)
	s := baseSpec("cat", "/marker")
	s.Root.Path = "myroot" // the bundle has no "rootfs" directory
	c := e.newContainer(s)
	writeFile(t, filepath.Join(c.b.rootfs, "marker"), "in myroot\n", 0o644)
	for _, o := range []cmdOpts{
		{dir: "/"},   // absolute --bundle, unrelated working directory
		{dir: e.dir}, // relative --bundle
	} {
		bundleArg := c.b.dir
		if o.dir == e.dir {
			bundleArg = filepath.Base(c.b.dir)
		}
		r := mustSucceed(t, e.huskOpts(o, "run", "--bundle", bundleArg, c.id))
		if r.stdout != "in myroot\n" {
			t.Errorf("stdout %q, want the marker of bundle/myroot", r.stdout)
		}
		c.assertGone()
	}
}

func TestNoPivot(t *testing.T) {
	e := newEnv(t)
	c := e.newContainer(baseSpec("sh", "-c", "cat /marker; test -e "+e.dir+" && echo host-visible || echo isolated"))
	writeFile(t, filepath.Join(c.b.rootfs, "marker"), "no-pivot root\n", 0o644)
	wantLines(t, lines(c.runOK(runOpts{flags: []string{"--no-pivot"}})), "no-pivot root", "isolated")
}

func TestDefaultDevices(t *testing.T) {
	e := newEnv(t)
	out := lines(e.sh(baseSpec(), `for d in null zero full random urandom tty; do stat -c '%n %F %t:%T' /dev/$d; done
		for l in fd stdin stdout stderr; do echo "$l -> $(readlink /dev/$l)"; done
		test -e /dev/ptmx && echo ptmx; test -d /dev/pts && echo pts; test -d /dev/shm && echo shm
		(echo x > /dev/full) 2>/dev/null && echo full-accepts || echo full-refuses
		echo x > /dev/null && echo null-ok
		head -c 4 /dev/zero | od -An -tx1 | tr -d ' '`))
	wantLines(t, out,
		"/dev/null character special file 1:3",
		"/dev/zero character special file 1:5",
		"/dev/full character special file 1:7",
		"/dev/random character special file 1:8",
		"/dev/urandom character special file 1:9",
		"/dev/tty character special file 5:0",
		"fd -> /proc/self/fd",
		"stdin -> /proc/self/fd/0",
		"stdout -> /proc/self/fd/1",
		"stderr -> /proc/self/fd/2",
		"ptmx", "pts", "shm",
		"full-refuses", "null-ok", "00000000")
}

func TestLinuxDevices(t *testing.T) {
	e := newEnv(t)
	mode, modeZero := os.FileMode(0o666), os.FileMode(0o604)
	uid, gid := uint32(1000), uint32(1000)
	s := baseSpec()
	s.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode},
		{Path: "/dev/sub/myzero", Type: "c", Major: 1, Minor: 5, FileMode: &modeZero, UID: &uid, GID: &gid},
	}
	out := lines(e.sh(s, `stat -c '%n %F %t:%T %a %u:%g' /dev/mynull /dev/sub/myzero
		echo hi > /dev/mynull && echo write-ok; head -c 2 /dev/sub/myzero | od -An -tx1 | tr -d ' '`))
	wantLines(t, out,
		"/dev/mynull character special file 1:3 666 0:0",
		"/dev/sub/myzero character special file 1:5 604 1000:1000",
		"write-ok", "0000")
}

func TestMaskedPaths(t *testing.T) {
	e := newEnv(t)
	// Kernel files and directories, plus a file and a directory of the rootfs.
	script := "wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; wc -c < /etc/secret; ls -A /secretdir | wc -l"
	counts := func(masked []string) []string {
		s := baseSpec("sh", "-c", script)
		s.Linux.MaskedPaths = masked
		c := e.newContainer(s)
		writeFile(t, filepath.Join(c.b.rootfs, "etc/secret"), "secret\n", 0o644)
		writeFile(t, filepath.Join(c.b.rootfs, "secretdir/file"), "secret\n", 0o644)
		return lines(c.runOK(runOpts{}))
	}
	wantLines(t, counts(append(baseSpec().Linux.MaskedPaths, "/etc/secret", "/secretdir")), "0", "0", "0", "0")
	// Control: unmasked, the same paths have content.
	if out := counts(nil); len(out) != 4 || slices.Contains(out, "0") {
		t.Errorf("unmasked sizes/entry counts %q, want all non-zero", out)
	}
}

func TestReadonlyPaths(t *testing.T) {
	e := newEnv(t)
	script := "(echo changed > /proc/sys/kernel/hostname) 2>/dev/null && echo wrote || echo refused; hostname"
	s := baseSpec()
	out, mi := e.runWithMountinfo(s, script)
	wantLines(t, out, "refused", "husk-test")
	if m := findMount(t, mi, "/proc/sys"); !slices.Contains(m.opts, "ro") {
		t.Errorf("/proc/sys options %v lack ro", m.opts)
	}
	// Control: without readonlyPaths the same write works (it only changes
	// the container's own UTS namespace).
	s = baseSpec()
	s.Linux.ReadonlyPaths = nil
	wantLines(t, lines(e.sh(s, script)), "wrote", "changed")
}
