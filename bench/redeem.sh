#!/usr/bin/env bash
# Redeem codes: how long making a batch of 100,000 takes (derive, hash and insert each code in one
# transaction, as POST /admin/redeem does) and writing its CSV export (as GET …/codes.csv
# streams it), on SQLite and on PostgreSQL, ROUNDS batches each into one fresh database.
# The issue's bound: under 10 s to make one.
#
#   PG_URL=postgres://postgres@127.0.0.1:5432/kedian_redeem bash bench/redeem.sh [CODES] [ROUNDS]
set -euo pipefail
codes=${1:-100000} rounds=${2:-3}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/kedian_redeem}
cd "$(dirname "$0")/.."
cargo build --release -q --example redeem_batch
run=$PWD/target/release/examples/redeem_batch
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
out="bench/redeem-results-$(date -u +%Y-%m-%d).md"
{
  echo "# Redeem code batches, $(date -u +%Y-%m-%d)"
  echo
  echo "Build $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench/redeem_batch.rs || echo ' with uncommitted changes'); $(nproc) cores; \`bash bench/redeem.sh $codes $rounds\`."
  echo
  echo "## SQLite (a file, WAL)"
  echo
  "$run" --database "sqlite://$W/redeem.db?mode=rwc" --codes "$codes" --rounds "$rounds"
  echo
  admin=${PG_URL%/*}/postgres name=${PG_URL##*/}
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
  echo "## PostgreSQL $(psql -tA "$admin" -c 'SHOW server_version')"
  echo
  "$run" --database "$PG_URL" --codes "$codes" --rounds "$rounds"
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $name"
} | tee "$out"
echo "written to $out"
