package tests

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Each bad input makes create and run fail with a non-zero status and a
// one-line error naming the file or field, and leaves nothing behind.
// Duplicate and invalid IDs are covered by TestDuplicateID and TestInvalidID.
func TestBadInput(t *testing.T) {
	requireRoot(t)
	configFile := func(content func(valid string) string) func(*testing.T, *bundle) {
		return func(t *testing.T, b *bundle) {
			path := filepath.Join(b.dir, "config.json")
			writeFile(t, path, content(readFile(t, path)), 0o644)
		}
	}
	cases := []struct {
		name      string
		spec      func(*specs.Spec)
		bundle    func(*testing.T, *bundle)
		words     []string // the error names at least one
		runcTakes bool     // runc 1.1 accepts this input: husk-only case
	}{
		{name: "malformed-json", words: []string{"config.json"},
			bundle: configFile(func(string) string { return "{not json" })},
		{name: "truncated-json", words: []string{"config.json"},
			bundle: configFile(func(v string) string { return v[:len(v)/2] })},
		{name: "unsupported-ociVersion", words: []string{"ociVersion", "0.1.0"}, runcTakes: true,
			spec: func(s *specs.Spec) { s.Version = "0.1.0" }},
		{name: "missing-rootfs", words: []string{"root.path", "rootfs"},
			bundle: func(t *testing.T, b *bundle) {
				if err := os.RemoveAll(b.rootfs); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "rootfs-is-a-file", words: []string{"root.path", "rootfs"},
			bundle: func(t *testing.T, b *bundle) {
				if err := os.RemoveAll(b.rootfs); err != nil {
					t.Fatal(err)
				}
				writeFile(t, b.rootfs, "not a directory", 0o644)
			}},
		{name: "missing-executable", words: []string{"/nonexistent", "process.args"},
			spec: func(s *specs.Spec) { s.Process.Args = []string{"/nonexistent"} }},
		{name: "empty-args", words: []string{"process.args"},
			spec: func(s *specs.Spec) { s.Process.Args = []string{} }},
		{name: "unknown-namespace", words: []string{"namespace", "foo"},
			spec: func(s *specs.Spec) { setNamespace(s, specs.LinuxNamespace{Type: "foo"}) }},
		{name: "unknown-mount-type", words: []string{"nosuchfs", "mounts"},
			spec: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "nosuchfs", Source: "none"})
			}},
		{name: "unknown-bind-option", words: []string{"nosuchopt"}, runcTakes: true,
			spec: func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/tmp", "/mnt", "nosuchopt")) }},
		{name: "failing-hook", words: []string{"hook", "createRuntime"},
			spec: func(s *specs.Spec) {
				setHook(s, "createRuntime", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 1"}})
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.runcTakes {
				skipIfRunc(t, "runc 1.1 accepts this input")
			}
			s := baseSpec("true")
			if tc.spec != nil {
				tc.spec(s)
			}
			for _, cmd := range []string{"create", "run"} {
				c := e.newContainer(s)
				if tc.bundle != nil {
					tc.bundle(t, c.b)
				}
				r := mustFail(t, c.husk(cmd))
				checkErrorMessage(t, r, tc.words...)
				c.assertGone()
			}
		})
	}
}
