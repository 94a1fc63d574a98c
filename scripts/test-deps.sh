#!/usr/bin/env bash
# Runs before `npm test`: what the test suite needs beyond `npm run setup` — a Chromium for the
# browser tests (Debian's `chromium`, driven by playwright-core; no browser download). Safe to rerun.
set -euo pipefail

chromium_bin="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ -x "$chromium_bin" ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "test setup: installing Debian's chromium for the browser tests…"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
if [ ! -x "$chromium_bin" ]; then
  echo "test setup: the browser tests need Chromium: install it (Debian/Ubuntu: apt-get install chromium)" >&2
  echo "            or point CHROMIUM_BIN at a Chromium or Chrome binary." >&2
  exit 1
fi
