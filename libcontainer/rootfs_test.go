package libcontainer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// testRootfs is a rootfs directory with links that point out of it, opened
// as prepare opens it but without any mount.
func testRootfs(t *testing.T) *rootfs {
	t.Helper()
	dir := t.TempDir()
	links := map[string]string{
		"abs":  "/etc",          // absolute: the rootfs's /etc, not the host's
		"up":   "../../../../x", // climbs out of the rootfs if resolved naively
		"loop": "loop",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &rootfs{path: dir, handle: h}
}

func TestRootfsInRoot(t *testing.T) {
	r := testRootfs(t)
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"", "/"},
		{"/a/b", "/a/b"},
		{"a/b", "/a/b"},
		{"/../../a", "/a"},
		{"/abs/passwd", "/etc/passwd"},
		{"/up/y", "/x/y"},
		{"/a/../abs", "/etc"},
	}
	for _, tt := range tests {
		got, err := r.inRoot(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("inRoot(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got, err := r.inRoot("/loop/x"); err == nil {
		t.Errorf("inRoot through a symlink loop = %q, want an error", got)
	}
}

// where returns the path under the rootfs that an O_PATH handle names.
func where(t *testing.T, r *rootfs, f handle) string {
	t.Helper()
	p, err := os.Readlink(f.path())
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(r.path, p)
	if err != nil {
		t.Fatal(err)
	}
	return "/" + rel
}

func TestRootfsMkdirAllStaysInside(t *testing.T) {
	r := testRootfs(t)
	tests := []struct{ in, want string }{
		{"/a/b/c", "/a/b/c"},
		{"/abs/newdir", "/etc/newdir"},
		{"/up/deep/er", "/x/deep/er"},
		{"/../../escape", "/escape"},
	}
	for _, tt := range tests {
		f, err := r.mkdirAll(tt.in)
		if err != nil {
			t.Errorf("mkdirAll(%q): %v", tt.in, err)
			continue
		}
		if got := where(t, r, f); got != tt.want {
			t.Errorf("mkdirAll(%q) made %q, want %q", tt.in, got, tt.want)
		}
		f.Close()
		if fi, err := os.Stat(filepath.Join(r.path, tt.want)); err != nil || !fi.IsDir() {
			t.Errorf("mkdirAll(%q): %s is not a directory in the rootfs: %v", tt.in, tt.want, err)
		}
	}
	if _, err := os.Stat("/etc/newdir"); err == nil {
		t.Errorf("mkdirAll created /etc/newdir on the host")
	}
}

func TestRootfsTarget(t *testing.T) {
	r := testRootfs(t)
	// A file mount point is created empty, through links, inside the rootfs.
	f, err := r.target("/abs/resolv.conf", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := where(t, r, f); got != "/etc/resolv.conf" {
		t.Errorf("target made %q, want /etc/resolv.conf in the rootfs", got)
	}
	f.Close()
	fi, err := os.Lstat(filepath.Join(r.path, "etc", "resolv.conf"))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Errorf("file mount point: %v %v", fi, err)
	}
	// An existing file is opened, not replaced.
	if err := os.WriteFile(filepath.Join(r.path, "etc", "hosts"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err = r.target("/etc/hosts", false)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if data, _ := os.ReadFile(filepath.Join(r.path, "etc", "hosts")); string(data) != "x" {
		t.Errorf("target truncated an existing file: %q", data)
	}
	// A directory mount point.
	f, err = r.target("/up/mnt", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := where(t, r, f); got != "/x/mnt" {
		t.Errorf("target made %q, want /x/mnt", got)
	}
	f.Close()
}

func TestRootfsSymlink(t *testing.T) {
	r := testRootfs(t)
	for _, l := range devSymlinks {
		if err := r.symlink(l[0], l[1]); err != nil {
			t.Fatalf("symlink %s: %v", l[1], err)
		}
	}
	// Again: existing links are replaced, not an error.
	for _, l := range devSymlinks {
		if err := r.symlink(l[0], l[1]); err != nil {
			t.Fatalf("symlink %s again: %v", l[1], err)
		}
	}
	for _, l := range devSymlinks {
		got, err := os.Readlink(filepath.Join(r.path, l[1]))
		if err != nil || got != l[0] {
			t.Errorf("%s -> %q (%v), want %q", l[1], got, err, l[0])
		}
	}
}

func TestRootfsSetupDev(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	r := testRootfs(t)
	mode := os.FileMode(0o620)
	uid, gid := uint32(12), uint32(34)
	extra := []specs.LinuxDevice{
		{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode}, // a default one, listed again
		{Path: "/dev/sub/loopX", Type: "b", Major: 7, Minor: 200, UID: &uid, GID: &gid},
		{Path: "/dev/fifo", Type: "p"},
	}
	if err := r.setupDev(extra); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path         string
		typ          uint32
		major, minor uint32
		perm         uint32
		uid, gid     uint32
	}{
		{"/dev/null", unix.S_IFCHR, 1, 3, 0o620, 0, 0},
		{"/dev/zero", unix.S_IFCHR, 1, 5, 0o666, 0, 0},
		{"/dev/full", unix.S_IFCHR, 1, 7, 0o666, 0, 0},
		{"/dev/random", unix.S_IFCHR, 1, 8, 0o666, 0, 0},
		{"/dev/urandom", unix.S_IFCHR, 1, 9, 0o666, 0, 0},
		{"/dev/tty", unix.S_IFCHR, 5, 0, 0o666, 0, 0},
		{"/dev/sub/loopX", unix.S_IFBLK, 7, 200, 0o666, 12, 34},
		{"/dev/fifo", unix.S_IFIFO, 0, 0, 0o666, 0, 0},
	}
	for _, tt := range tests {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(r.path, tt.path), &st); err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if st.Mode&unix.S_IFMT != tt.typ || st.Mode&0o7777 != tt.perm || st.Uid != tt.uid || st.Gid != tt.gid {
			t.Errorf("%s: mode %o uid %d gid %d, want type %o perm %o owner %d:%d", tt.path, st.Mode, st.Uid, st.Gid, tt.typ, tt.perm, tt.uid, tt.gid)
		}
		if tt.typ != unix.S_IFIFO && (unix.Major(st.Rdev) != tt.major || unix.Minor(st.Rdev) != tt.minor) {
			t.Errorf("%s: device %d:%d, want %d:%d", tt.path, unix.Major(st.Rdev), unix.Minor(st.Rdev), tt.major, tt.minor)
		}
	}
	if got, err := os.Readlink(filepath.Join(r.path, "dev", "ptmx")); err != nil || got != "pts/ptmx" {
		t.Errorf("/dev/ptmx -> %q (%v)", got, err)
	}
	// A device path through a link still lands inside the rootfs.
	if err := r.setupDev([]specs.LinuxDevice{{Path: "/abs/dev-through-link", Type: "c", Major: 1, Minor: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(r.path, "etc", "dev-through-link")); err != nil {
		t.Errorf("device through a link: %v", err)
	}
	if _, err := os.Lstat("/etc/dev-through-link"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a device was created on the host: %v", err)
		os.Remove("/etc/dev-through-link")
	}
}

// Below the deepest existing directory mkdirAllInRoot enters what it
// creates by name only: a link there (here a dangling one, which openat2
// cannot resolve) fails instead of being followed.
func TestMkdirAllInRootRefusesLinksToCreate(t *testing.T) {
	r := testRootfs(t)
	if h, err := mkdirAllInRoot(r.handle, "/abs/newdir", 0o755); err == nil {
		h.Close()
		t.Fatalf("mkdirAllInRoot through the dangling link /abs succeeded")
	}
	for _, p := range []string{"/etc/newdir", filepath.Join(r.path, "etc")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a refused mkdirAllInRoot: %v", p, err)
		}
	}
	if err := os.WriteFile(filepath.Join(r.path, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/file", "/file/sub"} {
		if h, err := mkdirAllInRoot(r.handle, p, 0o755); !errors.Is(err, unix.ENOTDIR) {
			if err == nil {
				h.Close()
			}
			t.Errorf("mkdirAllInRoot(%q) = %v, want ENOTDIR", p, err)
		}
	}
}

// openInRoot keeps ".." and absolute links at the rootfs, and refuses
// procfs magic links.
func TestOpenInRoot(t *testing.T) {
	r := testRootfs(t)
	if err := os.MkdirAll(filepath.Join(r.path, "x", "y"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self/root", filepath.Join(r.path, "magic")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ in, want string }{
		{"/up/y", "/x/y"},
		{"/../../../x", "/x"},
		{"/", "/"},
	} {
		h, err := openInRoot(r.handle, tt.in, unix.O_DIRECTORY)
		if err != nil {
			t.Errorf("openInRoot(%q): %v", tt.in, err)
			continue
		}
		if got := where(t, r, h); got != tt.want && !(tt.want == "/" && got == "/.") {
			t.Errorf("openInRoot(%q) = %q, want %q", tt.in, got, tt.want)
		}
		h.Close()
	}
	if h, err := openInRoot(r.handle, "/magic/etc", 0); err == nil {
		t.Errorf("openInRoot through /proc/self/root = %q, want an error", where(t, r, h))
		h.Close()
	}
}
