"""Signed events: a valid signature verifies, any changed byte fails, face data is refused; events signed
over the legacy canonical form (no "canon" in the block) keep verifying."""
from __future__ import annotations

import base64
import json
import uuid

import pytest

from kiosk.store import RecordError, init_keys, load_public_key, verify_event
from kiosk.store.canon import jcs, legacy
from kiosk.store.keys import SIGNING_PUB, key_id, load_signing_key


def _event(**changes) -> dict:
    event = {"type": "access_granted", "event_id": uuid.uuid4().hex, "device_id": "kiosk-1",
             "device_time": "2026-11-28T22:50:01.123+00:00",
             "person": {"person_id": "ab" * 16, "employee_no": "E1", "name": "Zoë Ünal", "role": "staff"},
             "temperature": {"body_c": 36.0, "skin_c": 35.1, "quality": 1.0, "fever": False},
             "liveness": {"live": True, "score": 0.97, "reason": "warm skin"}, "mask": None,
             "decision": {"outcome": "granted", "reasons": []}, "attendance": None,
             "match": {"distance": 0.31, "margin": 0.2}, "detail": None}
    event.update(changes)
    return event


def test_signature_matches_the_contract(store, keys_dir):
    signed = store.sign_event(_event())
    public = load_public_key(keys_dir / SIGNING_PUB)
    assert signed["signature"]["alg"] == "Ed25519" and signed["signature"]["key_id"] == key_id(public)
    assert signed["signature"]["canon"] == "jcs"
    body = {k: v for k, v in signed.items() if k != "signature"}
    public.verify(base64.b64decode(signed["signature"]["value"]), jcs(body))   # raises if wrong
    assert verify_event(signed, [public]) is None
    assert verify_event(json.loads(json.dumps(signed)), [public]) is None      # as exported and read back


def test_events_signed_over_the_legacy_form_keep_verifying(store, keys_dir):
    """Signed before RFC 8785: no "canon" in the block, bytes from Python's sorted-keys json.dumps."""
    public = load_public_key(keys_dir / SIGNING_PUB)
    body = _event()
    value = base64.b64encode(load_signing_key(keys_dir).sign(legacy(body))).decode()
    old = {**body, "signature": {"alg": "Ed25519", "key_id": key_id(public), "value": value}}
    assert legacy(body) != jcs(body)              # 36.0 is "36.0" in one and "36" in the other
    assert verify_event(old, [public]) is None
    assert store.record_event(old) == old         # a valid old signature is kept, not replaced
    relabelled = {**old, "signature": {**old["signature"], "canon": "jcs"}}
    assert "does not match" in verify_event(relabelled, [public])
    assert "unsupported canonicalization" in verify_event({**old, "signature": {**old["signature"], "canon": "x"}},
                                                          [public])


def test_every_changed_byte_fails(store, keys_dir):
    public = load_public_key(keys_dir / SIGNING_PUB)
    signed = store.sign_event(_event())
    text = json.dumps(signed, ensure_ascii=False)
    start = text.index('"device_time"')
    end = text.index('"signature"')
    failures = 0
    for position in range(start, end, 7):
        char = text[position]
        if not char.isalnum():
            continue
        altered = text[:position] + ("1" if char != "1" else "2") + text[position + 1:]
        try:
            event = json.loads(altered)
        except json.JSONDecodeError:
            continue
        assert verify_event(event, [public]) is not None, f"change at {position} went unnoticed"
        failures += 1
    assert failures > 20
    sig = dict(signed["signature"])
    raw = bytearray(base64.b64decode(sig["value"]))
    raw[5] ^= 1
    assert "does not match" in verify_event({**signed, "signature": {**sig, "value": base64.b64encode(raw).decode()}},
                                            [public])


def test_other_keys_and_missing_signatures(store, tmp_path):
    init_keys(tmp_path / "other")
    other = load_public_key(tmp_path / "other" / SIGNING_PUB)
    signed = store.sign_event(_event())
    assert "unknown key" in verify_event(signed, [other])
    assert verify_event(_event(), [other]) == "no signature"


@pytest.mark.parametrize("changes, message", [
    ({"detail": {"embedding": [0.1, 0.2]}}, "detail.embedding"),
    ({"detail": {"snapshot": b"\xff\xd8"}}, "detail.snapshot"),
    ({"type": "party"}, "'type'"),
    ({"event_id": "123"}, "event_id"),
    ({"device_time": "2026-11-28 22:50"}, "device_time"),
    ({"detail": {"reading": float("nan")}}, "RFC 8785"),
])
def test_bad_events_are_refused(store, changes, message):
    with pytest.raises(RecordError, match=message):
        store.sign_event(_event(**changes))


def test_record_event_stores_signed_and_is_idempotent(store, keys_dir):
    public = load_public_key(keys_dir / SIGNING_PUB)
    event = _event()
    signed = store.record_event(event)
    again = store.record_event(signed)
    assert again == signed and verify_event(signed, [public]) is None
    stored = store.events()
    assert stored == [signed]
    assert store.events(types=["attendance"]) == [] and store.events(person_id="ab" * 16) == [signed]
