#!/usr/bin/env bash
# mkbundle.sh DIR [-- ARGS...]
#
# Makes an OCI bundle in DIR: DIR/rootfs (busybox, by mkrootfs.sh) and
# DIR/config.json from 'husk spec --bundle DIR', with process.terminal set to
# false and process.args set to ARGS (default: a short demo script).
#
# Environment: HUSK_BIN is the runtime whose 'spec' makes config.json
# (default: bin/husk of this repository; 'runc' works too).
set -euo pipefail

die() {
	echo "mkbundle.sh: $*" >&2
	exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
husk=${HUSK_BIN:-$here/../bin/husk}

if [ "$#" -lt 1 ] || [ -z "$1" ] || [ "$1" = -- ]; then
	die "usage: mkbundle.sh DIR [-- ARGS...]"
fi
dir=$1
shift
if [ "$#" -gt 0 ]; then
	[ "$1" = -- ] || die "usage: mkbundle.sh DIR [-- ARGS...] (put '--' before the process arguments)"
	shift
fi
if [ "$#" -eq 0 ]; then
	# shellcheck disable=SC2016 # expanded by the container's shell
	set -- sh -c 'echo "hello from husk"; echo "hostname: $(hostname)"; id; ps'
fi

command -v jq >/dev/null 2>&1 || die "jq not found: install it with 'apt-get install jq' (or run 'make deps')"
command -v "$husk" >/dev/null 2>&1 || die "$husk not found: build it with 'make build'"

"$here/mkrootfs.sh" "$dir/rootfs"

# spec refuses to overwrite config.json: start from a fresh one every time.
rm -f "$dir/config.json" "$dir/config.json.tmp"
"$husk" spec --bundle "$dir" || die "'$husk spec --bundle $dir' failed"
[ -f "$dir/config.json" ] || die "'$husk spec --bundle $dir' wrote no $dir/config.json"

# Each argument goes in as its own --arg value: jq would take '-c' in a plain
# positional list for one of its own options.
jqargs=(--argjson n "$#")
i=0
for a in "$@"; do
	jqargs+=(--arg "a$i" "$a")
	i=$((i + 1))
done
jq "${jqargs[@]}" \
	'.process.terminal = false | .process.args = [range(0; $n) as $i | $ARGS.named["a\($i)"]]' \
	"$dir/config.json" >"$dir/config.json.tmp"
mv -f "$dir/config.json.tmp" "$dir/config.json"
