#!/usr/bin/env bash
# deps.sh [--test | --engines]
#
# Installs what building husk and making its demo bundle need on Debian 12;
# with --test also what the test suite and the benchmark use; with --engines
# also the container engines that tests/engines drives with husk as their
# runtime (docker.io, podman, containerd). Idempotent and silent when
# everything is there: apt-get update runs only when a package is missing.
# Also checks Go and downloads the Go modules.
#
# The engines are installed without starting any of their services: the
# tests start private daemons of their own. While apt-get runs, a
# /usr/sbin/policy-rc.d that answers 101 ("action forbidden") keeps
# invoke-rc.d and deb-systemd-invoke from starting dockerd or containerd; it
# is removed afterwards only if this script put it there.
set -euo pipefail

base=(busybox-static libseccomp-dev pkg-config gcc libc6-dev make jq ca-certificates)
extra=(runc crun hyperfine strace iproute2)
# Without recommends: no slirp4netns, fuse-overlayfs, uidmap or CNI setup
# that the tests (root, --network none, overlay or vfs storage) do not use.
engines=(docker.io podman containerd conmon)

pkgs=("${base[@]}")
case ${1:-} in
--test) pkgs+=("${extra[@]}") ;;
--engines) pkgs+=("${engines[@]}") ;;
'') ;;
*)
	echo "usage: deps.sh [--test | --engines]" >&2
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

policy=/usr/sbin/policy-rc.d
policy_ours=
cleanup() {
	rm -f "${log:-}"
	if [ -n "$policy_ours" ]; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT

if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: root is needed for that: run 'sudo apt-get install ${missing[*]}' or run make as root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# deps.sh: no service starts while packages are installed.\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		policy_ours=1
	fi
	log=$(mktemp)
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
