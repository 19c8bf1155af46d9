#!/bin/sh
# mkdebian.sh - build a small Debian 12 (bookworm) cloud image, the way a user's
# image reaches Nubo: a whole bootable disk with cloud-init, from the Debian archive.
#
# Usage: deploy/mkdebian.sh OUTPUT.qcow2
#
# The disk has an MBR (SYSLINUX's mbr.bin) and two partitions: a small FAT one
# (active) carrying SYSLINUX, the kernel and the initramfs, and an ext4 root
# (label nubo-root) made from a debootstrap --variant=minbase tree plus
# linux-image-cloud-amd64, systemd, cloud-init, ifupdown, isc-dhcp-client,
# openssh-server and locales, without recommends, docs or man pages. Nothing is mounted but the
# chroot's /proc and /sys: the file systems are written into the disk file in place
# (mkfs.fat --offset, mke2fs -d -E offset), so no loop device is needed. The
# kernel logs to ttyS0, so the console log shows cloud-init's output. The virtual
# size is 1 GiB (Nubo's m1.tiny). Kernel updates inside the guest do not reach
# the FAT partition: the image is for tests and for trying Nubo out.
#
# Built images are kept in the cache, named by this script's hash: a re-run with
# the same script copies the cached image (a few seconds) instead of building.
#
# Environment:
#   NUBO_GUEST_CACHE   cache directory (default /var/cache/nubo): the built image
#                      and the downloaded .debs (debian-debs/)
#   NUBO_DEBIAN_MIRROR Debian archive (default http://deb.debian.org/debian; the
#                      security suite is taken from the -security sibling)
#
# Must run as root on Debian 12 (deploy/stack.sh --deps-only installs its tools).
set -eu

usage() { echo "usage: $0 OUTPUT.qcow2" >&2; exit 2; }
[ $# -eq 1 ] || usage
OUT=$1
case $OUT in -*) usage ;; esac

log() { echo "mkdebian: $*" >&2; }
die() { echo "mkdebian: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
export PATH="$PATH:/usr/sbin:/sbin"
for c in debootstrap sfdisk mkfs.fat mke2fs syslinux mcopy qemu-img flock; do
	command -v "$c" >/dev/null 2>&1 || die "$c missing (deploy/stack.sh --deps-only installs it)"
done
MBR=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$MBR" ] || die "$MBR missing (package syslinux-common)"

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
CACHE=${NUBO_GUEST_CACHE:-/var/cache/nubo}
mkdir -p "$CACHE/debian-debs"
CACHE=$(cd "$CACHE" && pwd)
KEY=$(sha256sum "$SELF" | cut -c1-16)
CACHED=$CACHE/nubo-debian-$KEY.qcow2
MIRROR=${NUBO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# what the image has beside minbase (no recommends)
PACKAGES="linux-image-cloud-amd64 systemd-sysv udev initramfs-tools cloud-init
ifupdown isc-dhcp-client iproute2 openssh-server locales"
# size of the FAT boot partition and of the whole disk, MiB (partition 1 starts at 1 MiB)
BOOT_MB=64
DISK_MB=1024

WORK=
TMPOUT=
R=
cleanup() {
	if [ -n "$R" ]; then
		for m in var/cache/apt/archives sys proc; do
			mountpoint -q "$R/$m" 2>/dev/null && umount -l "$R/$m"
		done
	fi
	[ -z "$WORK" ] || rm -rf --one-file-system "$WORK"
	[ -z "$TMPOUT" ] || rm -f "$TMPOUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# copy_out: the cached image to OUT, atomically
copy_out() {
	OUTDIR=$(dirname "$OUT")
	mkdir -p "$OUTDIR"
	TMPOUT=$OUTDIR/.$(basename "$OUT").tmp.$$
	cp "$CACHED" "$TMPOUT"
	mv -f "$TMPOUT" "$OUT"
	TMPOUT=
}

exec 9>"$CACHE/.mkdebian.lock"
flock 9
if [ -s "$CACHED" ]; then
	copy_out
	log "wrote $OUT (cached $(basename "$CACHED"))"
	exit 0
fi

start=$(date +%s)
WORK=$(mktemp -d /var/tmp/nubo-mkdebian.XXXXXX)
R=$WORK/root
mkdir -p "$R"

# ---------------------------------------------------------------- root tree
log "debootstrap $SUITE (minbase) from $MIRROR"
debootstrap --variant=minbase --cache-dir="$CACHE/debian-debs" "$SUITE" "$R" "$MIRROR" \
	>"$WORK/debootstrap.log" 2>&1 || {
	tail -n 30 "$WORK/debootstrap.log" >&2
	die "debootstrap failed"
}

SECURITY=${MIRROR%/debian}/debian-security
cat >"$R/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
EOF
# no docs, man pages or translations; no daemons started inside the chroot
cat >"$R/etc/dpkg/dpkg.cfg.d/01-nubo-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
# the initramfs: what a virtio disk and ext4 need, not every driver
mkdir -p "$R/etc/initramfs-tools/conf.d"
printf 'MODULES=list\nCOMPRESS=gzip\n' >"$R/etc/initramfs-tools/conf.d/nubo.conf"
mkdir -p "$R/etc/initramfs-tools"
printf 'virtio_pci\nvirtio_blk\nvirtio_scsi\nsd_mod\next4\n' >"$R/etc/initramfs-tools/modules"

mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --bind "$CACHE/debian-debs" "$R/var/cache/apt/archives"
PACKAGES=$(echo $PACKAGES) # one line: it goes into sh -c
log "installing: $PACKAGES"
chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	sh -c "apt-get -q update && apt-get -q -y -o Acquire::Retries=3 install --no-install-recommends $PACKAGES" \
	>"$WORK/apt.log" 2>&1 || {
	tail -n 30 "$WORK/apt.log" >&2
	die "apt-get install in the image failed"
}
# the locale cloud-init sets (en_US.UTF-8), made now: its cc_locale then has nothing
# to generate at boot (and fails without it)
printf 'en_US.UTF-8 UTF-8\n' >"$R/etc/locale.gen"
chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	sh -c 'locale-gen && update-locale LANG=en_US.UTF-8' >>"$WORK/apt.log" 2>&1 || {
	tail -n 30 "$WORK/apt.log" >&2
	die "locale-gen in the image failed"
}
umount "$R/var/cache/apt/archives" "$R/sys" "$R/proc"

# ---------------------------------------------------------------- configuration
rm -f "$R/usr/sbin/policy-rc.d"
printf 'LABEL=nubo-root / ext4 defaults,errors=remount-ro 0 1\n' >"$R/etc/fstab"
printf 'debian\n' >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
# ifupdown: loopback here, the NICs from cloud-init (/etc/network/interfaces.d)
cat >"$R/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback
EOF
mkdir -p "$R/etc/network/interfaces.d"
# a new machine id on first boot; the DNS servers come from DHCP or cloud-init
: >"$R/etc/machine-id"
rm -f "$R/etc/resolv.conf"
rm -f "$R/var/lib/dbus/machine-id"
# host keys are made by cloud-init on first boot, per instance
rm -f "$R"/etc/ssh/ssh_host_*
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/log/*.log "$R"/tmp/*

KVER=$(basename "$(ls -d "$R"/lib/modules/* | head -n1)")
[ -f "$R/boot/vmlinuz-$KVER" ] && [ -f "$R/boot/initrd.img-$KVER" ] ||
	die "no kernel or initramfs for $KVER in the image"

# ---------------------------------------------------------------- disk
IMG=$WORK/disk.raw
truncate -s "${DISK_MB}M" "$IMG"
ROOT_START=$((1 + BOOT_MB))
ROOT_MB=$((DISK_MB - ROOT_START))
sfdisk -q "$IMG" <<EOF
label: dos
label-id: 0x6e75626f
start=1MiB, size=${BOOT_MB}MiB, type=c, bootable
start=${ROOT_START}MiB, type=83
EOF
dd if="$MBR" of="$IMG" bs=440 count=1 conv=notrunc status=none

log "writing the boot partition (kernel $KVER)"
cat >"$WORK/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND root=LABEL=nubo-root ro console=tty0 console=ttyS0,115200n8
EOF
mkfs.fat -F 16 -n NUBOBOOT --offset 2048 -h 2048 "$IMG" $((BOOT_MB * 1024)) >/dev/null
syslinux --offset $((2048 * 512)) --install "$IMG"
export MTOOLS_SKIP_CHECK=1
cp "$R/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
cp "$R/boot/initrd.img-$KVER" "$WORK/initrd.img"
mcopy -o -i "$IMG@@$((2048 * 512))" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/syslinux.cfg" ::/

used=$(du -sm "$R" | cut -f1)
log "writing the root partition ($used MiB of files in $ROOT_MB MiB)"
[ "$used" -lt $((ROOT_MB * 9 / 10)) ] || die "the root tree ($used MiB) does not fit in $ROOT_MB MiB"
mke2fs -q -F -t ext4 -L nubo-root -d "$R" -E offset=$((ROOT_START * 1024 * 1024)) \
	"$IMG" "${ROOT_MB}M"

OUTDIR=$(dirname "$CACHED")
TMPC=$OUTDIR/.$(basename "$CACHED").tmp.$$
TMPOUT=$TMPC
qemu-img convert -q -c -f raw -O qcow2 "$IMG" "$TMPC"
mv -f "$TMPC" "$CACHED"
TMPOUT=
find "$CACHE" -maxdepth 1 -name 'nubo-debian-*.qcow2' ! -name "$(basename "$CACHED")" -delete
copy_out
log "wrote $OUT ($(du -h "$CACHED" | cut -f1), kernel $KVER) in $(($(date +%s) - start)) s"
