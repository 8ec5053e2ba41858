#!/usr/bin/env bash
# The whole test suite: formatting, lints, Istio's analyzer conformance cases, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build"
cargo build --workspace --all-targets --locked

shared="${VERIMESH_SHARED:-../shared}"
if [ -d "$shared/peer/istio-analyzers" ]; then
  echo "== conformance: Istio analyzer cases (a failing case does not fail the run; a crash does)"
  ./target/debug/verimesh conformance istio-analyzers "$shared/peer/istio-analyzers"
else
  echo "== conformance skipped: $shared/peer/istio-analyzers not found"
fi
if [ -d "$shared/peer/istio-security-tasks" ] && [ "$(id -u)" = 0 ]; then
  echo "== conformance: Istio security tasks on a local mesh (a failing scenario does not fail the run; a crash does)"
  ./target/debug/verimesh conformance istio-security-tasks "$shared/peer/istio-security-tasks"
else
  echo "== security-task conformance skipped: needs root and $shared/peer/istio-security-tasks"
fi

echo "== analyze benchmark (10,000 generated resources)"
cargo run --quiet --release --locked -p verimesh-bench -- analyze-corpus --resources 10000

echo "== authz benchmark (1,000 policies, time per decision)"
cargo run --quiet --release --locked -p verimesh-bench -- authz --policies 1000 --requests 2000 --rounds 10

echo "== data-plane benchmark (verimesh vs nginx vs direct, same run)"
cargo build --quiet --release --locked -p verimesh
# The proxy's functions are linked together by name (crates/cli/build.rs); names drift as
# code changes, and this says how far.
nm target/release/verimesh | awk '{print $NF}' | sort -u >target/release/verimesh.symbols
echo "layout: $(grep -cxFf target/release/verimesh.symbols crates/cli/proxy-functions.order) of $(wc -l <crates/cli/proxy-functions.order) functions in crates/cli/proxy-functions.order are in the binary"
cargo run --quiet --release --locked -p verimesh-bench -- proxy-chain --saturation-secs 3 --fixed-secs 1 --rounds 60 --starts 10

echo "== cargo test"
cargo test --workspace --locked
