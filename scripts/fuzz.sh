#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a bounded time each: the codec decoder and the
# session state machine. Needs the nightly toolchain and cargo-fuzz; without them it says so and
# succeeds (CI installs cargo-fuzz where nightly is present, see .ci/run).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly); skipped"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is not installed (cargo install cargo-fuzz); skipped"
  exit 0
fi
cargo +nightly fuzz build
for target in decode session; do
  echo "fuzz: $target for ${seconds} s"
  # A failure (panic, broken invariant) exits non-zero and leaves the input in fuzz/artifacts/.
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1 2>&1 | grep -v '^#[0-9]' | tail -n 20
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target failed (exit $status); the input is in fuzz/artifacts/$target/"
    exit "$status"
  fi
done
