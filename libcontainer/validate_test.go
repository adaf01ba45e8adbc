package libcontainer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateID(t *testing.T) {
	valid := []string{
		"a", "A", "0", "abc", "ABC-def_123", "a+b", "a.b", "a..b", "...", "-", "_", "+",
		"x.", ".x", strings.Repeat("a", 1024),
	}
	for _, id := range valid {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%.40q) = %v, want nil", id, err)
		}
	}
	invalid := []string{
		"", ".", "..", "a/b", "/", "../x", "x/..", "a b", " a", "a\n", "x\x00", "\x00",
		"é", "ä1", "日本", "Ａ", "a:b", "a*b", "a\\b", "$x", "a;b",
		strings.Repeat("a", 1025),
	}
	for _, id := range invalid {
		if err := ValidateID(id); err == nil {
			t.Errorf("ValidateID(%.40q) = nil, want an error", id)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("ValidateID(%.40q): error is not one line: %q", id, err)
		}
	}
}

// baseConfig is a minimal valid config.json as a generic JSON tree, so that
// tests can break it in ways the typed spec cannot express.
func baseConfig() map[string]any {
	return map[string]any{
		"ociVersion": "1.0.2",
		"root":       map[string]any{"path": "rootfs"},
		"process": map[string]any{
			"args": []any{"/bin/sh"},
			"cwd":  "/",
			"env":  []any{"PATH=/bin"},
		},
		"linux": map[string]any{
			"namespaces": []any{map[string]any{"type": "mount"}},
		},
	}
}

func obj(m map[string]any, key string) map[string]any {
	if v, ok := m[key].(map[string]any); ok {
		return v
	}
	v := map[string]any{}
	m[key] = v
	return v
}

func namespaces(types ...string) []any {
	var out []any
	for _, typ := range types {
		out = append(out, map[string]any{"type": typ})
	}
	return out
}

// makeBundle writes a bundle with a real rootfs directory and returns its
// directory and the config file name errors must start with.
func makeBundle(t *testing.T, raw []byte) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkConfigError asserts that err is a one-line error that starts with
// the config file's name and contains want.
func checkConfigError(t *testing.T, err error, file, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, file+": ") {
		t.Errorf("error %q does not start with %q", msg, file+": ")
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
}

func TestLoadBundleValid(t *testing.T) {
	dir, file := makeBundle(t, marshal(t, baseConfig()))
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.File != file {
		t.Errorf("File = %q, want %q", b.File, file)
	}
	if b.Dir != dir {
		t.Errorf("Dir = %q, want %q", b.Dir, dir)
	}
	if want := filepath.Join(dir, "rootfs"); b.Rootfs != want {
		t.Errorf("Rootfs = %q, want %q", b.Rootfs, want)
	}
	raw, _ := os.ReadFile(file)
	if string(b.Raw) != string(raw) {
		t.Errorf("Raw is not the file as read")
	}
	if b.Spec.Hooks == nil {
		t.Errorf("Spec.Hooks is nil; callers range over hook lists")
	}
	if got := b.Spec.Process.Args; len(got) != 1 || got[0] != "/bin/sh" {
		t.Errorf("Process.Args = %q", got)
	}
}

func TestLoadBundleRelativeDirAndRootfs(t *testing.T) {
	parent := t.TempDir()
	bundle := filepath.Join(parent, "bundle")
	real := filepath.Join(parent, "realroot")
	for _, d := range []string{bundle, real} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// root.path through a symlink: Rootfs is the resolved directory.
	if err := os.Symlink("../realroot", filepath.Join(bundle, "rootfs")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), marshal(t, baseConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(parent)
	b, err := LoadBundle("bundle")
	if err != nil {
		t.Fatal(err)
	}
	if b.Dir != bundle {
		t.Errorf("Dir = %q, want absolute %q", b.Dir, bundle)
	}
	if want := filepath.Join("bundle", "config.json"); b.File != want {
		t.Errorf("File = %q, want %q (as the user named it)", b.File, want)
	}
	if b.Rootfs != real {
		t.Errorf("Rootfs = %q, want %q", b.Rootfs, real)
	}
}

func TestLoadBundleAbsoluteRootfs(t *testing.T) {
	rootfs := t.TempDir()
	cfg := baseConfig()
	obj(cfg, "root")["path"] = rootfs
	dir, _ := makeBundle(t, marshal(t, cfg))
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rootfs != rootfs {
		t.Errorf("Rootfs = %q, want %q", b.Rootfs, rootfs)
	}
}

func TestLoadBundleMissingConfig(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadBundle(dir)
	checkConfigError(t, err, filepath.Join(dir, "config.json"), "no such file")
}

func TestLoadBundleRootfs(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		cfg := baseConfig()
		obj(cfg, "root")["path"] = "nope"
		dir, file := makeBundle(t, marshal(t, cfg))
		_, err := LoadBundle(dir)
		checkConfigError(t, err, file, "root.path: ")
		checkConfigError(t, err, file, `"nope"`)
		checkConfigError(t, err, file, "no such file or directory")
	})
	t.Run("file", func(t *testing.T) {
		cfg := baseConfig()
		obj(cfg, "root")["path"] = "afile"
		dir, file := makeBundle(t, marshal(t, cfg))
		if err := os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadBundle(dir)
		checkConfigError(t, err, file, `root.path: "afile" is not a directory`)
	})
	t.Run("dangling symlink", func(t *testing.T) {
		cfg := baseConfig()
		obj(cfg, "root")["path"] = "link"
		dir, file := makeBundle(t, marshal(t, cfg))
		if err := os.Symlink("nowhere", filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		_, err := LoadBundle(dir)
		checkConfigError(t, err, file, `root.path: "link"`)
	})
}

func TestLoadBundleMalformedJSON(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"syntax error on line 3", "{\n  \"ociVersion\": \"1.0.2\",\n  x\n}\n", []string{"line 3", "invalid character 'x'"}},
		{"missing colon", `{"ociVersion" "1.0.2"}`, []string{"line 1", "invalid character"}},
		{"empty file", "", []string{"unexpected end"}},
		{"truncated", "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\"args\": [\"sh\"", []string{"unexpected end"}},
		{"trailing garbage", "{\"ociVersion\": \"1.0.2\"} x", []string{"invalid"}},
		{"not an object", `["a"]`, []string{"cannot use JSON array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, file := makeBundle(t, []byte(tt.raw))
			_, err := LoadBundle(dir)
			for _, w := range tt.want {
				checkConfigError(t, err, file, w)
			}
		})
	}
}

// The column of a syntax error is the column of the offending character,
// 1-based, as editors count.
func TestParseSpecErrorPosition(t *testing.T) {
	tests := []struct {
		raw       string
		line, col string
	}{
		{"{\n  \"ociVersion\": \"1.0.2\",\n  x\n}\n", "line 3", "column 3:"},
		{`{"ociVersion" 1}`, "line 1", "column 15:"},
		{"{\n\t\"a\": tru\n}", "line 2", "column 10:"},
	}
	for _, tt := range tests {
		_, err := ParseSpec("config.json", []byte(tt.raw))
		if err == nil {
			t.Errorf("ParseSpec(%q): no error", tt.raw)
			continue
		}
		if !strings.Contains(err.Error(), tt.line+", "+tt.col) {
			t.Errorf("ParseSpec(%q) = %q, want %q", tt.raw, err, tt.line+", "+tt.col)
		}
	}
}

func TestLoadBundleWrongType(t *testing.T) {
	tests := []struct {
		name  string
		set   func(map[string]any)
		field string
	}{
		{"args is a string", func(c map[string]any) { obj(c, "process")["args"] = "sh" }, "process.args"},
		{"cwd is a number", func(c map[string]any) { obj(c, "process")["cwd"] = 1 }, "process.cwd"},
		{"root is a string", func(c map[string]any) { c["root"] = "rootfs" }, "root"},
		{"terminal is a string", func(c map[string]any) { obj(c, "process")["terminal"] = "yes" }, "process.terminal"},
		{"uid is negative", func(c map[string]any) { obj(obj(c, "process"), "user")["uid"] = -1 }, "process.user.uid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			tt.set(cfg)
			dir, file := makeBundle(t, marshal(t, cfg))
			_, err := LoadBundle(dir)
			checkConfigError(t, err, file, tt.field)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Errorf("error %#v is not a ConfigError for field %s", err, tt.field)
			}
		})
	}
}

func TestLoadBundleIgnoresUnknownProperties(t *testing.T) {
	cfg := baseConfig()
	cfg["someFutureThing"] = map[string]any{"x": []any{1, "two"}}
	cfg["vendor.example/annotation"] = true
	obj(cfg, "process")["futureField"] = "x"
	obj(cfg, "linux")["futureList"] = []any{1, 2}
	obj(cfg, "root")["extra"] = 3
	cfg["mounts"] = []any{map[string]any{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "whatever": "y"}}
	cfg["hooks"] = map[string]any{"futureHookKind": []any{map[string]any{"path": "relative"}}}
	dir, _ := makeBundle(t, marshal(t, cfg))
	if _, err := LoadBundle(dir); err != nil {
		t.Fatalf("unknown properties must be ignored, got %v", err)
	}
}

func TestLoadBundleVersion(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.0.2", "1.2.0", "1.1.0-rc.1", specs.Version} {
		cfg := baseConfig()
		cfg["ociVersion"] = v
		dir, _ := makeBundle(t, marshal(t, cfg))
		if _, err := LoadBundle(dir); err != nil {
			t.Errorf("ociVersion %q: %v", v, err)
		}
	}
	for _, v := range []string{"0.1.0", "", "2.0.0", "10.0.0", "v1.0.0"} {
		cfg := baseConfig()
		cfg["ociVersion"] = v
		dir, file := makeBundle(t, marshal(t, cfg))
		_, err := LoadBundle(dir)
		checkConfigError(t, err, file, "ociVersion: ")
	}
	cfg := baseConfig()
	delete(cfg, "ociVersion")
	dir, file := makeBundle(t, marshal(t, cfg))
	_, err := LoadBundle(dir)
	checkConfigError(t, err, file, "ociVersion: must be set")
}

func TestLoadBundleEmptyArgsExactMessage(t *testing.T) {
	for _, args := range []any{[]any{}, nil, []any{""}} {
		cfg := baseConfig()
		obj(cfg, "process")["args"] = args
		dir, file := makeBundle(t, marshal(t, cfg))
		_, err := LoadBundle(dir)
		if err == nil {
			t.Errorf("args %v: no error", args)
			continue
		}
		if want := file + ": process.args: must not be empty"; err.Error() != want {
			t.Errorf("args %v: error %q, want %q", args, err, want)
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "process.args" {
			t.Errorf("args %v: error %#v is not a ConfigError for process.args", args, err)
		}
	}
}

// validation lists configs that are wrong in exactly one way and the text
// their error must contain after the file name.
var validation = []struct {
	name string
	set  func(map[string]any)
	want string
}{
	{"no root", func(c map[string]any) { delete(c, "root") }, "root.path: must be set"},
	{"empty root.path", func(c map[string]any) { c["root"] = map[string]any{} }, "root.path: must be set"},
	{"no process", func(c map[string]any) { delete(c, "process") }, "process: must be set"},
	{"no linux", func(c map[string]any) { delete(c, "linux") }, "linux: must be set"},
	{"relative cwd", func(c map[string]any) { obj(c, "process")["cwd"] = "tmp" }, `process.cwd: "tmp" must be an absolute path`},
	{"empty cwd", func(c map[string]any) { delete(obj(c, "process"), "cwd") }, "process.cwd: "},
	{"env without =", func(c map[string]any) { obj(c, "process")["env"] = []any{"A=1", "B"} }, `process.env[1]: "B" is not KEY=VALUE`},
	{"console too wide", func(c map[string]any) {
		obj(c, "process")["consoleSize"] = map[string]any{"height": 24, "width": 65536}
	}, "process.consoleSize.width: 65536 is above 65535"},
	{"console too high", func(c map[string]any) {
		obj(c, "process")["consoleSize"] = map[string]any{"height": 1 << 20, "width": 80}
	}, "process.consoleSize.height: 1048576 is above 65535"},

	{"unknown namespace", func(c map[string]any) { obj(c, "linux")["namespaces"] = namespaces("mount", "foo") },
		`linux.namespaces[1].type: unknown namespace type "foo"`},
	{"duplicate namespace", func(c map[string]any) { obj(c, "linux")["namespaces"] = namespaces("pid", "mount", "pid") },
		`linux.namespaces[2].type: namespace "pid" is listed twice`},
	{"no mount namespace", func(c map[string]any) { obj(c, "linux")["namespaces"] = namespaces("pid", "network") },
		"linux.namespaces: a mount namespace is required"},
	{"no namespaces", func(c map[string]any) { delete(obj(c, "linux"), "namespaces") },
		"linux.namespaces: a mount namespace is required"},
	{"relative namespace path", func(c map[string]any) {
		obj(c, "linux")["namespaces"] = []any{map[string]any{"type": "mount"}, map[string]any{"type": "network", "path": "proc/1/ns/net"}}
	}, `linux.namespaces[1].path: "proc/1/ns/net" must be an absolute path`},
	{"uidMappings without user ns", func(c map[string]any) {
		obj(c, "linux")["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 1000, "size": 1}}
	}, "linux.uidMappings: mappings need a user namespace"},
	{"gidMappings without user ns", func(c map[string]any) {
		obj(c, "linux")["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 1000, "size": 1}}
	}, "mappings need a user namespace"},
	{"new user ns without mappings", func(c map[string]any) { obj(c, "linux")["namespaces"] = namespaces("mount", "user") },
		"linux.uidMappings: a new user namespace needs uidMappings and gidMappings"},
	{"new user ns without gidMappings", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = namespaces("mount", "user")
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 1000, "size": 1}}
	}, "a new user namespace needs uidMappings and gidMappings"},
	{"timeOffsets without time ns", func(c map[string]any) {
		obj(c, "linux")["timeOffsets"] = map[string]any{"monotonic": map[string]any{"secs": 1}}
	}, "linux.timeOffsets: offsets need a time namespace"},
	{"unknown clock", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = namespaces("mount", "time")
		l["timeOffsets"] = map[string]any{"realtime": map[string]any{"secs": 1}}
	}, `linux.timeOffsets: unknown clock "realtime"`},
	{"hostname without uts", func(c map[string]any) { c["hostname"] = "box" }, "hostname: setting the hostname needs a uts namespace"},
	{"domainname without uts", func(c map[string]any) { c["domainname"] = "example.org" }, "domainname: "},

	{"net sysctl without netns", func(c map[string]any) {
		obj(c, "linux")["sysctl"] = map[string]any{"net.ipv4.ip_forward": "1"}
	}, "linux.sysctl.net.ipv4.ip_forward: needs a network namespace"},
	{"shm sysctl without ipc", func(c map[string]any) {
		obj(c, "linux")["sysctl"] = map[string]any{"kernel.shmmax": "1"}
	}, "linux.sysctl.kernel.shmmax: needs an ipc namespace"},
	{"mqueue sysctl without ipc", func(c map[string]any) {
		obj(c, "linux")["sysctl"] = map[string]any{"fs.mqueue.msg_max": "1"}
	}, "linux.sysctl.fs.mqueue.msg_max: needs an ipc namespace"},
	{"kernel.hostname without uts", func(c map[string]any) {
		obj(c, "linux")["sysctl"] = map[string]any{"kernel.hostname": "x"}
	}, "linux.sysctl.kernel.hostname: needs a uts namespace"},
	{"host sysctl", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = namespaces("mount", "network", "ipc", "uts", "pid", "user", "cgroup")
		l["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 1000, "size": 1}}
		l["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 1000, "size": 1}}
		l["sysctl"] = map[string]any{"vm.swappiness": "10"}
	}, "linux.sysctl.vm.swappiness: not a namespaced sysctl"},
	{"sysctl escaping /proc/sys", func(c map[string]any) {
		l := obj(c, "linux")
		l["namespaces"] = namespaces("mount", "network")
		l["sysctl"] = map[string]any{"net.ipv4/../x": "1"}
	}, "linux.sysctl.net.ipv4/../x: invalid name"},

	{"unknown rlimit", func(c map[string]any) {
		obj(c, "process")["rlimits"] = []any{map[string]any{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}}
	}, `process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"`},
	{"lowercase rlimit", func(c map[string]any) {
		obj(c, "process")["rlimits"] = []any{map[string]any{"type": "rlimit_nofile", "soft": 1, "hard": 1}}
	}, `process.rlimits[0].type: unknown rlimit "rlimit_nofile"`},
	{"duplicate rlimit", func(c map[string]any) {
		obj(c, "process")["rlimits"] = []any{
			map[string]any{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
			map[string]any{"type": "RLIMIT_CORE", "soft": 1, "hard": 1},
			map[string]any{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2},
		}
	}, "process.rlimits[2].type: RLIMIT_NOFILE is set twice"},
	{"soft above hard", func(c map[string]any) {
		obj(c, "process")["rlimits"] = []any{map[string]any{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}}
	}, "process.rlimits[0]: soft limit 2048 is above hard limit 1024"},
	{"soft one above hard", func(c map[string]any) {
		obj(c, "process")["rlimits"] = []any{map[string]any{"type": "RLIMIT_CORE", "soft": 11, "hard": 10}}
	}, "process.rlimits[0]: soft limit 11 is above hard limit 10"},

	{"device with bad type", func(c map[string]any) {
		obj(c, "linux")["devices"] = []any{map[string]any{"path": "/dev/x", "type": "x", "major": 1, "minor": 3}}
	}, `linux.devices[0].type: unknown device type "x"`},
	{"device with empty type", func(c map[string]any) {
		obj(c, "linux")["devices"] = []any{map[string]any{"path": "/dev/x", "major": 1, "minor": 3}}
	}, "linux.devices[0].type: "},
	{"device with relative path", func(c map[string]any) {
		obj(c, "linux")["devices"] = []any{
			map[string]any{"path": "/dev/ok", "type": "c", "major": 1, "minor": 3},
			map[string]any{"path": "dev/null", "type": "c", "major": 1, "minor": 3},
		}
	}, `linux.devices[1].path: "dev/null" must be an absolute path`},
	{"relative masked path", func(c map[string]any) { obj(c, "linux")["maskedPaths"] = []any{"proc/kcore"} }, `"proc/kcore" must be an absolute path`},
	{"relative readonly path", func(c map[string]any) { obj(c, "linux")["readonlyPaths"] = []any{"proc/sys"} }, `"proc/sys" must be an absolute path`},
	{"unknown rootfs propagation", func(c map[string]any) { obj(c, "linux")["rootfsPropagation"] = "sideways" },
		`linux.rootfsPropagation: unknown propagation "sideways"`},

	{"bind mount with unknown option", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"destination": "/data", "type": "bind", "source": "/tmp", "options": []any{"rbind", "ro", "foo"}}}
	}, `mounts[0].options: unknown option "foo" for a bind mount`},
	{"rbind mount with an unknown flag after data", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"destination": "/data", "type": "none", "source": "/tmp", "options": []any{"rbind", "mode=755", "nosuchflag"}}}
	}, `mounts[0].options: unknown option "nosuchflag" for a bind mount`},
	{"bind mount without source", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"destination": "/data", "type": "bind", "options": []any{"rbind"}}}
	}, "mounts[0].source: "},
	{"non-bind mount without type", func(c map[string]any) {
		c["mounts"] = []any{
			map[string]any{"destination": "/proc", "type": "proc", "source": "proc"},
			map[string]any{"destination": "/tmp", "source": "tmpfs", "options": []any{"nosuid"}},
		}
	}, "mounts[1].type: must be set"},
	{"mount without destination", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"type": "tmpfs", "source": "tmpfs"}}
	}, "mounts[0].destination: must be set"},
	{"tmpcopyup on a bind mount", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"destination": "/data", "type": "bind", "source": "/tmp", "options": []any{"rbind", "tmpcopyup"}}}
	}, `mounts[0].options: option "tmpcopyup" is only for tmpfs mounts`},
	{"tmpcopyup on a proc mount", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"destination": "/proc", "type": "proc", "source": "proc", "options": []any{"tmpcopyup"}}}
	}, `mounts[0].options: option "tmpcopyup" is only for tmpfs mounts`},
	{"idmap", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"destination": "/data", "type": "bind", "source": "/tmp", "options": []any{"rbind", "idmap"}}}
	}, `mounts[0].options: option "idmap"`},
	{"empty option", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []any{""}}}
	}, "mounts[0].options: "},
	{"option with comma", func(c map[string]any) {
		c["mounts"] = []any{map[string]any{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []any{"size=1k,mode=700"}}}
	}, "mounts[0].options: "},

	{"relative hook path", func(c map[string]any) {
		c["hooks"] = map[string]any{"poststop": []any{map[string]any{"path": "/bin/true"}, map[string]any{"path": "true"}}}
	}, `hooks.poststop[1].path: "true" must be an absolute path`},
	{"zero hook timeout", func(c map[string]any) {
		c["hooks"] = map[string]any{"createRuntime": []any{map[string]any{"path": "/bin/true", "timeout": 0}}}
	}, "hooks.createRuntime[0].timeout: must be positive, got 0"},
	{"negative hook timeout", func(c map[string]any) {
		c["hooks"] = map[string]any{"startContainer": []any{map[string]any{"path": "/bin/true", "timeout": -5}}}
	}, "hooks.startContainer[0].timeout: must be positive, got -5"},
}

func TestLoadBundleValidation(t *testing.T) {
	for _, tt := range validation {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			tt.set(cfg)
			dir, file := makeBundle(t, marshal(t, cfg))
			_, err := LoadBundle(dir)
			checkConfigError(t, err, file, tt.want)
			var ce *ConfigError
			if err != nil && !errors.As(err, &ce) {
				t.Errorf("error %#v is not a *ConfigError", err)
			}
		})
	}
}

// Configs that are close to the invalid ones above but correct.
func TestLoadBundleAccepts(t *testing.T) {
	mapping := []any{map[string]any{"containerID": 0, "hostID": 1000, "size": 65536}}
	tests := []struct {
		name string
		set  func(map[string]any)
	}{
		{"all namespaces", func(c map[string]any) {
			l := obj(c, "linux")
			l["namespaces"] = namespaces("pid", "network", "ipc", "uts", "mount", "user", "cgroup", "time")
			l["uidMappings"], l["gidMappings"] = mapping, mapping
		}},
		{"joined user ns needs no mappings", func(c map[string]any) {
			obj(c, "linux")["namespaces"] = []any{map[string]any{"type": "mount"}, map[string]any{"type": "user", "path": "/proc/1/ns/user"}}
		}},
		{"time offsets", func(c map[string]any) {
			l := obj(c, "linux")
			l["namespaces"] = namespaces("mount", "time")
			l["timeOffsets"] = map[string]any{"monotonic": map[string]any{"secs": 10}, "boottime": map[string]any{"secs": -3, "nanosecs": 5}}
		}},
		{"hostname with uts", func(c map[string]any) {
			c["hostname"], c["domainname"] = "box", "example.org"
			obj(c, "linux")["namespaces"] = namespaces("mount", "uts")
		}},
		{"namespaced sysctls", func(c map[string]any) {
			l := obj(c, "linux")
			l["namespaces"] = namespaces("mount", "network", "ipc", "uts")
			l["sysctl"] = map[string]any{
				"net.ipv4.ip_forward": "1", "net.core.somaxconn": "1024", "kernel.shmmax": "1", "kernel.shm_rmid_forced": "1",
				"kernel.msgmax": "1", "kernel.sem": "1 2 3 4", "fs.mqueue.msg_max": "10", "kernel.hostname": "x", "kernel.domainname": "y",
			}
		}},
		{"rlimits", func(c map[string]any) {
			obj(c, "process")["rlimits"] = []any{
				map[string]any{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
				map[string]any{"type": "RLIMIT_CORE", "soft": 0, "hard": 10},
			}
		}},
		{"devices", func(c map[string]any) {
			obj(c, "linux")["devices"] = []any{
				map[string]any{"path": "/dev/a", "type": "c", "major": 1, "minor": 3},
				map[string]any{"path": "/dev/b", "type": "b", "major": 7, "minor": 0},
				map[string]any{"path": "/dev/c", "type": "u", "major": 1, "minor": 5},
				map[string]any{"path": "/dev/d", "type": "p"},
			}
		}},
		{"mounts", func(c map[string]any) {
			c["mounts"] = []any{
				map[string]any{"destination": "/proc", "type": "proc", "source": "proc"},
				map[string]any{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []any{"nosuid", "size=64k", "mode=1777"}},
				map[string]any{"destination": "/a", "type": "bind", "source": "/tmp", "options": []any{"ro", "rprivate"}},
				map[string]any{"destination": "/b", "source": "/tmp", "options": []any{"rbind", "rro", "nosuid"}},
				map[string]any{"destination": "/c", "type": "none", "source": "/tmp", "options": []any{"bind"}},
			}
		}},
		{"hooks", func(c map[string]any) {
			c["hooks"] = map[string]any{
				"createRuntime": []any{map[string]any{"path": "/bin/true", "timeout": 1}},
				"poststop":      []any{map[string]any{"path": "/bin/true", "args": []any{"true", "x"}, "env": []any{"A=B"}}},
			}
		}},
		{"rootfs propagation", func(c map[string]any) { obj(c, "linux")["rootfsPropagation"] = "rslave" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			tt.set(cfg)
			dir, _ := makeBundle(t, marshal(t, cfg))
			if _, err := LoadBundle(dir); err != nil {
				t.Fatalf("want no error, got %v", err)
			}
		})
	}
}

// The same config must always produce the same error, whatever order Go
// iterates maps in.
func TestValidateSpecDeterministic(t *testing.T) {
	tests := []struct {
		name string
		set  func(map[string]any)
	}{
		{"bad sysctls", func(c map[string]any) {
			obj(c, "linux")["sysctl"] = map[string]any{"vm.a": "1", "vm.b": "1", "vm.c": "1", "vm.d": "1"}
		}},
		{"bad hooks of several kinds", func(c map[string]any) {
			c["hooks"] = map[string]any{
				"prestart": []any{map[string]any{"path": "a"}}, "poststop": []any{map[string]any{"path": "b"}},
				"poststart": []any{map[string]any{"path": "c"}}, "createContainer": []any{map[string]any{"path": "d"}},
			}
		}},
		{"unknown clocks", func(c map[string]any) {
			l := obj(c, "linux")
			l["namespaces"] = namespaces("mount", "time")
			l["timeOffsets"] = map[string]any{"x": map[string]any{}, "y": map[string]any{}, "z": map[string]any{}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			tt.set(cfg)
			spec, err := ParseSpec("config.json", marshal(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for range 50 {
				if err := validateSpec("config.json", spec); err == nil {
					t.Fatal("no error")
				} else {
					seen[err.Error()] = true
				}
			}
			if len(seen) != 1 {
				t.Errorf("one config gave %d different errors: %q", len(seen), keys(seen))
			}
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Keys taken from the config end up in the message; they must not break
// the one-line rule.
func TestValidateErrorOneLineWithOddKeys(t *testing.T) {
	cfg := baseConfig()
	obj(cfg, "linux")["sysctl"] = map[string]any{"vm.a\nb": "1"}
	spec, err := ParseSpec("config.json", marshal(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	checkConfigError(t, validateSpec("config.json", spec), "config.json", "linux.sysctl.")
}

// Offsets can only be set on a time namespace nobody has entered yet:
// nsenter fails to write them into a joined one ("write
// /proc/self/timens_offsets: Permission denied"), so the config is wrong.
func TestLoadBundleTimeOffsetsWithJoinedTimeNamespace(t *testing.T) {
	cfg := baseConfig()
	l := obj(cfg, "linux")
	l["namespaces"] = []any{map[string]any{"type": "mount"}, map[string]any{"type": "time", "path": "/proc/1/ns/time"}}
	l["timeOffsets"] = map[string]any{"monotonic": map[string]any{"secs": 10}}
	dir, file := makeBundle(t, marshal(t, cfg))
	_, err := LoadBundle(dir)
	checkConfigError(t, err, file, "time")
}
