package engines

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"husk/internal/mountinfo"
)

var (
	huskBin string // absolute path of the runtime under test
	topDir  string // everything the suite makes lives here
	repoDir string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "engines:", err)
		return 1
	}
	repoDir = filepath.Join(wd, "..", "..")
	huskBin = os.Getenv("HUSK_BIN")
	if huskBin == "" {
		if p := filepath.Join(repoDir, "bin", "husk"); fileExists(p) {
			huskBin = p
		}
	}
	if huskBin != "" {
		if huskBin, err = filepath.Abs(huskBin); err != nil {
			fmt.Fprintln(os.Stderr, "engines: HUSK_BIN:", err)
			return 1
		}
	}
	// Short: unix socket paths under it must stay below 108 bytes.
	if topDir, err = os.MkdirTemp("", "husk-eng-"); err != nil {
		fmt.Fprintln(os.Stderr, "engines:", err)
		return 1
	}
	code := m.Run()
	if err := cleanupDir(topDir); err != nil {
		fmt.Fprintln(os.Stderr, "engines: cleanup:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var (
	rootsMu      sync.Mutex
	runtimeRoots []string
)

// registerRuntimeRoot records a husk state root (--root) an engine uses, so
// containers an engine left behind are deleted at the end.
func registerRuntimeRoot(root string) {
	rootsMu.Lock()
	defer rootsMu.Unlock()
	if !slices.Contains(runtimeRoots, root) {
		runtimeRoots = append(runtimeRoots, root)
	}
}

// deleteContainers force-deletes, with husk itself, every container left in
// the registered state roots under dir.
func deleteContainers(dir string) {
	if huskBin == "" {
		return
	}
	rootsMu.Lock()
	defer rootsMu.Unlock()
	for _, root := range runtimeRoots {
		if !strings.HasPrefix(root, dir+"/") {
			continue
		}
		for _, id := range strings.Fields(huskCleanup(root, "list", "-q")) {
			huskCleanup(root, "delete", "--force", id)
		}
	}
}

// huskCleanup runs husk on root for the cleanup and gives its output; a
// failure is reported, not stopped at, and gives nothing.
func huskCleanup(root string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, huskBin, append([]string{"--root", root}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "engines: cleanup: %v: %v: %s", cmd.Args, err, out)
		return ""
	}
	return string(out)
}

// releaseDir deletes the containers engines left under dir, kills what
// still runs from it (daemons, shims, conmon) and unmounts everything under
// it, deepest first.
func releaseDir(dir string) error {
	deleteContainers(dir)
	killProcessesUsing(dir)
	return unmountUnder(dir)
}

// cleanupDir releases dir and removes it.
func cleanupDir(dir string) error {
	if err := releaseDir(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// killProcessesUsing SIGKILLs, by pid, every process whose command line
// names dir: only this suite's daemons, shims and monitors do.
func killProcessesUsing(dir string) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), dir+"/") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// mountsUnder lists the mount points below dir from mountinfo, deepest
// first.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	mps := mountinfo.PointsUnder(string(b), dir)
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps, nil
}

// unmountUnder detaches every mount below dir (stacked ones too).
func unmountUnder(dir string) error {
	for range 5 {
		mps, err := mountsUnder(dir)
		if err != nil {
			return err
		}
		if len(mps) == 0 {
			return nil
		}
		for _, mp := range mps {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
	}
	mps, err := mountsUnder(dir)
	if err == nil && len(mps) > 0 {
		err = fmt.Errorf("still mounted: %s", strings.Join(mps, " "))
	}
	return err
}

// image is the busybox image of the suite, made once and shared.
type image struct {
	name    string // reference in every store
	rootfs  string // tarball of the root filesystem
	archive string // docker-archive from podman save
}

var (
	imageOnce sync.Once
	theImage  image
	imageErr  error
)

// imageRef is the image's name in every engine's store.
const imageRef = "localhost/husk-busybox:test"

// busyboxImage returns the suite's image; podman makes it, so the podman
// store holds it already and the docker-archive is ready for the others.
func busyboxImage(t *testing.T) image {
	t.Helper()
	imageOnce.Do(func() { theImage, imageErr = makeImage(t) })
	if imageErr != nil {
		t.Fatalf("busybox image: %v", imageErr)
	}
	return theImage
}

func makeImage(t *testing.T) (image, error) {
	img := image{
		name:    imageRef,
		rootfs:  filepath.Join(topDir, "rootfs.tar"),
		archive: filepath.Join(topDir, "busybox-docker.tar"),
	}
	dir := filepath.Join(topDir, "rootfs")
	if r := run(t, cmdOpts{}, filepath.Join(repoDir, "scripts", "mkrootfs.sh"), dir); r.exit != 0 {
		return img, fmt.Errorf("%v", r)
	}
	// Content in /run for podman's --read-only, whose tmpfs on /run is
	// mounted with tmpcopyup: the file must still be there.
	if err := os.WriteFile(filepath.Join(dir, "run", "copied-up"), []byte("from the image\n"), 0o644); err != nil {
		return img, err
	}
	if r := run(t, cmdOpts{}, "tar", "-C", dir, "-cf", img.rootfs, "."); r.exit != 0 {
		return img, fmt.Errorf("%v", r)
	}
	p := newPodmanCLI(t)
	if r := p.cmd(t, "import", img.rootfs, img.name); r.exit != 0 {
		return img, fmt.Errorf("%v", r)
	}
	if r := p.cmd(t, "save", "--format", "docker-archive", "-o", img.archive, img.name); r.exit != 0 {
		return img, fmt.Errorf("%v", r)
	}
	return img, nil
}
