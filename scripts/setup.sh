#!/usr/bin/env bash
# Installs what building and testing verimesh needs, when it is missing. Safe to run repeatedly.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)
# The identity tests check issued certificates with the real openssl binary.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The data-plane tests capture packets between namespaces and drive the mesh with curl.
command -v tcpdump >/dev/null 2>&1 || need_apt+=(tcpdump)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The local-mesh tests signal and find processes with kill, pgrep and pkill.
command -v pkill >/dev/null 2>&1 || need_apt+=(procps)
# The data-plane benchmark compares verimesh with the same chain built from nginx.
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  # Debian's own toolchain; rustup's is preferred where present.
  need_apt+=(cargo rustc rustfmt rust-clippy)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if command -v rustup >/dev/null 2>&1; then
  for comp in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$comp" || rustup component add "$comp"
  done
fi
# The JWT tests mint real tokens with PyJWT (crates/policy/tests/jwt/mint.py).
if ! python3 -c 'import jwt, cryptography' >/dev/null 2>&1; then
  echo "setup: installing pyjwt and cryptography"
  python3 -m pip --version >/dev/null 2>&1 || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
  }
  python3 -m pip install -q pyjwt cryptography 2>/dev/null ||
    python3 -m pip install -q --break-system-packages pyjwt cryptography
fi
