#!/usr/bin/env bash
# The sync API under load: a fresh shop (demo catalog) on SQLite and on PostgreSQL, a key put in
# its database, then BATCHES requests of 1,000 order records (each a new buyer by openid, as a
# mini program without phone numbers sends them) from WORKERS clients; then the same batches
# again (every record skipped). Writes bench/sync-results-<date>.md.
#   bash bench/sync.sh
#   BATCHES=20 WORKERS=2 PG_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/sync.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BATCHES=${BATCHES:-30}
WORKERS=${WORKERS:-2}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo build --release -q

work=$(mktemp -d)
kpid=
cleanup() { [ -n "$kpid" ] && kill "$kpid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
KEY=sk_bench000000000001
SECRET=$(openssl rand -hex 32)
out="bench/sync-results-$(date +%F).md"

serve() { # backend database_url
  local port=18191
  local db=()
  [ "$1" = postgres ] && db=(KEDIAN_DATABASE_URL="$2")
  env "${db[@]}" KEDIAN_DATA_DIR="$work/$1" KEDIAN_LISTEN="127.0.0.1:$port" RUST_LOG=warn \
    ./target/release/kedian serve &
  kpid=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  local insert="INSERT INTO sync_keys (key_id, secret, label, created_at) VALUES ('$KEY', '$SECRET', 'bench', 0)"
  if [ "$1" = sqlite ]; then
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()" "$work/sqlite/kedian.db" "$insert"
  else
    psql -q "$2" -c "$insert"
  fi
  first=$(python3 bench/sync_load.py "http://127.0.0.1:$port" "$KEY" "$SECRET" "$kpid" "$BATCHES" "$WORKERS")
  again=$(python3 bench/sync_load.py "http://127.0.0.1:$port" "$KEY" "$SECRET" "$kpid" "$BATCHES" "$WORKERS")
  kill "$kpid"; wait "$kpid" 2>/dev/null || true; kpid=
  echo "| $1 | new records | $first |"
  echo "| $1 | the same again (skipped) | $again |"
}

pg_db="kedian_sync_bench_$$"
psql -q "$PG_URL" -c "CREATE DATABASE $pg_db"
pg_url="${PG_URL%/*}/$pg_db"
{
  echo "# Sync API, $(date +%F)"
  echo
  echo "Machine: $(nproc) cores, $(uname -sr). $BATCHES requests of 1,000 order records, $WORKERS clients, release build."
  echo
  echo "| backend | run | result |"
  echo "|---|---|---|"
  serve sqlite ""
  serve postgres "$pg_url"
} > "$out"
psql -q "$PG_URL" -c "DROP DATABASE $pg_db" || true
cat "$out"
