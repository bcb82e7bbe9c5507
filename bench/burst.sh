#!/usr/bin/env bash
# 1,000 connections of one logged-in learner hitting the lesson page at once: right after a
# restart (every in-memory copy cold, the session's keep-alive due), again warm, and again after
# 75 s idle (the copies swept). Checks that a burst on cold copies loads each row once instead of
# queueing a thousand identical reads. Prints wrk's p99 and any timeouts per case.
#   bash bench/burst.sh [path/to/kedian]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin kedian --example loadgen
bin=${1:-./target/release/kedian}
d=$(mktemp -d)
chmod 755 "$d"
port=18097
export KEDIAN_DATA_DIR=$d/data KEDIAN_LISTEN=127.0.0.1:$port RUST_LOG="warn,kedian::sms=info"
pid=""
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$d"' EXIT
up() { "$bin" serve >>"$d/shop.log" 2>&1 & pid=$!; for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.2; done; }
up
mapfile -t login < <(./target/release/examples/loadgen cookie --base "http://127.0.0.1:$port" --log "$d/shop.log" --phone 13600000001)
kill "$pid"; wait "$pid" 2>/dev/null || true
# The session's keep-alive mark 400 s old: the first requests after the restart extend it.
python3 - "$d/data/kedian.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for sid, state in db.execute("SELECT id, state FROM sessions").fetchall():
    m = json.loads(state)
    if "seen" in m:
        m["seen"] = str(int(m["seen"]) - 400)
        db.execute("UPDATE sessions SET state = ? WHERE id = ?", (json.dumps(m), sid))
db.commit()
PY
up
for run in "after a restart" warm "after 75 s idle"; do
  [ "$run" = "after 75 s idle" ] && sleep 75
  out=$(wrk -t2 -c1000 -d10s --latency -H "Cookie: ${login[0]}" "http://127.0.0.1:$port/courses/excel-data-analysis/lessons/1")
  echo "| $run | $(awk '/Requests\/sec/ {print $2}' <<<"$out") | $(awk '$1 == "99%" {print $2}' <<<"$out") | $(grep -o 'timeout [0-9]*' <<<"$out" || echo 'timeout 0') |"
done
