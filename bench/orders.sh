#!/usr/bin/env bash
# Paid orders per second on SQLite through the sandbox: LEARNERS learners at once, each logging in
# by SMS code (read from the shop's log), then buying every course on the home page (course page,
# buy, pay, confirm in the sandbox cashier, the paid order's page) and leaving; the next takes its
# place. Prints the loadgen's table and the CPU the shop and the loadgen used (100% = one core).
#
#   bash bench/orders.sh DATA_DIR [LEARNERS] [SECS] [ROUNDS]   # DATA_DIR: a SQLite shop's data directory
set -euo pipefail
data=$1 learners=${2:-64} secs=${3:-20} rounds=${4:-3}
cd "$(dirname "$0")/.."
cargo build --release -q --bin kedian --example loadgen
bin=$PWD/target/release/kedian loadgen=$PWD/target/release/examples/loadgen
W=$(mktemp -d)
pid=""
cleanup() { set +e; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for round in $(seq "$rounds"); do
  rm -rf "$W/data" && cp -r "$data" "$W/data"
  KEDIAN_DATA_DIR=$W/data KEDIAN_LISTEN=127.0.0.1:18931 KEDIAN_TRUST_FORWARDED=true RUST_LOG="warn,kedian::sms=info" \
    "$bin" serve >"$W/shop.log" 2>&1 & pid=$!
  for _ in $(seq 300); do curl -sf http://127.0.0.1:18931/healthz >/dev/null && break; sleep 0.1; done
  before=$(ticks "$pid")
  start=$(date +%s.%N)
  out=$(/usr/bin/time -f "loadgen CPU %U s user, %S s system" "$loadgen" buy --base http://127.0.0.1:18931 \
    --log "$W/shop.log" --learners "$learners" --secs "$secs" 2>&1)
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  shop_cpu=$(echo "($(ticks "$pid") - $before) / $wall" | bc)
  echo "### Round $round: $learners learners, $secs s"
  echo
  echo "$out" | grep -E '^\||paid orders|errors'
  echo
  echo "Shop CPU ${shop_cpu}% of one core over ${wall%.*} s; $(echo "$out" | grep 'loadgen CPU') (2 cores here)."
  echo
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
