#!/usr/bin/env python3
"""Writes a synthetic mini program export (docs/import-format.md) of the given size.

    python3 bench/gen_export.py OUT_DIR USERS ORDERS PROGRESS
"""
import csv
import os
import random
import sys

out, users, orders, progress = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out, exist_ok=True)
random.seed(7)
products = [("p_excel", "excel-data-analysis", 199), ("p_python", "python-zero-to-one", 299), ("p_econ", "economics-in-15-minutes", 99)]
phone = lambda i: f"139{i:08d}"

with open(f"{out}/manifest.json", "w") as f:
    f.write('{"version": 1}\n')
with open(f"{out}/courses.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["product_id", "course_slug"])
    for pid, slug, _ in products:
        w.writerow([pid, slug])
with open(f"{out}/users.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["phone", "nickname", "unionid", "openid", "created_at"])
    for i in range(users):
        w.writerow([phone(i), f"学员{i}", f"union{i:010d}", f"open{i:010d}", 1_700_000_000 + i * 60])
with open(f"{out}/orders.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["order_id", "phone", "product_id", "amount", "paid_at", "provider", "transaction_id", "status", "refunded_amount"])
    for i in range(orders):
        pid, _, price = products[i % len(products)]
        refunded = random.random() < 0.03
        w.writerow([f"WX{i:012d}", phone(i % users), pid, f"{price}.00", 1_700_000_000 + i * 30, "wechatpay",
                    f"4200{i:016d}", "refunded" if refunded else "paid", f"{price}.00" if refunded else ""])
with open(f"{out}/progress.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["phone", "product_id", "lesson_no", "position_secs", "completed", "updated_at"])
    for i in range(progress):
        pid, _, _ = products[i % len(products)]
        w.writerow([phone(i % users), pid, 1 + (i // users) % 3, random.randint(0, 600), int(random.random() < 0.4), 1_730_000_000 + i])
