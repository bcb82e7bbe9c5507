#!/usr/bin/env bash
# The takedown drill three times on one shop: without sync, while the sync API takes 100 order
# records a second (bench/sync_load.py, as a mini program's back end sends them), and without
# sync again, so that the second quiet run shows what the grown database alone does. Writes
# bench/sync-drill-results-<date>.md.
#   bash bench/sync_drill.sh
#   DRILL_SECS=60 DRILL_LEARNERS=1000 USERS=20000 bash bench/sync_drill.sh   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-100000}
ORDERS=${ORDERS:-300000}
PROGRESS=${PROGRESS:-100000}
DRILL_SECS=${DRILL_SECS:-120}
DRILL_LEARNERS=${DRILL_LEARNERS:-2000}
SYNC_RATE=${SYNC_RATE:-100}
KPORT=18090

ulimit -n 65536 2>/dev/null || true
cargo build --release -q --bin kedian --example loadgen
bin=./target/release/kedian
loadgen=./target/release/examples/loadgen
work=$(mktemp -d)
kpid=""
cleanup() { [ -n "$kpid" ] && kill "$kpid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# The load generator names each learner's address in X-Forwarded-For, as the kit's nginx would.
export KEDIAN_DATA_DIR="$work/data" KEDIAN_LISTEN="127.0.0.1:$KPORT" KEDIAN_TRUST_FORWARDED=true
export RUST_LOG="warn,kedian::sms=info"
wait_up() { for _ in $(seq 150); do curl -sf "http://127.0.0.1:$KPORT/healthz" >/dev/null && return; sleep 0.2; done; echo "shop did not start" >&2; exit 1; }
start_shop() { "$bin" serve >>"$work/shop.log" 2>&1 & kpid=$!; wait_up; }
stop_shop() { kill "$kpid"; wait "$kpid" 2>/dev/null || true; kpid=""; }

echo "== a shop with the imported base ($USERS users, $ORDERS orders)" >&2
start_shop; stop_shop
python3 bench/gen_export.py "$work/export" "$USERS" "$ORDERS" "$PROGRESS"
"$bin" import "$work/export" >"$work/import.out" 2>&1 || true
start_shop
key=sk_drill000000000001 secret=$(openssl rand -hex 32)
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()" "$KEDIAN_DATA_DIR/kedian.db" \
  "INSERT INTO sync_keys (key_id, secret, label, created_at) VALUES ('$key', '$secret', 'drill', 0)"

drill() { "$loadgen" drill --base "http://127.0.0.1:$KPORT" --log "$work/shop.log" --learners "$DRILL_LEARNERS" --secs "$DRILL_SECS" --phones "$USERS"; }
echo "== drill 1: no sync" >&2
quiet1=$(drill)
echo "== drill 2: sync at $SYNC_RATE records/s" >&2
SYNC_RECORDS=$SYNC_RATE SYNC_PACE_SECS=1 python3 bench/sync_load.py "http://127.0.0.1:$KPORT" "$key" "$secret" "$kpid" \
  "$((DRILL_SECS * 19 / 20))" 1 >"$work/sync" &
sync_pid=$!
synced=$(drill)
wait "$sync_pid" || echo "the sync load failed" >&2
echo "== drill 3: no sync" >&2
quiet2=$(drill)

out="bench/sync-drill-results-$(date -u +%Y-%m-%d).md"
# p99 of a step in a drill's table ("| step | count | per s | p50 | p99 | max |").
p99() { awk -F'|' -v s="$2" '$2 ~ s {gsub(/ /, "", $6); print $6; exit}' <<<"$1"; }
{
  echo "# The drill with and without the sync API"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, release build, SQLite (synchronous=FULL), commit $(git rev-parse --short HEAD)."
  echo "$DRILL_LEARNERS virtual learners for $DRILL_SECS s, three times on one shop holding $USERS imported users and"
  echo "$ORDERS orders: quietly, while the sync API takes $SYNC_RATE order records a second in one signed request"
  echo "a second, and quietly again (the database has grown by then). Run as \`bash bench/sync_drill.sh\`."
  echo
  echo "| step | p99 ms, no sync (1st) | p99 ms, with sync | p99 ms, no sync (3rd) | with sync against the quiet runs' mean |"
  echo "|---|---|---|---|---|"
  for step in "send code" "log in" "my courses" "lesson page" "media" "progress"; do
    a=$(p99 "$quiet1" "$step"); b=$(p99 "$synced" "$step"); c=$(p99 "$quiet2" "$step")
    change=$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { q = (a + c) / 2; if (q > 0) printf "%+.0f%%", (b / q - 1) * 100; else print "-" }')
    echo "| $step | $a | $b | $c | $change |"
  done
  echo
  echo "Sync during drill 2: $(cat "$work/sync")"
  echo
  echo "### Drill 1, no sync"; echo; echo "$quiet1"; echo
  echo "### Drill 2, with sync"; echo; echo "$synced"; echo
  echo "### Drill 3, no sync"; echo; echo "$quiet2"
} | tee "$out"
