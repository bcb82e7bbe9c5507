#!/usr/bin/env bash
# The takedown drill on the scale-out setup, beside the embedded shop, in one run: the same
# imported base and the same virtual learners, first against one SQLite shop, then against two
# instances on PostgreSQL, Redis and an S3 bucket behind nginx with the kit's own site file
# (deploy/nginx.conf: TLS, media handed over to nginx from the bucket). Writes
# bench/cluster-drill-results-<date>.md with both tables and each step's p99 side by side.
#
#   PG_URL=postgres://postgres@127.0.0.1:5432/kedian_drill REDIS_URL=redis://127.0.0.1:6379 \
#     S3_URL=http://127.0.0.1:5005 S3_NAME="moto 5" bash bench/cluster_drill.sh
# The bucket's keys are test/test (as moto takes any, and `s3s-fs --access-key test --secret-key test`).
# The S3 server's own speed is in the media step: moto (Python) is far slower than a real store;
# s3s-fs (`cargo install s3s-fs@0.14.1 --features binary`, serving a folder) is closer to one.
#   USERS=5000 ORDERS=15000 PROGRESS=5000 DRILL_LEARNERS=200 DRILL_SECS=30 bash bench/cluster_drill.sh  # a quick look
# STATEMENTS=1 logs every SQL statement the instances run and counts them per request
# (bench/statements.py), for where the database round trips go; it slows the instances.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/kedian_drill}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
S3_URL=${S3_URL:-http://127.0.0.1:5005}
USERS=${USERS:-100000}
ORDERS=${ORDERS:-300000}
PROGRESS=${PROGRESS:-100000}
DRILL_SECS=${DRILL_SECS:-300}
DRILL_LEARNERS=${DRILL_LEARNERS:-2000}
SQLITE_PORT=18940 A_PORT=18941 B_PORT=18942 HTTP_PORT=18943 HTTPS_PORT=18944

ulimit -n 65536 2>/dev/null || true
build="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench/loadgen.rs || echo ' with uncommitted changes')"
cargo build --release -q --bin kedian --example loadgen
bin=$PWD/target/release/kedian
loadgen=$PWD/target/release/examples/loadgen
W=$(mktemp -d)
chmod 755 "$W"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null
  sleep 0.5
  [ -n "${STATEMENTS:-}" ] && [ -f "$W/inst-a.log" ] && python3 bench/statements.py "$W/inst-a.log" "$W/inst-b.log" >"$statements_out"
  rm -rf "$W"
}
trap cleanup EXIT
# Warnings, plus the console sender's texts: the load generator reads the codes from the logs.
export RUST_LOG="warn,kedian::sms=info" KEDIAN_TRUST_FORWARDED=true
statements_out="bench/statements-$(date -u +%Y-%m-%d).md"
[ -n "${STATEMENTS:-}" ] && RUST_LOG="$RUST_LOG,sqlx::query=debug,kedian::telemetry=info"

wait_up() { for _ in $(seq 300); do curl -skf "$1/healthz" >/dev/null && return; sleep 0.2; done; echo "$1 did not start" >&2; exit 1; }
rss_mb() { awk '/VmRSS/ {printf "%.0f\n", $2 / 1024}' "/proc/$1/status"; }
# Samples the RSS of the given processes every 200 ms into $W/rss-<pid> until the drill ends.
sample_rss() { for p in "$@"; do (: >"$W/rss-$p"; while kill -0 "$p" 2>/dev/null && [ ! -f "$W/drill-done" ]; do rss_mb "$p" >>"$W/rss-$p"; sleep 0.2; done) & done; }
peak_mb() { sort -n "$W/rss-$1" | tail -1; }
# CPU seconds the given processes have used so far (user + system).
cpu_secs() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.1f", s / hz}'; }
# Cores used over a run: CPU seconds before and after, and the wall seconds between.
cores() { awk -v a="$1" -v b="$2" -v w="$3" 'BEGIN {printf "%.2f", (b - a) / w}'; }

echo "== the export ($USERS users, $ORDERS orders)"
python3 bench/gen_export.py "$W/export" "$USERS" "$ORDERS" "$PROGRESS"

echo "== one SQLite shop"
sq_serve() { KEDIAN_DATA_DIR=$W/sqlite KEDIAN_LISTEN=127.0.0.1:$SQLITE_PORT "$bin" serve >>"$W/sqlite.log" 2>&1 & }
sq_serve; p=$!; pids+=("$p")
wait_up "http://127.0.0.1:$SQLITE_PORT"; kill "$p"; wait "$p" 2>/dev/null || true
import_start=$(date +%s.%N)
KEDIAN_DATA_DIR=$W/sqlite "$bin" import "$W/export" >"$W/sqlite-import.log" 2>&1
sqlite_import_secs=$(awk -v s="$import_start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}')
sq_serve; sqlite_pid=$!; pids+=("$sqlite_pid")
wait_up "http://127.0.0.1:$SQLITE_PORT"
sqlite_idle=$(rss_mb "$sqlite_pid")
rm -f "$W/drill-done"; sample_rss "$sqlite_pid"
echo "== the drill on SQLite"
shop0=$(cpu_secs "$sqlite_pid") t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$W/loadgen-sqlite.cpu" "$loadgen" drill --base "http://127.0.0.1:$SQLITE_PORT" \
  --log "$W/sqlite.log" --learners "$DRILL_LEARNERS" --secs "$DRILL_SECS" --phones "$USERS" >"$W/sqlite-drill.md"
wall=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN {print e - s}')
sqlite_cpu="shop $(cores "$shop0" "$(cpu_secs "$sqlite_pid")" "$wall"), load generator $(awk -v w="$wall" '{printf "%.2f", ($1 + $2) / w}' "$W/loadgen-sqlite.cpu")"
touch "$W/drill-done"; sleep 0.5
sqlite_peak=$(peak_mb "$sqlite_pid")
kill "$sqlite_pid"; wait "$sqlite_pid" 2>/dev/null || true

echo "== PostgreSQL, Redis, a bucket and two instances behind the kit's nginx"
admin=${PG_URL%/*}/postgres name=${PG_URL##*/}
psql -q "$admin" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
bucket="kedian-drill-$(date +%s)"
# A signed request (the SHA-256 of the empty body), which every S3 server takes.
curl -sf -X PUT --aws-sigv4 aws:amz:us-east-1:s3 --user test:test \
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$S3_URL/$bucket" >/dev/null
cat >"$W/storage.toml" <<TOML
service = "s3"
bucket = "$bucket"
endpoint = "$S3_URL"
region = "us-east-1"
access_key_id = "test"
secret_access_key = "test"
root = "/shop"
TOML
export KEDIAN_DATABASE_URL=$PG_URL KEDIAN_REDIS_URL=$REDIS_URL KEDIAN_STORAGE_CONFIG=$W/storage.toml \
  KEDIAN_SESSION_KEY=$(openssl rand -hex 32) KEDIAN_PUBLIC_URL=https://127.0.0.1:$HTTPS_PORT KEDIAN_MEDIA_ACCEL=true
inst() { KEDIAN_DATA_DIR=$W/inst-$1 KEDIAN_LISTEN=127.0.0.1:$2 "$bin" serve >>"$W/inst-$1.log" 2>&1 & }
# The first start makes the schema and the demo catalog (its media goes to the bucket).
inst a "$A_PORT"; p=$!; pids+=("$p")
wait_up "http://127.0.0.1:$A_PORT"; kill "$p"; wait "$p" 2>/dev/null || true
import_start=$(date +%s.%N)
KEDIAN_DATA_DIR=$W/inst-a "$bin" import "$W/export" >"$W/pg-import.log" 2>&1
pg_import_secs=$(awk -v s="$import_start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}')
inst a "$A_PORT"; a_pid=$!; pids+=("$a_pid")
inst b "$B_PORT"; b_pid=$!; pids+=("$b_pid")
wait_up "http://127.0.0.1:$A_PORT"; wait_up "http://127.0.0.1:$B_PORT"

# The kit's site, changed only where this machine differs (as tests/api/cluster.rs does).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
python3 - deploy/nginx.conf "$W/site.conf" "$W" "$S3_URL" "$A_PORT" "$B_PORT" "$HTTP_PORT" "$HTTPS_PORT" <<'PY'
import sys
kit, out, w, s3, a, b, http, https = sys.argv[1:]
site = open(kit).read()
for old, new in [
    ("    server 127.0.0.1:8080 max_fails=3 fail_timeout=10s;\n",
     f"    server 127.0.0.1:{a} max_fails=3 fail_timeout=10s;\n    server 127.0.0.1:{b} max_fails=3 fail_timeout=10s;\n"),
    ("    listen 80;\n", f"    listen 127.0.0.1:{http};\n"),
    ("    listen [::]:80;\n", ""),
    ("    listen 443 ssl http2 backlog=4096;\n", f"    listen 127.0.0.1:{https} ssl http2 backlog=4096;\n"),
    ("    listen [::]:443 ssl http2 backlog=4096;\n", ""),
    ("/etc/letsencrypt/live/shop.example.com/fullchain.pem", f"{w}/cert.pem"),
    ("/etc/letsencrypt/live/shop.example.com/privkey.pem", f"{w}/key.pem"),
    ("/var/cache/nginx/kedian", f"{w}/cache"),
    ("https://s3.cn-north-1.amazonaws.com.cn/", f"{s3}/"),
]:
    assert old in site, f"deploy/nginx.conf changed: {old!r} is gone"
    site = site.replace(old, new)
open(out, "w").write(site)
PY
# The learners' addresses come in X-Forwarded-For, as from a load balancer in front of nginx;
# the shop believes only what nginx appends.
cat >"$W/nginx.conf" <<CONF
user root;
worker_processes auto;
pid $W/nginx.pid;
error_log $W/nginx-error.log warn;
events { worker_connections 16384; multi_accept on; }
http {
  # Each request's time at nginx and the part spent waiting on an instance: where the time goes.
  log_format timing '\$request_method \$uri \$status \$request_time \$upstream_response_time';
  access_log $W/nginx-access.log timing buffer=256k flush=5s;
  set_real_ip_from 127.0.0.1;
  real_ip_header X-Forwarded-For;
  client_body_temp_path $W/body; proxy_temp_path $W/proxy;
  fastcgi_temp_path $W/fastcgi; uwsgi_temp_path $W/uwsgi; scgi_temp_path $W/scgi;
  include $W/site.conf;
}
CONF
nginx -t -q -p "$W" -c "$W/nginx.conf"
nginx -p "$W" -c "$W/nginx.conf"
site=https://127.0.0.1:$HTTPS_PORT
wait_up "$site"
a_idle=$(rss_mb "$a_pid") b_idle=$(rss_mb "$b_pid")
rm -f "$W/drill-done"; sample_rss "$a_pid" "$b_pid"
echo "== the drill on two instances"
nginx_pids=$(cat "$W/nginx.pid"; pgrep -P "$(cat "$W/nginx.pid")")
pg_pids=$(pgrep -x postgres || true) redis_pids=$(pgrep -x redis-server || true)
s3_pids=$(pgrep -f "s3s-fs|moto_server" || true)
before=()
for set in "$a_pid $b_pid" "$nginx_pids" "$pg_pids" "$redis_pids" "$s3_pids"; do before+=("$(cpu_secs $set)"); done
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$W/loadgen-cluster.cpu" "$loadgen" drill --base "$site" --insecure \
  --log "$W/inst-a.log" --log "$W/inst-b.log" --learners "$DRILL_LEARNERS" --secs "$DRILL_SECS" --phones "$USERS" \
  >"$W/cluster-drill.md"
wall=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN {print e - s}')
i=0 cluster_cpu=""
for name in "both instances" nginx PostgreSQL Redis "the S3 server"; do
  set=$(case $name in "both instances") echo "$a_pid $b_pid";; nginx) echo "$nginx_pids";; PostgreSQL) echo "$pg_pids";; Redis) echo "$redis_pids";; *) echo "$s3_pids";; esac)
  cluster_cpu+="$name $(cores "${before[$i]}" "$(cpu_secs $set)" "$wall"), "
  i=$((i + 1))
done
cluster_cpu+="load generator $(awk -v w="$wall" '{printf "%.2f", ($1 + $2) / w}' "$W/loadgen-cluster.cpu")"
touch "$W/drill-done"; sleep 0.5
# nginx writes its buffered access log out when told to reopen it.
kill -USR1 "$(cat "$W/nginx.pid")"; sleep 1
a_peak=$(peak_mb "$a_pid") b_peak=$(peak_mb "$b_pid")
# Each instance's share of the requests: the console texts each one sent.
a_texts=$(grep -c "console sender" "$W/inst-a.log" || true) b_texts=$(grep -c "console sender" "$W/inst-b.log" || true)
errors_nginx=$(grep -c '\[error\]' "$W/nginx-error.log" || true)

out="bench/cluster-drill-results-$(date -u +%Y-%m-%d).md"
{
echo "# The takedown drill: one SQLite shop, and two instances on PostgreSQL + Redis + S3 behind nginx"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores shared by everything below, release build of $build."
echo "Both shops hold the demo catalog plus the same imported base ($USERS users, $ORDERS orders,"
echo "$PROGRESS progress rows). $DRILL_LEARNERS virtual learners for $DRILL_SECS s, arrivals spread over"
echo "the first 20 s: each logs in by SMS code, opens 我的课程, the lesson it offers to continue, fetches"
echo "1 MB of its media, reports progress, then keeps watching (1 MB and a report every 10 s) for 30 s"
echo "and leaves; the next imported learner takes its place."
echo
echo "- **SQLite**: one \`kedian serve\` (synchronous=FULL), plain HTTP, media from its own disk."
echo "- **Cluster**: two \`kedian serve\` on PostgreSQL ($(psql -tA "$admin" -c 'SHOW server_version'))"
echo "  with sessions in Redis and media in an S3 bucket (${S3_NAME:-an S3 server} at $S3_URL), behind"
echo "  nginx $(nginx -v 2>&1 | sed 's/.*\///') with deploy/nginx.conf (TLS, HTTP/1.1 here; \`media_accel\`: the"
echo "  shop checks each media request and nginx fetches the bytes from the bucket with a presigned GET)."
echo "  The import took $sqlite_import_secs s on SQLite and $pg_import_secs s on PostgreSQL."
echo
echo "## p99 per step (ms)"
echo
python3 - "$W/sqlite-drill.md" "$W/cluster-drill.md" <<'PY'
import sys
def steps(path):
    rows = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0][:1].isdigit():
            rows[cells[0]] = cells
    return rows
one, two = steps(sys.argv[1]), steps(sys.argv[2])
print("| step | SQLite count | SQLite p99 | cluster count | cluster p99 | cluster / SQLite |")
print("|---|---|---|---|---|---|")
for step in sorted(set(one) | set(two)):
    a, b = one.get(step), two.get(step)
    ratio = f"{float(b[4]) / float(a[4]):.2f}" if a and b and float(a[4]) > 0 else "-"
    print(f"| {step} | {a[1] if a else '-'} | {a[4] if a else '-'} | {b[1] if b else '-'} | {b[4] if b else '-'} | {ratio} |")
PY
echo
echo "## One SQLite shop"
echo
cat "$W/sqlite-drill.md"
echo
echo "RSS: $sqlite_idle MB idle, **$sqlite_peak MB at the drill's peak**."
echo "Cores used during the drill (of $(nproc)): $sqlite_cpu."
echo
echo "## Two instances behind nginx"
echo
cat "$W/cluster-drill.md"
echo
echo "RSS: instance A $a_idle MB idle, **$a_peak MB at peak**; instance B $b_idle MB idle, **$b_peak MB at peak**."
echo "Cores used during the drill (of $(nproc)): $cluster_cpu."
echo "Codes texted by A: $a_texts, by B: $b_texts (nginx balanced the logins). nginx error-log lines: $errors_nginx."
echo
echo "### Where the time goes, as nginx saw it (ms)"
echo
echo 'From nginx'"'"'s access log: the whole request at nginx (`$request_time`, from reading its first byte'
echo 'to sending its last) and the part spent on the instance (`$upstream_response_time`). The load'
echo "generator's own numbers above also hold the TLS handshake and the wait to be accepted."
echo
python3 - "$W/nginx-access.log" <<'PY'
import re, sys
def kind(method, uri):
    if uri.startswith("/_kedian_"): return None
    if uri == "/me/courses": return "3 my courses"
    if re.fullmatch(r"/courses/[^/]+/lessons/\d+", uri): return "4 lesson page"
    if "/media" in uri: return "5 media"
    if "progress" in uri: return "6 progress"
    if uri.startswith("/login"): return ("1-2 send code, log in")
    return "other"
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) < 5: continue
    k = kind(parts[0], parts[1])
    if k is None: continue
    total = float(parts[3]) * 1000
    up = sum(float(x) * 1000 for x in re.split(r"[ ,:]+", " ".join(parts[4:])) if x not in ("-", ""))
    rows.setdefault(k, []).append((total, up))
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0
print("| requests | count | at nginx p50 | p99 | on an instance p50 | p99 |")
print("|---|---|---|---|---|---|")
for k in sorted(rows):
    t = [r[0] for r in rows[k]]; u = [r[1] for r in rows[k]]
    print(f"| {k} | {len(t)} | {pct(t, .5):.1f} | {pct(t, .99):.1f} | {pct(u, .5):.1f} | {pct(u, .99):.1f} |")
PY
if [ "$errors_nginx" != 0 ]; then
  echo
  echo "nginx's error log, first lines:"
  echo
  grep '\[error\]' "$W/nginx-error.log" | head -5 | sed 's/^/    /'
fi
} >"$out"
cat "$out"
