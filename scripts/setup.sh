#!/usr/bin/env bash
# Installs what Entropy needs on a fresh Debian machine with Node 20 and npm: pnpm, nats-server and the
# workspace. With --test, also what the integration tests start: libvirt and QEMU with a tiny guest (the
# real-virsh test), sshd and systemd-analyze (the deploy tests).
set -euo pipefail
cd "$(dirname "$0")/.."
for_tests=0
[ "${1:-}" = "--test" ] && for_tests=1

if ! command -v pnpm >/dev/null 2>&1 || ! pnpm --version 2>/dev/null | grep -q '^10\.'; then
  # Corepack's pnpm download fails its signature check on Node 20: install the pinned major from npm.
  npm install -g pnpm@10 >/dev/null
fi

# nats-server for the cluster; libvirt, QEMU and the guest's tools for the real-virsh test (test/virsh-real.test.ts);
# sshd and systemd-analyze for the deploy tests (test/deploy-*.test.ts); openssl for the TLS test (test/nats-tls.test.ts).
# One apt-get install of whatever is missing, without recommends (they would add dnsmasq, OVMF, ...).
apt_packages=(nats-server)
if [ "$for_tests" = 1 ]; then
  apt_packages+=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils cpio busybox-static iproute2 openssh-server systemd openssl)
fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  fi
fi
# The real-virsh test's guest (a Debian kernel and a busybox initramfs), built once into .cache/libvirt-guest.
if [ "$for_tests" = 1 ] && [ "$(id -u)" = 0 ] && command -v libvirtd >/dev/null 2>&1; then
  bash scripts/libvirt-guest.sh >/dev/null
fi

pnpm install --frozen-lockfile --reporter=silent
# The commands run compiled JavaScript (packages/*/dist): no TypeScript loader at run time.
pnpm build
