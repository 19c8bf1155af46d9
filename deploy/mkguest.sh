#!/bin/sh
# mkguest.sh - build the tiny Nubo test guest image (CirrOS-like) from Debian
# packages only.
#
# Usage: deploy/mkguest.sh OUTPUT.qcow2
#
# The result is a bootable qcow2 disk: a partition-less FAT "superfloppy"
# carrying SYSLINUX, the Debian kernel and an initramfs made of busybox-static,
# a handful of kernel modules (virtio, isofs, ...) and deploy/guest/init.
# The guest runs entirely from RAM; see deploy/guest/init for what it does.
#
# Environment:
#   NUBO_GUEST_CACHE   directory where downloaded .debs are kept and reused
#                      (default: a temporary directory, removed afterwards)
#   NUBO_GUEST_APPEND  extra kernel command line arguments
#
# Must run as root on Debian 12 (it apt-get installs the few host tools it
# needs; the kernel package is only downloaded and unpacked, never installed).
set -eu

usage() { echo "usage: $0 OUTPUT.qcow2" >&2; exit 2; }
[ $# -eq 1 ] || usage
OUT=$1
case $OUT in -*) usage ;; esac

log() { echo "mkguest: $*" >&2; }
die() { echo "mkguest: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

HERE=$(cd "$(dirname "$0")" && pwd)
GUEST=$HERE/guest
for f in init udhcpc.script info.cgi hotplug; do
	[ -f "$GUEST/$f" ] || die "missing $GUEST/$f"
done

export DEBIAN_FRONTEND=noninteractive
APT_OPTS="-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3"

# ---------------------------------------------------------------- host tools
# package:command-that-proves-it-is-there
TOOLS="dosfstools:mkfs.vfat mtools:mcopy syslinux:syslinux
syslinux-common:/usr/lib/syslinux/mbr/mbr.bin qemu-utils:qemu-img cpio:cpio
kmod:depmod gzip:gzip"
missing=
for t in $TOOLS; do
	pkg=${t%%:*} cmd=${t#*:}
	case $cmd in
	/*) [ -e "$cmd" ] || missing="$missing $pkg" ;;
	*) PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg" ;;
	esac
done
apt_lists_updated=
apt_update() {
	[ -n "$apt_lists_updated" ] && return 0
	log "apt-get update"
	# shellcheck disable=SC2086
	apt-get $APT_OPTS update -qq >&2
	apt_lists_updated=1
}
if [ -n "$missing" ]; then
	log "installing host tools:$missing"
	# shellcheck disable=SC2086
	if ! apt-get $APT_OPTS install -y -q --no-install-recommends $missing >&2; then
		apt_update
		# shellcheck disable=SC2086
		apt-get $APT_OPTS install -y -q --no-install-recommends $missing >&2
	fi
fi
export PATH="$PATH:/usr/sbin:/sbin"

# ---------------------------------------------------------------- workspace
WORK=$(mktemp -d /tmp/nubo-mkguest.XXXXXX)
chmod 755 "$WORK" # apt-get download drops privileges to '_apt'
TMPOUT=
cleanup() { rm -rf "$WORK"; [ -z "$TMPOUT" ] || rm -f "$TMPOUT"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ -n "${NUBO_GUEST_CACHE:-}" ]; then
	CACHE=$NUBO_GUEST_CACHE
	mkdir -p "$CACHE"
	CACHE=$(cd "$CACHE" && pwd)
else
	CACHE=$WORK/debs
	mkdir -p "$CACHE"
fi

# ---------------------------------------------------------------- packages
# Which versioned kernel package does the linux-image-amd64 metapackage want?
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
KPKG=$(kernel_pkg || true)
if [ -z "$KPKG" ]; then
	apt_update
	KPKG=$(kernel_pkg || true)
fi
[ -n "$KPKG" ] || die "cannot resolve the kernel package behind linux-image-amd64"

# fetch PKG: make sure $CACHE holds the candidate version of PKG; print its path
fetch() {
	pkg=$1
	ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1)
	if [ -n "$ver" ]; then
		# apt-get download escapes the epoch colon as %3a
		want=$CACHE/${pkg}_$(echo "$ver" | sed 's/:/%3a/g')_amd64.deb
		if [ ! -s "$want" ]; then
			log "downloading $pkg $ver"
			dl=$(mktemp -d "$CACHE/.dl.XXXXXX")
			# let apt's sandbox user write there (avoids a warning)
			chown _apt "$dl" 2>/dev/null || true
			# shellcheck disable=SC2086
			(cd "$dl" && apt-get $APT_OPTS download -q "$pkg=$ver" >&2) ||
				{ rm -rf "$dl"; die "apt-get download $pkg failed"; }
			mv "$dl"/*.deb "$want"
			rm -rf "$dl"
		fi
		echo "$want"
		return 0
	fi
	# apt does not know it (no lists, offline): fall back to whatever is cached
	# shellcheck disable=SC2012
	f=$(ls "$CACHE/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n1)
	[ -n "$f" ] || die "package $pkg unknown to apt and not in $CACHE"
	echo "$f"
}
KDEB=$(fetch "$KPKG")
BDEB=$(fetch busybox-static)
log "kernel: $(basename "$KDEB")"
log "busybox: $(basename "$BDEB")"

# ---------------------------------------------------------------- unpack
log "unpacking"
dpkg-deb -x "$KDEB" "$WORK/k"
dpkg-deb -x "$BDEB" "$WORK/bb"
# shellcheck disable=SC2012
KVER=$(ls "$WORK/k/lib/modules" | head -n1)
if [ -z "$KVER" ] || [ ! -f "$WORK/k/boot/vmlinuz-$KVER" ]; then die "no kernel in $KDEB"; fi
BUSYBOX=$WORK/bb/bin/busybox
[ -x "$BUSYBOX" ] || die "no busybox in $BDEB"

# ---------------------------------------------------------------- rootfs
R=$WORK/root
mkdir -p "$R"
(cd "$R" && mkdir -p bin sbin usr/bin usr/sbin etc/udhcpc etc/acpi/PWRF \
	proc sys dev run tmp mnt root/.ssh var/log www/cgi-bin lib/modules)
chmod 700 "$R/root" "$R/root/.ssh"
chmod 1777 "$R/tmp"
ln -s ../run "$R/var/run"

cp "$BUSYBOX" "$R/bin/busybox"
"$BUSYBOX" --list-full | while read -r app; do
	case $app in linuxrc | bin/busybox) continue ;; esac
	[ -e "$R/$app" ] || ln -s /bin/busybox "$R/$app"
done

install -m 0755 "$GUEST/init" "$R/init"
install -m 0755 "$GUEST/udhcpc.script" "$R/etc/udhcpc/default.script"
install -m 0755 "$GUEST/info.cgi" "$R/www/cgi-bin/info"
install -m 0755 "$GUEST/hotplug" "$R/sbin/nubo-hotplug"
# ACPI power button (busybox acpid runs /etc/acpi/PWRF/00000080)
printf '#!/bin/sh\necho "nubo-guest: power button, shutting down" >/dev/console\nexec /sbin/poweroff\n' \
	>"$R/etc/acpi/PWRF/00000080"
chmod 755 "$R/etc/acpi/PWRF/00000080"

cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# no password login at all (the image is for automated tests)
printf 'root:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
chmod 600 "$R/etc/shadow"
printf '127.0.0.1\tlocalhost\n' >"$R/etc/hosts"
printf 'hosts: files dns\n' >"$R/etc/nsswitch.conf"
: >"$R/etc/resolv.conf"
cat >"$R/etc/inittab" <<'EOF'
# busybox init takes over from /init once the guest is up
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sh -c 'killall uevent udhcpc httpd acpid 2>/dev/null; sync; umount -a -r 2>/dev/null'
EOF
printf 'nubo-guest\n' >"$R/etc/hostname"

# initial console for the kernel (if we may create device nodes)
mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$R/dev/null" c 1 3 2>/dev/null || true

# ---------------------------------------------------------------- modules
# Everything the guest may need that Debian builds as a module; dependencies
# are resolved from the package's own tree.  Loading modules is slow under
# TCG, so the guest loads them in two steps (EARLY before DHCP starts, LATE
# while it runs); the ONDEMAND ones are only loaded by the kernel itself
# (request_module -> busybox modprobe), e.g. on "mount -t ext4".
EARLY="virtio_pci virtio_net virtio_blk isofs"
LATE="virtio_scsi sd_mod sr_mod ata_piix ahci e1000 virtio_rng virtio_balloon
virtio_console virtio_input button evdev"
ONDEMAND="ext4 vfat nls_utf8 nls_cp437 nls_ascii nls_iso8859_1"
MODULES="$EARLY $LATE $ONDEMAND"
KM=$WORK/k/lib/modules/$KVER
depmod -b "$WORK/k" "$KVER"
mkdir -p "$R/lib/modules/$KVER"
cp "$KM/modules.builtin" "$KM/modules.order" "$R/lib/modules/$KVER/"
[ -f "$KM/modules.builtin.modinfo" ] &&
	cp "$KM/modules.builtin.modinfo" "$R/lib/modules/$KVER/"
loaded=
for m in $MODULES; do
	deps=$(modprobe -d "$WORK/k" -S "$KVER" --show-depends "$m" 2>/dev/null) || {
		log "note: module $m not available, skipped"
		continue
	}
	echo "$deps" | while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		rel=${path#"$WORK/k/"}
		mkdir -p "$R/$(dirname "$rel")"
		cp "$path" "$R/$rel"
	done
	loaded="$loaded $m"
done
depmod -b "$R" "$KVER"
# sanity check: the guest resolves every module exactly like the full tree
for m in $loaded; do
	a=$(modprobe -d "$WORK/k" -S "$KVER" --show-depends "$m" | sed "s|$WORK/k/||" | sort)
	b=$(modprobe -d "$R" -S "$KVER" --show-depends "$m" 2>&1 | sed "s|$R/||" | sort)
	[ "$a" = "$b" ] || die "module $m resolves differently in the guest: $b"
done
# the guest loads these lists (and their dependencies) at boot
for m in $EARLY; do echo "$m"; done >"$R/etc/modules.early"
for m in $LATE; do echo "$m"; done >"$R/etc/modules.late"
log "modules:$loaded"

# ---------------------------------------------------------------- initramfs
log "packing initramfs"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -9n >"$WORK/initrd.gz"

# ---------------------------------------------------------------- disk
APPEND="console=tty0 console=ttyS0,115200n8 loglevel=4 panic=10 ${NUBO_GUEST_APPEND:-}"
cat >"$WORK/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT nubo
PROMPT 0
TIMEOUT 0
LABEL nubo
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND $APPEND
EOF
cp "$WORK/k/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# FAT size: payload + 25% + 2 MiB for syslinux and FAT overhead
kb=$(du -k "$WORK/vmlinuz" "$WORK/initrd.gz" | awk '{s += $1} END {print int(s * 1.25) + 2048}')
kb=$(((kb + 1023) / 1024 * 1024))
IMG=$WORK/disk.img
log "creating ${kb} KiB FAT image"
mkfs.vfat -C -n NUBOGUEST "$IMG" "$kb" >/dev/null
syslinux --install "$IMG"
export MTOOLS_SKIP_CHECK=1
mcopy -o -i "$IMG" "$WORK/vmlinuz" "$WORK/initrd.gz" "$WORK/syslinux.cfg" ::/

OUTDIR=$(dirname "$OUT")
mkdir -p "$OUTDIR"
TMPOUT=$OUTDIR/.$(basename "$OUT").tmp.$$
qemu-img convert -q -f raw -O qcow2 "$IMG" "$TMPOUT"
mv -f "$TMPOUT" "$OUT"
TMPOUT=
log "wrote $OUT ($(du -h "$OUT" | cut -f1), kernel $KVER, initrd $(du -h "$WORK/initrd.gz" | cut -f1))"
