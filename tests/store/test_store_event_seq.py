"""The per-device event sequence number: assigned by the store before signing, never reused, paged by
`events_from` (HR's gap pull)."""
from __future__ import annotations

import sqlite3
import uuid
from datetime import timedelta

import pytest

from kiosk.store import RecordError, StoreError, verify_event
from kiosk.store.clock import utc_now


def _event(when=None, **changes) -> dict:
    when = when or utc_now()
    event = {"type": "access_denied", "event_id": uuid.uuid4().hex, "device_id": "kiosk-1",
             "device_time": when.isoformat(timespec="milliseconds"), "person": None, "temperature": None,
             "liveness": None, "mask": None, "decision": {"outcome": "denied", "reasons": ["unknown_face"]},
             "attendance": None, "match": None, "detail": None}
    event.update(changes)
    return event


def test_seq_is_signed_and_counts_up_across_restarts(make_store):
    store = make_store()
    first = [store.record_event(_event()) for _ in range(3)]
    assert [e["seq"] for e in first] == [1, 2, 3]
    assert all(verify_event(e, [store.signer.public_key]) is None for e in first)
    tampered = {**first[0], "seq": 7}
    assert "does not match" in verify_event(tampered, [store.signer.public_key])
    store.close()
    again = make_store()
    assert again.record_event(_event())["seq"] == 4
    assert [e["seq"] for e in again.events()] == [1, 2, 3, 4]


def test_a_caller_cannot_choose_the_seq(store):
    assert store.record_event(_event(seq=99))["seq"] == 1


def test_numbers_are_never_reused_after_a_purge(make_store):
    store = make_store(event_retention_days=7)
    now = utc_now()
    for _ in range(3):
        store.record_event(_event(now - timedelta(days=30)))
    assert store.purge_expired(now).events == 3
    assert store.events() == []
    assert store.record_event(_event(now))["seq"] == 4


def test_recording_an_event_twice_returns_the_stored_copy(store):
    event = _event()
    stored = store.record_event(event)
    assert store.record_event(event) == stored
    assert store.record_event(_event())["seq"] == 2        # the repeat claimed no number


def test_an_event_signed_before_seq_keeps_verifying(store):
    old = store.signer.sign(_event())                      # signed by this device, no seq (older software)
    assert store.record_event(old) == old
    assert "seq" not in store.events()[0]
    assert store.record_event(_event())["seq"] == 2        # the old row holds number 1
    page = store.events_from(1, 10)
    assert [e["event_id"] for e in page["events"]][0] == old["event_id"]


def test_a_presigned_event_whose_seq_is_taken_is_refused(store):
    store.record_event(_event())
    clash = store.signer.sign({**_event(), "seq": 1})
    with pytest.raises(RecordError, match="seq 1"):
        store.record_event(clash)


@pytest.mark.parametrize("seq", [0, -1, 1.5, "3", True])
def test_bad_seq_is_refused(store, seq):
    with pytest.raises(RecordError, match="seq"):
        store.record_event(store.signer.sign({**_event(), "seq": seq}))


def test_events_from_pages_by_seq(make_store):
    store = make_store(event_retention_days=7)
    now = utc_now()
    store.record_event(_event(now - timedelta(days=30)))
    for _ in range(4):
        store.record_event(_event(now))
    store.purge_expired(now)
    page = store.events_from(1, 2)
    assert [e["seq"] for e in page["events"]] == [2, 3]
    assert (page["next_seq"], page["last_seq"], page["first_seq"]) == (4, 5, 2)
    page = store.events_from(page["next_seq"], 2)
    assert [e["seq"] for e in page["events"]] == [4, 5] and page["next_seq"] == 6
    empty = store.events_from(6, 2)
    assert empty["events"] == [] and empty["next_seq"] == 6
    with pytest.raises(StoreError):
        store.events_from(0, 2)


def test_the_migration_continues_after_existing_rows(make_store, tmp_path):
    store = make_store()
    for _ in range(2):
        store.record_event(store.signer.sign(_event()))    # rows 1 and 2, no seq in the body
    store.close()
    with sqlite3.connect(tmp_path / "kiosk.db") as db:      # as a v3 database left it
        db.execute("DELETE FROM meta WHERE key = 'event_seq'")
        db.execute("DELETE FROM schema_migrations WHERE version = 4")
        db.execute("PRAGMA user_version = 3")
    assert make_store().record_event(_event())["seq"] == 3
