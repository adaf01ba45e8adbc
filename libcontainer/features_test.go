package libcontainer

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Everything `features` lists must be accepted by the code that parses
// configs, and the lists must not be empty.
func TestFeaturesMatchTheParsers(t *testing.T) {
	f := Features()
	if len(f.MountOptions) == 0 || len(f.Linux.Namespaces) == 0 || len(f.Linux.Capabilities) == 0 || len(f.Hooks) != 6 {
		t.Fatalf("features has empty lists: %+v", f)
	}
	for _, opt := range f.MountOptions {
		o, err := parseMountOptions([]string{opt})
		if err != nil || len(o.data) != 0 {
			t.Errorf("mount option %q is listed but parses as %+v, %v", opt, o, err)
		}
	}
	for _, ns := range f.Linux.Namespaces {
		if _, ok := namespaceProcName[specs.LinuxNamespaceType(ns)]; !ok {
			t.Errorf("namespace %q is listed but unknown", ns)
		}
	}
	unknown, err := checkCaps("process", &specs.LinuxCapabilities{Bounding: f.Linux.Capabilities})
	if err != nil || len(unknown) != 0 {
		t.Errorf("listed capabilities are not all known: %v %v", unknown, err)
	}
	if !slices.Contains(f.Linux.Seccomp.Actions, string(specs.ActNotify)) {
		t.Errorf("seccomp actions lack SCMP_ACT_NOTIFY: %v", f.Linux.Seccomp.Actions)
	}
	for _, opt := range []string{"idmap", "ridmap"} {
		if slices.Contains(f.MountOptions, opt) {
			t.Errorf("unsupported option %q is listed", opt)
		}
	}
}
