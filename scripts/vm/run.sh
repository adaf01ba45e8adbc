#!/usr/bin/env bash
# run.sh: runs the cgroup v2 suite (tests/vm) inside a QEMU virtual machine.
#
# The development and CI machines have cgroup v1 (hybrid), so the tests that
# need cgroup v2 run in a VM booted here with QEMU in software emulation (TCG,
# no KVM needed): Debian's cloud kernel, and an initramfs holding static
# busybox, the husk binary, runc (when the host has it), the busybox rootfs of
# scripts/mkrootfs.sh and the test binary of tests/vm. Its /init mounts
# cgroup2 with every controller enabled, runs the tests once per runtime and
# powers off. The test output comes back over a virtio-serial port; this
# script prints it and exits with the tests' exit code. A VM that hangs,
# panics or ends without the final marker line is a failure, shown with its
# console log.
#
# What it needs (installed when missing, as root): qemu-system-x86,
# busybox-static, cpio. The kernel is not installed: the package that
# linux-image-cloud-amd64 depends on is fetched with 'apt-get download' and
# unpacked into the cache directory once; later runs reuse it (delete
# $VM_CACHE/kernel to pick up a newer one). QEMU itself does not need root.
#
# Environment:
#   HUSK_BIN            static husk binary (default bin/husk; 'make build')
#   VM_RUNTIMES         runtimes to test, in order, space or comma separated:
#                       husk, runc (default: "husk runc", runc only when the
#                       host has /usr/sbin/runc or runc on PATH)
#   VM_EXPECT_CGROUPS   1: the cgroup tests must pass with husk; 0 (default):
#                       husk does not manage cgroups yet, so they run as
#                       expected failures (a failure is reported as a skip,
#                       a pass is reported as a pass). runc always gets 1.
#   VM_TEST_RUN         -test.run pattern (no spaces)
#   VM_TIMEOUT          seconds before the VM is killed (default 240: a run
#                       takes ~25 s); a VM killed without a result after its
#                       kernel reported a lockup is booted once more
#   VM_CACHE            cache directory (default _vm in the repository)
#   VM_KEEP_CONSOLE     1: print the console log even on success
#   VM_SERIAL_ONLY      1: no virtio-serial port: the test output goes over
#                       the serial console, mixed with the kernel's messages
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${VM_CACHE:-$repo/_vm}
husk=${HUSK_BIN:-$repo/bin/husk}
expect_cgroups=${VM_EXPECT_CGROUPS:-0}
test_run=${VM_TEST_RUN:-}
vm_timeout=${VM_TIMEOUT:-240}

export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
export DEBIAN_FRONTEND=noninteractive

log() { echo "test-vm: $*" >&2; }
die() {
	echo "test-vm: $*" >&2
	exit 1
}
# took SECONDS_AT_START: how long a step took, for the log.
took() { echo "$((SECONDS - $1))s"; }

case $expect_cgroups in 0 | 1) ;; *) die "VM_EXPECT_CGROUPS must be 0 or 1, not '$expect_cgroups'" ;; esac
case $vm_timeout in '' | *[!0-9]*) die "VM_TIMEOUT must be a number of seconds, not '$vm_timeout'" ;; esac
case $test_run in *[[:space:],]*) die "VM_TEST_RUN must not contain spaces or commas (it goes on the kernel command line)" ;; esac

runc_bin=$(command -v runc || true)
if [ -n "${VM_RUNTIMES:-}" ]; then
	runtimes=$(tr -s ', ' '\n' <<<"$VM_RUNTIMES" | grep -v '^$' || true)
else
	runtimes=husk
	[ -n "$runc_bin" ] && runtimes+=$'\nrunc'
fi
[ -n "$runtimes" ] || die "VM_RUNTIMES is empty"
for rt in $runtimes; do
	case $rt in
	husk) ;;
	runc) [ -n "$runc_bin" ] || die "VM_RUNTIMES has runc but runc is not installed: apt-get install runc (or make deps)" ;;
	*) die "VM_RUNTIMES: unknown runtime '$rt' (husk or runc)" ;;
	esac
done

# ---------------------------------------------------------------------------
# 1. Packages and kernel

start=$SECONDS

ensure_packages() {
	local pkgs=(qemu-system-x86 busybox-static cpio) missing=() installed p out
	installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null || true)
	for p in "${pkgs[@]}"; do
		grep -qx "$p ii *" <<<"$installed" || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages: run 'sudo apt-get install ${missing[*]}' or run as root"
	log "installing ${missing[*]}"
	if ! out=$({ apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } </dev/null 2>&1); then
		echo "$out" >&2
		die "apt-get install failed"
	fi
}

# kernel_package prints the versioned kernel package that the metapackage
# depends on, e.g. linux-image-6.1.0-56-cloud-amd64.
kernel_package() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

apt_update() {
	[ "$(id -u)" -eq 0 ] || die "apt-get update needs root (to find the kernel package): run it once as root"
	local out
	out=$(apt-get update -q </dev/null 2>&1) || {
		echo "$out" >&2
		die "apt-get update failed"
	}
}

# copy_modules TREE DEST MODULE...: copies the modules (.ko files under
# TREE/lib/modules) with what they depend on to DEST and lists them in load
# order in DEST/order. The package has no modules.dep (depmod makes it at
# install time): the dependencies come from each module's modinfo section.
copy_modules() {
	mod_tree=$1 mod_dest=$2
	shift 2
	mod_seen=' '
	local m
	for m in "$@"; do
		add_module "$m"
	done
}

add_module() {
	local name=$1 ko deps d
	case $mod_seen in *" $name "*) return 0 ;; esac
	mod_seen+="$name "
	ko=$(find "$mod_tree/lib/modules" -name "$name.ko" | head -n 1)
	[ -n "$ko" ] || die "the kernel package has no module $name.ko"
	deps=$(tr '\0' '\n' <"$ko" | sed -n 's/^depends=//p' | head -n 1)
	for d in ${deps//,/ }; do
		add_module "$d"
	done
	cp "$ko" "$mod_dest/"
	echo "$name" >>"$mod_dest/order"
}

# download_kernel DIR: fetches and unpacks the cloud kernel into DIR/vmlinuz.
download_kernel() {
	local dir=$1 pkg tmp deb updated=0 out
	pkg=$(kernel_package)
	if [ -z "$pkg" ]; then
		apt_update
		updated=1
		pkg=$(kernel_package)
		[ -n "$pkg" ] || die "apt-cache finds no linux-image-cloud-amd64 (is this Debian amd64?)"
	fi
	tmp=$(mktemp -d "$cache/kernel-dl.XXXXXX")
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	# Debian drops old kernel ABIs from its mirrors: an old package list can
	# name a package that is gone, so update and retry once.
	while :; do
		local candidates=("$pkg" "$pkg-unsigned") p
		for p in "${candidates[@]}"; do
			# apt warns that the download runs unsandboxed as root: harmless.
			if out=$(cd "$tmp" && apt-get download -q "$p" </dev/null 2>&1); then
				break 2
			fi
		done
		if [ "$updated" -eq 1 ]; then
			echo "$out" >&2
			die "apt-get download $pkg failed"
		fi
		apt_update
		updated=1
		pkg=$(kernel_package)
	done
	deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb"
	mkdir -p "$tmp/x"
	dpkg-deb -x "$deb" "$tmp/x"
	local vmlinuz config
	vmlinuz=$(find "$tmp/x/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)
	[ -n "$vmlinuz" ] || die "$(basename "$deb") has no /boot/vmlinuz-*"
	config=$(find "$tmp/x/boot" -maxdepth 1 -name 'config-*' | head -n 1)
	rm -rf "$dir"
	mkdir -p "$dir/modules"
	copy_modules "$tmp/x" "$dir/modules" virtio_pci virtio_console brd
	cp "$vmlinuz" "$dir/vmlinuz.tmp"
	[ -z "$config" ] || cp "$config" "$dir/config"
	basename "$deb" >"$dir/package"
	mv -f "$dir/vmlinuz.tmp" "$dir/vmlinuz"
	rm -rf "$tmp"
	trap - EXIT
}

ensure_packages
mkdir -p "$cache"
# One run at a time per cache directory: the kernel, the initramfs and the
# logs live there.
exec 9>"$cache/.lock"
flock 9
if [ -s "$cache/kernel/vmlinuz" ] && [ -s "$cache/kernel/modules/order" ]; then
	log "kernel: $(cat "$cache/kernel/package" 2>/dev/null || echo cached) (cached)"
else
	t=$SECONDS
	download_kernel "$cache/kernel"
	log "kernel: downloaded $(cat "$cache/kernel/package") in $(took "$t")"
fi

# ---------------------------------------------------------------------------
# 2. The initramfs

[ -x "$husk" ] || die "$husk not found: build it with 'make build' (or set HUSK_BIN)"
if head -c 1024 "$husk" | LC_ALL=C grep -qa 'ld-linux'; then
	die "$husk is dynamically linked: the VM has no libc, build it static ('make build')"
fi
command -v go >/dev/null 2>&1 || die "go not found (looked in PATH and /usr/local/go/bin)"

t=$SECONDS
stage=$cache/initramfs
rm -rf --one-file-system "$stage"
mkdir -p "$stage"

# The VM's own root: the same busybox tree as a container's, which gives
# /bin/busybox, its applet links and the usual mount points.
"$repo/scripts/mkrootfs.sh" "$stage"
mkdir -p "$stage/newroot" "$stage/vm" "$stage/sys/fs/cgroup"
"$repo/scripts/mkrootfs.sh" "$stage/vm/rootfs"
cp -r "$cache/kernel/modules" "$stage/vm/modules"
cp "$husk" "$stage/vm/husk"

# runc is dynamically linked: the libraries ldd lists go in at the same paths.
if grep -qx runc <<<"$runtimes"; then
	cp -L "$runc_bin" "$stage/vm/runc"
	for lib in $(ldd "$runc_bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'); do
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
fi

# The package uses no cgo, so the binary is static either way; building it
# with the caller's CGO_ENABLED reuses what 'make unit' compiled (a cold
# CGO_ENABLED=0 build of the standard library costs half a minute here).
(cd "$repo" && go test -c -o "$cache/vmtests.test" ./tests/vm/)
if head -c 1024 "$cache/vmtests.test" | LC_ALL=C grep -qa 'ld-linux'; then
	(cd "$repo" && CGO_ENABLED=0 go test -c -o "$cache/vmtests.test" ./tests/vm/)
fi
cp "$cache/vmtests.test" "$stage/vm/vmtests.test"

cat >"$stage/init" <<'EOF'
#!/bin/sh
# PID 1 of the test VM, written by scripts/vm/run.sh. The kernel passes the
# unknown key=value words of its command line as environment: vmtests_*.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

if [ "${1:-}" != stage2 ]; then
	# pivot_root cannot move away from the initramfs root: copy everything
	# into a tmpfs and make that the root.
	mount -t devtmpfs devtmpfs /dev
	exec </dev/console >/dev/console 2>&1
	mount -t tmpfs -o mode=0755 tmpfs /newroot
	for e in /*; do
		case $e in /dev | /newroot) continue ;; esac
		cp -a "$e" /newroot/
	done
	mkdir -p /newroot/dev
	mount --move /dev /newroot/dev
	exec switch_root /newroot /init stage2
	echo "init: switch_root failed"
	poweroff -f
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || echo "init: cannot enable the $c controller"
done
hostname vmtests

# The virtio-serial port named vmtests carries the output (the kernel has
# virtio as modules; the port shows up shortly after they load); the serial
# console is the fallback.
for m in $(cat /vm/modules/order); do
	insmod "/vm/modules/$m.ko" || echo "init: insmod $m failed"
done
out=
i=0
while [ -z "$out" ] && [ "$i" -lt 100 ]; do
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = vmtests ] && [ -c "/dev/${p##*/}" ] && out=/dev/${p##*/}
	done
	[ -n "$out" ] || usleep 50000
	i=$((i + 1))
done
if [ -z "$out" ]; then
	echo "init: no virtio-serial port named vmtests: the output goes to the console"
	out=/dev/console
fi
exec 3>"$out"

up() { echo "up $(cut -d' ' -f1 /proc/uptime)s"; }
echo "=== vm: kernel $(uname -r), controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control), $(up)" >&3
status=0
for rt in $(echo "${vmtests_runtimes:-husk}" | tr , ' '); do
	expect=1
	[ "$rt" = husk ] && expect=${vmtests_expect_cgroups:-1}
	echo "=== vm: RUNTIME=$rt VM_EXPECT_CGROUPS=$expect" >&3
	rc=0
	HUSK_VM=1 RUNTIME=/vm/$rt VM_ROOTFS=/vm/rootfs VM_EXPECT_CGROUPS=$expect \
		/vm/vmtests.test -test.v -test.count=1 -test.timeout="${vmtests_timeout:-300}s" \
		${vmtests_run:+-test.run="$vmtests_run"} </dev/null >&3 2>&3 || rc=$?
	echo "=== vm: RUNTIME=$rt exit $rc, $(up)" >&3
	[ "$rc" -eq 0 ] || status=$rc
done
echo "VMTESTS-EXIT $status" >&3
echo "VMTESTS-EXIT $status"
exec 3>&-
poweroff -f
EOF
chmod 0755 "$stage/init"

(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) >"$cache/initramfs.cpio"
rm -rf --one-file-system "$stage"
log "initramfs: $(($(stat -c %s "$cache/initramfs.cpio") / 1024 / 1024)) MiB in $(took "$t")"

# ---------------------------------------------------------------------------
# 3. Boot

console=$cache/console.log
output=$cache/output.log

# The in-VM go test timeout stays below the VM's, so a hung test prints its
# goroutines before the VM is killed.
n=$(wc -w <<<"$runtimes")
per_runtime=$(((vm_timeout - 30) / n))
[ "$per_runtime" -ge 30 ] || per_runtime=30
rt_list=$(tr '\n' , <<<"$runtimes")
rt_list=${rt_list%,}
append="console=ttyS0 panic=-1 quiet vmtests_runtimes=$rt_list vmtests_expect_cgroups=$expect_cgroups vmtests_timeout=$per_runtime"
[ -z "$test_run" ] || append+=" vmtests_run=$test_run"

log "booting: runtimes $rt_list, VM_EXPECT_CGROUPS=$expect_cgroups (husk), timeout ${vm_timeout}s"
port=(-device virtio-serial-pci
	-chardev "file,id=vmtests,path=$output"
	-device "virtserialport,chardev=vmtests,name=vmtests")
[ "${VM_SERIAL_ONLY:-0}" != 1 ] || port=()
# boot runs the VM once; qemu_rc is its exit status (124 or 137: killed
# at VM_TIMEOUT).
boot() {
	rm -f "$console" "$output"
	: >"$output"
	local t=$SECONDS
	qemu_rc=0
	timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
		-machine q35 -accel tcg -m 2048 -smp 2 \
		-display none -monitor none -serial "file:$console" -nic none \
		-no-reboot \
		-kernel "$cache/kernel/vmlinuz" -initrd "$cache/initramfs.cpio" \
		-append "$append" \
		"${port[@]}" \
		</dev/null || qemu_rc=$?
	log "VM ran $(took "$t") (qemu exit $qemu_rc); total $(took "$start")"
}
# hung: the VM was killed at VM_TIMEOUT without reporting a result.
hung() {
	{ [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; } &&
		! grep -aq '^VMTESTS-EXIT [0-9]' "$output" "$console" 2>/dev/null
}
boot
# The emulated guest kernel now and then locks both of its CPUs up (a
# busy host makes it likelier), whatever runs in it: boot once more when
# its console says so. A hang of the tests themselves is not retried.
if hung && grep -aqE 'soft lockup|rcu: .*detected stalls' "$console"; then
	log "the guest kernel locked up; its console:"
	tr -d '\r' <"$console" | tail -n 20 | cat -v >&2 || true
	log "booting it once more"
	boot
fi

# ---------------------------------------------------------------------------
# 4. Result

# The marker also goes to the console, in case the virtio port failed.
marker=$(grep -ah '^VMTESTS-EXIT [0-9]*' "$output" "$console" 2>/dev/null | head -n 1 | tr -d '\r' || true)
show_console() {
	echo "----- VM console ($console) -----"
	tr -d '\r' <"$console" 2>/dev/null | cat -v || true
	echo "----- end of VM console -----"
}
if [ -s "$output" ]; then
	grep -av '^VMTESTS-EXIT ' "$output" || true
elif [ -n "$marker" ]; then
	# No virtio port in the VM: the test output went to the console.
	show_console
	output=$console
fi
if [ -z "$marker" ]; then
	show_console
	if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
		die "FAIL: the VM did not finish within ${vm_timeout}s (VM_TIMEOUT)"
	fi
	die "FAIL: the VM stopped without reporting a result (crash, kernel panic or init failure)"
fi
rc=${marker#VMTESTS-EXIT }
[ "${VM_KEEP_CONSOLE:-0}" != 1 ] || [ "$output" = "$console" ] || show_console
# One summary line per runtime, from its section of the output.
awk '
	/^=== vm: RUNTIME=[^ ]+ VM_EXPECT_CGROUPS=/ { rt = substr($3, 9); ex = $4; p = f = s = 0; next }
	/^--- PASS: / { p++ } /^--- FAIL: / { f++ } /^--- SKIP: / { s++ }
	/^=== vm: RUNTIME=[^ ]+ exit / {
		code = $5; sub(/,$/, "", code)
		printf "test-vm: RUNTIME=%s %s: %s (passed %d, failed %d, skipped %d)\n", rt, ex, (code == 0 ? "ok" : "FAIL, exit " code), p, f, s
	}' <(tr -d '\r' <"$output") >&2
if [ "$rc" -ne 0 ]; then
	log "FAIL (exit $rc)"
	exit "$rc"
fi
log "ok"
