#!/usr/bin/env bash
# Gets Debian's nats-server package of one suite into the project's .tools/ folder, without touching
# the system's apt state, and prints the binary's path:
#
#   bash scripts/nats-server.sh sid      # the current release (2.15.x when this was written)
#   bash scripts/nats-server.sh trixie   # Debian 13 stable: 2.10.x, herald's supported floor
#
# apt runs with a private sources list, lists and cache (.tools/apt/<suite>/), so no root is needed
# and /etc/apt is left as it was; `apt-get download` fetches the .deb and `dpkg -x` unpacks it. The
# package is a static Go binary, so one from Debian's newest suite runs on older Debian and Ubuntu.
# Safe to rerun: a suite already unpacked is reused unless FORCE=1.
set -euo pipefail

suite="${1:?usage: scripts/nats-server.sh <debian suite: sid | trixie | …>}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${HERALD_TOOLS_DIR:-$root/.tools}"
dest="$tools/nats-server/$suite"
bin="$dest/usr/sbin/nats-server"

have_it() { [ -x "$bin" ] && [ "${FORCE:-0}" != 1 ] && "$bin" --version >/dev/null 2>&1; }
if have_it; then
  printf '%s\n' "$bin"
  exit 0
fi

# One fetch of a suite at a time: two test files can ask for the same one at once (apt runs
# without its own locks here). The second waits, then finds the binary there.
mkdir -p "$tools/nats-server"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$tools/nats-server/.$suite.lock"
  flock 9
  if have_it; then
    printf '%s\n' "$bin"
    exit 0
  fi
fi

for cmd in apt-get dpkg; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "nats-server.sh: needs $cmd (Debian or Ubuntu)" >&2; exit 1; }
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ ! -f "$keyring" ]; then
  echo "nats-server.sh: Debian's archive keyring is missing ($keyring): on Ubuntu, apt-get install debian-archive-keyring" >&2
  exit 1
fi

state="$tools/apt/$suite"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs"
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" "$suite" >"$state/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$state/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=$(id -un)" -qq
)
apt-get "${apt_opts[@]}" update >&2
rm -f "$state/debs"/nats-server_*.deb
(cd "$state/debs" && apt-get "${apt_opts[@]}" download nats-server >&2)
rm -rf "$dest" && mkdir -p "$dest"
dpkg -x "$state/debs"/nats-server_*.deb "$dest"
"$bin" --version >&2
printf '%s\n' "$bin"
