package engines

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// engineDir makes the directory of one engine's test under the suite's.
// Registered first, its cleanup runs last, after the engine's own: what
// the engine left running or mounted there goes then.
func engineDir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(topDir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := releaseDir(dir); err != nil {
			t.Errorf("cleanup of %s: %v", dir, err)
		}
	})
	return dir
}

// writeJSON writes v as JSON to path.
func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPodman(t *testing.T) {
	requireBins(t, "podman", "conmon")
	busyboxImage(t)
	testEngine(t, newPodmanCLI(t), engineDir(t, "podman"), []scenario{{
		// podman's --read-only puts tmpfs mounts with tmpcopyup on /run,
		// /tmp and /var/tmp: what the image has there is copied up.
		name: "read-only tmpfs copied up", opts: runOpts{readOnly: true},
		cmd: []string{"sh", "-c", "cat /run/copied-up; touch /run/new && echo run-writable; grep ' /run ' /proc/mounts"},
		out: []string{"from the image", "run-writable", "tmpfs /run tmpfs"},
	}}, nil)
}

func TestDocker(t *testing.T) {
	// podman makes the image docker loads.
	bins := requireBins(t, "docker", "dockerd", "containerd", "podman")
	img := busyboxImage(t)
	dir := engineDir(t, "docker")
	conf := filepath.Join(dir, "daemon.json")
	// The identity key goes here, not to /etc/docker.
	writeJSON(t, conf, map[string]string{"deprecated-key-path": filepath.Join(dir, "key.json")})
	sock := "unix://" + filepath.Join(dir, "docker.sock")
	execRoot := filepath.Join(dir, "exec")
	// dockerd 20.10 gives the shim this state root for every runc-like
	// runtime; the shim appends the namespace.
	registerRuntimeRoot(filepath.Join(execRoot, "runtime-runc", "moby"))
	// No --containerd: dockerd starts a containerd of its own under the
	// exec root and stops it on the way out. The storage driver is left to
	// dockerd: overlay2 where the filesystem allows it, vfs otherwise.
	d := startDaemon(t, "dockerd", filepath.Join(dir, "dockerd.log"), bins[1],
		"--config-file", conf,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", execRoot,
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--log-level", "warn",
		"--host", sock,
		"--iptables=false", "--ip6tables=false", "--bridge=none",
		"--add-runtime", "husk="+huskBin,
		"--default-ulimit", "nofile=1024:1024",
		"--default-ulimit", "nproc=4096:4096",
	)
	c := &dockerCLI{
		engineName: "docker",
		base:       []string{bins[0], "--host", sock},
		env:        []string{"DOCKER_CONFIG=" + filepath.Join(dir, "client")},
		runFlags:   []string{"--network", "none", "--runtime", "husk"},
	}
	d.waitReady(t, func() error {
		return okOrErr(run(t, cmdOpts{env: c.env, timeout: 10 * time.Second}, append(c.base, "version")...))
	})
	c.must(t, "load", "--input", img.archive)
	testEngine(t, c, dir, nil, func(t *testing.T, id string) {
		// Stats come from the cgroup: the shell and its sleep.
		r := c.must(t, "stats", "--no-stream", "--format", "pids={{.PIDs}} mem={{.MemUsage}}", id)
		if !strings.Contains(r.stdout, "pids=2 ") || strings.Contains(r.stdout, "mem=0B") {
			t.Errorf("stats: want 2 pids and some memory, got %q", r.stdout)
		}
		// docker update goes through 'husk update --resources -'.
		c.must(t, "update", "--memory", "96m", "--memory-swap", "128m", "--pids-limit", "77", id)
		pid := c.pid(t, id)
		for _, f := range []struct{ controller, v1, v2, want string }{
			{"memory", "memory.limit_in_bytes", "memory.max", "100663296"},
			{"pids", "pids.max", "pids.max", "77"},
		} {
			if got := hostCgroupFile(t, pid, f.controller, f.v1, f.v2); got != f.want {
				t.Errorf("after update: %s: want %s, got %s", f.v1, f.want, got)
			}
		}
	})
}

func TestContainerd(t *testing.T) {
	bins := requireBins(t, "ctr", "containerd", "containerd-shim-runc-v2", "podman")
	img := busyboxImage(t)
	dir := engineDir(t, "containerd")
	sock := filepath.Join(dir, "containerd.sock")
	conf := filepath.Join(dir, "config.toml")
	// CRI off: it would want CNI and a streaming port.
	config := strings.NewReplacer("DIR", dir, "SOCK", sock).Replace(`version = 2
root = "DIR/root"
state = "DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "SOCK"

[ttrpc]
  address = "SOCK.ttrpc"

[debug]
  address = "DIR/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "DIR/opt"
`)
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "containerd", filepath.Join(dir, "containerd.log"), bins[1], "--config", conf, "--log-level", "warn")
	c := &ctrCLI{
		base:        []string{bins[0], "--address", sock},
		runtimeRoot: filepath.Join(dir, "husk"),
		fifoDir:     filepath.Join(dir, "fifo"),
	}
	// The shim appends the namespace.
	registerRuntimeRoot(filepath.Join(c.runtimeRoot, "default"))
	d.waitReady(t, func() error {
		return okOrErr(run(t, cmdOpts{timeout: 10 * time.Second}, append(c.base, "version")...))
	})
	c.must(t, "image", "import", img.archive)
	testEngine(t, c, dir, nil, nil)
}
