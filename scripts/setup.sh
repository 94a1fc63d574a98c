#!/usr/bin/env bash
# `npm run setup`: everything herald needs on this machine, safe to run again.
#   1. nats-server (from apt on Debian/Ubuntu, Homebrew on macOS), unless it is already there;
#   2. the npm packages (`npm ci` from package-lock.json).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }

manual_install_help() {
  cat >&2 <<'EOF'
setup: could not install nats-server automatically on this system.
  Install it yourself, then run `npm run setup` again:
    - download a release from https://github.com/nats-io/nats-server/releases
      and put `nats-server` on your PATH,
    - or point herald at the binary: export NATS_SERVER_BIN=/path/to/nats-server
EOF
  exit 1
}

# Runs a command as root: directly when we are root, through sudo when it exists.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root to run: $*  (and sudo is not installed)" >&2
    return 1
  fi
}

command -v node >/dev/null 2>&1 || fail "node is not installed: get Node.js 20 or newer from https://nodejs.org"
command -v npm >/dev/null 2>&1 || fail "npm is not installed: it comes with Node.js (https://nodejs.org)"

# --- 1. nats-server ---------------------------------------------------------------------------
# Debian's package puts it in /usr/sbin, which is not on an ordinary user's PATH there.
find_nats_server() {
  if [ -n "${NATS_SERVER_BIN:-}" ] && [ -f "${NATS_SERVER_BIN}" ]; then
    printf '%s\n' "${NATS_SERVER_BIN}"
  elif command -v nats-server >/dev/null 2>&1; then
    command -v nats-server
  else
    for dir in /usr/sbin /usr/local/sbin /sbin /usr/local/bin /opt/homebrew/bin; do
      if [ -x "${dir}/nats-server" ]; then printf '%s\n' "${dir}/nats-server"; return 0; fi
    done
    return 1
  fi
}

if ! nats_bin="$(find_nats_server)"; then
  if [ -n "${NATS_SERVER_BIN:-}" ]; then
    say "NATS_SERVER_BIN=${NATS_SERVER_BIN} does not exist; installing nats-server instead"
  fi
  if command -v apt-get >/dev/null 2>&1; then
    say "installing nats-server with apt-get…"
    export DEBIAN_FRONTEND=noninteractive
    { as_root apt-get update -qq && as_root apt-get install -y -qq nats-server >/dev/null; } || manual_install_help
  elif [ "$(uname -s)" = "Darwin" ] && command -v brew >/dev/null 2>&1; then
    say "installing nats-server with Homebrew…"
    brew install nats-server || manual_install_help
  else
    manual_install_help
  fi
  nats_bin="$(find_nats_server)" || manual_install_help
fi
say "$("${nats_bin}" --version 2>&1 | head -n 1) at ${nats_bin}"

# herald runs NATS_SERVER_BIN, or else `nats-server` from PATH.
if [ -n "${NATS_SERVER_BIN:-}" ] && [ "${nats_bin}" != "${NATS_SERVER_BIN}" ]; then
  say "note: NATS_SERVER_BIN=${NATS_SERVER_BIN} does not exist; set it to ${nats_bin} or unset it" >&2
elif [ -z "${NATS_SERVER_BIN:-}" ] && ! command -v nats-server >/dev/null 2>&1; then
  say "note: ${nats_bin} is not on your PATH; for herald to find it:" >&2
  say "      export NATS_SERVER_BIN=${nats_bin}   (or add $(dirname "${nats_bin}") to PATH)" >&2
fi

# --- 2. npm packages --------------------------------------------------------------------------
if [ -f package-lock.json ]; then
  say "installing npm packages (npm ci)…"
  npm ci --no-audit --no-fund
else
  say "installing npm packages (npm install)…"
  npm install --no-audit --no-fund
fi

say "done. Start herald with \`npm start\`, run the tests with \`npm test\`."
