"""Sends records to a Kedian shop's sync API (docs/sync-api.md). Standard library only.

    KEDIAN_URL=https://shop.example.com KEDIAN_SYNC_KEY=sk_... KEDIAN_SYNC_SECRET=... \
        python3 sync.py < records.json      # a JSON array of records
"""
import hashlib, hmac, json, os, secrets, sys, time, urllib.request, urllib.error


def sync(records):
    path = "/api/sync/v1/records"
    body = json.dumps({"records": records}, ensure_ascii=False).encode()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    message = "\n".join(["POST", path, timestamp, nonce]).encode() + b"\n" + body
    signature = hmac.new(os.environ["KEDIAN_SYNC_SECRET"].encode(), message, hashlib.sha256).hexdigest()
    request = urllib.request.Request(os.environ["KEDIAN_URL"] + path, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "X-Kedian-Key": os.environ["KEDIAN_SYNC_KEY"],
        "X-Kedian-Timestamp": timestamp,
        "X-Kedian-Nonce": nonce,
        "X-Kedian-Signature": signature,
    })
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


if __name__ == "__main__":
    print(*sync(json.load(sys.stdin)))
