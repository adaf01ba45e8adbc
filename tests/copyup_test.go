package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// tmpcopyup: the tmpfs starts with what the directory held in the image
// (files, subdirectories, modes, symlinks as symlinks) and takes writes on a
// read-only root, which never sees them; with "ro" the copy is there and
// the tmpfs refuses writes.
func TestTmpfsCopyUp(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Root.Readonly = true
	s.Mounts = append(s.Mounts,
		tmpfsMount("/data", "nosuid", "nodev", "tmpcopyup"),
		tmpfsMount("/rodata", "ro", "tmpcopyup"),
	)
	c := e.newContainer(s)
	for _, dir := range []string{"data", "rodata"} {
		writeFile(t, filepath.Join(c.b.rootfs, dir, "sub", "file"), "from "+dir+"\n", 0o640)
		if err := os.Symlink("/etc/passwd", filepath.Join(c.b.rootfs, dir, "link")); err != nil {
			t.Fatal(err)
		}
	}
	s.Process.Args = []string{"sh", "-c", `
		cat /data/sub/file; stat -c '%a %F' /data/sub/file; readlink /data/link
		echo new > /data/new && echo data-writable
		grep -q ' /data tmpfs ' /proc/mounts && echo data-is-tmpfs
		cat /rodata/sub/file
		touch /rodata/x 2>/dev/null || echo rodata-read-only`}
	c.b.writeSpec(t, s)
	wantLines(t, lines(c.runOK(runOpts{})),
		"from data", "640 regular file", "/etc/passwd", "data-writable", "data-is-tmpfs",
		"from rodata", "rodata-read-only")
	if exists(filepath.Join(c.b.rootfs, "data", "new")) {
		t.Error("a write to the tmpfs reached the image's directory")
	}
}

// tmpcopyup is for tmpfs only.
func TestTmpfsCopyUpNotTmpfs(t *testing.T) {
	skipIfRunc(t, "husk's validation message")
	e := newEnv(t)
	s := baseSpec("true")
	s.Mounts = append(s.Mounts, bindMount(e.hostDir(), "/data", "tmpcopyup"))
	r := mustFail(t, e.runContainer(s))
	checkErrorMessage(t, r, `mounts[6].options: option "tmpcopyup" is only for tmpfs mounts`)
}
