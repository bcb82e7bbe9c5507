#!/usr/bin/env bash
# Two builds of the shop on the same data, one after the other, each against nginx serving the very
# bytes it sent: the signed-in lesson page, 我的课程 and orders, and the anonymous course page
# (wrk -t2 -c64). For "did this change make a hot page slower?" without trusting a number from
# another day.
#
#   bash bench/compare.sh OLD_BINARY NEW_BINARY DATA_DIR [ROUNDS]
#
# DATA_DIR is a shop's data directory (say one `bench/run.sh` left, or `kedian import` made); it is
# copied, never changed. Its learners 139000001xx must own a course (an imported export does:
# `python3 bench/gen_export.py DIR 2000 6000 2000`, then `OLD import DIR`), and OLD must have made
# it: the new build migrates the copy forward, while an old build refuses a newer schema. On PostgreSQL and Redis, as a shop that has outgrown one machine runs:
#   PG_TEMPLATE=postgres://postgres@127.0.0.1:5432/kedian_bench REDIS_URL=redis://127.0.0.1:6379 \
#     bash bench/compare.sh OLD NEW DATA_DIR
# where kedian_bench is a shop's database (`bench/pg_shop.sh` makes one); each run gets a copy of it
# (CREATE DATABASE … TEMPLATE), and DATA_DIR still gives the session key and media.
# Build the old binary from a worktree, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release --target-dir /tmp/old-target)
set -euo pipefail
old=$1 new=$2 data=$3 rounds=${4:-2}
ulimit -n 65536 2>/dev/null || true
cd "$(dirname "$0")/.."
cargo build --release -q --example loadgen
W=$(mktemp -d); chmod 755 "$W"; mkdir -p "$W/html"; chmod 755 "$W/html"
pid=""
copy_db=""
pg_admin=${PG_TEMPLATE:-/}; pg_admin=${pg_admin%/*}/postgres
cleanup() {
  set +e
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null
  [ -n "$copy_db" ] && psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $copy_db" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
export KEDIAN_DATA_DIR=$W/data KEDIAN_LISTEN=127.0.0.1:18901 RUST_LOG="warn,kedian::sms=info"
[ -n "${REDIS_URL:-}" ] && export KEDIAN_REDIS_URL=$REDIS_URL
# A fresh copy of the template database for each run, so both builds start from the same rows.
fresh_db() {
  [ -n "${PG_TEMPLATE:-}" ] || return 0
  [ -n "$copy_db" ] && psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $copy_db"
  copy_db="kedian_compare_$$"
  psql -q "$pg_admin" -c "CREATE DATABASE $copy_db TEMPLATE ${PG_TEMPLATE##*/}"
  export KEDIAN_DATABASE_URL=${PG_TEMPLATE%/*}/$copy_db
}
cat >"$W/nginx.conf" <<CONF
worker_processes auto; error_log $W/nginx-error.log; pid $W/nginx.pid;
events { worker_connections 4096; }
http { access_log off; default_type text/html; server { listen 127.0.0.1:18902; root $W/html; } }
CONF
nginx -p "$W" -c nginx.conf
# CONNS connections (64 unless set); the shop's cells also give its p99 latency.
conns=${CONNS:-64}
rps() { wrk -t2 -c"$conns" -d8s "$@" 2>&1 | awk '/Requests\/sec/ {print $2}'; }
shop() { wrk -t2 -c"$conns" -d8s --latency "$@" 2>&1 | awk '/Requests\/sec/ {r = $2} / 99%/ {p = $2} END {print r " (p99 " p ")"}'; }
ratio() { awk -v a="${1%% *}" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| round | build | lesson page req/s | nginx | ratio | 我的课程 req/s | nginx | ratio | orders req/s | nginx | ratio | course page (anonymous) req/s | nginx | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
n=0
for round in $(seq "$rounds"); do
  for which in old new; do
    n=$((n + 1))
    bin=$old; [ "$which" = new ] && bin=$new
    fresh_db
    # A fresh copy for each run: the new build migrates its copy forward, which an old build then
    # refuses to open.
    rm -rf "$W/data"; cp -r "$data" "$W/data"
    "$bin" serve >>"$W/shop-$which.log" 2>&1 & pid=$!
    for _ in $(seq 100); do curl -sf http://127.0.0.1:18901/healthz >/dev/null && break; sleep 0.1; done
    mapfile -t login < <(./target/release/examples/loadgen cookie --base http://127.0.0.1:18901 \
      --log "$W/shop-$which.log" --phone "1390000$(printf %04d $((100 + n)))")
    cookie=${login[0]:-}; lesson=${login[1]:-}
    [ -n "$cookie" ] && [ -n "$lesson" ] || { echo "could not sign in on the $which build" >&2; exit 1; }
    curl -sf -H "Cookie: $cookie" "http://127.0.0.1:18901$lesson" -o "$W/html/lesson.html"
    curl -sf -H "Cookie: $cookie" "http://127.0.0.1:18901/me/courses" -o "$W/html/my.html"
    curl -sf -H "Cookie: $cookie" "http://127.0.0.1:18901/orders" -o "$W/html/orders.html"
    course=${lesson%/lessons/*}
    curl -sf "http://127.0.0.1:18901$course" -o "$W/html/course.html"
    k1=$(shop -H "Cookie: $cookie" "http://127.0.0.1:18901$lesson"); n1=$(rps http://127.0.0.1:18902/lesson.html)
    k2=$(shop -H "Cookie: $cookie" http://127.0.0.1:18901/me/courses); n2=$(rps http://127.0.0.1:18902/my.html)
    k4=$(shop -H "Cookie: $cookie" http://127.0.0.1:18901/orders); n4=$(rps http://127.0.0.1:18902/orders.html)
    k3=$(shop "http://127.0.0.1:18901$course"); n3=$(rps http://127.0.0.1:18902/course.html)
    echo "| $round | $which | $k1 | $n1 | $(ratio "$k1" "$n1") | $k2 | $n2 | $(ratio "$k2" "$n2") | $k4 | $n4 | $(ratio "$k4" "$n4") | $k3 | $n3 | $(ratio "$k3" "$n3") |"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
