#!/usr/bin/env bash
# bench-profile.sh
#
# Where one lifecycle goes: `husk run` of /bin/true on a busybox bundle,
# looked at from several sides, written under _profile/ of the repository:
#   strace-summary.txt   strace -c -f: calls and time per syscall, all processes
#   strace-timeline.txt  strace -f -tt -T: every syscall of every process
#   processes.txt        per process: execs (from the timeline), page faults
#                        (perf record of page-fault events, when perf works),
#                        and /usr/bin/time -v of the whole run
#   perf-stat.txt        perf stat of one run: faults, context switches, CPU
#   cpu.pprof, cpu-top.txt  CPU profile of the parent (HUSK_CPUPROFILE),
#                        PROFILE_RUNS runs merged: go tool pprof -top
#   inittrace.txt        GODEBUG=inittrace=1 of a CLI start: package inits
# strace slows every syscall down: read its times as relative.
#
# Environment: PROFILE_RUNS (default 30), HUSK_BIN (default bin/husk-profile, the build with the profiler).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
husk=${HUSK_BIN:-$repo/bin/husk-profile}
runs=${PROFILE_RUNS:-30}
out=$repo/_profile
tmo=(timeout -k 5 120)

if [ "$(id -u)" -ne 0 ]; then
	echo "bench-profile.sh: containers need root: run it as root" >&2
	exit 1
fi
[ -x "$husk" ] || {
	echo "bench-profile.sh: $husk not found: build it with 'make bin/husk-profile' (make bench-profile does)" >&2
	exit 1
}
command -v strace >/dev/null 2>&1 || {
	echo "bench-profile.sh: strace not found (run 'make deps')" >&2
	exit 1
}

work=$(mktemp -d /tmp/husk-profile.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
HUSK_BIN=$husk "$here/mkbundle.sh" "$work/bundle" -- /bin/true
rm -rf "$out"
mkdir -p "$out"

n=0
# lifecycle [WRAPPER...]: one `husk run` under the wrapper, in its own --root.
lifecycle() {
	n=$((n + 1))
	"${tmo[@]}" "$@" "$husk" --root "$work/root" run -b "$work/bundle" "prof-$n-$$" </dev/null >/dev/null
}

lifecycle # warm the page cache
echo "bench-profile: strace"
lifecycle strace -f -c -o "$out/strace-summary.txt"
lifecycle strace -f -tt -T -o "$out/strace-timeline.txt"

{
	echo "# execve calls per process (pid: count, programs), from strace-timeline.txt"
	awk '$3 ~ /^execve\(/ { split($0, f, "\""); n[$1]++; prog[$1] = prog[$1] " " f[2] }
		END { for (p in n) printf "%s: %d,%s\n", p, n[p], prog[p] }' "$out/strace-timeline.txt" | sort -n
	echo
	if command -v perf >/dev/null 2>&1 &&
		lifecycle perf record -q -e page-faults -c 1 -o "$work/faults.data" 2>/dev/null; then
		echo "# page faults per process (perf record -e page-faults -c 1); comm '13' and the like is husk init, named by its fd"
		"${tmo[@]}" perf report -i "$work/faults.data" -n --sort pid,comm --stdio 2>/dev/null |
			grep -v '^#' | grep -v '^$' || true
	else
		echo "# page faults per process: perf record does not work here"
	fi
	echo
	echo "# /usr/bin/time -v of the whole run (children included once they are waited for)"
	if [ -x /usr/bin/time ]; then
		lifecycle /usr/bin/time -v 2>&1 | sed -n '/Command being timed/,$p' || true
	else
		echo "/usr/bin/time not installed"
	fi
} >"$out/processes.txt" 2>&1

if command -v perf >/dev/null 2>&1; then
	lifecycle perf stat -e page-faults,context-switches,cpu-migrations,task-clock -o "$out/perf-stat.txt" ||
		echo "bench-profile: perf stat does not work here" >"$out/perf-stat.txt"
fi

echo "bench-profile: CPU profile of the parent over $runs runs"
profiles=()
for ((i = 0; i < runs; i++)); do
	HUSK_CPUPROFILE=$work/cpu-$i.pprof lifecycle
	profiles+=("$work/cpu-$i.pprof")
done
if command -v go >/dev/null 2>&1; then
	# The profiles carry their symbols; pprof's own lookup in the stripped
	# binary would put wrong names on the addresses.
	"${tmo[@]}" go tool pprof -symbolize=none -proto "${profiles[@]}" >"$out/cpu.pprof" 2>/dev/null
	"${tmo[@]}" go tool pprof -symbolize=none -top -cum -nodecount=50 "$out/cpu.pprof" >"$out/cpu-top.txt" 2>&1 || true
else
	cp "${profiles[0]}" "$out/cpu.pprof"
	echo "go not found: no merged profile; see cpu.pprof (one run)" >"$out/cpu-top.txt"
fi

GODEBUG=inittrace=1 "$husk" --root "$work/root" state none 2>&1 | grep '^init ' | sort -t, -k2 -rn >"$out/inittrace.txt" || true

echo "bench-profile: wrote $(cd "$out" && ls | tr '\n' ' ')under $out"
