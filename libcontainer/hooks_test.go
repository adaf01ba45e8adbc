package libcontainer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func testState() specs.State {
	return specs.State{
		Version: specs.Version, ID: "hooked", Status: specs.StateCreating, Pid: 4242, Bundle: "/b",
		Annotations: map[string]string{"a": "b"},
	}
}

func shHook(script string, args ...string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: append([]string{"sh", "-c", script, "sh"}, args...)}
}

func TestRunHooksStdinArgsEnv(t *testing.T) {
	t.Setenv("HUSK_TEST_LEAK", "1")
	dir := t.TempDir()
	h := specs.Hook{
		Path: "/bin/sh",
		Args: []string{"argv0-name", "-c", `cat > "$OUT/stdin"; printf '%s|' "$0" "$@" > "$OUT/args"; env > "$OUT/env"`, "myzero", "x y", "", "z"},
		Env:  []string{"OUT=" + dir, "FOO=bar baz"},
	}
	if err := runHooks("createRuntime", []specs.Hook{h}, testState()); err != nil {
		t.Fatal(err)
	}
	var st specs.State
	data, err := os.ReadFile(filepath.Join(dir, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("stdin %q is not the state JSON: %v", data, err)
	}
	want := testState()
	if st.ID != want.ID || st.Pid != want.Pid || st.Status != want.Status || st.Bundle != want.Bundle ||
		st.Version != want.Version || st.Annotations["a"] != "b" {
		t.Errorf("hook read state %+v, want %+v", st, want)
	}
	if args, _ := os.ReadFile(filepath.Join(dir, "args")); string(args) != "myzero|x y||z|" {
		t.Errorf("hook args %q, want %q", args, "myzero|x y||z|")
	}
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	lines := strings.Split(string(env), "\n")
	if !slices.Contains(lines, "FOO=bar baz") || !slices.Contains(lines, "OUT="+dir) {
		t.Errorf("hook env %q lacks the hook's variables", env)
	}
	if strings.Contains(string(env), "HUSK_TEST_LEAK") {
		t.Errorf("hook env %q holds husk's own environment", env)
	}
}

func TestRunHooksArgv0DefaultsToPath(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hook")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s|' \"$0\" \"$#\" > \""+dir+"/out\"\nenv > \""+dir+"/env\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUSK_TEST_LEAK", "1")
	if err := runHooks("poststart", []specs.Hook{{Path: script}}, testState()); err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(filepath.Join(dir, "out")); string(out) != script+"|0|" {
		t.Errorf("hook without args saw $0 and $# as %q, want %q", out, script+"|0|")
	}
	if env, _ := os.ReadFile(filepath.Join(dir, "env")); strings.Contains(string(env), "HUSK_TEST_LEAK") {
		t.Errorf("a hook without env got husk's environment: %q", env)
	}
}

func TestRunHooksInOrderStopsAtFailure(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	hooks := []specs.Hook{
		shHook(`echo one >> "$1"`, log),
		shHook(`echo two >> "$1"`, log),
		shHook(`echo "first line of trouble"; echo boom >&2; exit 3`),
		shHook(`echo four >> "$1"`, log),
	}
	err := runHooks("poststop", hooks, testState())
	if err == nil {
		t.Fatal("no error from a failing hook")
	}
	msg := err.Error()
	for _, want := range []string{"hooks.poststop[2]", "/bin/sh", "exit status 3", "first line of trouble", "boom"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if !strings.HasPrefix(msg, "hooks.poststop[2]") {
		t.Errorf("error %q does not start with the hook's field", msg)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error %q is not one line", msg)
	}
	if got, _ := os.ReadFile(log); string(got) != "one\ntwo\n" {
		t.Errorf("hooks ran %q, want one and two only, in order", got)
	}
}

func TestRunHooksLongOutput(t *testing.T) {
	err := runHooks("createContainer", []specs.Hook{shHook(`i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done; exit 1`)}, testState())
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "\n") || len(err.Error()) > 400 {
		t.Errorf("error is %d bytes over several lines: %q", len(err.Error()), err)
	}
}

func TestRunHooksMissingExecutable(t *testing.T) {
	err := runHooks("prestart", []specs.Hook{{Path: "/nonexistent/hook"}}, testState())
	if err == nil || !strings.HasPrefix(err.Error(), "hooks.prestart[0]") || !strings.Contains(err.Error(), "/nonexistent/hook") {
		t.Errorf("error %v, want one naming hooks.prestart[0] and the path", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v does not wrap ErrNotExist", err)
	}
}

func TestRunHooksNone(t *testing.T) {
	if err := runHooks("poststop", nil, testState()); err != nil {
		t.Errorf("no hooks: %v", err)
	}
}

func TestRunHooksIgnoresUnreadStdin(t *testing.T) {
	timeout := 5
	hooks := []specs.Hook{{Path: "/bin/true"}, {Path: "/bin/true", Timeout: &timeout}}
	if err := runHooks("poststart", hooks, testState()); err != nil {
		t.Errorf("hooks that exit 0 without reading stdin: %v", err)
	}
}

func TestRunHooksTimeout(t *testing.T) {
	timeout := 1
	hooks := []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "10"}, Timeout: &timeout}}
	err := runHooks("createRuntime", hooks, testState())
	if err == nil {
		t.Fatal("a hook running past its timeout did not fail")
	}
	if !strings.Contains(err.Error(), "timed out") || !strings.HasPrefix(err.Error(), "hooks.createRuntime[0]") {
		t.Errorf("error %q, want hooks.createRuntime[0] ... timed out", err)
	}
}

// A hook may leave a background process behind that keeps its output
// open; husk must not wait for it, nor count it against a hook that
// exited 0.
func TestRunHooksBackgroundChild(t *testing.T) {
	dir := t.TempDir()
	h := shHook(`sleep 3 & echo started; echo done > "$1"`, filepath.Join(dir, "ran"))
	if err := runHooks("poststart", []specs.Hook{h}, testState()); err != nil {
		t.Errorf("a hook that exited 0 but left a child holding its output failed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err != nil {
		t.Errorf("the hook did not run: %v", err)
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  \n\t ", ""},
		{"error: a\n  b\tc\r\n", "error: a b c"},
		{strings.Repeat("x", 250), strings.Repeat("x", 200) + "..."},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%.30q) = %.40q, want %.40q", tt.in, got, tt.want)
		}
	}
}
