#!/usr/bin/env bash
# The main job: build verimesh and analyze the bookinfo example. (Until the mesh runs locally,
# analysis is what verimesh does end to end.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked
./target/release/verimesh analyze examples/bookinfo
