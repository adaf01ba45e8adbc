package libcontainer

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptions is a runtime-spec mount's option list sorted by how it is
// applied: flags for mount(2), propagation changes after it, recursive
// attributes through mount_setattr(2), and the rest as filesystem data.
type mountOptions struct {
	flags       uintptr
	propagation []uintptr
	attrSet     uint64 // MOUNT_ATTR_* set recursively ("rro", "rnosuid", ...)
	attrClr     uint64
	data        []string
	copyUp      bool // tmpcopyup (tmpfs only)
}

type flagOption struct {
	clear bool
	flag  uintptr
}

var mountFlagOptions = map[string]flagOption{
	"defaults":      {false, 0},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"suid":          {true, unix.MS_NOSUID},
	"nosuid":        {false, unix.MS_NOSUID},
	"dev":           {true, unix.MS_NODEV},
	"nodev":         {false, unix.MS_NODEV},
	"exec":          {true, unix.MS_NOEXEC},
	"noexec":        {false, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"remount":       {false, unix.MS_REMOUNT},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"atime":         {true, unix.MS_NOATIME},
	"noatime":       {false, unix.MS_NOATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"iversion":      {false, unix.MS_I_VERSION},
	"noiversion":    {true, unix.MS_I_VERSION},
	"silent":        {false, unix.MS_SILENT},
	"loud":          {true, unix.MS_SILENT},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"bind":          {false, unix.MS_BIND},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
}

var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type attrOption struct {
	clear bool
	attr  uint64
}

var recursiveAttrOptions = map[string]attrOption{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// The atime settings are one value in MOUNT_ATTR__ATIME, not bits: setting
// one needs the whole mask in attr_clr. Turning noatime or strictatime off
// gives the kernel's default, relatime.
var recursiveAtimeOptions = map[string]uint64{
	"rnoatime":       unix.MOUNT_ATTR_NOATIME,
	"rstrictatime":   unix.MOUNT_ATTR_STRICTATIME,
	"rrelatime":      unix.MOUNT_ATTR_RELATIME,
	"ratime":         unix.MOUNT_ATTR_RELATIME,
	"rnostrictatime": unix.MOUNT_ATTR_RELATIME,
	"rnorelatime":    unix.MOUNT_ATTR_STRICTATIME,
}

// Options other runtimes accept that husk does not implement yet: refuse
// them by name rather than pass them to the kernel as data.
var unsupportedOptions = map[string]string{
	"idmap":  "id-mapped mounts",
	"ridmap": "id-mapped mounts",
}

func parseMountOptions(options []string) (mountOptions, error) {
	var o mountOptions
	for _, opt := range options {
		if f, ok := mountFlagOptions[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
			} else {
				o.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		// The later of two opposite options wins, as with "ro" then "rw".
		if a, ok := recursiveAttrOptions[opt]; ok {
			if a.clear {
				o.attrClr |= a.attr
				o.attrSet &^= a.attr
			} else {
				o.attrSet |= a.attr
				o.attrClr &^= a.attr
			}
			continue
		}
		if atime, ok := recursiveAtimeOptions[opt]; ok {
			o.attrSet = o.attrSet&^unix.MOUNT_ATTR__ATIME | atime
			o.attrClr |= unix.MOUNT_ATTR__ATIME
			continue
		}
		if opt == copyUpOption {
			o.copyUp = true
			continue
		}
		if what, ok := unsupportedOptions[opt]; ok {
			return o, fmt.Errorf("option %q (%s) is not supported yet", opt, what)
		}
		// Data goes to mount(2) joined with "," as a C string.
		if opt == "" || strings.ContainsAny(opt, ",\x00") {
			return o, fmt.Errorf("invalid option %q", opt)
		}
		o.data = append(o.data, opt)
	}
	return o, nil
}

// isBind says whether a mount of this type and these options is a bind mount.
func (o mountOptions) isBind(typ string) bool {
	return typ == "bind" || o.flags&unix.MS_BIND != 0
}

// bindFlagWord is the first data word of a bind mount that is no key=value
// filesystem option: a flag husk does not know (a typo, or one for another
// runtime). Filesystem options are accepted, as runc and crun do; the
// kernel ignores data for a bind mount.
func (o mountOptions) bindFlagWord() (string, bool) {
	for _, d := range o.data {
		if k, _, ok := strings.Cut(d, "="); !ok || k == "" {
			return d, true
		}
	}
	return "", false
}
