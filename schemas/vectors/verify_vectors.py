#!/usr/bin/env python3
"""An independent verifier of the FORMAT.md test vectors, written from schemas/FORMAT.md alone.

It shares no code with the Rust implementation: SHA-256 from hashlib, Ed25519 from the
`cryptography` package, ML-DSA-44 from the pure-Python `dilithium-py` (FIPS 204), JSON from the
standard library. Run: python3 verify_vectors.py (exit 0 when every check passes). Needs
`pip install cryptography dilithium-py`.
"""

import base64
import hashlib
import json
import pathlib
import struct
import sys
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from dilithium_py.ml_dsa import ML_DSA_44

HERE = pathlib.Path(__file__).resolve().parent
PAYLOAD_TYPE = "application/vnd.probity.event.v1+json"


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> None:
    # FORMAT.md §1: S must be below the group order (cryptography does not promise to check).
    order = 2**252 + 27742317777372353535851937790883648493
    if int.from_bytes(signature[32:], "little") >= order:
        raise InvalidSignature("S is not canonical")
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)


def key_id(public_key: bytes) -> str:
    return h(b"probity/key-id/v1\n" + public_key)[:16].hex()


def pae(payload_type: str, body: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def micros(rfc3339: str) -> int:
    at = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    whole = int(at.timestamp())
    return whole * 1_000_000 + at.microsecond


def leaf_bytes(record: dict, body: bytes, keyid: bytes, sig: bytes) -> bytes:
    return (
        b"probity/record/v1\n"
        + struct.pack(">Q", record["seq"])
        + struct.pack(">q", micros(record["recorded_at"]))
        + bytes.fromhex(record["prev"])
        + struct.pack(">I", len(body))
        + body
        + keyid
        + sig
    )


def mth(leaves: list) -> bytes:
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list, root: bytes) -> bool:
    # RFC 9162 §2.1.3.2
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, proof: list, root1: bytes, root2: bytes) -> bool:
    # RFC 9162 §2.1.4.2
    if size1 == 0 or size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if not proof:
        return False
    if size1 & (size1 - 1) == 0:
        proof = [root1] + proof
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h(b"\x01" + c + fr)
            sr = h(b"\x01" + c + sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


def parse_vkey(vkey: str):
    name, kid, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    return name, int(kid, 16), raw[0], raw[1:]


def note_key_id(name: str, sig_type: int, key: bytes) -> int:
    return int.from_bytes(h(name.encode() + b"\n" + bytes([sig_type]) + key)[:4], "big")


def main() -> int:
    keys = json.loads((HERE / "keys.json").read_text())
    records = [json.loads(line) for line in (HERE / "records.jsonl").read_text().splitlines()]
    details = json.loads((HERE / "records-detail.json").read_text())
    failures = []

    def check(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    registry = {}  # key id -> (public key, role)
    key_commitment = bytes(32)  # FORMAT.md §8: over the key records, in order
    matrix = {"key.enrolled": {"administrator"}, "key.revoked": {"administrator"},
              "purchase.requested": {"clerk"}}
    prev, leaves, origin, ledger_key, ledger_id = bytes(32), [], None, None, None
    for record, detail in zip(records, details):
        seq = record["seq"]
        env = record["event"]
        check(env["payloadType"] == PAYLOAD_TYPE and len(env["signatures"]) == 1,
              f"record {seq}: envelope shape")
        body = base64.b64decode(env["payload"])
        sig = base64.b64decode(env["signatures"][0]["sig"])
        keyid = bytes.fromhex(env["signatures"][0]["keyid"])
        event = json.loads(body)
        signer = base64.b64decode(event["signer"])
        check(body.decode() == detail["body_utf8"], f"record {seq}: body text")
        check(pae(PAYLOAD_TYPE, body).hex() == detail["pae_hex"], f"record {seq}: PAE bytes")
        check(key_id(signer) == keyid.hex(), f"record {seq}: keyid is the signer's key id")
        try:
            verify_ed25519(signer, pae(PAYLOAD_TYPE, body), sig)
            check(True, f"record {seq}: signature")
        except InvalidSignature:
            check(False, f"record {seq}: signature")
        leaf = leaf_bytes(record, body, keyid, sig)
        check(leaf.hex() == detail["leaf_bytes_hex"], f"record {seq}: leaf bytes")
        record_hash = h(b"\x00" + leaf)
        check(record_hash.hex() == record["hash"], f"record {seq}: record hash")
        check(record["prev"] == prev.hex(), f"record {seq}: link to previous record")
        check(seq == len(leaves), f"record {seq}: sequence")
        payload = event["payload"]
        if seq == 0:
            check(event["type"] == "ledger.genesis", "record 0 is genesis")
            origin = payload["origin"]
            ledger_key = base64.b64decode(payload["ledger_key"])
            ledger_id = event["ledger"]
            admins = [base64.b64decode(a["key"]) for a in payload["admins"]]
            check(signer in admins, "genesis signed by a named administrator")
            for admin in admins:
                registry[key_id(admin)] = (admin, "administrator")
        else:
            entry = registry.get(key_id(signer))
            check(event["ledger"] == ledger_id, f"record {seq}: ledger id")
            check(entry is not None and entry[0] == signer, f"record {seq}: signer enrolled")
            check(entry is not None and entry[1] in matrix.get(event["type"], set()),
                  f"record {seq}: role may record {event['type']}")
            if event["type"] == "key.enrolled":
                new_key = base64.b64decode(payload["key"])
                registry[key_id(new_key)] = (new_key, payload["role"])
        if event["type"] in ("ledger.genesis", "key.enrolled", "key.revoked"):
            key_commitment = h(b"probity/keys/v1\n" + key_commitment + record_hash)
        prev = record_hash
        leaves.append(record_hash)

    log_name, log_kid, log_type, log_key = parse_vkey(keys["ledger"]["note_verifier_key"])
    check(log_key == ledger_key and log_type == 1, "ledger vkey is the genesis ledger key")
    check(log_kid == note_key_id(origin, 1, ledger_key), "ledger note key id")
    w_name, w_kid, w_type, w_key = parse_vkey(keys["witness"]["cosigner_verifier_key"])
    check(w_type == 4 and w_kid == note_key_id(w_name, 4, w_key), "witness vkey key id")

    def check_signatures(name, note, text, block):
        seen = set()
        for line in block.strip("\n").split("\n"):
            assert line.startswith("\u2014 ")
            signer_name, encoded = line[2:].split(" ")
            raw = base64.b64decode(encoded)
            kid = int.from_bytes(raw[:4], "big")
            try:
                if signer_name == origin and kid == log_kid:
                    verify_ed25519(ledger_key, text.encode(), raw[4:])
                    seen.add("ledger")
                elif signer_name == w_name and kid == w_kid:
                    timestamp = int.from_bytes(raw[4:12], "big")
                    message = b"cosignature/v1\ntime %d\n" % timestamp + text.encode()
                    verify_ed25519(w_key, message, raw[12:])
                    seen.add("witness")
            except InvalidSignature:
                pass
        check(seen == {"ledger", "witness"}, f"{name}: signed by the ledger and cosigned by the witness")

    # Checkpoints: note text, key commitment, ledger signature, witness cosignature, root. The
    # one signed before checkpoints carried a key commitment must still verify.
    for name in ("checkpoint-without-key-commitment.note", "checkpoint.note"):
        note = (HERE / name).read_bytes().decode()
        text, _, block = note.rpartition("\n\n")
        text += "\n"
        origin_line, size_line, root_line, *extensions = text.splitlines()
        size, root = int(size_line), base64.b64decode(root_line)
        check(origin_line == origin, f"{name}: origin is the genesis origin")
        check(root == mth(leaves[:size]), f"{name}: root is the Merkle root of the records")
        stated = [e.split(" ", 1)[1] for e in extensions if e.startswith("probity-keys/v1 ")]
        if name == "checkpoint.note":
            check(stated == [key_commitment.hex()], f"{name}: key commitment over the key records")
        else:
            check(stated == [], f"{name}: no key commitment (signed before they were written)")
        check_signatures(name, note, text, block)
    # The ML-DSA-44 cosignature (FORMAT.md §8): the key derived from the seed (FIPS 204
    # KeyGen_internal) is the vkey's, the signature verifies over the subtree/v1 message, and
    # it is byte for byte the deterministic signature this independent implementation makes.
    pq = keys["ml_dsa_44_witness"]
    pq_name, pq_kid, pq_type, pq_key = parse_vkey(pq["cosigner_verifier_key"])
    derived_pk, derived_sk = ML_DSA_44.key_derive(bytes.fromhex(pq["seed_hex"]))
    check(pq_type == 6 and len(pq_key) == 1312, "ML-DSA-44 vkey: type 0x06, 1312-byte key")
    check(pq_key == derived_pk, "ML-DSA-44 public key derived from the seed matches the vkey")
    check(pq_kid == note_key_id(pq_name, 6, pq_key), "ML-DSA-44 vkey key id")
    pq_note = (HERE / "checkpoint-ml-dsa-44.note").read_bytes().decode()
    pq_text, _, pq_block = pq_note.rpartition("\n\n")
    pq_text += "\n"
    origin_line, size_line, root_line, *_ = pq_text.splitlines()
    check(pq_text == (HERE / "checkpoint.note").read_text().rpartition("\n\n")[0] + "\n",
          "ML-DSA-44 note: the same checkpoint")
    found = None
    for line in pq_block.strip("\n").split("\n"):
        signer_name, encoded = line[2:].split(" ")
        raw = base64.b64decode(encoded)
        if signer_name == pq_name and int.from_bytes(raw[:4], "big") == pq_kid:
            found = raw[4:]
    check(found is not None and len(found) == 8 + 2420, "ML-DSA-44 cosignature line: timestamp and 2420 bytes")
    if found is not None:
        timestamp = int.from_bytes(found[:8], "big")
        message = (b"subtree/v1\n\x00" + bytes([len(pq_name)]) + pq_name.encode()
                   + struct.pack(">Q", timestamp) + bytes([len(origin_line)]) + origin_line.encode()
                   + struct.pack(">QQ", 0, int(size_line)) + base64.b64decode(root_line))
        check(ML_DSA_44.verify(pq_key, message, found[8:]), "ML-DSA-44 cosignature verifies")
        check(ML_DSA_44.sign(derived_sk, message, deterministic=True) == found[8:],
              "ML-DSA-44 cosignature equals the independent deterministic signature")
    inc = json.loads((HERE / "inclusion-proof.json").read_text())
    check(verify_inclusion(bytes.fromhex(inc["leaf_hash"]), inc["seq"], inc["tree_size"],
                           [bytes.fromhex(p) for p in inc["proof"]], bytes.fromhex(inc["root"]))
          and bytes.fromhex(inc["root"]) == mth(leaves[:inc["tree_size"]]),
          "inclusion proof")
    con = json.loads((HERE / "consistency-proof.json").read_text())
    check(verify_consistency(con["size1"], con["size2"], [bytes.fromhex(p) for p in con["proof"]],
                             bytes.fromhex(con["root1"]), bytes.fromhex(con["root2"])),
          "consistency proof")

    # Proof bundle (schemas/PROOF.md): C2SP tlog-proof with the record on the extra line.
    bundle = (HERE / "record-1.tlog-proof").read_text()
    head, _, bundle_note = bundle.partition("\n\n")
    lines = head.split("\n")
    check(lines[0] == "c2sp.org/tlog-proof@v1", "proof bundle header")
    proven = json.loads(base64.b64decode(lines[1].removeprefix("extra ")))
    index = int(lines[2].removeprefix("index "))
    path = [base64.b64decode(line) for line in lines[3:]]
    check(bundle_note == note, "proof bundle carries the checkpoint verbatim")
    check(proven == records[index], "proof bundle record is the ledger's record")
    penv = proven["event"]
    proven_leaf = h(b"\x00" + leaf_bytes(proven, base64.b64decode(penv["payload"]),
                                         bytes.fromhex(penv["signatures"][0]["keyid"]),
                                         base64.b64decode(penv["signatures"][0]["sig"])))
    check(proven_leaf.hex() == proven["hash"], "proof bundle record hash recomputed")
    check(verify_inclusion(proven_leaf, index, size, path, root),
          "proof bundle inclusion proof leads to the checkpoint root")

    rec = json.loads((HERE / "receipt.json").read_text())
    r = rec["receipt"]
    message = (b"probity/receipt/v1\n" + r["origin"].encode() + b"\n" + struct.pack(">Q", r["seq"])
               + struct.pack(">q", micros(r["recorded_at"])) + bytes.fromhex(r["hash"]))
    check(message.hex() == rec["message_hex"], "receipt message bytes")
    check(r["hash"] == records[r["seq"]]["hash"], "receipt names the record's hash")
    try:
        verify_ed25519(ledger_key, message, base64.b64decode(r["sig"]))
        check(True, "receipt signature")
    except InvalidSignature:
        check(False, "receipt signature")

    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
