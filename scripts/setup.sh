#!/usr/bin/env bash
# `npm run setup`: everything herald needs on this machine, safe to run again.
#   0. a word about the Node.js it runs on (a line past its end of life gets a warning);
#   1. nats-server ≥ 2.10.14: the one on PATH (or NATS_SERVER_BIN) when it is recent enough, else the
#      current release from Debian's registry into .tools/ (Debian/Ubuntu), or Homebrew's (macOS);
#      .tools/bin/nats-server then points at it, and herald runs that one;
#   2. the npm packages (`npm ci` from package-lock.json);
#   3. the web page (`npm run build`: apps/web/dist, which the servers serve but never build).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || fail "node is not installed: get Node.js 24 (LTS) from https://nodejs.org"
command -v npm >/dev/null 2>&1 || fail "npm is not installed: it comes with Node.js (https://nodejs.org)"

# --- 0. Node.js ------------------------------------------------------------------------------
# End-of-life dates of the release lines (https://github.com/nodejs/Release). herald supports the
# maintained lines from 22 on (package.json engines). 20 still passes the suite (CI runs it), but
# it is past its end of life and some dependencies already declare >= 22: see the README.
node_major="$(node -p 'process.versions.node.split(".")[0]')"
case "$node_major" in
  18) node_eol=2025-04-30 ;; 19) node_eol=2023-06-01 ;; 20) node_eol=2026-04-30 ;;
  21) node_eol=2024-06-01 ;; 22) node_eol=2027-04-30 ;; 23) node_eol=2025-06-01 ;;
  24) node_eol=2028-04-30 ;; 25) node_eol=2026-06-01 ;; 26) node_eol=2029-04-30 ;;
  *) node_eol="" ;;
esac
if [ "$node_major" -lt 20 ]; then
  fail "Node.js $(node --version) is too old for herald: install 24 (LTS) from https://nodejs.org"
elif [ -n "$node_eol" ] && [[ "$(date -u +%F)" > "$node_eol" ]]; then
  say "warning: Node.js $(node --version) reached its end of life on $node_eol and gets no security fixes." >&2
  say "         herald supports Node.js 22 and newer: install 24 (LTS) from https://nodejs.org." >&2
fi

# --- 1. nats-server ---------------------------------------------------------------------------
floor=2.10.14 # libs/nats/serverVersion.ts says why
# "nats-server: v2.15.1" → 2.15.1; nothing when the binary does not run.
version_of() { "$1" --version 2>/dev/null | sed -nE 's/^nats-server: v?([0-9]+\.[0-9]+\.[0-9]+).*/\1/p'; }
at_least_floor() { [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$floor" "$1" | sort -V | head -n 1)" = "$floor" ]; }

# A recent-enough server already there: NATS_SERVER_BIN, then PATH, then the sbin directories an
# ordinary user's PATH lacks (Debian's package puts it in /usr/sbin), then Homebrew's.
chosen=""
for candidate in "${NATS_SERVER_BIN:-}" "$(command -v nats-server 2>/dev/null || true)" \
  /usr/sbin/nats-server /usr/local/sbin/nats-server /usr/local/bin/nats-server /opt/homebrew/bin/nats-server; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  v="$(version_of "$candidate")"
  [ -n "$v" ] || continue
  if at_least_floor "$v"; then chosen="$candidate"; break; fi
  say "found nats-server $v at $candidate: older than $floor, the oldest herald supports; not using it"
done

# The one fetched by an earlier setup.
if [ -z "$chosen" ] && [ -x .tools/bin/nats-server ] && at_least_floor "$(version_of .tools/bin/nats-server)"; then
  chosen="$(readlink -f .tools/bin/nats-server)"
fi

if [ -z "$chosen" ]; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
    # Debian's newest suite carries the current release, trixie (Debian 13 stable) the floor.
    for suite in sid trixie; do
      say "fetching nats-server from Debian's $suite into .tools/ (the system's apt state is not touched)…"
      if chosen="$(bash scripts/nats-server.sh "$suite")"; then break; fi
      chosen=""
    done
  elif [ "$(uname -s)" = "Darwin" ] && command -v brew >/dev/null 2>&1; then
    say "installing nats-server with Homebrew…"
    brew install nats-server && chosen="$(brew --prefix)/bin/nats-server"
  fi
fi
if [ -z "$chosen" ] || ! at_least_floor "$(version_of "$chosen")"; then
  cat >&2 <<EOF
setup: could not get nats-server $floor or newer automatically on this system.
  Install it yourself, then run \`npm run setup\` again:
    - download a release from https://github.com/nats-io/nats-server/releases
      and put \`nats-server\` on your PATH,
    - or point herald at the binary: export NATS_SERVER_BIN=/path/to/nats-server
EOF
  exit 1
fi

# herald runs NATS_SERVER_BIN when it is set, else this link (libs/nats/serverBinary.ts).
mkdir -p .tools/bin
case "$chosen" in
  "$PWD/.tools/"*) ln -sfn "../${chosen#"$PWD/.tools/"}" .tools/bin/nats-server ;; # survives a moved checkout
  *) ln -sfn "$chosen" .tools/bin/nats-server ;;
esac
say "nats-server $(version_of "$chosen") at $chosen (linked from .tools/bin/nats-server)"
if [ -n "${NATS_SERVER_BIN:-}" ] && [ "$chosen" != "$NATS_SERVER_BIN" ]; then
  say "note: NATS_SERVER_BIN=${NATS_SERVER_BIN} is not usable; unset it, or set it to $chosen" >&2
fi

# --- 2. npm packages --------------------------------------------------------------------------
if [ -f package-lock.json ]; then
  say "installing npm packages (npm ci)…"
  npm ci --no-audit --no-fund
else
  say "installing npm packages (npm install)…"
  npm install --no-audit --no-fund
fi

# --- 3. the web page --------------------------------------------------------------------------
say "building the web page (npm run build)…"
npm run --silent build

say "done. Start herald with \`npm start\`, run the tests with \`npm test\`."
