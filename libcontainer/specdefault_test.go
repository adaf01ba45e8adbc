package libcontainer

import (
	"encoding/json"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// roundTrip passes a spec through JSON, as `husk spec` and LoadBundle do.
func roundTrip(t *testing.T, spec *specs.Spec) *specs.Spec {
	t.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseSpec("config.json", data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDefaultSpecValidates(t *testing.T) {
	spec := roundTrip(t, DefaultSpec())
	// Like runc's, the default asks for a terminal.
	if !spec.Process.Terminal {
		t.Errorf("DefaultSpec: process.terminal is false, want true as in runc")
	}
	if err := validateSpec("config.json", spec); err != nil {
		t.Errorf("DefaultSpec: %v", err)
	}
	if spec.Version != specs.Version || spec.Root.Path != "rootfs" || len(spec.Process.Args) == 0 {
		t.Errorf("DefaultSpec: version %q root %q args %q", spec.Version, spec.Root.Path, spec.Process.Args)
	}
}

func TestDefaultSpecFresh(t *testing.T) {
	a := DefaultSpec()
	a.Mounts[0].Destination = "/changed"
	a.Linux.Namespaces[0].Type = "changed"
	a.Process.Capabilities.Bounding[0] = "changed"
	b := DefaultSpec()
	if b.Mounts[0].Destination == "/changed" || b.Linux.Namespaces[0].Type == "changed" || b.Process.Capabilities.Bounding[0] == "changed" {
		t.Errorf("DefaultSpec shares state between calls")
	}
}

func hasNamespace(spec *specs.Spec, typ specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == typ {
			return true
		}
	}
	return false
}

func TestMakeRootless(t *testing.T) {
	spec := DefaultSpec()
	MakeRootless(spec, 1000, 1001)
	if !hasNamespace(spec, specs.UserNamespace) {
		t.Errorf("no user namespace")
	}
	if hasNamespace(spec, specs.NetworkNamespace) {
		t.Errorf("the network namespace is still there")
	}
	for _, typ := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace} {
		if !hasNamespace(spec, typ) {
			t.Errorf("namespace %s was dropped", typ)
		}
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		if seen[ns.Type] {
			t.Errorf("namespace %s listed twice", ns.Type)
		}
		seen[ns.Type] = true
	}
	wantU := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	wantG := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}
	if len(spec.Linux.UIDMappings) != 1 || spec.Linux.UIDMappings[0] != wantU[0] {
		t.Errorf("uidMappings %v, want %v", spec.Linux.UIDMappings, wantU)
	}
	if len(spec.Linux.GIDMappings) != 1 || spec.Linux.GIDMappings[0] != wantG[0] {
		t.Errorf("gidMappings %v, want %v", spec.Linux.GIDMappings, wantG)
	}
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" || strings.HasPrefix(m.Destination, "/sys/fs/cgroup") {
			t.Errorf("cgroup mount %+v is still there", m)
		}
		if m.Type == "sysfs" {
			t.Errorf("sysfs mount %+v needs a network namespace of its own", m)
		}
		for _, o := range m.Options {
			if strings.HasPrefix(o, "gid=") || strings.HasPrefix(o, "uid=") {
				t.Errorf("mount %s keeps %s, which is not mapped", m.Destination, o)
			}
		}
	}
	if spec.Linux.Resources != nil {
		t.Errorf("resources %+v: a rootless container cannot set them", spec.Linux.Resources)
	}

	// And it is a valid config.
	spec = roundTrip(t, spec)
	if err := validateSpec("config.json", spec); err != nil {
		t.Errorf("rootless spec: %v", err)
	}
	var sys *specs.Mount
	for i := range spec.Mounts {
		if spec.Mounts[i].Destination == "/sys" {
			sys = &spec.Mounts[i]
		}
	}
	if sys == nil {
		t.Fatalf("no /sys mount")
	}
	opts, err := parseMountOptions(sys.Options)
	if err != nil || !opts.isBind(sys.Type) {
		t.Errorf("/sys is %+v, want a bind mount of the host's", sys)
	}
}
