package libcontainer

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// binDir makes a directory with files of the given modes.
func binDir(t *testing.T, files map[string]os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for name, mode := range files {
		path := filepath.Join(dir, name)
		if mode.IsDir() {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // no umask
			t.Fatal(err)
		}
	}
	return dir
}

func TestLookPath(t *testing.T) {
	a := binDir(t, map[string]os.FileMode{"prog": 0o755, "noexec": 0o644, "both": 0o755, "dir": os.ModeDir, "skip": 0o600, "owneronly": 0o100})
	b := binDir(t, map[string]os.FileMode{"both": 0o755, "dir": 0o755, "skip": 0o755})
	missing := filepath.Join(t.TempDir(), "missing")
	path := "PATH=" + missing + ":" + a + ":" + b
	tests := []struct {
		file string
		env  []string
		want string
	}{
		{"prog", []string{"A=1", path, "B=2"}, filepath.Join(a, "prog")},
		{"both", []string{path}, filepath.Join(a, "both")},
		{"both", []string{"PATH=" + b + ":" + a}, filepath.Join(b, "both")},
		{"dir", []string{path}, filepath.Join(b, "dir")},   // a directory is skipped
		{"skip", []string{path}, filepath.Join(b, "skip")}, // so is a file without x bits
		{"owneronly", []string{path}, filepath.Join(a, "owneronly")},
		{filepath.Join(a, "prog"), nil, filepath.Join(a, "prog")}, // with a slash, PATH is not used
	}
	for _, tt := range tests {
		got, err := lookPath(tt.file, tt.env)
		if err != nil || got != tt.want {
			t.Errorf("lookPath(%q, %q) = %q, %v; want %q", tt.file, tt.env, got, err, tt.want)
		}
	}
}

func TestLookPathNotFound(t *testing.T) {
	a := binDir(t, map[string]os.FileMode{"prog": 0o755, "noexec": 0o644})
	tests := []struct {
		file string
		env  []string
	}{
		{"nope", []string{"PATH=" + a}},
		{"prog", nil},                    // no PATH at all
		{"prog", []string{"PATH="}},      // an empty one
		{"prog", []string{"XPATH=" + a}}, // only a variable that ends in PATH
		{"noexec", []string{"PATH=" + a}},
	}
	for _, tt := range tests {
		got, err := lookPath(tt.file, tt.env)
		if err == nil {
			t.Errorf("lookPath(%q, %q) = %q, want an error", tt.file, tt.env, got)
			continue
		}
		if tt.file != "noexec" {
			if want := `exec: "` + tt.file + `": executable file not found in $PATH`; err.Error() != want {
				t.Errorf("lookPath(%q, %q) error %q, want %q", tt.file, tt.env, err, want)
			}
		}
	}
}

func TestLookPathEmptyElementIsCwd(t *testing.T) {
	a := binDir(t, map[string]os.FileMode{"here": 0o755})
	t.Chdir(a)
	got, err := lookPath("here", []string{"PATH=/nonexistent::/also-not"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(got); err != nil || !os.SameFile(fi, mustStat(t, filepath.Join(a, "here"))) {
		t.Errorf("lookPath = %q (%v), want the file in the working directory", got, err)
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestCheckExecutable(t *testing.T) {
	a := binDir(t, map[string]os.FileMode{"prog": 0o755, "noexec": 0o644, "dir": os.ModeDir, "groupx": 0o010})
	if err := os.Symlink("prog", filepath.Join(a, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("gone", filepath.Join(a, "dangling")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string // "" for success
	}{
		{"prog", ""},
		{"link", ""},
		{"groupx", ""},
		{"noexec", "permission denied"},
		{"dir", "permission denied"},
		{"missing", "no such file or directory"},
		{"dangling", "no such file or directory"},
	}
	for _, tt := range tests {
		path := filepath.Join(a, tt.name)
		err := checkExecutable(path)
		if tt.want == "" {
			if err != nil {
				t.Errorf("checkExecutable(%s) = %v", tt.name, err)
			}
			continue
		}
		if want := `exec: "` + path + `": ` + tt.want; err == nil || err.Error() != want {
			t.Errorf("checkExecutable(%s) = %v, want %q", tt.name, err, want)
		}
		// lookPath with a slash reports the same.
		if _, lerr := lookPath(path, []string{"PATH=/bin"}); lerr == nil || lerr.Error() != err.Error() {
			t.Errorf("lookPath(%s) = %v, want %v", tt.name, lerr, err)
		}
	}
}

func TestHasEnv(t *testing.T) {
	env := []string{"PATH=/bin", "HOMEDIR=/x", "HOME", "EMPTY="}
	for key, want := range map[string]bool{"PATH": true, "HOME": false, "HOMEDIR": true, "EMPTY": true, "PAT": false, "": false} {
		if got := hasEnv(env, key); got != want {
			t.Errorf("hasEnv(%q) = %v, want %v", key, got, want)
		}
	}
}

// passwdEntry reads the host's /etc/passwd here; os/user is the oracle.
func TestPasswdEntry(t *testing.T) {
	for _, uid := range []uint32{0, uint32(os.Getuid()), 65534} {
		u, err := user.LookupId(strconv.Itoa(int(uid)))
		name, home, ok := passwdEntry(uid)
		if err != nil {
			if ok {
				t.Errorf("passwdEntry(%d) = %q %q, but os/user knows no such user", uid, name, home)
			}
			continue
		}
		if !ok || name != u.Username || home != u.HomeDir {
			t.Errorf("passwdEntry(%d) = %q %q %v, want %q %q", uid, name, home, ok, u.Username, u.HomeDir)
		}
	}
	if name, _, ok := passwdEntry(3999999999); ok {
		t.Errorf("passwdEntry of an unknown uid = %q", name)
	}
}

func TestMemberGroups(t *testing.T) {
	data, err := os.ReadFile("/etc/group")
	if err != nil {
		t.Skip(err)
	}
	// Every user named as a member somewhere must get that group.
	checked := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || f[3] == "" {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		for _, member := range strings.Split(f[3], ",") {
			if !slices.Contains(memberGroups(member), uint32(gid)) {
				t.Errorf("memberGroups(%q) = %v lacks group %s (%d)", member, memberGroups(member), f[0], gid)
			}
			checked++
		}
	}
	if got := memberGroups("no-such-user-here"); len(got) != 0 {
		t.Errorf("memberGroups of an unknown user = %v", got)
	}
	if checked == 0 {
		t.Log("no group in /etc/group lists members")
	}
}

func TestPrepareProcess(t *testing.T) {
	t.Chdir(t.TempDir()) // prepareProcess changes the working directory
	cwd := t.TempDir()
	bin := binDir(t, map[string]os.FileMode{"tool": 0o755})
	env := make([]string, 1, 8)
	env[0] = "PATH=" + bin
	p := &specs.Process{Args: []string{"tool", "arg"}, Cwd: cwd, Env: env, User: specs.User{UID: 3999999999, AdditionalGids: []uint32{7, 8}}}
	proc, err := prepareProcess(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if proc.path != filepath.Join(bin, "tool") {
		t.Errorf("path %q", proc.path)
	}
	if wd, _ := os.Getwd(); wd != cwd {
		t.Errorf("working directory %q, want %q", wd, cwd)
	}
	// An unknown user gets HOME=/, without writing into the spec's env.
	if want := []string{"PATH=" + bin, "HOME=/"}; !slices.Equal(proc.env, want) {
		t.Errorf("env %q, want %q", proc.env, want)
	}
	if len(p.Env) != 1 || env[:2][1] != "" {
		t.Errorf("prepareProcess wrote into the config's env: %q", env[:2])
	}
	if !slices.Equal(proc.gids, []uint32{7, 8}) {
		t.Errorf("gids %v, want [7 8]", proc.gids)
	}

	// A HOME of the config's own is kept.
	p = &specs.Process{Args: []string{"tool"}, Cwd: cwd, Env: []string{"PATH=" + bin, "HOME=/mine"}}
	if proc, err := prepareProcess(p, nil); err != nil || !slices.Equal(proc.env, p.Env) {
		t.Errorf("env %q (%v), want %q", proc.env, err, p.Env)
	}

	// A known user gets the home from passwd.
	if name, home, ok := passwdEntry(0); ok {
		p = &specs.Process{Args: []string{"tool"}, Cwd: cwd, Env: []string{"PATH=" + bin}}
		proc, err := prepareProcess(p, nil)
		if err != nil || !slices.Contains(proc.env, "HOME="+home) {
			t.Errorf("uid 0 (%s): env %q (%v), want HOME=%s", name, proc.env, err, home)
		}
	}
}

func TestPrepareProcessErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	bin := binDir(t, map[string]os.FileMode{"tool": 0o755})
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		p    *specs.Process
		want string
	}{
		{&specs.Process{Args: []string{"tool"}, Cwd: missing, Env: []string{"PATH=" + bin}},
			"process.cwd " + missing + ": no such file or directory"},
		{&specs.Process{Args: []string{"nope"}, Cwd: "/", Env: []string{"PATH=" + bin}},
			`process.args[0]: exec: "nope": executable file not found in $PATH`},
	}
	for _, tt := range tests {
		_, err := prepareProcess(tt.p, nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("prepareProcess = %v, want %q", err, tt.want)
		}
	}
}
