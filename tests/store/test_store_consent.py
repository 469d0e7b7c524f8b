"""Enrollment is refused without a complete consent record, and a refusal leaves nothing behind."""
from __future__ import annotations

import pytest
from store_helpers import consent_record, unit

from kiosk.recognition.enroll import enroll_remote
from kiosk.store import ConsentError, Store, parse_consent


def _nothing_stored(store: Store, person_id: str) -> None:
    assert store.templates(person_id) == []
    assert store.consent(person_id) is None
    assert store.load_templates("m1")[0] == []


def test_enroll_without_consent_is_refused(store, rng):
    person = store.add_person(employee_no="E1", name="Ann", role="staff")
    with pytest.raises(ConsentError, match="no consent record"):
        store.enroll(person.person_id, list(unit(rng)), model_id="m1", consent=None)
    _nothing_stored(store, person.person_id)
    assert [r for r in _audit_actions(store) if r == "enroll"] == []


@pytest.mark.parametrize("change, message", [
    ({"given_by": ""}, "given_by"),
    ({"method": "  "}, "method"),
    ({"notice_version": None}, "notice_version"),
    ({"given_at": "yesterday"}, "given_at"),
    ({"given_at": "2026-01-05T09:30:00"}, "no UTC offset"),
    ({"given_at": "2999-01-01T00:00:00+00:00"}, "future"),
    ({"scope": ["fleet"]}, "must include 'local'"),
    ({"scope": ["local", "marketing"]}, "unknown scope"),
    ({"minor": True}, "guardian"),
    ({"colour": "blue"}, "colour"),
])
def test_incomplete_consent_is_refused_with_the_reason(store, rng, change, message):
    person = store.add_person(employee_no="E1", name="Ann", role="staff")
    record = consent_record(**change)
    with pytest.raises(ConsentError, match=message):
        store.enroll(person.person_id, list(unit(rng)), model_id="m1", consent=record)
    _nothing_stored(store, person.person_id)


def test_missing_field_is_named(store, rng):
    record = consent_record()
    del record["method"]
    with pytest.raises(ConsentError, match="consent method: is required"):
        parse_consent(record)


def test_minor_with_guardian_is_accepted_and_kept(store, rng):
    person = store.add_person(employee_no="K1", name="Kid", role="visitor", valid_to="2099-01-01T00:00:00+00:00")
    record = consent_record(minor=True, guardian="Parent Example", given_by="Parent Example")
    store.enroll(person.person_id, list(unit(rng)), model_id="m1", consent=record)
    kept = store.consent(person.person_id)
    assert kept.guardian == "Parent Example" and kept.minor
    assert kept.given_at == "2026-01-05T08:30:00.000000+00:00"   # normalised to UTC


def test_remote_enroll_refused_without_consent_creates_no_person(store, rng):
    from kiosk.recognition.enroll import NewPerson

    with pytest.raises(ConsentError):
        enroll_remote(store, NewPerson("R1", "Remote"), list(unit(rng)), model_id="m1", consent=None,
                      active_model_id="m1")
    assert store.persons() == []


def test_source_images_kept_only_when_configured_and_consented(make_store, rng):
    image = (b"\xff\xd8fake-jpeg", "image/jpeg")
    for keep_config, scope, expected in [(False, ["local", "keep_images"], 0), (True, ["local"], 0),
                                         (True, ["local", "keep_images"], 1)]:
        store = make_store(f"k{keep_config}{len(scope)}.db", keep_source_images=keep_config)
        person = store.add_person(employee_no="E1", name="Ann", role="staff")
        result = store.enroll(person.person_id, list(unit(rng)), model_id="m1", consent=consent_record(scope=scope),
                              images=[image])
        assert result.images_kept == expected
        assert len(store.person_images(person.person_id)) == expected


def _audit_actions(store: Store) -> list[str]:
    return [r["action"] for r in store.audit_records()]
