#!/usr/bin/env bash
# bench.sh
#
# Compares husk (bin/husk) with runc and crun, each when it is present and
# works on this host (one trial run decides), on a busybox bundle whose
# process is /bin/true:
#   run                          create+start+wait+delete in one command
#   create, start, delete        the phases timed one by one
# Runtimes alternate within every round and the starting one rotates, so a
# noisy machine slows them alike: read the ratios, not the milliseconds.
#
# Never fails on a time; exits non-zero only when a runtime that passed its
# trial run fails later, or when no runtime works at all.
#
# Environment: BENCH_ROUNDS (default 30), BENCH_WARMUP (default 3),
# HUSK_BIN (default bin/husk of this repository).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
husk=${HUSK_BIN:-$here/../bin/husk}
rounds=${BENCH_ROUNDS:-30}
warmup=${BENCH_WARMUP:-3}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench.sh: containers need root: run it as root" >&2
	exit 1
fi

work=$(mktemp -d /tmp/husk-bench.XXXXXX)
names=()    # runtimes that work, in table order
declare -A bin=()
active=()   # containers to remove on exit: "name id"

cleanup() {
	local c
	for c in "${active[@]}"; do
		"${bin[${c%% *}]}" --root "$work/root-${c%% *}" delete -f "${c#* }" >/dev/null 2>&1 || true
	done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

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
# Every runtime compared must parse the config: older ones refuse newer ociVersions.
jq '.ociVersion = "1.0.2"' "$work/bundle/config.json" >"$work/config.tmp"
mv "$work/config.tmp" "$work/bundle/config.json"
bundle=$work/bundle

# One trial run each; a runtime that is missing or fails here is left out.
for name in husk runc crun; do
	b=$name
	[ "$name" = husk ] && b=$husk
	if ! command -v "$b" >/dev/null 2>&1; then
		echo "bench: $name: not found, skipped"
		continue
	fi
	b=$(command -v "$b")
	mkdir -p "$work/root-$name"
	if out=$("$b" --root "$work/root-$name" run -b "$bundle" "trial-$$" </dev/null 2>&1); then
		bin[$name]=$b
		names+=("$name")
		echo "bench: $name: $b"
	else
		"$b" --root "$work/root-$name" delete -f "trial-$$" >/dev/null 2>&1 || true
		echo "bench: $name: fails on this host, skipped: $(printf '%s\n' "$out" | tail -n 1)"
	fi
done
if [ "${#names[@]}" -eq 0 ]; then
	echo "bench.sh: no runtime works on this host" >&2
	exit 1
fi

failed=0

# rt NAME ARGS...: runs the runtime quietly; a failure is reported and counted.
rt() {
	local name=$1
	shift
	if ! "${bin[$name]}" --root "$work/root-$name" "$@" </dev/null >"$work/out" 2>&1; then
		echo "bench: $name $*: failed: $(tail -n 1 "$work/out")" >&2
		failed=1
		return 1
	fi
}

wait_stopped() {
	local name=$1 id=$2 i
	for ((i = 0; i < 1000; i++)); do
		if "${bin[$name]}" --root "$work/root-$name" state "$id" 2>/dev/null |
			grep -q '"status": *"stopped"'; then
			return 0
		fi
	done
	echo "bench: $name: container $id did not stop" >&2
	failed=1
	return 1
}

# record NAME PHASE MICROSECONDS (skipped during warm-up rounds)
record() {
	[ "$round" -gt 0 ] || return 0
	echo "$2 $1 $3" >>"$work/times"
}

one_round() {
	local name=$1 id t0 t1
	id="b-$name-$round-$$"

	t0=${EPOCHREALTIME/[.,]/}
	rt "$name" run -b "$bundle" "$id" || return 0
	t1=${EPOCHREALTIME/[.,]/}
	record "$name" run $((t1 - t0))

	id="p-$name-$round-$$"
	active+=("$name $id")
	t0=${EPOCHREALTIME/[.,]/}
	rt "$name" create -b "$bundle" "$id" || return 0
	t1=${EPOCHREALTIME/[.,]/}
	record "$name" create $((t1 - t0))
	t0=${EPOCHREALTIME/[.,]/}
	rt "$name" start "$id" || return 0
	t1=${EPOCHREALTIME/[.,]/}
	record "$name" start $((t1 - t0))
	wait_stopped "$name" "$id" || return 0
	t0=${EPOCHREALTIME/[.,]/}
	rt "$name" delete "$id" || return 0
	t1=${EPOCHREALTIME/[.,]/}
	record "$name" delete $((t1 - t0))
	unset 'active[-1]'
}

: >"$work/times"
n=${#names[@]}
echo "bench: $warmup warm-up rounds, $rounds rounds, runtimes alternating: ${names[*]}"
for ((round = 1 - warmup; round <= rounds; round++)); do
	for ((k = 0; k < n; k++)); do
		# Rotate which runtime goes first in each round.
		one_round "${names[$(((k + round + warmup) % n))]}"
	done
done

# stats PHASE NAME: "median p10 p90" in ms, or nothing without samples.
stats() {
	awk -v p="$1" -v r="$2" '$1 == p && $2 == r { print $3 }' "$work/times" | sort -n |
		awk '{ v[NR] = $1 }
		function q(f,  i) { i = int(f * (NR - 1) + 0.5) + 1; return v[i] / 1000 }
		END { if (NR > 0) printf "%.2f %.2f %.2f\n", q(0.5), q(0.1), q(0.9) }'
}

# Table: median and p10-p90 in ms, and the median's ratio to runc's.
echo
printf '%-7s %-7s %10s %17s %8s\n' phase runtime 'median ms' 'p10-p90 ms' 'x runc'
for phase in run create start delete; do
	runc_median=
	if [ -n "${bin[runc]:-}" ]; then
		read -r runc_median _ <<<"$(stats "$phase" runc)" || true
	fi
	for name in "${names[@]}"; do
		med='' p10='' p90=''
		read -r med p10 p90 <<<"$(stats "$phase" "$name")" || true
		[ -n "$med" ] || continue
		ratio=-
		if [ -n "$runc_median" ]; then
			ratio=$(awk -v a="$med" -v b="$runc_median" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
		fi
		printf '%-7s %-7s %10s %17s %8s\n' "$phase" "$name" "$med" "$p10-$p90" "$ratio"
	done
done

if [ "$failed" -ne 0 ]; then
	echo "bench.sh: a runtime failed during the benchmark (see above)" >&2
	exit 1
fi
