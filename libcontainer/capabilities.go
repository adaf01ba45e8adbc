package libcontainer

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/syndtr/gocapability/capability"
	"golang.org/x/sys/unix"
)

// capByName maps "CAP_SYS_ADMIN" to its number, for every capability the
// library knows; built on first use.
var capByName = sync.OnceValue(func() map[string]capability.Cap {
	m := make(map[string]capability.Cap)
	for _, c := range capability.List() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
})

func wellFormedCapName(name string) bool {
	rest, ok := strings.CutPrefix(name, "CAP_")
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// capSets lists a config's capability sets with their field names.
func capSets(c *specs.LinuxCapabilities) []struct {
	field string
	names []string
} {
	return []struct {
		field string
		names []string
	}{
		{"bounding", c.Bounding}, {"effective", c.Effective}, {"permitted", c.Permitted},
		{"inheritable", c.Inheritable}, {"ambient", c.Ambient},
	}
}

// checkCaps returns an error for a malformed name and the well-formed names
// this kernel does not know, which are skipped (configs written for newer
// kernels still run).
func checkCaps(field string, c *specs.LinuxCapabilities) (unknown []string, err error) {
	if c == nil {
		return nil, nil
	}
	for _, set := range capSets(c) {
		for i, name := range set.names {
			if !wellFormedCapName(name) {
				return nil, fmt.Errorf("%s.capabilities.%s[%d]: malformed capability name %q", field, set.field, i, name)
			}
			if cp, ok := capByName()[name]; !ok || cp > capability.CAP_LAST_CAP {
				if !slices.Contains(unknown, name) {
					unknown = append(unknown, name)
				}
			}
		}
	}
	return unknown, nil
}

func capList(names []string) []capability.Cap {
	var out []capability.Cap
	for _, n := range names {
		if c, ok := capByName()[n]; ok && c <= capability.CAP_LAST_CAP {
			out = append(out, c)
		}
	}
	return out
}

// capState applies process.capabilities in two steps around the uid/gid
// switch. A nil config means no capabilities at all, as in runc.
type capState struct {
	caps    capability.Capabilities
	ambient []capability.Cap
}

// limitBounding drops what is not in the bounding set and makes the
// permitted set survive the switch to a non-root uid. It must run on the
// thread that will exec.
func limitBounding(c *specs.LinuxCapabilities) (*capState, error) {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	caps, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	caps.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	caps.Set(capability.BOUNDING, capList(c.Bounding)...)
	caps.Set(capability.EFFECTIVE, capList(c.Effective)...)
	caps.Set(capability.PERMITTED, capList(c.Permitted)...)
	caps.Set(capability.INHERITABLE, capList(c.Inheritable)...)
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return nil, fmt.Errorf("process.capabilities.bounding: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("keep capabilities: %w", err)
	}
	return &capState{caps: caps, ambient: capList(c.Ambient)}, nil
}

// apply sets the effective, permitted, inheritable and ambient sets once
// the process has its final uid.
func (s *capState) apply() error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("reset keep capabilities: %w", err)
	}
	if err := s.caps.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("process.capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("process.capabilities.ambient: %w", err)
	}
	for _, c := range s.ambient {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("process.capabilities.ambient: raise CAP_%s (it must be permitted and inheritable): %w", strings.ToUpper(c.String()), err)
		}
	}
	return nil
}
