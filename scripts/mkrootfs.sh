#!/usr/bin/env bash
# mkrootfs.sh DIR
#
# Creates a minimal busybox root filesystem in DIR from Debian's
# busybox-static (/bin/busybox, statically linked): DIR/bin/busybox plus a
# symlink in DIR/bin for every applet, /etc/passwd and /etc/group with root,
# a user 1000 and nobody, and the usual empty mount points.
#
# Idempotent: running it again on the same DIR brings it back to this state
# without touching anything else in DIR.
#
# Environment: BUSYBOX overrides the source binary (default /bin/busybox).
set -euo pipefail

die() {
	echo "mkrootfs.sh: $*" >&2
	exit 1
}

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
	die "usage: mkrootfs.sh DIR"
fi
dir=$1
busybox=${BUSYBOX:-/bin/busybox}

[ -x "$busybox" ] || die "$busybox not found: install it with 'apt-get install busybox-static' (or run 'make deps')"
# A dynamically linked busybox (Debian's 'busybox' package) cannot run in a
# rootfs without a libc: its program interpreter path sits near the start of
# the file.
if head -c 1024 "$busybox" | LC_ALL=C grep -qa 'ld-linux'; then
	die "$busybox is dynamically linked: install the static one with 'apt-get install busybox-static'"
fi

mkdir -p "$dir"
cd "$dir"

mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root run
chmod 1777 tmp
chmod 0700 root

# Copy the binary only when it differs, through a temporary name, so a
# container still running the old one does not make cp fail (ETXTBSY).
if ! cmp -s "$busybox" bin/busybox 2>/dev/null; then
	cp "$busybox" bin/.busybox.tmp
	chmod 0755 bin/.busybox.tmp
	mv -f bin/.busybox.tmp bin/busybox
fi

# One relative symlink per applet; correct links are left alone. perl
# (perl-base is Essential on Debian) makes them in one process: a fork per
# applet would cost seconds.
applets=$("$busybox" --list) || die "'$busybox --list' failed"
# shellcheck disable=SC2086 # one applet name per word
if command -v perl >/dev/null 2>&1; then
	perl -e '
		for my $a (@ARGV) {
			next if $a eq "busybox" || $a eq "" || $a =~ m{/};
			my $l = "bin/$a";
			my $t = readlink $l;
			next if defined $t && $t eq "busybox";
			unlink $l if -e $l || -l $l;
			symlink("busybox", $l) or die "mkrootfs.sh: symlink $l: $!\n";
		}' $applets
else
	for a in $applets; do
		case $a in
		busybox | */* | '') continue ;;
		esac
		[ -L "bin/$a" ] && continue
		rm -rf "bin/$a"
		ln -s busybox "bin/$a"
	done
fi

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF

cat >etc/group <<'EOF'
root:x:0:
user:x:1000:
nobody:x:65534:
EOF
chmod 0644 etc/passwd etc/group
