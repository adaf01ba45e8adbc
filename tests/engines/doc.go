// Package engines runs husk under real container engines: Docker (dockerd
// with its own containerd), podman (with conmon) and containerd (ctr and its
// runc v2 shim), each with bin/husk as the OCI runtime, and asserts what the
// containers see.
//
// Run it as root after 'scripts/deps.sh --engines' (make test-engines):
//
//	HUSK_BIN=$PWD/bin/husk go test -count=1 -v ./tests/engines/
//
// HUSK_BIN=/usr/sbin/runc runs the same suite with runc, the reference:
// every check holds for it.
//
// Each engine's test skips, with the reason, when not root or when one of
// its binaries is missing. Nothing touches the host's engines: every store,
// socket, state root and daemon lives in one temporary directory:
//   - podman: --root/--runroot/--tmpdir and a test containers.conf
//     (cgroupfs, no network, file events, ulimits these hosts can grant);
//   - Docker: a private dockerd (no iptables, no bridge, husk added as a
//     runtime) that starts its own containerd under its exec root;
//   - containerd: a private containerd with a generated config (CRI off).
//
// The busybox image is made once: scripts/mkrootfs.sh, a tarball of it,
// 'podman import', and 'podman save --format docker-archive' for
// 'docker load' and 'ctr image import'. No registry is used.
//
// One table of scenarios (output, exit codes, terminal, user, read-only
// root, capabilities, seccomp, memory and pids limits) and one detached
// lifecycle (exec, top, pause and resume as seen in the freezer, stop with
// the exit status, remove) run against each engine through the engine
// interface; engine-specific checks (docker stats) come after. Every
// command runs under a deadline and is killed with its process group when
// it passes it. Daemons are stopped, leftover processes of the temporary
// directory killed and its mounts unmounted at the end, even on failure;
// daemon logs are shown when a test fails.
package engines
