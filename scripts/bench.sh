#!/usr/bin/env bash
# bench.sh
#
# Compares husk (bin/husk) with runc and crun, each when it is present and
# works on this host (one trial run decides: crun refuses a cgroup v1
# hybrid host, and the output says so), on one busybox rootfs:
#   run       create+start+wait+delete of /bin/true in one command
#   create, start, delete   the same phases timed one by one
#   exec      exec of /bin/true into a running `sleep` container
#   seccomp   create with a docker-shaped seccomp profile of ~360 syscall
#             names (seccomp/testdata/default.json)
#   init_rss  VmRSS of the container's init waiting in `created`
#   charged   peak memory charged to the container's own cgroup once a
#             `sleep` runs in it (memory.max_usage_in_bytes on cgroup v1,
#             memory.peak on v2)
#   storm     STORM_N containers run (created, started, waited, deleted)
#             with STORM_PAR in parallel, once the CPUs are idle; then no
#             state directory, cgroup, mount or process may be left over
# Each command is timed by scripts/benchexec from its fork to its reaping,
# so no shell or timeout(1) process is counted; a storm is timed whole.
# Runtimes alternate within every round and the starting one rotates, so a
# noisy machine slows them alike: read the ratios, not the milliseconds.
# The table gives median and p10-p90 per runtime, husk's median over
# runc's, and the target ratio for husk.
#
# Never fails on a time or a target; exits non-zero only when a runtime
# that passed its trial run fails later (leftovers after a storm count as
# a failure), or when no runtime works at all.
#
# Environment: BENCH_ROUNDS (default 20), BENCH_WARMUP (default 2),
# BENCH_MEM_ROUNDS (default 5), BENCH_STORM_ROUNDS (default 5),
# STORM_N (default 50), STORM_PAR (default 8), BENCH_RUNTIMES (default
# "husk runc crun"), HUSK_BIN (default bin/husk of this repository).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
husk=${HUSK_BIN:-$here/../bin/husk}
rounds=${BENCH_ROUNDS:-20}
warmup=${BENCH_WARMUP:-2}
mem_rounds=${BENCH_MEM_ROUNDS:-5}
storm_rounds=${BENCH_STORM_ROUNDS:-5}
storm_n=${STORM_N:-50}
storm_par=${STORM_PAR:-8}
seccomp_profile=$here/../seccomp/testdata/default.json
# Every runtime command gets this long before it counts as hung.
tmo=(timeout -k 5 60)

if [ "$(id -u)" -ne 0 ]; then
	echo "bench.sh: containers need root: run it as root" >&2
	exit 1
fi
for tool in jq timeout xargs; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "bench.sh: $tool not found (run 'make deps')" >&2
		exit 1
	}
done

work=$(mktemp -d /tmp/husk-bench.XXXXXX)
names=() # runtimes that work, in table order
declare -A bin=()
active=() # containers to remove on exit: "name id"

cleanup() {
	local c
	for c in "${active[@]}"; do
		"${tmo[@]}" "${bin[${c%% *}]}" --root "$work/root-${c%% *}" delete -f "${c#* }" >/dev/null 2>&1 || true
	done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

benchexec=$work/benchexec
(cd "$here/.." && PATH=/usr/local/go/bin:$PATH ${GO:-go} build -o "$benchexec" ./scripts/benchexec) || {
	echo "bench.sh: cannot build scripts/benchexec (run 'make deps')" >&2
	exit 1
}
timer=("$benchexec" -o "$work/elapsed" -t 60s)

# The bundle comes from husk's own spec when husk is built, else from runc's,
# and is the same for every runtime.
spec_bin=
for b in "$husk" runc crun; do
	if command -v "$b" >/dev/null 2>&1; then
		spec_bin=$b
		break
	fi
done
if [ -z "$spec_bin" ]; then
	echo "bench.sh: no runtime found (build husk with 'make build')" >&2
	exit 1
fi
HUSK_BIN=$spec_bin "$here/mkbundle.sh" "$work/bundle" -- /bin/true
bundle=$work/bundle

# variant DIR JQ-FILTER [JQ ARGS...]: another bundle on the same rootfs.
# Every runtime compared must parse the config: older ones refuse newer
# ociVersions.
variant() {
	local dir=$1 filter=$2
	shift 2
	mkdir -p "$dir"
	jq --arg rootfs "$bundle/rootfs" "$@" \
		".ociVersion = \"1.0.2\" | .root.path = \$rootfs | $filter" \
		"$bundle/config.json" >"$dir/config.json"
}
variant "$work/b-true" '.'
variant "$work/b-sleep" '.process.args = ["sleep", "1000"]'
variant "$work/b-seccomp" '.linux.seccomp = $profile[0]' --slurpfile profile "$seccomp_profile"

# One trial run each; a runtime that is missing or fails here is left out.
for name in ${BENCH_RUNTIMES:-husk runc crun}; do
	b=$name
	[ "$name" = husk ] && b=$husk
	if ! command -v "$b" >/dev/null 2>&1; then
		echo "bench: $name: not found, skipped"
		continue
	fi
	b=$(command -v "$b")
	mkdir -p "$work/root-$name"
	if out=$("${tmo[@]}" "$b" --root "$work/root-$name" run -b "$work/b-true" "trial-$$" </dev/null 2>&1); then
		bin[$name]=$b
		names+=("$name")
		echo "bench: $name: $b"
	else
		"${tmo[@]}" "$b" --root "$work/root-$name" delete -f "trial-$$" >/dev/null 2>&1 || true
		echo "bench: $name: fails on this host, skipped: $(printf '%s\n' "$out" | tail -n 1)"
	fi
done
if [ "${#names[@]}" -eq 0 ]; then
	echo "bench.sh: no runtime works on this host" >&2
	exit 1
fi
n=${#names[@]}

failed=0

# run_under WRAPPER NAME ARGS...: runs the runtime quietly under the command
# in the array named WRAPPER; a failure is reported and counted.
run_under() {
	local -n wrapper=$1
	local name=$2
	shift 2
	if ! "${wrapper[@]}" "${bin[$name]}" --root "$work/root-$name" "$@" </dev/null >"$work/out" 2>&1; then
		echo "bench: $name $*: failed: $(tail -n 1 "$work/out")" >&2
		failed=1
		return 1
	fi
}

# rt NAME ARGS...: runs the runtime under timeout(1).
rt() { run_under tmo "$@"; }

# record METRIC NAME VALUE (skipped during warm-up rounds)
record() {
	[ "$round" -gt 0 ] || return 0
	echo "$1 $2 $3" >>"$work/values"
}

# timed METRIC NAME ARGS...: rt, timed in microseconds by benchexec (from
# the runtime's fork to its reaping) and recorded.
timed() {
	local metric=$1 name=$2 us
	shift 2
	run_under timer "$name" "$@" || return 1
	read -r us <"$work/elapsed"
	record "$metric" "$name" "$us"
}

# each_runtime FUNCTION: calls FUNCTION NAME for every runtime, rotating
# which one goes first from round to round.
each_runtime() {
	local k
	for ((k = 0; k < n; k++)); do
		"$1" "${names[$(((k + round + warmup) % n))]}"
	done
}

wait_stopped() {
	local name=$1 id=$2 i
	for ((i = 0; i < 1000; i++)); do
		if "${tmo[@]}" "${bin[$name]}" --root "$work/root-$name" state "$id" 2>/dev/null |
			grep -q '"status": *"stopped"'; then
			return 0
		fi
	done
	echo "bench: $name: container $id did not stop" >&2
	failed=1
	return 1
}

container_pid() {
	"${tmo[@]}" "${bin[$1]}" --root "$work/root-$1" state "$2" | jq -r .pid
}

# memory_peak PID: peak bytes charged to PID's memory cgroup, or nothing.
memory_peak() {
	local rel
	rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' "/proc/$1/cgroup")
	if [ -n "$rel" ] && [ -r "/sys/fs/cgroup/memory$rel/memory.max_usage_in_bytes" ]; then
		cat "/sys/fs/cgroup/memory$rel/memory.max_usage_in_bytes"
		return
	fi
	rel=$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")
	if [ -n "$rel" ] && [ -r "/sys/fs/cgroup$rel/memory.peak" ]; then
		cat "/sys/fs/cgroup$rel/memory.peak"
	fi
}

lifecycle_round() {
	local name=$1 id
	id="r-$name-$round-$$"
	active+=("$name $id") # a run killed at the limit leaves it behind
	timed run "$name" run -b "$work/b-true" "$id" || return 0
	unset 'active[-1]'

	id="p-$name-$round-$$"
	active+=("$name $id")
	timed create "$name" create -b "$work/b-true" "$id" || return 0
	timed start "$name" start "$id" || return 0
	wait_stopped "$name" "$id" || return 0
	timed delete "$name" delete "$id" || return 0
	unset 'active[-1]'

	id="s-$name-$round-$$"
	active+=("$name $id")
	timed seccomp "$name" create -b "$work/b-seccomp" "$id" || return 0
	rt "$name" delete -f "$id" || return 0
	unset 'active[-1]'
}

exec_round() {
	timed exec "$1" exec "x-$1-$$" /bin/true || true
}

memory_round() {
	local name=$1 id pid rss peak
	id="m-$name-$round-$$"
	active+=("$name $id")
	rt "$name" create -b "$work/b-sleep" "$id" || return 0
	pid=$(container_pid "$name" "$id")
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
	[ -z "$rss" ] || record init_rss "$name" "$rss"
	rt "$name" start "$id" || return 0
	# Let sleep fault in what it needs before the peak is read.
	sleep 0.2
	peak=$(memory_peak "$pid")
	if [ -n "$peak" ]; then
		record charged "$name" $((peak / 1024))
	fi
	rt "$name" delete -f "$id" || return 0
	unset 'active[-1]'
}

# leftovers NAME PREFIX: counts what a storm left behind and reports it.
leftovers() {
	local name=$1 prefix=$2 dirs cgs mounts procs
	dirs=$(find "$work/root-$name" -mindepth 1 -maxdepth 1 -name "$prefix*" | wc -l)
	cgs=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -type d -name "$prefix*" 2>/dev/null | wc -l)
	mounts=$(grep -c -- "$prefix" /proc/self/mountinfo || true)
	procs=$(grep -l -- "/$prefix" /proc/[0-9]*/cgroup 2>/dev/null | wc -l || true)
	if [ $((dirs + cgs + mounts + procs)) -ne 0 ]; then
		echo "bench: $name storm left $dirs state dirs, $cgs cgroups, $mounts mounts, $procs processes" >&2
		failed=1
		return 1
	fi
	echo "bench: $name storm round $round: no leftovers"
}

# cpu_ticks: busy and idle jiffies of all CPUs.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }

# settle waits (3 s at most) until the CPUs have been idle for 200 ms:
# the kernel tears a storm's network namespaces and cgroups down in its
# workers after the last container is gone, and that work must not land
# in the next storm, which is the other runtime's half the time.
settle() {
	local i busy0 idle0 busy1 idle1
	for ((i = 0; i < 15; i++)); do
		read -r busy0 idle0 < <(cpu_ticks)
		sleep 0.2
		read -r busy1 idle1 < <(cpu_ticks)
		# Under 10% busy: a quiet machine.
		if ((10 * (busy1 - busy0) < (busy1 - busy0) + (idle1 - idle0))); then
			return 0
		fi
	done
	echo "bench: the CPUs did not go idle within 3 s: this storm round runs on a busy machine"
}

storm_round() {
	local name=$1 prefix t0 t1
	prefix="st-$name-$round-$$-"
	settle
	t0=${EPOCHREALTIME/[.,]/}
	# xargs gives the commands /dev/null as stdin.
	# One time limit for the whole storm: a timeout(1) per container would
	# take a share of the CPUs the runtimes compete for.
	if ! seq "$storm_n" | sed "s/^/$prefix/" |
		timeout -k 5 600 xargs -P "$storm_par" -I{} "${bin[$name]}" --root "$work/root-$name" run -b "$work/b-true" {} \
			>"$work/out" 2>&1; then
		echo "bench: $name storm: a container failed: $(tail -n 1 "$work/out")" >&2
		failed=1
	fi
	t1=${EPOCHREALTIME/[.,]/}
	record storm "$name" $((t1 - t0))
	leftovers "$name" "$prefix" || true
}

: >"$work/values"
echo "bench: runtimes alternating: ${names[*]}"

echo "bench: run, create/start/delete, seccomp create: $warmup warm-up rounds, $rounds rounds"
for ((round = 1 - warmup; round <= rounds; round++)); do
	each_runtime lifecycle_round
done

echo "bench: exec into a running container: $rounds rounds"
for name in "${names[@]}"; do
	active+=("$name x-$name-$$")
	rt "$name" run -d -b "$work/b-sleep" "x-$name-$$" || true
done
for ((round = 1 - warmup; round <= rounds; round++)); do
	each_runtime exec_round
done
for name in "${names[@]}"; do
	rt "$name" delete -f "x-$name-$$" || true
done

echo "bench: init RSS and charged memory: $mem_rounds rounds"
for ((round = 1; round <= mem_rounds; round++)); do
	each_runtime memory_round
done

echo "bench: storm of $storm_n containers, $storm_par in parallel: $storm_rounds rounds"
for ((round = 1; round <= storm_rounds; round++)); do
	each_runtime storm_round
done

# stats METRIC NAME: "median p10 p90" of the raw values, or nothing.
stats() {
	awk -v m="$1" -v r="$2" '$1 == m && $2 == r { print $3 }' "$work/values" | sort -n |
		awk '{ v[NR] = $1 }
		function q(f,  i) { i = int(f * (NR - 1) + 0.5) + 1; return v[i] }
		END { if (NR > 0) print q(0.5), q(0.1), q(0.9) }'
}

# metric: name, unit, divisor from the raw value, target ratio for husk.
metrics=(
	"run ms 1000 0.5"
	"create ms 1000 -"
	"start ms 1000 -"
	"delete ms 1000 -"
	"exec ms 1000 0.6"
	"seccomp ms 1000 0.5"
	"init_rss MB 1024 0.5"
	"charged MB 1024 0.3"
	"storm s 1000000 0.5"
)

echo
echo "bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs; storm: $storm_n containers, $storm_par in parallel"
printf '%-9s %-5s %-5s %9s %17s %7s %7s %s\n' metric unit rt median p10-p90 'x runc' target met
for m in "${metrics[@]}"; do
	read -r metric unit div target <<<"$m"
	runc_median=
	if [ -n "${bin[runc]:-}" ]; then
		read -r runc_median _ <<<"$(stats "$metric" runc)" || true
	fi
	for name in "${names[@]}"; do
		med='' p10='' p90=''
		read -r med p10 p90 <<<"$(stats "$metric" "$name")" || true
		[ -n "$med" ] || continue
		ratio=- verdict='' tgt=-
		if [ -n "$runc_median" ] && [ "$runc_median" != 0 ]; then
			ratio=$(awk -v a="$med" -v b="$runc_median" 'BEGIN { printf "%.2f", a / b }')
		fi
		if [ "$name" = husk ] && [ "$target" != - ]; then
			tgt="<=$target"
			if [ "$ratio" != - ]; then
				verdict=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r <= t) ? "yes" : "no" }')
			fi
		fi
		printf '%-9s %-5s %-5s %9s %17s %7s %7s %s\n' "$metric" "$unit" "$name" \
			"$(awk -v v="$med" -v d="$div" 'BEGIN { printf "%.2f", v / d }')" \
			"$(awk -v a="$p10" -v b="$p90" -v d="$div" 'BEGIN { printf "%.2f-%.2f", a / d, b / d }')" \
			"$ratio" "$tgt" "$verdict"
	done
done

if [ "$failed" -ne 0 ]; then
	echo "bench.sh: a runtime failed during the benchmark (see above)" >&2
	exit 1
fi
