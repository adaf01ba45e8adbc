package libcontainer

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWellFormedCapName(t *testing.T) {
	for _, name := range []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE", "CAP_FUTURE_THING", "CAP_X1"} {
		if !wellFormedCapName(name) {
			t.Errorf("%q is well formed", name)
		}
	}
	for _, name := range []string{"", "CAP_", "cap_chown", "CHOWN", "CAP_sys_admin", "CAP_SYS-ADMIN", "CAP_SYS ADMIN", " CAP_CHOWN", "CAP_CHOWN\n", "CAP_É"} {
		if wellFormedCapName(name) {
			t.Errorf("%q is not well formed", name)
		}
	}
}

func TestCheckCaps(t *testing.T) {
	// Every capability up to the kernel's last one is known.
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skip(err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	known := []string{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_READ"}
	for i, name := range []string{"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"} {
		if last >= 38+i {
			known = append(known, name)
		}
	}
	unknown, err := checkCaps("process", &specs.LinuxCapabilities{Bounding: known, Effective: known, Permitted: known, Inheritable: known, Ambient: known})
	if err != nil || len(unknown) != 0 {
		t.Errorf("checkCaps(%q) = %q, %v; want all known", known, unknown, err)
	}
	if got := capList(known); len(got) != len(known) {
		t.Errorf("capList(%q) = %v, want %d capabilities", known, got, len(known))
	}

	// Well-formed names the kernel does not know are listed once, not refused.
	c := &specs.LinuxCapabilities{
		Bounding:  []string{"CAP_KILL", "CAP_FROM_THE_FUTURE"},
		Effective: []string{"CAP_FROM_THE_FUTURE", "CAP_OTHER_NEW"},
	}
	unknown, err = checkCaps("process", c)
	if err != nil || !slices.Equal(unknown, []string{"CAP_FROM_THE_FUTURE", "CAP_OTHER_NEW"}) {
		t.Errorf("checkCaps = %q, %v; want the two new names once each", unknown, err)
	}
	if got := capList(c.Bounding); len(got) != 1 {
		t.Errorf("capList(%q) = %v, want CAP_KILL only", c.Bounding, got)
	}

	if unknown, err := checkCaps("process", nil); err != nil || unknown != nil {
		t.Errorf("checkCaps(nil) = %q, %v", unknown, err)
	}

	_, err = checkCaps("process", &specs.LinuxCapabilities{Permitted: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL", "net_admin"}})
	if err == nil || err.Error() != `process.capabilities.ambient[1]: malformed capability name "net_admin"` {
		t.Errorf("checkCaps of a malformed name = %v", err)
	}
}

func TestLoadBundleCapabilities(t *testing.T) {
	cfg := baseConfig()
	obj(cfg, "process")["capabilities"] = map[string]any{
		"bounding": []any{"CAP_KILL", "CAP_NOT_YET_INVENTED"}, "effective": []any{"CAP_KILL"},
	}
	dir, _ := makeBundle(t, marshal(t, cfg))
	if _, err := LoadBundle(dir); err != nil {
		t.Errorf("an unknown but well-formed capability must be skipped, not refused: %v", err)
	}

	cfg = baseConfig()
	obj(cfg, "process")["capabilities"] = map[string]any{"bounding": []any{"CAP_KILL"}, "permitted": []any{"CAP_KILL", "SYS_ADMIN"}}
	dir, file := makeBundle(t, marshal(t, cfg))
	_, err := LoadBundle(dir)
	checkConfigError(t, err, file, `process.capabilities.permitted[1]: malformed capability name "SYS_ADMIN"`)
}

// capLines picks the Cap* lines out of /proc/<pid>/status output.
func capLines(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Cap") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(lines, "\n")
}

func TestExecCapabilities(t *testing.T) {
	kill := []string{"CAP_KILL"}
	tests := []struct {
		name string
		uid  uint32
		caps *specs.LinuxCapabilities
		want string
	}{
		{"none for root", 0, nil,
			"CapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 0000000000000000\nCapAmb: 0000000000000000"},
		{"ambient for a user", 3999999, &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}, Effective: kill, Permitted: kill, Inheritable: kill, Ambient: kill,
		}, "CapInh: 0000000000000020\nCapPrm: 0000000000000020\nCapEff: 0000000000000020\nCapBnd: 0000000000000420\nCapAmb: 0000000000000020"},
		{"bounding limits root", 0, &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}, Effective: kill, Permitted: kill,
		}, "CapInh: 0000000000000000\nCapPrm: 0000000000000420\nCapEff: 0000000000000420\nCapBnd: 0000000000000420\nCapAmb: 0000000000000000"},
		{"unknown names skipped", 3999999, &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL", "CAP_NOT_YET_INVENTED"}, Permitted: kill, Inheritable: kill, Ambient: []string{"CAP_KILL", "CAP_NOT_YET_INVENTED"},
		}, "CapInh: 0000000000000020\nCapPrm: 0000000000000020\nCapEff: 0000000000000020\nCapBnd: 0000000000000020\nCapAmb: 0000000000000020"},
	}
	saved := Warnf
	defer func() { Warnf = saved }()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warnings []string
			Warnf = func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
			out, code := execInOwnNamespaces(t, &specs.Process{
				Args: []string{"cat", "/proc/self/status"}, Cwd: "/", Env: []string{"PATH=/usr/bin:/bin"},
				User: specs.User{UID: tt.uid, GID: tt.uid}, Capabilities: tt.caps,
			})
			if code != 0 {
				t.Fatalf("exit code %d: %s", code, out)
			}
			if got := capLines(out); got != tt.want {
				t.Errorf("capabilities\n%s\nwant\n%s", got, tt.want)
			}
			skipped := strings.Contains(tt.name, "unknown")
			if want := "process.json: process.capabilities: this kernel does not know CAP_NOT_YET_INVENTED: skipped"; skipped && !slices.Contains(warnings, want) {
				t.Errorf("warnings %q, want %q", warnings, want)
			} else if !skipped && len(warnings) != 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}
