#!/usr/bin/env python3
"""An independent verifier of whole Probity exports, written from schemas/FORMAT.md §1-§9,
schemas/EXPORT.md and schemas/roles.md alone.

It shares no code with the Rust implementation (SHA-256 from hashlib, Ed25519 from the
`cryptography` package, JSON from the standard library, read strictly as FORMAT.md §1 says).

    python3 verify_export.py EXPORT --ledger-vkey VKEY
        prints every finding as `code seq message`; exit 0 intact, 1 findings, 2 usage.
    python3 verify_export.py EXPORT --ledger-vkey VKEY --cross-check PROBITY
        also applies a set of tamperings to the export (arrays for objects, repeated keys,
        other timestamp texts, a back-dated record, a garbled record, dropped checkpoints and a
        cut tail), expects each to be found at the right record, and checks that `PROBITY
        verify --json` reports the same (code, seq) findings as this verifier, case by case.
"""

import base64
import copy
import hashlib
import json
import pathlib
import re
import struct
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HERE = pathlib.Path(__file__).resolve().parent
PAYLOAD_TYPE = "application/vnd.probity.event.v1+json"
ORDER = 2**252 + 27742317777372353535851937790883648493
RECORDED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
OCCURRED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")
LEDGER = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
SUBJECT = re.compile(r"[A-Za-z0-9._:-]{1,64}")
GOVERNANCE = {"ledger.genesis", "key.enrolled", "key.revoked"}


class NotInForm(Exception):
    """Input not in its one accepted form (FORMAT.md §1)."""


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def strict_json(text):
    """JSON with no object repeating a key (FORMAT.md §1)."""

    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise NotInForm("an object repeats a key")
        return dict(items)

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except (ValueError, RecursionError) as e:
        raise NotInForm(str(e)) from e


def obj(value, members, optional=()):
    """An object with exactly `members` (and perhaps `optional`)."""
    if not isinstance(value, dict):
        raise NotInForm(f"expected an object, found {type(value).__name__}")
    missing = set(members) - set(value)
    extra = set(value) - set(members) - set(optional)
    if missing or extra:
        raise NotInForm(f"members: missing {sorted(missing)}, unknown {sorted(extra)}")
    return value


def b64(text):
    if not isinstance(text, str):
        raise NotInForm("base64 must be a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise NotInForm(f"not base64: {e}") from e
    if base64.b64encode(raw).decode() != text:
        raise NotInForm("base64 not in its canonical form")
    return raw


def hex32(text, n=32):
    if not isinstance(text, str) or not re.fullmatch(r"[0-9a-f]{%d}" % (2 * n), text):
        raise NotInForm("not lowercase hex of %d bytes" % n)
    return bytes.fromhex(text)


def micros(text):
    if not isinstance(text, str) or not RECORDED_AT.fullmatch(text):
        raise NotInForm(f"recorded_at {text!r} is not in its one text")
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def key_id(public_key: bytes) -> bytes:
    return h(b"probity/key-id/v1\n" + public_key)[:16]


def pae(body: bytes) -> bytes:
    t = PAYLOAD_TYPE.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def ed25519_ok(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != 64 or int.from_bytes(signature[32:], "little") >= ORDER:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def read_record(value):
    """A record (FORMAT.md §5) in its one form: (record, body bytes, keyid, signature)."""
    record = obj(value, ["seq", "recorded_at", "prev", "event", "hash"])
    if not isinstance(record["seq"], int) or isinstance(record["seq"], bool) or record["seq"] < 0:
        raise NotInForm("seq is not a natural number")
    micros(record["recorded_at"])
    hex32(record["prev"])
    hex32(record["hash"])
    envelope = obj(record["event"], ["payloadType", "payload", "signatures"])
    if not isinstance(envelope["signatures"], list):
        raise NotInForm("signatures is not an array")
    signatures = [obj(s, ["keyid", "sig"]) for s in envelope["signatures"]]
    if len(signatures) != 1:
        raise NotInForm("exactly one signature")
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise NotInForm("payloadType")
    return record, b64(envelope["payload"]), hex32(signatures[0]["keyid"], 16), b64(signatures[0]["sig"])


def leaf(record, body, keyid, sig) -> bytes:
    return (b"probity/record/v1\n" + struct.pack(">Q", record["seq"])
            + struct.pack(">q", micros(record["recorded_at"])) + bytes.fromhex(record["prev"])
            + struct.pack(">I", len(body)) + body + keyid + sig)


def read_body(body: bytes):
    """The event body (FORMAT.md §3); raises NotInForm."""
    if len(body) > 65536:
        raise NotInForm("body too large")
    event = obj(strict_json(body), ["id", "type", "schema", "ledger", "occurred_at", "signer", "payload"],
                optional=["subjects"])
    checks = [
        isinstance(event["id"], str) and ID.fullmatch(event["id"]),
        isinstance(event["type"], str) and TYPE.fullmatch(event["type"]),
        isinstance(event["schema"], int) and not isinstance(event["schema"], bool) and event["schema"] >= 1,
        isinstance(event["ledger"], str) and LEDGER.fullmatch(event["ledger"]),
        isinstance(event["occurred_at"], str) and OCCURRED_AT.fullmatch(event["occurred_at"]),
        isinstance(event["payload"], dict),
    ]
    if not all(checks):
        raise NotInForm("a body member breaks its rule")
    datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    if "subjects" in event:
        subjects = obj(event["subjects"], [], optional=["supplier", "rep", "case", "staff"])
        for ids in subjects.values():
            if not isinstance(ids, list) or not all(isinstance(i, str) and SUBJECT.fullmatch(i) for i in ids):
                raise NotInForm("subjects")
    signer = b64(event["signer"])
    if len(signer) != 32:
        raise NotInForm("signer is not 32 bytes")
    return event, signer


def role_matrix():
    """Event type -> roles, from the table in roles.md."""
    text = (HERE.parent / "roles.md").read_text()
    table = text[text.index("## Matrix"):].splitlines()
    header = [c.strip() for c in table[2].strip("|").split("|")]
    roles = header[1:]
    matrix = {}
    for row in table[4:]:
        if not row.startswith("| `"):
            continue
        cells = [c.strip() for c in row.strip("|").split("|")]
        matrix[cells[0].strip("`")] = {r for r, c in zip(roles, cells[1:]) if c == "✓"}
    return matrix


def mth(leaves):
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def parse_vkey(vkey):
    name, kid, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    return name, int(kid, 16), raw[0], raw[1:]


def checkpoint_ok(note: str, name: str, key: bytes) -> bool:
    """The ledger's signature on a checkpoint note (FORMAT.md §8)."""
    text, sep, block = note.rpartition("\n\n")
    if not sep:
        return False
    text += "\n"
    kid = int.from_bytes(h(name.encode() + b"\n\x01" + key)[:4], "big")
    for line in block.strip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            return False
        parts = line[2:].split(" ")
        if len(parts) != 2 or parts[0] != name:
            continue
        raw = base64.b64decode(parts[1])
        if int.from_bytes(raw[:4], "big") == kid and ed25519_ok(key, text.encode(), raw[4:]):
            return True
    return False


def checkpoint_root(note: str):
    lines = note.split("\n")
    return int(lines[1]), base64.b64decode(lines[2])


def verify(lines, pinned_vkey):
    """Every finding of a whole export (EXPORT.md v1), as (code, seq, message)."""
    findings = []

    def find(code, seq, message):
        findings.append((code, seq, message))

    header = obj(obj(strict_json(lines[0]), ["header"])["header"],
                 ["format", "ledger", "origin", "ledger_vkey", "size"])
    if header["format"] != "probity-export/v1":
        raise SystemExit("only whole exports (probity-export/v1) are checked here")
    name, _, _, pinned = parse_vkey(pinned_vkey) if pinned_vkey else (None, None, None, None)
    matrix = role_matrix()
    checkpoints = {}
    expected, prev_hashes, prev_at = 0, [bytes(32)], None
    leaves, ids, registry = [], set(), {}
    genesis_failed, roots_unknown = False, False
    # FORMAT.md §8: the key commitment after each key record, while every record was readable.
    keys, key_history, keys_known = bytes(32), [], True
    origin = ledger_key = ledger_id = None
    position = 0
    for text in lines[1:]:
        try:
            line = strict_json(text)
        except NotInForm:
            line = None
        if isinstance(line, dict) and list(line) == ["checkpoint"] and not leaves:
            cp = obj(line["checkpoint"], ["size", "note"])
            checkpoints.setdefault(cp["size"], []).append(cp["note"])
            continue
        try:
            if not (isinstance(line, dict) and list(line) == ["record"]):
                raise NotInForm("not a record line")
            record, body, keyid, sig = read_record(line["record"])
        except NotInForm as e:
            find("unreadable", position, f"record {position}: {e}")
            if position == 0:
                genesis_failed = True
            position += 1
            expected += 1
            prev_hashes = None
            roots_unknown = True
            keys_known = False
            leaves.append(bytes(32))
            continue
        position += 1
        seq = record["seq"]
        computed = h(b"\x00" + leaf(record, body, keyid, sig))
        stated = bytes.fromhex(record["hash"])
        if computed != stated:
            find("hash-mismatch", seq, f"record {seq}: stated hash is not the hash of its content")
        linked = prev_hashes is None or bytes.fromhex(record["prev"]) in prev_hashes
        if seq > expected:
            find("sequence-gap", expected, f"record {expected} is missing")
            expected = expected + 1 if linked else seq + 1
        elif seq < expected:
            find("sequence-repeat", seq, f"record {seq} appears again or out of order")
            expected += 1 if linked else 0
        else:
            expected += 1
        if not linked:
            find("broken-link", seq, f"record {seq}: prev is not the previous record's hash")
        at = micros(record["recorded_at"])
        if prev_at is not None and at < prev_at:
            find("time-backwards", seq, f"record {seq}: recorded_at before the previous record's")
        prev_at = at
        prev_hashes = [stated, computed]
        leaves.append(computed)
        try:
            event, signer = read_body(body)
        except NotInForm as e:
            find("malformed-event", seq, f"record {seq}: {e}")
            genesis_failed |= seq == 0
            keys_known = False
            continue
        if event["type"] in GOVERNANCE and keys_known:
            keys = h(b"probity/keys/v1\n" + keys + computed)
            key_history.append((seq, keys))
        if key_id(signer) != keyid or not ed25519_ok(signer, pae(body), sig):
            find("bad-signature", seq, f"record {seq}: signature")
            genesis_failed |= seq == 0
            continue
        if event["id"] in ids:
            find("duplicate-event-id", seq, f"record {seq}: event id {event['id']} seen before")
        ids.add(event["id"])
        payload = event["payload"]
        kind = event["type"]
        if kind in GOVERNANCE and event["schema"] != 1:
            find("governance", seq, f"record {seq}: {kind} has schema 1 only")
            genesis_failed |= seq == 0
            continue
        if seq == 0:
            ok = kind == "ledger.genesis"
            try:
                g = obj(payload, ["origin", "ledger_key", "admins"])
                admins = [obj(a, ["key", "holder"], optional=["department"]) for a in g["admins"]]
                admin_keys = [b64(a["key"]) for a in admins]
                ok = ok and signer in admin_keys and b64(g["ledger_key"]) not in admin_keys
                ok = ok and g["origin"] and not re.search(r"[\s+]", g["origin"])
            except (NotInForm, TypeError):
                ok = False
            if not ok:
                find("governance", 0, "record 0 is not a valid genesis")
                genesis_failed = True
                continue
            origin, ledger_key, ledger_id = g["origin"], b64(g["ledger_key"]), event["ledger"]
            for k in admin_keys:
                registry[key_id(k)] = [k, "administrator", 0, None]
            if pinned is not None and (name, pinned) != (origin, ledger_key):
                find("ledger-key-mismatch", 0, "the genesis names another ledger key than the pinned one")
            continue
        if kind == "ledger.genesis":
            find("governance", seq, f"record {seq}: genesis only as record 0")
            continue
        if ledger_id is None:
            if not genesis_failed:
                find("governance", seq, f"record {seq}: no genesis")
            continue
        if event["ledger"] != ledger_id:
            find("wrong-ledger", seq, f"record {seq}: another ledger")
            continue
        entry = registry.get(key_id(signer))
        if entry is None or entry[0] != signer or entry[2] >= seq:
            find("unknown-key", seq, f"record {seq}: signer not enrolled")
            continue
        if entry[3] is not None and entry[3] < seq:
            find("revoked-key", seq, f"record {seq}: signer revoked")
            continue
        if entry[1] not in matrix.get(kind, set()):
            find("unauthorised-role", seq, f"record {seq}: role {entry[1]} may not record {kind}")
            continue
        try:
            if kind == "key.enrolled":
                e = obj(payload, ["key", "role", "holder"], optional=["department"])
                new = b64(e["key"])
                old = registry.get(key_id(new))
                if old is not None and old[3] is None:
                    raise NotInForm("already enrolled")
                registry[key_id(new)] = [new, e["role"], seq, None]
            elif kind == "key.revoked":
                r = obj(payload, ["key_id", "reason"])
                old = registry.get(hex32(r["key_id"], 16))
                if old is None or old[3] is not None:
                    raise NotInForm("not an active key")
                old[3] = seq
        except NotInForm as e:
            find("governance", seq, f"record {seq}: {e}")

    log_name, log_key = (name, pinned) if pinned is not None else (origin, ledger_key)
    anchored = 0
    for size in sorted(checkpoints):
        for note in checkpoints[size]:
            signed = log_key is not None and checkpoint_ok(note, log_name, log_key)
            if not signed:
                find("checkpoint-signature", size, f"checkpoint at {size}: no valid ledger signature")
                continue
            anchored = max(anchored, size)
            if size > len(leaves):
                find("checkpoint-beyond-log", size, f"checkpoint at {size}: beyond the records")
            elif not roots_unknown and checkpoint_root(note)[1] != mth(leaves[:size]):
                find("checkpoint-root-mismatch", size, f"checkpoint at {size}: root differs")
            elif keys_known:
                stated = [e for e in note.split("\n\n")[0].split("\n")[3:] if e.startswith("probity-keys/v1")]
                ours = bytes(32)
                for seq, k in key_history:
                    if seq < size:
                        ours = k
                if stated and stated != ["probity-keys/v1 " + ours.hex()]:
                    find("key-commitment-mismatch", size, f"checkpoint at {size}: key commitment differs")
    if anchored < len(leaves):
        find("unanchored", anchored, f"records {anchored} to {len(leaves) - 1}: no signed checkpoint covers them")
    if header["size"] != len(leaves):
        find("size-mismatch", len(leaves), "the header states another number of records")
    return findings


# --- cross-check: tamperings applied to an intact export --------------------------------------


def tamperings(lines):
    """(name, tampered lines, (code, seq) that must be among the findings)."""
    parsed = [json.loads(l) for l in lines]
    first = next(i for i, l in enumerate(parsed) if "record" in l)
    records = len(lines) - first
    k = min(40, records - 2)
    at = first + k
    record = parsed[at]["record"]

    def replaced(text):
        out = list(lines)
        out[at] = text
        return out

    def as_array(value):
        return list(value.values())

    def with_record(change):
        r = copy.deepcopy(record)
        change(r)
        return replaced(json.dumps({"record": r}, separators=(",", ":")))

    def signature_as_array(r):
        r["event"]["signatures"][0] = as_array(r["event"]["signatures"][0])

    def envelope_as_array(r):
        r["event"] = as_array(r["event"])

    def other_time(text):
        return lambda r: r.__setitem__("recorded_at", text)

    t = record["recorded_at"]
    cases = [
        ("record as an array", replaced(json.dumps({"record": as_array(record)})), ("unreadable", k)),
        ("envelope as an array", with_record(envelope_as_array), ("unreadable", k)),
        ("signature entry as an array", with_record(signature_as_array), ("unreadable", k)),
        ("a repeated key", replaced(lines[at].replace('"seq":', '"seq":%d,"seq":' % (k + 7), 1)),
         ("unreadable", k)),
        ("recorded_at with a lower-case z", with_record(other_time(t.replace("Z", "z"))), ("unreadable", k)),
        ("recorded_at with three digits", with_record(other_time(t[:-4] + "Z")), ("unreadable", k)),
        ("recorded_at with nine digits", with_record(other_time(t[:-1] + "000Z")), ("unreadable", k)),
        ("recorded_at with a space", with_record(other_time(t.replace("T", " "))), ("unreadable", k)),
        ("a garbled record", replaced(lines[at][: len(lines[at]) // 2]), ("unreadable", k)),
        ("non-canonical base64", with_record(
            lambda r: r["event"].__setitem__("payload", r["event"]["payload"][:-2] + "==")
            if r["event"]["payload"].endswith("=") and not r["event"]["payload"].endswith("==")
            else r["event"].__setitem__("payload", r["event"]["payload"] + "\n")), ("unreadable", k)),
    ]
    # A back-dated record, re-sealed with every record after it (no key is needed for that).
    out = list(lines)
    prev = bytes.fromhex(record["prev"])
    for i in range(at, len(lines)):
        r = json.loads(lines[i])["record"]
        if i == at:
            m = micros(r["recorded_at"]) - 30 * 86_400_000_000
            whole = datetime.fromtimestamp(m // 1_000_000, timezone.utc)
            r["recorded_at"] = whole.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (m % 1_000_000)
        r["prev"] = prev.hex()
        env = r["event"]
        r["hash"] = h(b"\x00" + leaf(r, base64.b64decode(env["payload"]),
                                     bytes.fromhex(env["signatures"][0]["keyid"]),
                                     base64.b64decode(env["signatures"][0]["sig"]))).hex()
        prev = bytes.fromhex(r["hash"])
        out[i] = json.dumps({"record": r}, separators=(",", ":"))
    cases.append(("a back-dated record, re-sealed", out, ("time-backwards", k)))
    # Every checkpoint dropped: nothing anchors the records.
    cases.append(("every checkpoint dropped", [lines[0]] + lines[first:], ("unanchored", 0)))
    # The tail cut and the header made to agree: the checkpoints show it.
    head = json.loads(lines[0])
    head["header"]["size"] = records - 3
    last_size = max(json.loads(l)["checkpoint"]["size"] for l in lines[1:first])
    cases.append(("tail cut", [json.dumps(head)] + lines[1:-3], ("checkpoint-beyond-log", last_size)))
    # Every checkpoint but the first dropped and the tail cut; the header made to agree.
    sizes = sorted({json.loads(l)["checkpoint"]["size"] for l in lines[1:first]})
    if len(sizes) >= 2:
        kept = [l for l in lines[1:first] if json.loads(l)["checkpoint"]["size"] == sizes[0]]
        head = json.loads(lines[0])
        head["header"]["size"] = records - 2
        cut = [json.dumps(head)] + kept + lines[first:-2]
        cases.append(("checkpoints dropped, tail cut", cut, ("unanchored", sizes[0])))
    return cases


def probity_findings(probity, path, vkey):
    run = subprocess.run([probity, "verify", str(path), "--ledger-vkey", vkey, "--json"],
                         capture_output=True, text=True, check=False)
    report = json.loads(run.stdout)
    return run.returncode, sorted((f["code"], f["seq"]) for f in report["findings"])


def main(argv):
    if len(argv) < 2 or "--ledger-vkey" not in argv:
        print(__doc__)
        return 2
    path = pathlib.Path(argv[1])
    vkey = argv[argv.index("--ledger-vkey") + 1]
    if pathlib.Path(vkey).is_file():
        vkey = pathlib.Path(vkey).read_text().strip()
    lines = path.read_text().splitlines()
    findings = verify(lines, vkey)
    for code, seq, message in findings:
        print(f"{code} {seq} {message}")
    print(f"{path}: {'intact' if not findings else f'{len(findings)} finding(s)'} ({len(lines) - 1} lines)")
    if "--cross-check" not in argv:
        return 1 if findings else 0
    probity = argv[argv.index("--cross-check") + 1]
    failures = 0
    if findings:
        failures += 1
    with tempfile.TemporaryDirectory() as work:
        for name, tampered, expected in tamperings(lines):
            file = pathlib.Path(work) / "tampered.jsonl"
            file.write_text("".join(l + "\n" for l in tampered))
            ours = sorted((c, s) for c, s, _ in verify(tampered, vkey))
            code, theirs = probity_findings(probity, file, vkey)
            ok = expected in ours and ours == theirs and code == 1 and all(s >= expected[1] for _, s in ours)
            print(("ok   " if ok else "FAIL ") + f"{name}: python {ours}, probity {theirs}")
            failures += 0 if ok else 1
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
