"""Retention: what is due is purged, nothing else; visitors expire by themselves."""
from __future__ import annotations

import uuid
from datetime import timedelta

from store_helpers import consent_record, unit

from kiosk.store.clock import to_utc_iso, utc_now


def _event(when, person=None) -> dict:
    return {"type": "attendance", "event_id": uuid.uuid4().hex, "device_id": "kiosk-1",
            "device_time": when.isoformat(timespec="milliseconds"), "person": person, "temperature": None,
            "liveness": None, "mask": None, "decision": {"outcome": "granted", "reasons": []},
            "attendance": {"direction": "in"}, "match": None, "detail": None}


def test_old_events_go_young_ones_stay(store):
    now = utc_now()
    ages = {"400d": 400, "366d": 366, "364d": 364, "1d": 1}
    ids = {label: store.record_event(_event(now - timedelta(days=days)))["event_id"] for label, days in ages.items()}
    audit_before = len(store.audit_records())
    report = store.purge_expired(now)
    assert report.events == 2
    assert {e["event_id"] for e in store.events()} == {ids["364d"], ids["1d"]}
    assert len(store.audit_records()) == audit_before + 1        # nothing purged from the audit, one added
    assert store.audit_records()[-1]["action"] == "retention"
    assert store.purge_expired(now).events == 0                 # idempotent


def test_configured_event_retention(make_store):
    store = make_store(event_retention_days=7)
    now = utc_now()
    store.record_event(_event(now - timedelta(days=8)))
    kept = store.record_event(_event(now - timedelta(days=6)))
    assert store.purge_expired(now).events == 1
    assert [e["event_id"] for e in store.events()] == [kept["event_id"]]


def test_kept_images_are_purged_templates_stay(make_store, rng):
    store = make_store(keep_source_images=True, image_retention_days=30)
    person = store.add_person(employee_no="E1", name="Ann", role="staff")
    store.enroll(person.person_id, list(unit(rng)), model_id="m1",
                 consent=consent_record(scope=["local", "keep_images"]), images=[(b"jpeg", "image/jpeg")])
    assert store.purge_expired(utc_now() + timedelta(days=29)).images == 0
    assert store.purge_expired(utc_now() + timedelta(days=31)).images == 1
    assert store.person_images(person.person_id) == []
    assert len(store.templates(person.person_id)) == 1
    assert not store.person(person.person_id).deleted


def test_visitors_expire_by_themselves_staff_do_not(store, rng):
    now = utc_now()
    visitor = store.add_person(employee_no="V1", name="Vera", role="visitor", valid_to=to_utc_iso(now + timedelta(hours=1)))
    staff = store.add_person(employee_no="S1", name="Sam", role="staff", valid_to=to_utc_iso(now - timedelta(days=1)))
    for person in (visitor, staff):
        store.enroll(person.person_id, list(unit(rng)), model_id="m1", consent=consent_record(given_by=person.name))
    changed: list[str] = []
    store.subscribe(changed.append)
    assert store.person("V1").is_valid_at(now) and not store.person("S1").is_valid_at(now)

    assert store.purge_expired(now).visitors_expired == []
    report = store.purge_expired(now + timedelta(hours=2))

    assert report.visitors_expired == [visitor.person_id] and changed == [visitor.person_id]
    assert store.person_by_id(visitor.person_id).deleted and store.templates(visitor.person_id) == []
    assert not store.person_by_id(staff.person_id).deleted and len(store.templates(staff.person_id)) == 1
    assert store.verify_audit().ok
