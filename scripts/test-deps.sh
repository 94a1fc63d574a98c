#!/usr/bin/env bash
# Runs before `npm test`: the web page, built from the current sources (the servers serve
# apps/web/dist but never build it; test/web.test.ts drives it), then what the test suite needs
# beyond `npm run setup`, from Debian's packages (no downloads of our own). Safe to rerun: only
# what is missing is installed, in one apt-get run.
#   - chromium        the browser tests (driven by playwright-core); or point CHROMIUM_BIN at one;
#   - nginx           test/deploy.test.ts runs the local stack (`npm run stack`) behind it;
#   - docker-compose  test/deploy.test.ts validates compose.yaml with `docker-compose config -q`
#                     (1.29 validates without a Docker engine).
# (On a host with systemd, Debian's nginx package also starts its own service on port 80; the
# tests do not use it: they run nginx as a child process with a config of their own.)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run --silent build

chromium_bin="${CHROMIUM_BIN:-/usr/bin/chromium}"

# Is a command there, on PATH or in the sbin directories an ordinary user's PATH may lack?
have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
[ -x "$chromium_bin" ] || missing+=(chromium)
have nginx || missing+=(nginx)
have docker-compose || missing+=(docker-compose)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  echo "test setup: installing Debian's ${missing[*]} for the test suite…"
  # A failed install is reported below, package by package.
  if [ "$(id -u)" -eq 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } || true
  elif command -v sudo >/dev/null 2>&1; then
    { sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } || true
  fi
fi

status=0
if [ ! -x "$chromium_bin" ]; then
  echo "test setup: the browser tests need Chromium: install it (Debian/Ubuntu: apt-get install chromium)" >&2
  echo "            or point CHROMIUM_BIN at a Chromium or Chrome binary." >&2
  status=1
fi
if ! have nginx; then
  echo "test setup: the deployment test needs nginx: install it (Debian/Ubuntu: apt-get install nginx)" >&2
  status=1
fi
if ! have docker-compose; then
  echo "test setup: the deployment test needs docker-compose to validate compose.yaml" >&2
  echo "            (Debian/Ubuntu: apt-get install docker-compose)" >&2
  status=1
fi
exit "$status"
