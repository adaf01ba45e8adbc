package libcontainer

import (
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseMountOptionsFlags(t *testing.T) {
	tests := []struct {
		opts  []string
		flags uintptr
	}{
		{nil, 0},
		{[]string{"defaults"}, 0},
		{[]string{"ro"}, unix.MS_RDONLY},
		{[]string{"ro", "rw"}, 0},
		{[]string{"rw", "ro"}, unix.MS_RDONLY},
		{[]string{"nosuid", "nodev", "noexec"}, unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{[]string{"nosuid", "nodev", "noexec", "suid", "dev"}, unix.MS_NOEXEC},
		{[]string{"noexec", "exec"}, 0},
		{[]string{"sync", "async"}, 0},
		{[]string{"dirsync"}, unix.MS_DIRSYNC},
		{[]string{"noatime", "atime"}, 0},
		{[]string{"nodiratime"}, unix.MS_NODIRATIME},
		{[]string{"relatime"}, unix.MS_RELATIME},
		{[]string{"strictatime", "nostrictatime"}, 0},
		{[]string{"nosymfollow"}, unix.MS_NOSYMFOLLOW},
		{[]string{"remount", "ro"}, unix.MS_REMOUNT | unix.MS_RDONLY},
		{[]string{"bind"}, unix.MS_BIND},
		{[]string{"rbind", "ro"}, unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY},
		{[]string{"ro", "defaults"}, unix.MS_RDONLY},
	}
	for _, tt := range tests {
		o, err := parseMountOptions(tt.opts)
		if err != nil {
			t.Errorf("%q: %v", tt.opts, err)
			continue
		}
		if o.flags != tt.flags {
			t.Errorf("%q: flags %#x, want %#x", tt.opts, o.flags, tt.flags)
		}
		if len(o.data) != 0 || len(o.propagation) != 0 || o.attrSet|o.attrClr != 0 {
			t.Errorf("%q: unexpected data %q propagation %v attrs %#x/%#x", tt.opts, o.data, o.propagation, o.attrSet, o.attrClr)
		}
	}
}

func TestParseMountOptionsPropagation(t *testing.T) {
	o, err := parseMountOptions([]string{"rprivate", "nosuid", "shared", "rslave", "unbindable", "runbindable", "private", "rshared", "slave"})
	if err != nil {
		t.Fatal(err)
	}
	want := []uintptr{
		unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SLAVE | unix.MS_REC, unix.MS_UNBINDABLE,
		unix.MS_UNBINDABLE | unix.MS_REC, unix.MS_PRIVATE, unix.MS_SHARED | unix.MS_REC, unix.MS_SLAVE,
	}
	if !reflect.DeepEqual(o.propagation, want) {
		t.Errorf("propagation %#x, want %#x (in the given order)", o.propagation, want)
	}
	if o.flags != unix.MS_NOSUID {
		t.Errorf("flags %#x, want MS_NOSUID only: propagation must not leak into mount(2) flags", o.flags)
	}
}

func TestParseMountOptionsRecursiveAttrs(t *testing.T) {
	o, err := parseMountOptions([]string{"rro", "rnosuid", "rnodev", "rnoexec", "rnosymfollow", "rnodiratime"})
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC |
		unix.MOUNT_ATTR_NOSYMFOLLOW | unix.MOUNT_ATTR_NODIRATIME)
	if o.attrSet != want || o.attrClr != 0 {
		t.Errorf("attrs set %#x clr %#x, want %#x and 0", o.attrSet, o.attrClr, want)
	}
	if o.flags != 0 {
		t.Errorf("flags %#x: recursive attributes must not become mount(2) flags", o.flags)
	}

	o, err = parseMountOptions([]string{"rrw", "rsuid", "rdev", "rexec", "rsymfollow", "rdiratime"})
	if err != nil {
		t.Fatal(err)
	}
	want = uint64(unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC |
		unix.MOUNT_ATTR_NOSYMFOLLOW | unix.MOUNT_ATTR_NODIRATIME)
	if o.attrClr != want || o.attrSet != 0 {
		t.Errorf("attrs set %#x clr %#x, want 0 and %#x", o.attrSet, o.attrClr, want)
	}
}

// As with "ro" then "rw", the later of two opposite recursive options wins.
// mount_setattr(2) applies attr_set after attr_clr, so a bit in both sets
// would keep the first option.
func TestParseMountOptionsRecursiveLastWins(t *testing.T) {
	tests := []struct {
		opts     []string
		set, clr uint64
	}{
		{[]string{"rro", "rrw"}, 0, unix.MOUNT_ATTR_RDONLY},
		{[]string{"rrw", "rro"}, unix.MOUNT_ATTR_RDONLY, 0},
		{[]string{"rnosuid", "rsuid"}, 0, unix.MOUNT_ATTR_NOSUID},
		{[]string{"rnoexec", "rexec", "rnoexec"}, unix.MOUNT_ATTR_NOEXEC, 0},
	}
	for _, tt := range tests {
		o, err := parseMountOptions(tt.opts)
		if err != nil {
			t.Errorf("%q: %v", tt.opts, err)
			continue
		}
		if o.attrSet != tt.set || o.attrClr != tt.clr {
			t.Errorf("%q: attr_set %#x attr_clr %#x, want %#x and %#x", tt.opts, o.attrSet, o.attrClr, tt.set, tt.clr)
		}
	}
}

// mount_setattr(2): the atime settings are an enum, not bits. Setting one
// needs all of MOUNT_ATTR__ATIME in attr_clr, and attr_clr may not hold
// only part of it; otherwise the call fails with EINVAL. MOUNT_ATTR_RELATIME
// is 0, so "rrelatime" only has an effect through attr_clr.
func TestParseMountOptionsRecursiveAtime(t *testing.T) {
	for _, opt := range []string{"rnoatime", "rstrictatime", "rrelatime"} {
		o, err := parseMountOptions([]string{opt})
		if err != nil {
			t.Errorf("%s: %v", opt, err)
			continue
		}
		if o.attrClr&unix.MOUNT_ATTR__ATIME != unix.MOUNT_ATTR__ATIME {
			t.Errorf("%s: attr_set %#x attr_clr %#x: attr_clr must hold MOUNT_ATTR__ATIME", opt, o.attrSet, o.attrClr)
		}
	}
	for _, opts := range [][]string{{"ratime"}, {"rnostrictatime"}, {"rnorelatime"}, {"rnoatime", "ratime"}} {
		o, err := parseMountOptions(opts)
		if err != nil {
			continue // refusing an option is fine
		}
		if clr := o.attrClr & unix.MOUNT_ATTR__ATIME; clr != 0 && clr != unix.MOUNT_ATTR__ATIME {
			t.Errorf("%q: attr_clr %#x holds part of MOUNT_ATTR__ATIME: mount_setattr fails with EINVAL", opts, o.attrClr)
		}
	}
}

// The same through the kernel, on a detached tmpfs that is never attached
// anywhere (needs CAP_SYS_ADMIN).
func TestParseMountOptionsRecursiveKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for fsopen(2)")
	}
	tests := []struct {
		opts []string
		has  int64 // statfs flags that must be set
		not  int64 // and must not
	}{
		{[]string{"rro", "rnosuid"}, unix.ST_RDONLY | unix.ST_NOSUID, 0},
		{[]string{"rro", "rrw"}, 0, unix.ST_RDONLY},
		{[]string{"rnoatime"}, unix.ST_NOATIME, 0},
		{[]string{"rnoexec", "rexec"}, 0, unix.ST_NOEXEC},
	}
	for _, tt := range tests {
		o, err := parseMountOptions(tt.opts)
		if err != nil {
			t.Errorf("%q: %v", tt.opts, err)
			continue
		}
		mnt, err := detachedTmpfs()
		if err != nil {
			t.Skipf("cannot make a detached tmpfs: %v", err)
		}
		attr := &unix.MountAttr{Attr_set: o.attrSet, Attr_clr: o.attrClr}
		err = unix.MountSetattr(mnt, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr)
		var st unix.Statfs_t
		if err == nil {
			err = unix.Fstatfs(mnt, &st)
		}
		unix.Close(mnt)
		if err != nil {
			t.Errorf("%q: mount_setattr(set %#x, clr %#x): %v", tt.opts, o.attrSet, o.attrClr, err)
			continue
		}
		if st.Flags&tt.has != tt.has || st.Flags&tt.not != 0 {
			t.Errorf("%q: statfs flags %#x, want %#x set and %#x clear", tt.opts, st.Flags, tt.has, tt.not)
		}
	}
}

func detachedTmpfs() (int, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, err
	}
	return unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, 0)
}

func TestParseMountOptionsData(t *testing.T) {
	o, err := parseMountOptions([]string{"nosuid", "size=64k", "strictatime", "mode=755", "newinstance", "uid=0", "x-vendor"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"size=64k", "mode=755", "newinstance", "uid=0", "x-vendor"}; !reflect.DeepEqual(o.data, want) {
		t.Errorf("data %q, want %q", o.data, want)
	}
	if want := uintptr(unix.MS_NOSUID | unix.MS_STRICTATIME); o.flags != want {
		t.Errorf("flags %#x, want %#x", o.flags, want)
	}
}

func TestParseMountOptionsErrors(t *testing.T) {
	tests := []struct {
		opts []string
		want string
	}{
		{[]string{"rbind", "idmap"}, `"idmap"`},
		{[]string{"ridmap"}, `"ridmap"`},
		{[]string{""}, `""`},
		{[]string{"size=1k,mode=700"}, `"size=1k,mode=700"`},
		{[]string{"ro,nosuid"}, `"ro,nosuid"`},
	}
	for _, tt := range tests {
		_, err := parseMountOptions(tt.opts)
		if err == nil {
			t.Errorf("%q: no error", tt.opts)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %q does not name %s", tt.opts, err, tt.want)
		}
	}
}

func TestMountOptionsIsBind(t *testing.T) {
	tests := []struct {
		typ  string
		opts []string
		want bool
	}{
		{"bind", nil, true},
		{"bind", []string{"ro"}, true},
		{"none", []string{"rbind"}, true},
		{"", []string{"bind"}, true},
		{"", []string{"rbind", "rro"}, true},
		{"tmpfs", nil, false},
		{"tmpfs", []string{"ro", "nosuid"}, false},
		{"", nil, false},
		{"proc", []string{"rprivate"}, false},
		{"none", []string{"rro"}, false},
	}
	for _, tt := range tests {
		o, err := parseMountOptions(tt.opts)
		if err != nil {
			t.Errorf("%q: %v", tt.opts, err)
			continue
		}
		if got := o.isBind(tt.typ); got != tt.want {
			t.Errorf("type %q options %q: isBind = %v, want %v", tt.typ, tt.opts, got, tt.want)
		}
	}
}

func TestNeedsDevSetup(t *testing.T) {
	devBind := []string{"rbind"}
	tests := []struct {
		dest, typ string
		opts      []string
		want      bool
	}{
		{"/dev", "tmpfs", nil, true},
		{"/dev", "bind", nil, false},
		{"/dev/", "none", devBind, false},
		{"//dev", "none", devBind, false},
		{"/dev/shm", "bind", nil, true},
		{"/devices", "bind", nil, true},
	}
	for _, tt := range tests {
		mounts := []specs.Mount{{Destination: tt.dest, Type: tt.typ, Options: tt.opts}}
		if got := needsDevSetup(mounts); got != tt.want {
			t.Errorf("mount %s type %q options %q: needsDevSetup = %v, want %v", tt.dest, tt.typ, tt.opts, got, tt.want)
		}
	}
	if !needsDevSetup(nil) {
		t.Errorf("needsDevSetup(nil) = false, want true")
	}
}

func TestStatfsFlags(t *testing.T) {
	pairs := []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	}
	var allST int64
	var allMS uintptr
	for _, p := range pairs {
		if got := statfsFlags(p.st); got != p.ms {
			t.Errorf("statfsFlags(%#x) = %#x, want %#x", p.st, got, p.ms)
		}
		allST |= p.st
		allMS |= p.ms
	}
	if got := statfsFlags(allST); got != allMS {
		t.Errorf("statfsFlags(%#x) = %#x, want %#x", allST, got, allMS)
	}
	// ST_SYNCHRONOUS, ST_MANDLOCK and the like are not locked flags.
	if got := statfsFlags(unix.ST_SYNCHRONOUS | unix.ST_MANDLOCK); got != 0 {
		t.Errorf("statfsFlags(sync|mand) = %#x, want 0", got)
	}
}
