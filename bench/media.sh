#!/usr/bin/env bash
# Lesson media at nginx's pace? 100 clients download one large file at once for SECS seconds from
# the shop (the free preview's media URL, access checked as for any lesson) and from nginx serving
# the same file (sendfile). Each client is its own learner at its own address (X-Forwarded-For,
# trusted here), as on a takedown day; from one address the shop's per-viewer stream limit
# (media_streams_per_viewer, 6) would be measured instead. Prints MB/s for both, their ratio, and
# the shop's RSS before, at peak and after.
#
#   bash bench/media.sh DATA_DIR [MB] [SECS] [ROUNDS]   # DATA_DIR: a SQLite shop's data directory
set -euo pipefail
data=$1 mb=${2:-1024} secs=${3:-15} rounds=${4:-3}
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/kedian
W=$(mktemp -d); chmod 755 "$W"; mkdir -p "$W/html"; chmod 755 "$W/html"
pid=""
cleanup() {
  set +e
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
cp -r "$data" "$W/data"
mkdir -p "$W/data/media/bench"
head -c "$((mb * 1024 * 1024))" /dev/urandom >"$W/data/media/bench/big.mp4"
ln "$W/data/media/bench/big.mp4" "$W/html/big.mp4"
chmod 755 "$W/data" "$W/data/media" "$W/data/media/bench"; chmod 644 "$W/html/big.mp4"
lesson=$(python3 - "$W/data/kedian.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(lesson,) = db.execute("SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = 'excel-data-analysis' AND l.free_preview = 1 ORDER BY l.id LIMIT 1").fetchone()
db.execute("UPDATE lessons SET media_key = 'bench/big.mp4', hls_dir = NULL WHERE id = ?", (lesson,))
db.commit()
print(lesson)
PY
)
cat >"$W/nginx.conf" <<CONF
worker_processes auto; error_log $W/nginx-error.log; pid $W/nginx.pid;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; server { listen 127.0.0.1:18922; root $W/html; } }
CONF
nginx -p "$W" -c nginx.conf
KEDIAN_DATA_DIR=$W/data KEDIAN_LISTEN=127.0.0.1:18921 KEDIAN_TRUST_FORWARDED=true RUST_LOG=warn \
  "$bin" serve >"$W/shop.log" 2>&1 & pid=$!
for _ in $(seq 300); do curl -sf http://127.0.0.1:18921/healthz >/dev/null && break; sleep 0.1; done
media=$(curl -sf "http://127.0.0.1:18921/courses/excel-data-analysis/lessons/$lesson" | grep -o '/media/[0-9]*/main.mp4?[^"]*' | head -1 | sed 's/&#38;/\&/g; s/&amp;/\&/g')
[ -n "$media" ] || { echo "no media URL on the free preview" >&2; exit 1; }
rss() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status"; }
# All bytes the 100 clients received, per second, in MB.
downloads() {
  (for i in $(seq 100); do
    curl -s -o /dev/null --max-time "$secs" -H "X-Forwarded-For: 10.77.0.$i" -w "%{size_download}\n" "$1" &
  done; wait) >"$W/dl" || true
  awk -v secs="$secs" '{ total += $1 } END { printf "%.0f", total / secs / 1048576 }' "$W/dl"
}
before=$(rss)
(peak=0; while r=$(rss 2>/dev/null) && [ -n "$r" ]; do [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$W/peak"; sleep 0.2; done) &
echo "| round | shop MB/s | nginx MB/s | ratio |"
echo "|---|---|---|---|"
for round in $(seq "$rounds"); do
  shop_mbs=$(downloads "http://127.0.0.1:18921$media")
  nginx_mbs=$(downloads "http://127.0.0.1:18922/big.mp4")
  echo "| $round | $shop_mbs | $nginx_mbs | $(awk -v a="$shop_mbs" -v b="$nginx_mbs" 'BEGIN { printf "%.2f", a / b }') |"
done
echo
echo "$mb MB file, 100 clients for $secs s a run. Shop RSS: $before MB before, $(cat "$W/peak") MB at peak, $(rss) MB after."
