#!/usr/bin/env bash
# The main job: build verimesh and run examples/bookinfo as a zero-trust mesh on this machine
# (network namespaces, sidecars, control plane) until Ctrl-C. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked
./target/release/verimesh analyze examples/bookinfo
exec ./target/release/verimesh up examples/bookinfo
