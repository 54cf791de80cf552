#!/usr/bin/env bash
# Starts a 3-node JetStream cluster, ledgerd (stream with 3 replicas) and projectord on
# loopback, runs a smoke test as a clerk, checks the permissions, the replicated stream and the
# views, and stops it all.
# Usage: deploy/local-cluster.sh [--keep]   (--keep leaves it running and prints how to stop it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
keep=${1:-}

bin="$root/target/release"
if [ ! -x "$bin/ledgerd" ] || [ ! -x "$bin/probity" ] || [ ! -x "$bin/projectord" ]; then
  (cd "$root" && cargo build --release -q -p probity-ledgerd -p probity-cli -p probity-projectord)
fi
command -v nats-server >/dev/null || { echo "nats-server is not installed (apt-get install -y nats-server)" >&2; exit 2; }

work=$(mktemp -d /tmp/probity-cluster.XXXXXX)
pids=()
stop() {
  local status=$?
  # projectord and ledgerd first (ledgerd flushes and lets the stream catch up), then the NATS nodes.
  for pid in $(printf '%s\n' "${pids[@]}" | tac); do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$status" = 0 ]; then rm -rf "$work"; else echo "logs kept in $work" >&2; fi
}
[ "$keep" = "--keep" ] || trap stop EXIT
trap 'echo "--- ledgerd log:"; tail -20 "$work/ledgerd.log" 2>/dev/null; echo "--- projectord log:"; tail -20 "$work/projectord.log" 2>/dev/null' ERR

echo "==> starting the 3-node NATS cluster (client ports 14222-14224) in $work"
for n in 1 2 3; do
  nats-server -c "$here/nats/cluster-node$n.conf" -sd "$work/nats/n$n" -l "$work/nats-$n.log" &
  pids+=($!)
done
for n in 2 3 4; do
  healthy=
  for _ in $(seq 150); do
    if curl -fs "http://127.0.0.1:1822$n/healthz?js-enabled-only=true" >/dev/null 2>&1; then healthy=1; break; fi
    sleep 0.1
  done
  [ -n "$healthy" ] || { echo "NATS node on port 1422$n did not become healthy; logs in $work" >&2; cat "$work"/nats-*.log >&2; exit 1; }
done

clerk="nats://clerk:clerk-trial-password@127.0.0.1:14222"
P="$bin/probity"
echo "==> creating a ledger and keys"
cd "$work"
"$P" keygen --out admin.key >/dev/null
"$P" keygen --out clerk.key >/dev/null
"$P" init --data "$work/ledger" --ledger city-hospital-3 --admin-key admin.key >/dev/null
vkey="$work/ledger/ledger.vkey"   # written by init; projectord pins it
"$P" enroll --data "$work/ledger" --key admin.key --public-key clerk.key.pub --role clerk --holder "Li Na" >/dev/null

echo "==> starting ledgerd (stream replicas: 3)"
PROBITY_NATS_URL="nats://ledgerd:ledgerd-trial-password@127.0.0.1:14222,nats://ledgerd:ledgerd-trial-password@127.0.0.1:14223" \
  "$bin/ledgerd" --data "$work/ledger" --replicas 3 >"$work/ledgerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do
  "$P" status --nats "$clerk" --ledger city-hospital-3 >/dev/null 2>&1 && break
  sleep 0.2
done

echo "==> starting projectord (node 3, the ledger key pinned)"
"$bin/projectord" --nats "nats://projector:projector-trial-password@127.0.0.1:14224" --ledger city-hospital-3 \
  --views "$work/views" --ledger-vkey "$vkey" >"$work/projectord.log" 2>&1 &
pids+=($!)

echo "==> smoke test: a clerk records a purchase request over NATS (node 2)"
"$P" record --nats "nats://clerk:clerk-trial-password@127.0.0.1:14223" --ledger city-hospital-3 --key clerk.key \
  --type purchase.requested --payload '{"case": "CASE-SMOKE-1", "department": "cardiology",
  "requester": "S-0207", "item": "infusion pump", "category": "A0232", "quantity": 1,
  "estimated": {"fen": 3000000, "currency": "CNY"}, "budget_project": "BP-7", "justification": "smoke test"}'
"$P" status --nats "nats://clerk:clerk-trial-password@127.0.0.1:14224" --ledger city-hospital-3

echo "==> checks"
stream=$(curl -fs "http://127.0.0.1:18222/jsz?streams=true&accounts=true&config=true")
python3 - "$stream" <<'PY'
import json, sys
jsz = json.loads(sys.argv[1])
streams = [s for a in jsz.get("account_details", []) for s in a.get("stream_detail", [])]
ledger = [s for s in streams if s["name"] == "PROBITY_CITY_HOSPITAL_3"]
assert ledger, f"stream not found: {[s['name'] for s in streams]}"
s = ledger[0]
replicas = s["config"]["num_replicas"]
msgs = s["state"]["messages"]
assert replicas == 3, f"replicas {replicas}"
assert msgs == 3, f"stream holds {msgs} records, the book 3"
assert s["config"]["deny_delete"] and s["config"]["deny_purge"]
print(f"ok   stream PROBITY_CITY_HOSPITAL_3: {msgs} records, {replicas} replicas, deletes and purges denied")
PY
# A clerk may not publish to the records subject (only ledgerd may), nor take appends.
python3 - <<'PY'
import socket, time
def violations(user, password, commands):
    s = socket.create_connection(("127.0.0.1", 14222))
    s.recv(4096)
    s.sendall(('CONNECT {"verbose":false,"user":"%s","pass":"%s"}\r\n' % (user, password)).encode() + commands + b"PING\r\n")
    time.sleep(0.5)
    reply = s.recv(65536).decode()
    s.close()
    return reply
forged = violations("clerk", "clerk-trial-password", b"PUB probity.city-hospital-3.records 2\r\n{}\r\n")
assert "Permissions Violation for Publish" in forged, forged
print("ok   a clerk may not publish to probity.city-hospital-3.records")
taken = violations("clerk", "clerk-trial-password", b"SUB probity.city-hospital-3.append 1\r\n")
assert "Permissions Violation for Subscription" in taken, taken
print("ok   a clerk may not take appends (subscribe to probity.city-hospital-3.append)")
PY
# The views: projectord verified the records (checked against the pinned key) and answers.
for _ in $(seq 100); do
  "$P" case CASE-SMOKE-1 --nats "$clerk" --ledger city-hospital-3 --json >case.json 2>/dev/null && break
  sleep 0.2
done
python3 - <<'PY'
import json
case = json.load(open("case.json"))
assert case["state"] == "requested", case
print(f"ok   projectord: case CASE-SMOKE-1 is {case['state']!r}, signed by {case['timeline'][0]['signer_name']!r} at {case['timeline'][0]['occurred_at']}")
PY
"$P" status --nats "$clerk" --ledger city-hospital-3 --json >status.json
python3 - <<'PY'
import json
status = json.load(open("status.json"))
views = status["projector"]
assert views["applied"] == status["size"] and views["halted"] is None, status
print(f"ok   views hold all {views['applied']} records, none refused")
PY
python3 - <<'PY'
import socket, time
s = socket.create_connection(("127.0.0.1", 14222))
s.recv(4096)
s.sendall(b'CONNECT {"verbose":false,"user":"clerk","pass":"clerk-trial-password"}\r\nSUB probity.city-hospital-3.query.blacklist 1\r\nPING\r\n')
time.sleep(0.5)
reply = s.recv(65536).decode()
assert "Permissions Violation for Subscription" in reply, reply
print("ok   a clerk may not answer queries (subscribe to probity.city-hospital-3.query.*)")
PY
if "$P" status --nats "nats://clerk:wrong-password@127.0.0.1:14222" --ledger city-hospital-3 >/dev/null 2>&1; then
  echo "FAIL a wrong password was accepted" >&2; exit 1
fi
echo "ok   a wrong password is refused"
if [ "$keep" = "--keep" ]; then
  echo "==> left running (pids ${pids[*]}); stop with: kill ${pids[*]}; data in $work"
else
  echo "==> stopping"
fi
