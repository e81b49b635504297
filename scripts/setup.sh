#!/usr/bin/env bash
# Installs what Entropy needs on a fresh Debian machine with Node 20 and npm: pnpm, nats-server, the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1 || ! pnpm --version 2>/dev/null | grep -q '^10\.'; then
  # Corepack's pnpm download fails its signature check on Node 20: install the pinned major from npm.
  npm install -g pnpm@10 >/dev/null
fi

if ! command -v nats-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  else
    echo "setup: nats-server is missing; install it with: sudo apt-get install -y nats-server" >&2
  fi
fi

pnpm install --frozen-lockfile --reporter=silent
