"""Load for the sync API (docs/sync-api.md): BATCHES signed requests of 1,000 order records each,
from WORKERS threads, against a shop at URL with key KEY/SECRET. Prints records a second and
the shop's resident memory (from /proc/PID/status) before, at its peak during the load, and after.

    python3 bench/sync_load.py URL KEY SECRET PID BATCHES WORKERS

SYNC_RECORDS (records a batch, 1,000) and SYNC_PACE_SECS (each worker sends a batch every PACE seconds, 0: at once)
make it a steady trickle instead, as a mini program's back end sends events during the day.
"""
import hashlib, hmac, json, os, secrets, sys, threading, time, urllib.request

url, key, secret, pid = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
batches, workers = int(sys.argv[5]), int(sys.argv[6])
PATH = "/api/sync/v1/records"
SIZE = int(os.environ.get("SYNC_RECORDS", "1000"))
PACE = float(os.environ.get("SYNC_PACE_SECS", "0"))


def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def send(records):
    body = json.dumps({"records": records}).encode()
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    message = "\n".join(["POST", PATH, ts, nonce]).encode() + b"\n" + body
    sig = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    req = urllib.request.Request(url + PATH, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Kedian-Key": key, "X-Kedian-Timestamp": ts,
        "X-Kedian-Nonce": nonce, "X-Kedian-Signature": sig})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def batch(n):
    event = 1_796_000_000_000 + n * SIZE
    records = []
    for i in range(SIZE):
        k = n * SIZE + i
        records.append({"type": "order", "event_at": event + i, "order_id": f"B{k}", "openid": f"om_bench{k % 50000}",
                        "product_id": "p1", "amount": "99.00", "paid_at": 1796000000})
    return records


send([{"type": "course", "event_at": 1, "product_id": "p1", "course_slug": "excel-data-analysis"}])
work = list(range(batches))
lock = threading.Lock()
applied = [0]
peak = [rss_kb()]
before = peak[0]


def worker():
    due = time.time()
    while True:
        with lock:
            if not work:
                return
            n = work.pop()
        answer = send(batch(n))
        with lock:
            applied[0] += answer["applied"]
        if PACE:
            # On a schedule (one batch each PACE seconds), not a pause after each answer: the rate
            # holds while the shop is busy, as long as an answer takes less than PACE.
            due += PACE
            time.sleep(max(0.0, due - time.time()))


def sample(stop):
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kb())
        time.sleep(0.2)


stop = threading.Event()
sampler = threading.Thread(target=sample, args=(stop,))
sampler.start()
start = time.time()
threads = [threading.Thread(target=worker) for _ in range(workers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - start
stop.set()
sampler.join()
total = batches * SIZE
print(json.dumps({"records": total, "applied": applied[0], "seconds": round(elapsed, 2),
                  "records_per_sec": round(total / elapsed), "rss_before_mb": before // 1024,
                  "rss_peak_mb": peak[0] // 1024, "rss_after_mb": rss_kb() // 1024}))
