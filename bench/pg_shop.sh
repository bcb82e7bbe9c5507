#!/usr/bin/env bash
# A shop on PostgreSQL for `bench/compare.sh`: the demo catalog and an imported synthetic
# mini-program export (`bench/gen_export.py`), in database DB_URL, with its data directory (session
# key, demo media) in DATA_DIR. The database is dropped and made again.
#
#   bash bench/pg_shop.sh postgres://postgres@127.0.0.1:5432/kedian_bench /tmp/pg-shop [USERS ORDERS PROGRESS]
set -euo pipefail
url=$1 data=$2 users=${3:-5000} orders=${4:-15000} progress=${5:-5000}
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/kedian
admin=${url%/*}/postgres name=${url##*/}
psql -q "$admin" -c "DROP DATABASE IF EXISTS $name"
psql -q "$admin" -c "CREATE DATABASE $name"
rm -rf "$data" && mkdir -p "$data"
export KEDIAN_DATA_DIR=$data KEDIAN_DATABASE_URL=$url KEDIAN_LISTEN=127.0.0.1:18911
"$bin" serve >"$data/first-start.log" 2>&1 & pid=$!
for _ in $(seq 600); do curl -sf http://127.0.0.1:18911/healthz >/dev/null && break; sleep 0.1; done
kill "$pid"; wait "$pid" 2>/dev/null || true
python3 bench/gen_export.py "$data/export" "$users" "$orders" "$progress"
"$bin" import "$data/export" >"$data/import.log" 2>&1
echo "$name: demo catalog, $users imported users, $orders orders"
