package libcontainer

import (
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/cgroups"
	"husk/seccomp"
)

// namespaceFlags maps runtime-spec namespace types to the names nsenter.c
// knows and to /proc/<pid>/ns/<file>.
var namespaceProcName = map[specs.LinuxNamespaceType]string{
	specs.UserNamespace:    "user",
	specs.MountNamespace:   "mnt",
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

type validator struct {
	file string
	errs []error
}

func (v *validator) bad(field, format string, args ...any) {
	v.errs = append(v.errs, &ConfigError{File: v.file, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// validateSpec checks what husk needs before it starts anything; it returns
// the first problem found so the user gets one line naming one field.
func validateSpec(name string, spec *specs.Spec) error {
	if errs := specErrors(name, spec); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// specErrors is every problem validateSpec finds, in the order it checks.
func specErrors(name string, spec *specs.Spec) []error {
	v := &validator{file: name}
	v.version(spec.Version)
	if spec.Root == nil || spec.Root.Path == "" {
		v.bad("root.path", "must be set")
	}
	if spec.Process == nil {
		v.bad("process", "must be set")
	} else {
		v.process("process", spec.Process)
	}
	if spec.Linux == nil {
		v.bad("linux", "must be set")
	} else {
		v.linux(spec)
	}
	for i, m := range spec.Mounts {
		v.mount(fmt.Sprintf("mounts[%d]", i), m)
	}
	if spec.Hooks != nil {
		v.hooks(spec.Hooks)
	}
	return v.errs
}

// validateProcess checks the process of an `exec`.
func validateProcess(name string, p *specs.Process) error {
	v := &validator{file: name}
	v.process("process", p)
	if len(v.errs) > 0 {
		return v.errs[0]
	}
	return nil
}

func (v *validator) version(version string) {
	if version == "" {
		v.bad("ociVersion", "must be set")
		return
	}
	major, _, _ := strings.Cut(version, ".")
	if major != "1" {
		v.bad("ociVersion", "%q is not supported (husk implements runtime-spec 1.x)", version)
	}
}

func (v *validator) process(field string, p *specs.Process) {
	if len(p.Args) == 0 || p.Args[0] == "" {
		v.bad(field+".args", "must not be empty")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		v.bad(field+".cwd", "%q must be an absolute path", p.Cwd)
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") {
			v.bad(fmt.Sprintf("%s.env[%d]", field, i), "%q is not KEY=VALUE", e)
		}
	}
	seen := map[string]bool{}
	for i, r := range p.Rlimits {
		f := fmt.Sprintf("%s.rlimits[%d]", field, i)
		if _, err := rlimitResource(r.Type); err != nil {
			v.bad(f+".type", "%v", err)
		}
		if seen[r.Type] {
			v.bad(f+".type", "%s is set twice", printable(r.Type))
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			v.bad(f, "soft limit %d is above hard limit %d", r.Soft, r.Hard)
		}
	}
	if p.Scheduler != nil {
		if _, err := schedAttr(p.Scheduler); err != nil {
			v.errs = append(v.errs, &ConfigError{File: v.file, Msg: err.Error()})
		}
	}
	if p.IOPriority != nil {
		if _, err := ioprioValue(p.IOPriority); err != nil {
			v.errs = append(v.errs, &ConfigError{File: v.file, Msg: err.Error()})
		}
	}
	if a := p.ExecCPUAffinity; a != nil {
		for _, c := range []struct{ field, list string }{{"initial", a.Initial}, {"final", a.Final}} {
			if c.list == "" {
				continue
			}
			if _, err := parseCPUList(field+".execCPUAffinity."+c.field, c.list); err != nil {
				v.errs = append(v.errs, &ConfigError{File: v.file, Msg: err.Error()})
			}
		}
	}
	if err := checkLSM(field, p); err != nil {
		v.errs = append(v.errs, &ConfigError{File: v.file, Msg: err.Error()})
	}
	if _, err := checkCaps(field, p.Capabilities); err != nil {
		v.errs = append(v.errs, &ConfigError{File: v.file, Msg: err.Error()})
	}
	if c := p.ConsoleSize; c != nil {
		// The pty keeps rows and columns as 16-bit numbers.
		for _, d := range []struct {
			name string
			n    uint
		}{{"height", c.Height}, {"width", c.Width}} {
			if d.n > math.MaxUint16 {
				v.bad(field+".consoleSize."+d.name, "%d is above %d", d.n, math.MaxUint16)
			}
		}
	}
}

func (v *validator) linux(spec *specs.Spec) {
	l := spec.Linux
	have := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		f := fmt.Sprintf("linux.namespaces[%d]", i)
		if _, ok := namespaceProcName[ns.Type]; !ok {
			v.bad(f+".type", "unknown namespace type %q", ns.Type)
			continue
		}
		if have[ns.Type] {
			v.bad(f+".type", "namespace %q is listed twice", ns.Type)
		}
		have[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			v.bad(f+".path", "%q must be an absolute path", ns.Path)
		}
		if strings.ContainsAny(ns.Path, "\x00") {
			v.bad(f+".path", "must not contain NUL")
		}
	}
	if !have[specs.MountNamespace] {
		v.bad("linux.namespaces", "a mount namespace is required")
	}
	if (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) && !have[specs.UserNamespace] {
		v.bad("linux.uidMappings", "mappings need a user namespace")
	}
	for _, ns := range l.Namespaces {
		if ns.Type == specs.UserNamespace && ns.Path == "" && (len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0) {
			v.bad("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings")
		}
	}
	if len(l.TimeOffsets) > 0 && !have[specs.TimeNamespace] {
		v.bad("linux.timeOffsets", "offsets need a time namespace")
	}
	for _, ns := range l.Namespaces {
		if ns.Type == specs.TimeNamespace && ns.Path != "" && len(l.TimeOffsets) > 0 {
			v.bad("linux.timeOffsets", "offsets can only be set on a new time namespace, not on the joined %q", ns.Path)
		}
	}
	for _, clock := range slices.Sorted(maps.Keys(l.TimeOffsets)) {
		if clock != "monotonic" && clock != "boottime" {
			v.bad("linux.timeOffsets", "unknown clock %q (monotonic or boottime)", clock)
		}
	}
	if spec.Hostname != "" && !have[specs.UTSNamespace] {
		v.bad("hostname", "setting the hostname needs a uts namespace")
	}
	if spec.Domainname != "" && !have[specs.UTSNamespace] {
		v.bad("domainname", "setting the domainname needs a uts namespace")
	}
	for _, key := range slices.Sorted(maps.Keys(l.Sysctl)) {
		if err := checkSysctl(key, have); err != nil {
			v.bad("linux.sysctl."+printable(key), "%v", err)
		}
	}
	if l.Personality != nil {
		if _, ok := personalityDomains[l.Personality.Domain]; !ok {
			v.bad("linux.personality.domain", "unknown domain %q (LINUX or LINUX32)", l.Personality.Domain)
		}
	}
	if l.Seccomp != nil {
		v.seccomp(l.Seccomp)
	}
	if l.Resources != nil {
		if err := cgroups.Validate(l.Resources); err != nil {
			v.errs = append(v.errs, &ConfigError{File: v.file, Msg: err.Error()})
		}
	}
	if l.RootfsPropagation != "" {
		if _, ok := propagationFlags[l.RootfsPropagation]; !ok {
			v.bad("linux.rootfsPropagation", "unknown propagation %q", l.RootfsPropagation)
		}
	}
	for i, d := range l.Devices {
		f := fmt.Sprintf("linux.devices[%d]", i)
		if !filepath.IsAbs(d.Path) {
			v.bad(f+".path", "%q must be an absolute path", d.Path)
		}
		if _, err := deviceMode(d.Type); err != nil {
			v.bad(f+".type", "%v", err)
		}
	}
	for i, p := range append(append([]string{}, l.MaskedPaths...), l.ReadonlyPaths...) {
		if !filepath.IsAbs(p) {
			v.bad("linux.maskedPaths/readonlyPaths", "entry %d: %q must be an absolute path", i, p)
		}
	}
}

// printable quotes a config key that would break a one-line message.
func printable(key string) string {
	if q := strconv.Quote(key); q[1:len(q)-1] != key {
		return q
	}
	return key
}

func (v *validator) seccomp(s *specs.LinuxSeccomp) {
	if err := seccomp.Validate(s); err != nil {
		v.errs = append(v.errs, &ConfigError{File: v.file, Msg: err.Error()})
		return
	}
	for i, sc := range s.Syscalls {
		if sc.Action != specs.ActNotify {
			continue
		}
		if s.ListenerPath == "" {
			v.bad(fmt.Sprintf("linux.seccomp.syscalls[%d].action", i), "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath")
		}
		// husk hands the notify fd over with sendmsg after the filter is loaded.
		if slices.Contains(sc.Names, "sendmsg") {
			v.bad(fmt.Sprintf("linux.seccomp.syscalls[%d].names", i), "SCMP_ACT_NOTIFY on sendmsg would keep husk from passing on the notify fd")
		}
	}
}

// checkSysctl allows only namespaced sysctls whose namespace the container owns.
func checkSysctl(key string, have map[specs.LinuxNamespaceType]bool) error {
	switch {
	case strings.HasPrefix(key, "net."):
		if !have[specs.NetworkNamespace] {
			return fmt.Errorf("needs a network namespace")
		}
	case strings.HasPrefix(key, "fs.mqueue."), strings.HasPrefix(key, "kernel.msg"),
		strings.HasPrefix(key, "kernel.shm"), key == "kernel.sem", key == "kernel.shm_rmid_forced":
		if !have[specs.IPCNamespace] {
			return fmt.Errorf("needs an ipc namespace")
		}
	case key == "kernel.hostname", key == "kernel.domainname":
		if !have[specs.UTSNamespace] {
			return fmt.Errorf("needs a uts namespace")
		}
	default:
		return fmt.Errorf("not a namespaced sysctl: it would change the host")
	}
	if strings.Contains(key, "..") || strings.Contains(key, "/") {
		return fmt.Errorf("invalid name")
	}
	return nil
}

func (v *validator) mount(field string, m specs.Mount) {
	if m.Destination == "" {
		v.bad(field+".destination", "must be set")
	}
	opts, err := parseMountOptions(m.Options)
	if err != nil {
		v.bad(field+".options", "%v", err)
		return
	}
	if opts.copyUp && (m.Type != "tmpfs" || opts.isBind(m.Type)) {
		v.bad(field+".options", "option %q is only for tmpfs mounts", copyUpOption)
	}
	if opts.isBind(m.Type) {
		if word, ok := opts.bindFlagWord(); ok {
			v.bad(field+".options", "unknown option %q for a bind mount", word)
		}
		if m.Source == "" {
			v.bad(field+".source", "a bind mount needs a source")
		}
		return
	}
	if m.Type == "" {
		v.bad(field+".type", "must be set for a mount that is not a bind mount")
	}
}

// hookLists names each hook list of a config, in lifecycle order; it is
// also what `features` reports.
func hookLists(h *specs.Hooks) []struct {
	name  string
	hooks []specs.Hook
} {
	return []struct {
		name  string
		hooks []specs.Hook
	}{
		//lint:ignore SA1019 prestart is deprecated but still honoured
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop},
	}
}

func (v *validator) hooks(h *specs.Hooks) {
	for _, l := range hookLists(h) {
		name, list := l.name, l.hooks
		for i, hook := range list {
			f := fmt.Sprintf("hooks.%s[%d]", name, i)
			if !filepath.IsAbs(hook.Path) {
				v.bad(f+".path", "%q must be an absolute path", hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				v.bad(f+".timeout", "must be positive, got %d", *hook.Timeout)
			}
		}
	}
}

// ValidateID checks a container ID as runc does: letters, digits and
// "_+-." only, and not "." or "..", so it can never leave the state root.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("container ID must not be empty")
	}
	if id == "." || id == ".." || len(id) > 1024 {
		return fmt.Errorf("invalid container ID %q", id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+-.", r)
		if !ok {
			return fmt.Errorf("invalid container ID %q: only letters, digits and _+-. are allowed", id)
		}
	}
	return nil
}

func rlimitResource(name string) (int, error) {
	if r, ok := rlimitNames[name]; ok {
		return r, nil
	}
	return 0, fmt.Errorf("unknown rlimit %q", name)
}

func deviceMode(typ string) (uint32, error) {
	switch typ {
	case "c", "u":
		return 0o020000, nil
	case "b":
		return 0o060000, nil
	case "p":
		return 0o010000, nil
	}
	return 0, fmt.Errorf("unknown device type %q (c, b, u or p)", typ)
}
