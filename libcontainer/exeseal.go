package libcontainer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// sealedExe returns an O_PATH handle to the husk binary that the container
// can never write through (CVE-2019-5736): the binary is opened through a
// detached, read-only overlayfs whose only layers are its own directory and
// an empty one. Nothing is copied, and the mount is attached nowhere, so it
// goes away with the last reference. Without overlayfs or fsopen(2) we fall
// back to a sealed memfd copy.
func sealedExe(emptyDir string) (*os.File, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	f, oerr := overlayExe(exe, emptyDir)
	if oerr == nil {
		return f, nil
	}
	f, merr := memfdExe()
	if merr != nil {
		return nil, fmt.Errorf("seal husk binary: overlayfs: %v; memfd: %w", oerr, merr)
	}
	return f, nil
}

func escapeLowerDir(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `:`, `\:`)
}

func overlayExe(exe, emptyDir string) (*os.File, error) {
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(ctx)
	dir, name := filepath.Split(exe)
	// Two lower layers and no upper one make overlayfs read-only for good;
	// the binary's directory goes on top so nothing can shadow it.
	lower := escapeLowerDir(filepath.Clean(dir)) + ":" + escapeLowerDir(emptyDir)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("lowerdir=%s: %w", lower, err)
	}
	_ = unix.FsconfigSetString(ctx, "xino", "off") // avoids kernel log noise across filesystems
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("create overlay: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in overlay: %w", name, err)
	}
	return os.NewFile(uintptr(fd), exe), nil
}

func memfdExe() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("husk", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "husk-memfd")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, err
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
