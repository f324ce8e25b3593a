#!/usr/bin/env bash
# Every test: the workspace's tests, then the systemd units in a booted
# container (scripts/systemd-test.sh).
#
# Where cargo-nextest is installed, the workspace's tests run under it
# (profile `ci` in .config/nextest.toml): each test is a process of its own
# and all test binaries share the cores, so one slow end-to-end file no longer
# holds up the rest. Doctests, which nextest does not run, follow with
# `cargo test --doc`. Without nextest, `cargo test --workspace` runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

# The real Bluesky PDS for tests/tests/real_bluesky.rs: installed (or found in its cache)
# before any test runs, so a first install is not inside a test's time limit.
bash scripts/pds.sh >/dev/null || echo "test.sh: scripts/pds.sh could not install the PDS"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --profile ci
  cargo test --workspace --doc
else
  echo "test.sh: cargo-nextest is not installed; running cargo test (cargo install cargo-nextest makes this faster)"
  cargo test --workspace
fi
bash scripts/systemd-test.sh
