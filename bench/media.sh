#!/usr/bin/env bash
# Lesson media at nginx's pace? 100 clients download one large file at once for SECS seconds from
# the shop (the free preview's media URL, access checked as for any lesson) and from nginx serving
# the same file (sendfile). Each client is its own learner at its own address (X-Forwarded-For,
# trusted here), as on a takedown day; from one address the shop's per-viewer stream limit
# (media_streams_per_viewer, 6) would be measured instead. Besides the shop on its own, a second
# shop (a copy of the data, KEDIAN_MEDIA_ACCEL=true) runs behind nginx with the kit's own /media/
# and /_kedian_media/ locations (deploy/nginx.conf, over plain HTTP like the reference): there the
# shop checks each request and nginx sends the bytes. Prints MB/s for each, the ratios to nginx
# serving the file directly, and each shop's RSS before, at peak and after.
#
#   bash bench/media.sh DATA_DIR [MB] [SECS] [ROUNDS]   # DATA_DIR: a SQLite shop's data directory
set -euo pipefail
data=$1 mb=${2:-1024} secs=${3:-15} rounds=${4:-3}
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/kedian
W=$(mktemp -d); chmod 755 "$W"; mkdir -p "$W/html"; chmod 755 "$W/html"
pid="" pid2=""
cleanup() {
  set +e
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$pid2" ] && kill "$pid2" 2>/dev/null
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
# The second shop's copy of the data, the large file shared (a hard link).
mkdir "$W/accel"; (cd "$W/data" && tar --exclude=./media/bench -cf - .) | (cd "$W/accel" && tar -xf -)
mkdir -p "$W/accel/media/bench"; ln "$W/data/media/bench/big.mp4" "$W/accel/media/bench/big.mp4"
chmod 755 "$W/accel" "$W/accel/media" "$W/accel/media/bench"
# The kit's media locations, taken from deploy/nginx.conf, pointed at this copy and this shop.
kit=$(awk '/^    # Paid media:/ {on = 1} /^    # Metrics are/ {on = 0} on' deploy/nginx.conf \
  | sed "s|http://kedian|http://127.0.0.1:18923|; s|/var/lib/kedian/media/|$W/accel/media/|; s|https://s3.cn-north-1.amazonaws.com.cn/|http://127.0.0.1:9/|")
zones=$(grep '^limit_conn_zone' deploy/nginx.conf)
cat >"$W/nginx.conf" <<CONF
worker_processes auto; error_log $W/nginx-error.log; pid $W/nginx.pid;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; server { listen 127.0.0.1:18922; root $W/html; }
  $zones
  set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;
  server { listen 127.0.0.1:18924;
    proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
$kit
  }
  # The same shop data behind nginx without media_accel: nginx proxies what the shop streams.
  server { listen 127.0.0.1:18925;
    proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    location /media/ { proxy_pass http://127.0.0.1:18921; proxy_buffering off; }
  }
}
CONF
nginx -p "$W" -c nginx.conf
KEDIAN_DATA_DIR=$W/data KEDIAN_LISTEN=127.0.0.1:18921 KEDIAN_TRUST_FORWARDED=true RUST_LOG=warn \
  "$bin" serve >"$W/shop.log" 2>&1 & pid=$!
KEDIAN_DATA_DIR=$W/accel KEDIAN_LISTEN=127.0.0.1:18923 KEDIAN_TRUST_FORWARDED=true KEDIAN_MEDIA_ACCEL=true RUST_LOG=warn \
  "$bin" serve >"$W/accel.log" 2>&1 & pid2=$!
for port in 18921 18923; do
  for _ in $(seq 300); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
done
media=$(curl -sf "http://127.0.0.1:18921/courses/excel-data-analysis/lessons/$lesson" | grep -o '/media/[0-9]*/main.mp4?[^"]*' | head -1 | sed 's/&#38;/\&/g; s/&amp;/\&/g')
[ -n "$media" ] || { echo "no media URL on the free preview" >&2; exit 1; }
media2=$(curl -sf "http://127.0.0.1:18923/courses/excel-data-analysis/lessons/$lesson" | grep -o '/media/[0-9]*/main.mp4?[^"]*' | head -1 | sed 's/&#38;/\&/g; s/&amp;/\&/g')
[ -n "$media2" ] || { echo "no media URL on the second shop's free preview" >&2; exit 1; }
rss() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/${1:-$pid}/status"; }
# All bytes the 100 clients received, per second, in MB.
downloads() {
  (for i in $(seq 100); do
    curl -s -o /dev/null --max-time "$secs" -H "X-Forwarded-For: 10.77.0.$i" -w "%{size_download}\n" "$1" &
  done; wait) >"$W/dl" || true
  awk -v secs="$secs" '{ total += $1 } END { printf "%.0f", total / secs / 1048576 }' "$W/dl"
}
before=$(rss) before2=$(rss "$pid2")
watch_peak() { (peak=0; while r=$(rss "$1" 2>/dev/null) && [ -n "$r" ]; do [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$W/peak-$1"; sleep 0.2; done) & }
watch_peak "$pid"; watch_peak "$pid2"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| round | nginx MB/s | shop alone | ratio | shop behind nginx, proxied | ratio | shop behind nginx, media_accel | ratio |"
echo "|---|---|---|---|---|---|---|---|"
for round in $(seq "$rounds"); do
  nginx_mbs=$(downloads "http://127.0.0.1:18922/big.mp4")
  shop_mbs=$(downloads "http://127.0.0.1:18921$media")
  proxied_mbs=$(downloads "http://127.0.0.1:18925$media")
  accel_mbs=$(downloads "http://127.0.0.1:18924$media2")
  echo "| $round | $nginx_mbs | $shop_mbs | $(ratio "$shop_mbs" "$nginx_mbs") | $proxied_mbs | $(ratio "$proxied_mbs" "$nginx_mbs") | $accel_mbs | $(ratio "$accel_mbs" "$nginx_mbs") |"
done
echo
echo "$mb MB file, 100 clients for $secs s a run."
echo "Shop alone (also behind the proxy) RSS: $before MB before, $(cat "$W/peak-$pid") MB at peak, $(rss) MB after."
echo "Shop with media_accel RSS: $before2 MB before, $(cat "$W/peak-$pid2") MB at peak, $(rss "$pid2") MB after."
