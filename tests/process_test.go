package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSysctl(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	// Both default differently in a fresh namespace (ip_forward 0, msgmax 8192).
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"}
	wantLines(t, lines(e.sh(s, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax")), "1", "12345")
}

// Only lowered limits: CAP_SYS_RESOURCE is not in this machine's bounding
// set, so nobody can raise a hard limit.
func TestRlimits(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1000},
		{Type: "RLIMIT_MSGQUEUE", Soft: 4096, Hard: 8192},
	}
	out := e.sh(s, "ulimit -n; grep -E '^Max (open files|msgqueue size)' /proc/self/limits")
	var got []string
	for _, f := range fieldsOf(out) {
		got = append(got, strings.Join(f, " "))
	}
	wantLines(t, got, "512", "Max open files 512 1000 files", "Max msgqueue size 4096 8192 bytes")
}

func TestOomScoreAdj(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	adj := 123 // raising needs no privilege; the test process has 0
	s.Process.OOMScoreAdj = &adj
	wantLines(t, lines(e.runOK(s, "cat", "/proc/self/oom_score_adj")), "123")
}

func TestProcessUser(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	umask := uint32(0o027)
	s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{2000, 3000}, Umask: &umask}
	s.Mounts = append(s.Mounts, tmpfsMount("/tmp", "mode=1777"))
	out := lines(e.sh(s, "id -u; id -g; id -G; umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d"))
	wantLines(t, out, "1000", "1001", "1001 2000 3000", "0027", "640", "750")
}

func TestProcessCwdAndEnv(t *testing.T) {
	e := newEnv(t)
	s := baseSpec()
	s.Process.Cwd = "/etc"
	s.Process.Env = append(s.Process.Env, "FOO=bar", "WITH_SPACE=a b  c")
	wantLines(t, lines(e.sh(s, `pwd; echo "$FOO"; echo "[$WITH_SPACE]"`)), "/etc", "bar", "[a b  c]")
}

// args[0] without a slash is looked up in the container's PATH, inside the
// container's rootfs.
func TestArgsPathLookup(t *testing.T) {
	e := newEnv(t)
	if r := e.runContainer(baseSpec(), "true"); r.code != 0 {
		t.Errorf("true: %v", r)
	}
	if r := e.runContainer(baseSpec(), "false"); r.code != 1 {
		t.Errorf("false exited %d, want 1 (the program must really run)", r.code)
	}
	s := baseSpec("mytool", "arg")
	s.Process.Env = []string{"PATH=/nowhere:/opt/tools"}
	c := e.newContainer(s)
	writeFile(t, filepath.Join(c.b.rootfs, "opt/tools/mytool"), "#!/bin/sh\necho \"mytool ran with $1\"\n", 0o755)
	wantLines(t, lines(c.runOK(runOpts{})), "mytool ran with arg")
}

func TestNoNewPrivileges(t *testing.T) {
	e := newEnv(t)
	for _, nnp := range []bool{true, false} {
		s := baseSpec()
		s.Process.NoNewPrivileges = nnp
		want := "NoNewPrivs: 0"
		if nnp {
			want = "NoNewPrivs: 1"
		}
		out := fieldsOf(e.runOK(s, "grep", "NoNewPrivs", "/proc/self/status"))
		if len(out) != 1 || strings.Join(out[0], " ") != want {
			t.Errorf("noNewPrivileges %v: %q, want %q", nnp, out, want)
		}
	}
}

// The container gets stdio and nothing else of the runtime's descriptors:
// ls lists 0-2 plus the directory it reads (3).
func TestFdHygiene(t *testing.T) {
	e := newEnv(t)
	wantLines(t, lines(e.runOK(baseSpec(), "ls", "/proc/self/fd")), "0", "1", "2", "3")
}

func TestPreserveFds(t *testing.T) {
	e := newEnv(t)
	payload := filepath.Join(e.dir, "payload")
	writeFile(t, payload, "passed as fd 3\n", 0o644)
	f, err := os.Open(payload)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := mustSucceed(t, e.runContainerOpts(runOpts{flags: []string{"--preserve-fds", "1"}, extraFiles: []*os.File{f}},
		baseSpec(), "sh", "-c", "ls /proc/self/fd; cat <&3"))
	wantLines(t, lines(r.stdout), "0", "1", "2", "3", "4", "passed as fd 3")
}
