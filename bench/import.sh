#!/usr/bin/env bash
# `kedian import` on a fresh SQLite shop (the demo catalog): 100k users and 300k orders (plus
# 100k progress rows) from a synthetic export, then the same export again (nothing to change).
# Writes bench/import-results-<date>.md.
#   bash bench/import.sh
#   USERS=10000 ORDERS=30000 PROGRESS=10000 bash bench/import.sh
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-100000}
ORDERS=${ORDERS:-300000}
PROGRESS=${PROGRESS:-100000}
cargo build --release -q

work=$(mktemp -d)
cleanup() { kill "$kpid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# A new shop with the demo catalog: serve once until healthy, then stop.
KEDIAN_DATA_DIR="$work/data" KEDIAN_LISTEN="127.0.0.1:18090" RUST_LOG=warn ./target/release/kedian serve &
kpid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:18090/healthz" >/dev/null && break; sleep 0.2; done
kill "$kpid"; wait "$kpid" 2>/dev/null || true

python3 bench/gen_export.py "$work/export" "$USERS" "$ORDERS" "$PROGRESS"
size=$(du -sh "$work/export" | cut -f1)

run() {
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  KEDIAN_DATA_DIR="$work/data" RUST_LOG=warn ./target/release/kedian import "$work/export" "$@" > "$work/$label.txt" 2>/dev/null || true
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc)"
}

dry=$(run dry --dry-run)
first=$(run first)
second=$(run second)
db_size=$(du -ch "$work"/data/kedian.db* | tail -1 | cut -f1)

out="bench/import-results-$(date +%F).md"
{
  echo "# kedian import on SQLite, $(date +%F)"
  echo
  echo "Machine: $(nproc) cores, $(uname -sr). Export: $USERS users, $ORDERS orders, $PROGRESS progress rows ($size of CSV)."
  echo
  echo "| run | seconds |"
  echo "|---|---|"
  echo "| dry run (read and check) | $dry |"
  echo "| first import | $first |"
  echo "| same export again | $second |"
  echo
  echo "Database after import: $db_size."
  echo
  echo "First import report:"
  echo '```'
  grep -v '^took' "$work/first.txt"
  echo '```'
  echo "Second import report:"
  echo '```'
  grep -v '^took' "$work/second.txt"
  echo '```'
} > "$out"
cat "$out"
