#!/usr/bin/env bash
# Rewrites crates/cli/proxy-functions.order: the functions a proxy executes from start-up
# through the data-plane benchmark's traffic, in the order it first runs them. The release
# link places them together (crates/cli/build.rs) so a proxy keeps ~2 MB of code resident
# rather than most of the binary's text. Run it after changes that rename or add much of the
# proxy's request path, then rebuild; the benchmark's RSS column shows the effect.
#
# How: both proxies of `verimesh-bench proxy-chain` run under callgrind (exact: every
# function that runs at all is listed, however briefly), which is told to write its counts
# every two seconds because the benchmark ends its proxies with SIGKILL.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null 2>&1 || {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
}
# Built on its own, as scripts/test.sh builds it: building it together with the bench would
# unify dependency features and so rename every generic function the list names.
cargo build --quiet --release --locked -p verimesh
cargo build --quiet --release --locked -p verimesh-bench

# KEEP_WORK=1 keeps the callgrind dumps and the bench log (the script prints nothing else).
work="$(mktemp -d)"
trap 'pkill -KILL -f "$work/" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
[ -z "${KEEP_WORK:-}" ] || echo "proxy-layout: keeping $work"
binary="$work/verimesh"
cp target/release/verimesh "$binary"
cat >"$work/verimesh-under-callgrind" <<EOF
#!/bin/sh
if [ "\$1" = proxy ]; then
  exec valgrind --tool=callgrind --demangle=no --compress-strings=no --callgrind-out-file=$work/cg.%p "$binary" "\$@"
fi
exec "$binary" "\$@"
EOF
chmod +x "$work/verimesh-under-callgrind"

target/release/verimesh-bench proxy-chain --verimesh "$work/verimesh-under-callgrind" \
  --saturation-secs 2 --fixed-secs 3 --rounds 1 >"$work/bench.log" 2>&1 &
bench=$!
while kill -0 "$bench" 2>/dev/null; do
  sleep 2
  for pid in $(pgrep -f "callgrind-out-file=$work/" || true); do
    callgrind_control --dump "$pid" >/dev/null 2>&1 || true
  done
done
wait "$bench" || { cat "$work/bench.log"; exit 1; }

python3 - "$work" "$binary" >crates/cli/proxy-functions.order <<'EOF'
import glob, re, sys
work, binary = sys.argv[1], sys.argv[2]

def part(path):
    # cg.PID is the last dump; cg.PID.N the N-th; read them in the order they were taken.
    tail = path.rsplit("/", 1)[1].split(".")
    return (tail[1], int(tail[2]) if len(tail) > 2 else 1 << 30)

seen, order = set(), []
for path in sorted(glob.glob(f"{work}/cg.*"), key=part):
    # Names are written out in full (--compress-strings=no): "ob=PATH", "fn=NAME".
    current = None
    for line in open(path, errors="replace"):
        if line.startswith("ob="):
            current = line[3:].rstrip("\n")
        elif line.startswith("fn=") and current == binary:
            # Recursion shows as name'2; unnamed code has no symbol to order.
            fn = re.sub(r"'\d+$", "", line[3:].rstrip("\n"))
            if fn and not fn.startswith(("0x", "(")) and fn not in seen:
                seen.add(fn)
                order.append(fn)
for fn in order:
    print(fn)
EOF
echo "proxy-layout: $(wc -l <crates/cli/proxy-functions.order) functions in crates/cli/proxy-functions.order"
