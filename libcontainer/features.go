package libcontainer

import (
	"maps"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/syndtr/gocapability/capability"

	"husk/seccomp"
)

// Features describes what this husk implements, for `husk features`. Each
// list comes from the tables the code itself uses, so it cannot drift.
func Features() *features.Features {
	yes, no := true, false
	var hooks []string
	for _, l := range hookLists(&specs.Hooks{}) {
		hooks = append(hooks, l.name)
	}
	options := slices.Concat(
		slices.Collect(maps.Keys(mountFlagOptions)), slices.Collect(maps.Keys(propagationFlags)),
		slices.Collect(maps.Keys(recursiveAttrOptions)), slices.Collect(maps.Keys(recursiveAtimeOptions)),
		[]string{copyUpOption},
	)
	slices.Sort(options)
	var namespaces []string
	for ns := range namespaceProcName {
		namespaces = append(namespaces, string(ns))
	}
	slices.Sort(namespaces)
	var caps []string
	for _, c := range capability.List() {
		if c <= capability.CAP_LAST_CAP {
			caps = append(caps, "CAP_"+strings.ToUpper(c.String()))
		}
	}
	actions, operators, archs, flags := seccomp.Supported()
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         hooks,
		MountOptions:  options,
		Linux: &features.Linux{
			Namespaces:   namespaces,
			Capabilities: caps,
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &yes},
			Seccomp: &features.Seccomp{
				Enabled: &yes, Actions: actions, Operators: operators, Archs: archs,
				KnownFlags: flags, SupportedFlags: seccomp.SupportedFlags(),
			},
			// Labels are applied where the host runs the LSM (see lsm.go).
			Apparmor:        &features.Apparmor{Enabled: &yes},
			Selinux:         &features.Selinux{Enabled: &yes},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}},
		},
	}
}
