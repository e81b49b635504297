#!/usr/bin/env bash
# Builds the tiny guest of the real-virsh tests from Debian packages only, once: a Debian 6.1 kernel
# (vmlinuz) and a busybox initramfs whose /init writes a marker, then a tick counter, to the serial console.
# The counter lives in the guest's memory, so a test can tell that a pause, a save/restore or a migration
# kept the guest's state: after it, the ticks go on instead of starting again at 1.
#
# Usage: scripts/libvirt-guest.sh [CACHE_DIR]   (default: <repo>/.cache/libvirt-guest)
# Prints the cache directory; it holds vmlinuz, initrd.gz, kernel-package (the package it came from) and
# SHA256SUMS: a cache whose files fail their checksums (a build cut short, a corrupted disk) is rebuilt.
# Needs apt-get (lists updated), dpkg-deb, cpio, gzip and a static busybox (apt busybox-static).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${1:-$repo/.cache/libvirt-guest}"
# Bump when the initramfs or the cache's layout changes, so an old cache is rebuilt.
format=2

if [ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.gz" ] && [ "$(cat "$cache/format" 2>/dev/null)" = "$format" ]; then
  if (cd "$cache" && sha256sum --quiet --check SHA256SUMS >/dev/null 2>&1); then
    echo "$cache"
    exit 0
  fi
  echo "libvirt-guest: $cache fails its checksums (SHA256SUMS): rebuilding" >&2
fi

busybox=/bin/busybox
if ! [ -x "$busybox" ] || ! "$busybox" --list >/dev/null 2>&1; then
  echo "libvirt-guest: $busybox is missing: apt-get install -y busybox-static" >&2
  exit 1
fi

mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The cloud flavour is a third of the size of the generic one (26 MB) and boots the same under TCG.
kernel_package() {
  for meta in linux-image-cloud-amd64 linux-image-amd64; do
    apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-6\.1/ { print $2; exit }' | grep . && return
  done
  return 0
}
pkg="$(kernel_package)"
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  pkg="$(kernel_package)"
fi
if [ -z "$pkg" ]; then
  echo "libvirt-guest: no linux-image-6.1 package known to apt; run apt-get update first" >&2
  exit 1
fi
(cd "$work" && apt-get download -qq "$pkg" 2>/dev/null) || (cd "$work" && apt-get download "$pkg")
deb="$(ls "$work"/*.deb)"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
cp "$work"/boot/vmlinuz-* "$work/vmlinuz.new"

root="$work/initrd"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec > /dev/ttyS0 2>&1
echo "ENTROPY-GUEST-UP"
i=0
while :; do
  i=$((i + 1))
  echo "entropy-tick $i"
  sleep 1
done
EOF
chmod 755 "$root/init"
# The initramfs has no /dev/console for init, so /init writes to /dev/ttyS0 once devtmpfs is mounted.
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz.new")

(cd "$work" && sha256sum vmlinuz.new initrd.gz.new | sed 's/\.new$//' > SHA256SUMS)
mv "$work/vmlinuz.new" "$cache/vmlinuz"
mv "$work/initrd.gz.new" "$cache/initrd.gz"
mv "$work/SHA256SUMS" "$cache/SHA256SUMS"
echo "$pkg" > "$cache/kernel-package"
# Last: a cache without it (a build cut short) is rebuilt.
echo "$format" > "$cache/format"
echo "$cache"
