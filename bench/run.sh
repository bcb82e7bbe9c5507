#!/usr/bin/env bash
# Takedown day on this machine, with nginx serving the same bytes in the same run as the
# reference. One command; writes bench/results-<date>.md. See bench/README.md.
#   bash bench/run.sh
#   DURATION=5s DRILL_SECS=60 DRILL_LEARNERS=500 USERS=20000 bash bench/run.sh   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
USERS=${USERS:-100000}
ORDERS=${ORDERS:-300000}
PROGRESS=${PROGRESS:-100000}
DRILL_SECS=${DRILL_SECS:-300}
DRILL_LEARNERS=${DRILL_LEARNERS:-2000}
BUY_SECS=${BUY_SECS:-30}
MEDIA_MB=${MEDIA_MB:-1024}
MEDIA_SECS=${MEDIA_SECS:-15}
KPORT=18080
NPORT=18081

for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx curl >/dev/null; }
done
ulimit -n 65536 2>/dev/null || true
cargo build --release -q --bin kedian --example loadgen
bin=./target/release/kedian
loadgen=./target/release/examples/loadgen

work=$(mktemp -d)
# nginx's workers run as an unprivileged user: they must be able to read the files.
chmod 755 "$work"
kpid=""
spid=""
cleanup() {
  if [ -n "$kpid" ]; then kill "$kpid" 2>/dev/null || true; fi
  if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; fi
  if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; sleep 0.5; fi
  rm -rf "$work"
}
trap cleanup EXIT
export KEDIAN_DATA_DIR="$work/data" KEDIAN_LISTEN="127.0.0.1:$KPORT" KEDIAN_TRUST_FORWARDED=true
# Warnings, plus the console sender's texts: the load generator reads the codes from the log.
export RUST_LOG="warn,kedian::sms=info"

wait_up() { for _ in $(seq 150); do curl -sf "http://127.0.0.1:$KPORT/healthz" >/dev/null && return; sleep 0.2; done; echo "shop did not start" >&2; exit 1; }
start_shop() { "$bin" serve >>"$work/shop.log" 2>&1 & kpid=$!; wait_up; }
stop_shop() { kill "$kpid"; wait "$kpid" 2>/dev/null || true; kpid=""; }
rss_mb() { awk '/VmRSS/ {printf "%.0f\n", $2 / 1024}' "/proc/$kpid/status"; }
# Samples the shop's RSS every 100 ms into $work/rss until stopped; peak_mb reads the highest.
sample_rss() { : >"$work/rss"; (while kill -0 "$kpid" 2>/dev/null; do rss_mb >>"$work/rss"; sleep 0.1; done) & spid=$!; }
peak_mb() { kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=""; sort -n "$work/rss" | tail -1; }
# MB/s received by 100 concurrent downloads of one URL for $2 seconds.
downloads() {
  # Each client its own learner at its own address (trusted here): from one address the shop's
  # per-viewer stream limit (6) would be measured, not its speed.
  (for i in $(seq 100); do
    curl -s -o /dev/null --max-time "$2" -H "X-Forwarded-For: 10.77.0.$i" -w "%{size_download}\n" "$1" &
  done; wait) >"$work/dl" || true
  awk -v secs="$2" '{ total += $1 } END { printf "%.0f", total / secs / 1048576 }' "$work/dl"
}
ratio() { awk -v k="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", k / n; else print "-" }'; }
# wrk: requests/s, transfer MB/s and p99 ms of one run.
wrk_run() {
  local out
  out=$(wrk -t2 "$@" --latency 2>&1)
  local rps mbs p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  mbs=$(awk '/Transfer\/sec/ {v=$2; if (v ~ /GB/) {sub("GB","",v); v*=1024} else if (v ~ /MB/) sub("MB","",v); else if (v ~ /KB/) {sub("KB","",v); v/=1024}; printf "%.0f", v}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /ms/) {sub("ms","",v)} else if (v ~ /us/) {sub("us","",v); v/=1000} else if (v ~ /s/) {sub("s","",v); v*=1000}; printf "%.1f", v}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  echo "$rps ${mbs:-0} ${p99:-0} ${errors}"
}

echo "== a shop with the imported base ($USERS users, $ORDERS orders)"
start_shop; stop_shop
python3 bench/gen_export.py "$work/export" "$USERS" "$ORDERS" "$PROGRESS"
import_start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/import.rss" "$bin" import "$work/export" >"$work/import.out" 2>&1 || true
import_secs=$(awk -v s="$import_start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
import_rss=$(awk '{printf "%.0f\n", $1 / 1024}' "$work/import.rss")

start_shop
idle=$(rss_mb)
phone=13900000001
mapfile -t login < <("$loadgen" cookie --base "http://127.0.0.1:$KPORT" --log "$work/shop.log" --phone "$phone")
cookie=${login[0]}
lesson=${login[1]}
[ -n "$cookie" ] && [ -n "$lesson" ] || { echo "could not log in as $phone" >&2; exit 1; }

# nginx serves the very bytes the shop sends (gzip on for the compressed rows).
mkdir -p "$work/html"
fetch() { curl -sf -H "Cookie: $2" "http://127.0.0.1:$KPORT$1" -o "$work/html/$3"; }
fetch /courses/excel-data-analysis "" anon.html
fetch /me/courses "$cookie" mycourses.html
fetch /orders "$cookie" orders.html
fetch "$lesson" "$cookie" lesson.html
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
error_log $work/nginx-error.log;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/html;
  types { text/html html; video/mp4 mp4; }
  sendfile on;
  gzip on;
  gzip_types text/html;
  server { listen 127.0.0.1:$NPORT; root $work/html; }
}
CONF
nginx -p "$work" -c nginx.conf
for f in anon.html mycourses.html orders.html lesson.html; do
  cmp -s <(curl -sf "http://127.0.0.1:$NPORT/$f") "$work/html/$f" || { echo "nginx does not serve $f" >&2; exit 1; }
done

out="bench/results-$(date -u +%Y-%m-%d).md"
say() { tee -a "$out"; }
: >"$out"
{
echo "# Takedown day on one small machine"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, release build, SQLite (synchronous=FULL), wrk -t2 -d$DURATION."
echo "The shop holds the demo catalog plus an imported base of $USERS users and $ORDERS orders."
echo "nginx serves the same bytes from files in the same run; the ratio is the figure to watch."
echo
echo "## Pages"
echo
echo "| page | connections | encoding | kedian req/s | nginx req/s | ratio | kedian p99 ms | nginx p99 ms |"
echo "|---|---|---|---|---|---|---|---|"
} | say
row() { # label path cookie file connections encoding
  local extra=()
  [ -n "$3" ] && extra+=(-H "Cookie: $3")
  [ "$6" = gzip ] && extra+=(-H "Accept-Encoding: gzip")
  read -r krps _ kp99 kerr <<<"$(wrk_run -c"$5" -d"$DURATION" "${extra[@]}" "http://127.0.0.1:$KPORT$2")"
  read -r nrps _ np99 nerr <<<"$(wrk_run -c"$5" -d"$DURATION" "${extra[@]}" "http://127.0.0.1:$NPORT/$4")"
  echo "| $1 | $5 | $6 | $krps | $nrps | $(ratio "$krps" "$nrps") | $kp99 | $np99 |${kerr:+ kedian: $kerr}${nerr:+ nginx: $nerr}" | say
}
sample_rss
row "anonymous course page" /courses/excel-data-analysis "" anon.html 64 identity
row "logged-in 我的课程" /me/courses "$cookie" mycourses.html 64 identity
row "logged-in orders" /orders "$cookie" orders.html 64 identity
row "logged-in lesson page" "$lesson" "$cookie" lesson.html 64 identity
row "anonymous course page" /courses/excel-data-analysis "" anon.html 64 gzip
row "logged-in 我的课程" /me/courses "$cookie" mycourses.html 64 gzip
row "logged-in lesson page" "$lesson" "$cookie" lesson.html 64 gzip
row "anonymous course page" /courses/excel-data-analysis "" anon.html 1000 identity
row "anonymous course page" /courses/excel-data-analysis "" anon.html 1000 gzip
row "logged-in lesson page" "$lesson" "$cookie" lesson.html 1000 identity
row "logged-in lesson page" "$lesson" "$cookie" lesson.html 1000 gzip
pages_peak=$(peak_mb)
{
echo
echo "### As a browser fetches them: compressed, 30 loads on one kept-alive connection"
echo
echo "| page | kedian median ms | kedian max ms | nginx median ms | nginx max ms |"
echo "|---|---|---|---|---|"
} | say
browser_row() { # label url-kedian url-nginx cookie
  local k n
  k=$(curl -s --compressed -H "Cookie: $4" $(for _ in $(seq 30); do echo "-o /dev/null -w %{time_total}\n $2"; done) | sort -n)
  n=$(curl -s --compressed -H "Cookie: $4" $(for _ in $(seq 30); do echo "-o /dev/null -w %{time_total}\n $3"; done) | sort -n)
  echo "| $1 | $(sed -n 15p <<<"$k" | awk '{printf "%.2f", $1*1000}') | $(tail -1 <<<"$k" | awk '{printf "%.2f", $1*1000}') | $(sed -n 15p <<<"$n" | awk '{printf "%.2f", $1*1000}') | $(tail -1 <<<"$n" | awk '{printf "%.2f", $1*1000}') |" | say
}
browser_row "anonymous course page" "http://127.0.0.1:$KPORT/courses/excel-data-analysis" "http://127.0.0.1:$NPORT/anon.html" ""
browser_row "logged-in lesson page" "http://127.0.0.1:$KPORT$lesson" "http://127.0.0.1:$NPORT/lesson.html" "$cookie"

# Lesson media: a free preview replaced by a large file, 100 downloaders at once.
free_lesson=$(python3 - "$work/data/kedian.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT l.id FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = 'excel-data-analysis' AND l.free_preview = 1 ORDER BY l.id LIMIT 1").fetchone()[0])
PY
)
mkdir -p "$work/data/media/bench"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NPORT/anon.html")" = 200 ] || { echo "nginx is not serving" >&2; exit 1; }
head -c "$((MEDIA_MB * 1024 * 1024))" /dev/urandom >"$work/data/media/bench/big.mp4"
cp "$work/data/media/bench/big.mp4" "$work/html/big.mp4"
python3 - "$work/data/kedian.db" "$free_lesson" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE lessons SET media_key = 'bench/big.mp4', hls_dir = NULL WHERE id = ?", (int(sys.argv[2]),))
db.commit()
PY
media=$(curl -sf "http://127.0.0.1:$KPORT/courses/excel-data-analysis/lessons/$free_lesson" | grep -o '/media/[0-9]*/main.mp4?[^"]*' | head -1 | sed 's/&#38;/\&/g; s/&amp;/\&/g')
[ -n "$media" ] || { echo "no media URL on the free preview" >&2; exit 1; }
sleep 2
idle_media=$(rss_mb)
sample_rss
kmbs=$(downloads "http://127.0.0.1:$KPORT$media" "$MEDIA_SECS")
media_peak=$(peak_mb)
nmbs=$(downloads "http://127.0.0.1:$NPORT/big.mp4" "$MEDIA_SECS")
sleep 2
after_media=$(rss_mb)
{
echo
echo "## Lesson media: a $MEDIA_MB MB file, 100 concurrent downloads (the free preview, so no login)"
echo
echo "| | kedian | nginx | ratio |"
echo "|---|---|---|---|"
echo "| throughput MB/s | $kmbs | $nmbs | $(ratio "$kmbs" "$nmbs") |"
echo
echo "Each of 100 clients downloads the whole file for $MEDIA_SECS s (curl, to /dev/null); the figure is"
echo "all bytes received in that time. Shop RSS: $idle_media MB before, **$media_peak MB at peak**"
echo "(+$((media_peak - idle_media)) MB), $after_media MB after."
} | say

echo "== paid orders"
sample_rss
buy=$("$loadgen" buy --base "http://127.0.0.1:$KPORT" --log "$work/shop.log" --learners 64 --secs "$BUY_SECS")
buy_peak=$(peak_mb)
{
echo
echo "## Paid orders: 64 learners buying (buy, pay in the sandbox, fulfil, see the course) for $BUY_SECS s"
echo
echo "$buy"
echo
echo "Peak RSS $buy_peak MB."
} | say

echo "== the drill"
sample_rss
drill=$("$loadgen" drill --base "http://127.0.0.1:$KPORT" --log "$work/shop.log" --learners "$DRILL_LEARNERS" --secs "$DRILL_SECS" --phones "$USERS")
drill_peak=$(peak_mb)
sleep 15
after15=$(rss_mb)
sleep 60
after75=$(rss_mb)
{
echo
echo "## The takedown-day drill: $DRILL_LEARNERS virtual learners for $DRILL_SECS s"
echo
echo "Each learner logs in by SMS code (read from the console sender's log), opens 我的课程, opens the"
echo "lesson it offers to continue, fetches 1 MB of its media, reports progress, then keeps watching"
echo "(1 MB and a report every 10 s) for 30 s and leaves; the next learner takes its place."
echo
echo "$drill"
echo
if [ -n "${SYNC_DURING_DRILL:-}" ]; then
  # The same drill again while the mini program's back end syncs: 100 order records a second,
  # signed, through the sync API (bench/sync_load.py), for as long as the drill runs.
  echo "== the drill again, with sync running" >&2
  key=sk_drill000000000001 secret=$(openssl rand -hex 32)
  python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()" "$KEDIAN_DATA_DIR/kedian.db" \
    "INSERT INTO sync_keys (key_id, secret, label, created_at) VALUES ('$key', '$secret', 'drill', 0)"
  SYNC_RECORDS=100 SYNC_PACE_SECS=1 python3 bench/sync_load.py "http://127.0.0.1:$KPORT" "$key" "$secret" "$kpid" "$((DRILL_SECS * 19 / 20))" 1 >"$work/sync" &
  sync_pid=$!
  drill_sync=$("$loadgen" drill --base "http://127.0.0.1:$KPORT" --log "$work/shop.log" --learners "$DRILL_LEARNERS" --secs "$DRILL_SECS" --phones "$USERS")
  wait "$sync_pid" || echo "the sync load failed" >&2
  echo
  echo "## The same drill while the sync API takes 100 order records a second"
  echo
  echo "$drill_sync"
  echo
  echo "Sync during it: $(cat "$work/sync")"
  echo
fi
echo "## Memory and import"
echo
echo "| | MB |"
echo "|---|---|"
echo "| shop RSS idle after start | $idle |"
echo "| peak during the page runs | $pages_peak |"
echo "| peak during the drill | $drill_peak |"
echo "| 15 s after the drill | $after15 |"
echo "| 75 s after the drill (sessions kept in memory 60 s) | $after75 |"
echo
echo "Import of the export ($USERS users, $ORDERS orders, $PROGRESS progress rows): ${import_secs} s, peak RSS ${import_rss} MB."
} | say
echo "written to $out"
