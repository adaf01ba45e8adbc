#!/usr/bin/env bash
# conformance.sh
#
# Runs the OCI runtime-tools validation suite (the version pinned in
# tests/conformance/go.mod) against $RUNTIME (default: bin/husk of this
# repository) and compares the failures with tests/conformance/EXPECTED.md.
#
# 1. Builds every program under the suite's validation/ directory, the static
#    runtimetest it copies into each container, and tests/conformance/tapreport
#    into _conformance/bin (again only when the module or the toolchain
#    changed).
# 2. Makes the rootfs-<arch>.tar.gz the programs unpack into each bundle: a
#    busybox tree from scripts/mkrootfs.sh (rebuilt when it or busybox
#    changed).
# 3. Runs the programs one at a time in _conformance/run-<runtime>/, each under
#    its own timeout, with RUNTIME set to a two-line wrapper that adds a
#    private --root: the programs call the runtime without one, and a private
#    state directory keeps their containers apart from any other on the host.
#    After each program it deletes the containers, kills the processes and
#    removes the cgroups and mounts the program left behind.
# 4. Prints a table per program, the failures (expected or UNEXPECTED), the
#    expected failures that passed and a closing line
#    "N passed, N failed, N skipped"; exits 1 on any unexpected failure.
#
# Environment:
#   RUNTIME                 runtime binary (default: bin/husk); runc and crun
#                           work too (informational: EXPECTED.md is husk's)
#   CONFORMANCE_TIMEOUT     seconds for one program (default 60)
#   CONFORMANCE_PROGRAMS    space-separated program names to run (default all)
#   CONFORMANCE_CACHE       build and run directory (default _conformance)
set -euo pipefail

die() {
	echo "conformance.sh: $*" >&2
	exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
module=$repo/tests/conformance
expected=$module/EXPECTED.md
cache=${CONFORMANCE_CACHE:-$repo/_conformance}
per_program=${CONFORMANCE_TIMEOUT:-60}
runtime=${RUNTIME:-$repo/bin/husk}
export PATH=/usr/local/go/bin:$PATH

[ "$(id -u)" -eq 0 ] || die "containers need root: run as root"
runtime=$(command -v "$runtime") || die "runtime ${RUNTIME:-$repo/bin/husk} not found (run 'make build' or set RUNTIME)"
case $per_program in '' | *[!0-9]*) die "CONFORMANCE_TIMEOUT=$per_program is not a number of seconds" ;; esac
command -v go >/dev/null || die "go not found (expected in /usr/local/go/bin)"
command -v unshare >/dev/null || die "unshare not found (util-linux): the linux_ns_* programs need it"

# --- 1. the suite's programs ---------------------------------------------
bin=$cache/bin
mkdir -p "$bin"
stamp=$( (
	go version
	cat "$module/go.mod" "$module/go.sum" "$module"/tapreport/*.go
) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$bin/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$bin/runtimetest" ]; then
	echo "conformance: building the validation suite into ${bin#"$repo"/}"
	rm -rf "$bin"
	mkdir -p "$bin"
	# CGO_ENABLED=0: runtimetest runs inside a busybox rootfs with no libc.
	(cd "$module" && CGO_ENABLED=0 timeout 600 go build -trimpath -o "$bin/" tool ./tapreport) ||
		die "building the validation suite failed"
	(cd "$module" && timeout 120 go test -count=1 ./tapreport) || die "tapreport's tests failed"
	echo "$stamp" >"$bin/.stamp"
fi

# --- 2. the rootfs tarball -----------------------------------------------
arch=$(go env GOARCH)
tarball=$cache/rootfs-$arch.tar.gz
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -s "$tarball" ] || [ "$here/mkrootfs.sh" -nt "$tarball" ] || [ "$busybox" -nt "$tarball" ]; then
	echo "conformance: making ${tarball#"$repo"/} from $busybox"
	rm -rf "$cache/rootfs"
	"$here/mkrootfs.sh" "$cache/rootfs"
	tar -C "$cache/rootfs" --numeric-owner -czf "$tarball.tmp" .
	mv -f "$tarball.tmp" "$tarball"
	rm -rf "$cache/rootfs"
fi

# --- 3. the run ----------------------------------------------------------
work=$cache/run-$(basename "$runtime")
state=$work/state
tmp=$work/tmp
results=$work/results

# The runtime's state directory, the bundles and every cgroup the suite
# names are emptied before and after each program.
cleanup() {
	local id d m
	if [ -d "$state" ]; then
		for d in "$state"/*/; do
			[ -d "$d" ] || continue
			id=$(basename "$d")
			timeout -k 5 20 "$runtime" --root "$state" delete -f "$id" >/dev/null 2>&1 || true
		done
	fi
	cleanup_cgroups
	# Mounts a program or a hook left under the bundles, deepest first.
	findmnt -rn -o TARGET | { grep -F "$tmp/" || true; } | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$tmp" "$state"
	mkdir -p "$tmp" "$state"
}

# The cgroup paths the suite uses: /cgrouptest (absolute) and
# testdir/cgrouptest/container (relative, under the runtime's own cgroup,
# which is this script's), in every hierarchy.
cleanup_cgroups() {
	local mnt own d
	local -a owns
	mapfile -t owns < <(cut -d: -f3- /proc/self/cgroup | sort -u)
	while read -r mnt; do
		for d in "$mnt/cgrouptest" "${owns[@]/#/$mnt}"; do
			[ "$d" = "$mnt/cgrouptest" ] || d=${d%/}/testdir
			if [ -d "$d" ]; then
				remove_cgroup "$d"
			fi
		done
	done < <(findmnt -rn -t cgroup,cgroup2 -o TARGET | grep '^/sys/fs/cgroup')
	return 0
}

# remove_cgroup DIR: thaw, kill what is inside, rmdir depth-first.
remove_cgroup() {
	local c pid try
	find "$1" -depth -type d 2>/dev/null | while read -r c; do
		echo THAWED 2>/dev/null >"$c/freezer.state" || true
		echo 0 2>/dev/null >"$c/cgroup.freeze" || true
		for try in 1 2 3 4 5; do
			while read -r pid; do
				kill -KILL "$pid" 2>/dev/null || true
			done <"$c/cgroup.procs" 2>/dev/null
			rmdir "$c" 2>/dev/null && break
			sleep 0.2
		done
		if [ -d "$c" ]; then
			echo "conformance: cannot remove cgroup $c" >&2
		fi
	done
	return 0
}

mkdir -p "$work"
rm -rf "$results"
mkdir -p "$results"
cleanup
ln -sf "$tarball" "$work/rootfs-$arch.tar.gz"
cp -f "$bin/runtimetest" "$work/runtimetest"
wrapper=$work/runtime
printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$runtime" "$state" >"$wrapper"
chmod 0755 "$wrapper"
trap cleanup EXIT

if [ -n "${CONFORMANCE_PROGRAMS:-}" ]; then
	read -r -a programs <<<"$CONFORMANCE_PROGRAMS"
	for p in "${programs[@]}"; do
		[ -x "$bin/$p" ] || die "no validation program '$p' in ${bin#"$repo"/}"
	done
else
	programs=()
	for p in "$bin"/*; do
		case ${p##*/} in runtimetest | tapreport) continue ;; esac
		programs+=("${p##*/}")
	done
fi

echo "conformance: ${#programs[@]} programs against $runtime ($("$runtime" --version 2>/dev/null | head -1)), ${per_program}s each"
start_all=$SECONDS
for p in "${programs[@]}"; do
	t0=$EPOCHREALTIME
	# setsid: the program leads its own process group, which timeout signals
	# on expiry and which is swept afterwards (the ns programs leave
	# 'unshare ... sleep' children behind when they fail).
	(
		cd "$work"
		RUNTIME=$wrapper TMPDIR=$tmp exec setsid timeout -k 5 "$per_program" "$bin/$p" \
			</dev/null >"$results/$p.tap" 2>"$results/$p.err"
	) &
	pid=$!
	rc=0
	wait "$pid" || rc=$?
	kill -KILL -- "-$pid" 2>/dev/null || true
	echo "$rc" >"$results/$p.rc"
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' >"$results/$p.secs"
	cleanup
done
echo "conformance: ran in $((SECONDS - start_all))s; TAP and stderr of each program in ${results#"$repo"/}"
echo

# --- 4. the report -------------------------------------------------------
"$bin/tapreport" -results "$results" -expected "$expected"
