#!/usr/bin/env python3
"""Probity next to a peer, on the same events, in one run.

The peer is Python's `eventsourcing` library (9.5, the SQLite recorder in WAL mode with
`PRAGMA synchronous=FULL`, so that a commit is on disk as Probity's are). Both are fed the same
N `purchase.requested` events (2,000 cases; DOMAIN.md's fields). Measured:

* appends, durable: Probity `record --batch` (each event signed by the clerk's key, then checked
  by the ledger — strict Ed25519, keys and roles, chain, Merkle tree — and fsynced in group
  commits) against eventsourcing saving one event per transaction and 256 per transaction
  (no signatures, no chain);
* rebuilding read models: Probity building its views from zero (`findings --data`, which
  catches the views up: every record's chain link and hash checked against the ledger-signed
  checkpoint, decoded, folded into the views, every red-flag rule run, committed to sled)
  against eventsourcing reading every stored event back and decoding it into its domain event
  (no projection at all).

Usage: python3 bench/peer_eventsourcing.py [--events N] [--probity PATH]
It installs eventsourcing with pip into target/peer-venv and builds target/release/probity when
they are missing. Prints a Markdown table (rates and the ratio Probity / peer).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "target" / "peer-venv"
PEER_VERSION = "9.5.6"
CASES = 2000

PEER = r'''
import json, statistics, sys, time
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
import eventsourcing.sqlite as es_sqlite

# Durable commits, as Probity's: WAL (the library's default) and synchronous=FULL.
original = es_sqlite.SQLiteConnectionPool._create_connection
def durable(self):
    connection = original(self)
    connection._sqlite_conn.execute("PRAGMA synchronous=FULL;")
    return connection
es_sqlite.SQLiteConnectionPool._create_connection = durable

class Case(Aggregate):
    @event("PurchaseRequested")
    def __init__(self, case, department, requester, item, category, quantity, estimated,
                 budget_project, justification):
        pass

def app(path):
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                             "SQLITE_DBNAME": path})

payloads = [json.loads(line)["payload"] for line in open(sys.argv[1])]
n = len(payloads)
out = {}

a = app(sys.argv[2] + "/one.db")
start = time.perf_counter()
for p in payloads:
    a.save(Case(**p))
out["append_one"] = n / (time.perf_counter() - start)

a = app(sys.argv[2] + "/batched.db")
start = time.perf_counter()
for i in range(0, n, 256):
    a.save(*[Case(**p) for p in payloads[i:i + 256]])
out["append_256"] = n / (time.perf_counter() - start)

rates = []
for _ in range(3):
    start = time.perf_counter()
    notifications = a.recorder.select_notifications(start=None, limit=n + 1)
    events = [a.mapper.to_domain_event(x) for x in notifications]
    rates.append(len(events) / (time.perf_counter() - start))
assert len(events) == n, len(events)
out["replay"] = statistics.median(rates)
print(json.dumps(out))
'''


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, **kw)


def peer_python():
    python = VENV / "bin" / "python"
    if not python.exists():
        run(sys.executable, "-m", "venv", VENV)
    check = subprocess.run([python, "-c", "import eventsourcing"], capture_output=True)
    if check.returncode != 0:
        run(python, "-m", "pip", "install", "--quiet", f"eventsourcing=={PEER_VERSION}")
    return python


def probity_binary(given):
    if given:
        return Path(given)
    run("cargo", "build", "--release", "--quiet", "-p", "probity-cli", cwd=ROOT)
    return ROOT / "target" / "release" / "probity"


def events(n):
    for i in range(n):
        payload = {
            "case": f"CASE-{i % CASES:05}", "department": "cardiology", "requester": "S-0207",
            "item": "infusion pump", "category": "A0232", "quantity": 1 + i % 9,
            "estimated": {"fen": 1_000_000 + i, "currency": "CNY"},
            "budget_project": "BP-7", "justification": "replacement of worn units",
        }
        yield {"type": "purchase.requested", "id": f"req-{i:07}", "payload": payload}


def timed(*args):
    start = time.perf_counter()
    run(*args, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--probity", help="a built probity binary (default: build it)")
    args = parser.parse_args()
    python = peer_python()
    probity = probity_binary(args.probity)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        batch = tmp / "events.jsonl"
        batch.write_text("".join(json.dumps(e) + "\n" for e in events(args.events)))
        data = tmp / "hospital"
        for key in ("admin", "clerk"):
            run(probity, "keygen", "--out", tmp / f"{key}.key", stdout=subprocess.DEVNULL)
        run(probity, "init", "--data", data, "--ledger", "peer-bench", "--admin-key",
            tmp / "admin.key", "--admin-name", "Admin", stdout=subprocess.DEVNULL)
        run(probity, "enroll", "--data", data, "--key", tmp / "admin.key", "--public-key",
            tmp / "clerk.key.pub", "--role", "clerk", "--holder", "Clerk",
            stdout=subprocess.DEVNULL)
        append = args.events / timed(probity, "record", "--data", data, "--key",
                                     tmp / "clerk.key", "--batch", batch)
        size = json.loads(subprocess.run([probity, "status", "--data", data, "--json"],
                                         check=True, capture_output=True).stdout)["size"]
        rebuilds = []
        for _ in range(3):
            shutil.rmtree(data / "views", ignore_errors=True)
            rebuilds.append(size / timed(probity, "findings", "--data", data, "--json"))
        rebuild = statistics.median(rebuilds)
        peer_dir = tmp / "peer"
        peer_dir.mkdir()
        ran = subprocess.run([python, "-c", PEER, batch, peer_dir], capture_output=True,
                             text=True)
        if ran.returncode != 0:
            sys.exit(f"the peer failed:\n{ran.stderr}")
        peer = json.loads(ran.stdout)
    rows = [
        ("durable appends", f"Probity `record --batch` (signed, checked, chained, fsynced)",
         append, "eventsourcing, 1 event per transaction", peer["append_one"]),
        ("durable appends", f"Probity `record --batch`", append,
         "eventsourcing, 256 events per transaction (no signatures)", peer["append_256"]),
        ("rebuild", "Probity views from zero (chain checked, every rule, committed)", rebuild,
         "eventsourcing read back and decode only", peer["replay"]),
    ]
    print(f"{args.events} purchase.requested events; Probity {size} records (genesis and "
          f"enrolment included); eventsourcing {PEER_VERSION}, SQLite WAL, synchronous=FULL; "
          f"rates are medians of 3 where repeated\n")
    print("| what | Probity | records/s | peer | events/s | Probity / peer |")
    print("|---|---|---:|---|---:|---:|")
    for what, ours, ours_rate, theirs, theirs_rate in rows:
        print(f"| {what} | {ours} | {ours_rate:,.0f} | {theirs} | {theirs_rate:,.0f} | "
              f"{ours_rate / theirs_rate:.2f} |")


if __name__ == "__main__":
    main()
