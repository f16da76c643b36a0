#!/usr/bin/env bash
# Fuzzes request validation with cargo-fuzz (libFuzzer) for a given time.
# Not part of CI. Usage: bash scripts/fuzz.sh [seconds, default 600]
# Needs: cargo install cargo-fuzz, and a nightly toolchain (or the stable
# one with RUSTC_BOOTSTRAP=1, which this script sets when nightly is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
exec cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz request_validation -- \
  -max_total_time="$seconds" -rss_limit_mb=4096
