#!/usr/bin/env bash
# Installs the pinned npm packages of tests/clients/node (jsforce, the sf CLI, Node 22) into
# tests/clients/node/node_modules (git-ignored). Skips the work when the installed tree was made
# from the same package-lock.json (its sha256 is kept in node_modules/.lock-hash).
# Usage: tests/clients/install.sh   (needs npm on PATH; the registry must be reachable)
set -euo pipefail
cd "$(dirname "$0")/node"
hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f node_modules/.lock-hash && "$(cat node_modules/.lock-hash)" == "$hash" ]]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$hash" > node_modules/.lock-hash
