#!/usr/bin/env bash
# Anonymous catalog pages against nginx serving the same HTML as static files, on this machine.
# Needs Debian's wrk and nginx (installed if missing). Writes bench/results-<date>.md.
#   bash bench/catalog.sh            # 10 s per URL
#   DURATION=30s bash bench/catalog.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
KPORT=18080
NPORT=18081

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx >/dev/null; }
done
cargo build --release -q

work=$(mktemp -d)
# nginx's workers run as an unprivileged user: they must be able to read the files.
chmod 755 "$work"
cleanup() { kill "$kpid" 2>/dev/null || true; nginx -p "$work" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

KEDIAN_DATA_DIR="$work/data" KEDIAN_LISTEN="127.0.0.1:$KPORT" RUST_LOG=warn ./target/release/kedian serve &
kpid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$KPORT/healthz" >/dev/null && break; sleep 0.2; done

paths=("/" "/courses" "/courses/excel-data-analysis")
mkdir -p "$work/html/courses"
curl -sf "http://127.0.0.1:$KPORT/" -o "$work/html/index.html"
curl -sf "http://127.0.0.1:$KPORT/courses" -o "$work/html/courses/index.html"
curl -sf "http://127.0.0.1:$KPORT/courses/excel-data-analysis" -o "$work/html/courses/excel-data-analysis"

cat > "$work/nginx.conf" <<CONF
worker_processes auto;
error_log $work/error.log;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/html;
  server {
    listen 127.0.0.1:$NPORT;
    root $work/html;
    location / { try_files \$uri \$uri/index.html =404; }
  }
}
CONF
nginx -p "$work" -c nginx.conf

rps() { wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'; }
out="bench/results-$(date -u +%Y-%m-%d).md"
{
  echo "# Anonymous catalog pages vs nginx static files"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, wrk -t2 -c$CONNECTIONS -d$DURATION, release build, SQLite, demo catalog."
  echo
  echo "| path | kedian req/s | nginx req/s | kedian / nginx |"
  echo "|---|---|---|---|"
  for p in "${paths[@]}"; do
    k=$(rps "http://127.0.0.1:$KPORT$p")
    n=$(rps "http://127.0.0.1:$NPORT$p")
    echo "| \`$p\` | $k | $n | $(awk -v k="$k" -v n="$n" 'BEGIN {printf "%.2f", k / n}') |"
  done
} | tee "$out"
