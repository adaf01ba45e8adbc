package libcontainer

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/internal/fuzzcheck"
)

// FuzzParseSpec decodes and validates config.json as create does (all but
// the rootfs lookup). Every "@" string of the document is replaced by the
// second input, JSON-encoded, so that any string (control characters,
// "/", "..") reaches many fields at once. An accepted config must survive
// a round trip through JSON and still validate; every error is one line.
func FuzzParseSpec(f *testing.F) {
	good, err := json.Marshal(DefaultSpec())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "")
	// Each field below holds a user string that an error message can echo.
	placeholders := `{"ociVersion": "1.2.0", "root": {"path": "@"}, "hostname": "@",
	  "process": {"args": ["@"], "cwd": "@", "env": ["@"], "rlimits": [{"type": "@", "soft": 1, "hard": 1}, {"type": "@", "soft": 1, "hard": 1}],
	    "capabilities": {"bounding": ["@"], "ambient": ["@"]}, "scheduler": {"policy": "@", "flags": ["@"]},
	    "ioPriority": {"class": "@"}, "execCPUAffinity": {"initial": "@"}, "apparmorProfile": "@"},
	  "mounts": [{"destination": "@", "type": "@", "source": "@", "options": ["@"]}, {"destination": "/b", "type": "bind", "options": ["@"]}],
	  "hooks": {"prestart": [{"path": "@"}], "poststop": [{"path": "/bin/true", "timeout": -1}]},
	  "linux": {"namespaces": [{"type": "mount"}, {"type": "@"}, {"type": "time", "path": "@"}, {"type": "network", "path": "@"}],
	    "timeOffsets": {"@": {"secs": 1}}, "sysctl": {"@": "1"}, "personality": {"domain": "@"},
	    "rootfsPropagation": "@", "maskedPaths": ["@"], "readonlyPaths": ["@"],
	    "devices": [{"path": "@", "type": "@"}],
	    "resources": {"unified": {"@": "@"}, "devices": [{"allow": true, "type": "@", "access": "@"}],
	      "cpu": {"cpus": "@"}, "hugepageLimits": [{"pageSize": "@"}], "network": {"priorities": [{"name": "@"}]}, "rdma": {"@": {}}},
	    "seccomp": {"defaultAction": "@", "architectures": ["@"], "flags": ["@"],
	      "syscalls": [{"names": ["@"], "action": "@", "args": [{"index": 0, "op": "@"}]}]}}}`
	for _, s := range []string{"a\nb", "/proc/1/ns/x\n\x1b[2J", "..", "a/../b", "RLIMIT_NOFILE", "é", "\x00"} {
		f.Add([]byte(placeholders), s)
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"ociVersion": "1.0.2"`, `{"ociVersion": 1}`,
		`{"ociVersion": "2.0.0", "root": {"path": "r"}}`,
		`{"ociVersion": "1.2.0", "annotations": {"a": 1}}`,
		`{"ociVersion": "1.2.0", "mounts": [{"destination": "/x", "type": "bind", "options": ["rbind", "size=1"]}]}`,
	} {
		f.Add([]byte(s), "")
	}
	f.Fuzz(func(t *testing.T, raw []byte, s string) {
		if s != "" {
			quoted, err := json.Marshal(s)
			if err != nil {
				return
			}
			raw = bytes.ReplaceAll(raw, []byte(`"@"`), quoted)
		}
		spec, err := ParseSpec("config.json", raw)
		if err != nil {
			fuzzcheck.OneLine(t, "ParseSpec", err)
			return
		}
		// Only the first error is shown, but each must be fit to be.
		errs := specErrors("config.json", spec)
		for _, err := range errs {
			fuzzcheck.OneLine(t, "validateSpec", err)
		}
		if len(errs) > 0 {
			return
		}
		again, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("an accepted config does not encode: %v", err)
		}
		spec2, err := ParseSpec("config.json", again)
		if err != nil {
			t.Fatalf("an accepted config, encoded again, does not parse: %v\n%s", err, again)
		}
		if err := validateSpec("config.json", spec2); err != nil {
			t.Fatalf("an accepted config, encoded again, does not validate: %v\n%s", err, again)
		}
	})
}

// FuzzValidateID: an accepted ID is one path element below the state root,
// whatever the root.
func FuzzValidateID(f *testing.F) {
	for _, id := range []string{"a", "ctr-1_x+y.z", ".", "..", "...", "a/b", "../x", "x\x00", "é", "a\nb", "", strings.Repeat("a", 1025)} {
		f.Add(id)
	}
	root := filepath.Join(f.TempDir(), "state")
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateID(id)
		fuzzcheck.OneLine(t, "ValidateID", err)
		dir, derr := containerDir(root, id)
		if (err == nil) != (derr == nil) {
			t.Fatalf("ValidateID says %v, containerDir %v", err, derr)
		}
		if err != nil {
			return
		}
		if strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
			t.Fatalf("accepted ID %q can name another directory", id)
		}
		if filepath.Dir(dir) != root || filepath.Base(dir) != id {
			t.Fatalf("ID %q joins to %q, not a directory right below %q", id, dir, root)
		}
	})
}

// FuzzParseMountOptions takes a "|"-separated option list. Data options must
// survive the "," join for mount(2); the later of opposite options wins.
func FuzzParseMountOptions(f *testing.F) {
	for _, s := range []string{
		"rbind|ro|nosuid|rprivate", "size=65536k|mode=755", "rro|rrw|rnoatime", "ro|rw", "rw|ro",
		"a,b", "", "|", "tmpcopyup", "idmap", "bind|uid=1", "rnoatime|rstrictatime|ratime", "x\x00y",
	} {
		f.Add(s)
	}
	var allFlags uintptr
	for _, o := range mountFlagOptions {
		allFlags |= o.flag
	}
	f.Fuzz(func(t *testing.T, s string) {
		opts := strings.Split(s, "|")
		o, err := parseMountOptions(opts)
		fuzzcheck.OneLine(t, "parseMountOptions", err)
		if err != nil {
			return
		}
		if o.flags&^allFlags != 0 {
			t.Fatalf("%q: flags %#x outside the known ones", opts, o.flags)
		}
		if both := o.attrSet & o.attrClr &^ unix.MOUNT_ATTR__ATIME; both != 0 {
			t.Fatalf("%q: attributes %#x both set and cleared", opts, both)
		}
		for _, d := range o.data {
			if d == "" || strings.ContainsAny(d, ",\x00") {
				t.Fatalf("%q: data option %q does not survive the join for mount(2)", opts, d)
			}
		}
		if o2, _ := parseMountOptions(append(opts, "rw")); o2.flags&unix.MS_RDONLY != 0 {
			t.Fatalf("%q then rw: still read-only", opts)
		}
		if o2, _ := parseMountOptions(append(opts, "ro")); o2.flags&unix.MS_RDONLY == 0 {
			t.Fatalf("%q then ro: not read-only", opts)
		}
		if o2, _ := parseMountOptions(append(opts, "rro")); o2.attrSet&unix.MOUNT_ATTR_RDONLY == 0 || o2.attrClr&unix.MOUNT_ATTR_RDONLY != 0 {
			t.Fatalf("%q then rro: set %#x clear %#x", opts, o2.attrSet, o2.attrClr)
		}
	})
}

// FuzzNames: rlimit and capability names as process.rlimits and
// process.capabilities take them.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"RLIMIT_NOFILE", "rlimit_nofile", "RLIMIT_", "CAP_SYS_ADMIN", "CAP_", "cap_kill", "CAP_FOO_2", "CAP_\n", "CAP_LAST_CAP", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, err := rlimitResource(name)
		fuzzcheck.OneLine(t, "rlimitResource", err)
		if err == nil && (!strings.HasPrefix(name, "RLIMIT_") || r < 0 || r > unix.RLIMIT_RTTIME) {
			t.Fatalf("rlimit %q accepted as resource %d", name, r)
		}
		caps := &specs.LinuxCapabilities{Bounding: []string{name}, Ambient: []string{"CAP_KILL", name}}
		unknown, err := checkCaps("process", caps)
		fuzzcheck.OneLine(t, "checkCaps", err)
		if err != nil {
			if wellFormedCapName(name) {
				t.Fatalf("well-formed capability %q refused: %v", name, err)
			}
			return
		}
		if !wellFormedCapName(name) {
			t.Fatalf("malformed capability %q accepted", name)
		}
		known := capList([]string{name})
		switch {
		case len(unknown) == 0 && len(known) != 1:
			t.Fatalf("%q is neither unknown nor in the capability list", name)
		case len(unknown) == 1 && (unknown[0] != name || len(known) != 0):
			t.Fatalf("%q: unknown %q, known %v", name, unknown, known)
		case len(unknown) > 1:
			t.Fatalf("%q: unknown lists %q", name, unknown)
		}
		if len(known) == 1 && "CAP_"+strings.ToUpper(known[0].String()) != name {
			t.Fatalf("%q maps to %v", name, known[0])
		}
	})
}
