#!/usr/bin/env bash
# deps.sh [--test]
#
# Installs what building husk and making its demo bundle need on Debian 12,
# and with --test also what the test suite and the benchmark use. Idempotent
# and silent when everything is there: apt-get update runs only when a package
# is missing. Also checks Go and downloads the Go modules.
set -euo pipefail

base=(busybox-static libseccomp-dev pkg-config gcc libc6-dev make jq ca-certificates)
extra=(runc crun hyperfine strace iproute2)

pkgs=("${base[@]}")
case ${1:-} in
--test) pkgs+=("${extra[@]}") ;;
'') ;;
*)
	echo "usage: deps.sh [--test]" >&2
	exit 2
	;;
esac

# Installed packages show as "ii" in dpkg's status; anything else is missing.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null || true)
missing=()
for p in "${pkgs[@]}"; do
	if ! grep -qx "$p ii *" <<<"$installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: root is needed for that: run 'sudo apt-get install ${missing[*]}' or run make as root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	# apt's output is shown only when it fails.
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } </dev/null >"$log" 2>&1; then
		cat "$log" >&2
		echo "deps: apt-get failed" >&2
		exit 1
	fi
fi

if ! command -v go >/dev/null 2>&1; then
	echo "deps: go not found: husk needs Go 1.26 in /usr/local/go/bin or on PATH" >&2
	exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
go mod download
