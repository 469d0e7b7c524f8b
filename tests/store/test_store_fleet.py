"""Fleet person records (docs/contracts.md section 2): export/apply and deterministic conflict resolution."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from store_helpers import consent_record, unit

from kiosk.recognition.matching import Matcher
from kiosk.store import RecordError, StoreError, init_keys

FLEET = consent_record(scope=["local", "fleet"])


@pytest.fixture
def kiosks(make_store, tmp_path):
    """Two kiosks, each with its own database and template key."""
    init_keys(tmp_path / "keys-b")
    return make_store("a.db", device="kiosk-a"), make_store("b.db", device="kiosk-b", keys=tmp_path / "keys-b")


def _enroll(store, rng, employee_no="E1", consent=FLEET):
    person = store.add_person(employee_no=employee_no, name=f"Person {employee_no}", role="staff")
    vectors = unit(rng, 2)
    store.enroll(person.person_id, list(vectors), model_id="m1", consent=consent)
    return person, vectors


def test_record_travels_and_matches_on_the_other_kiosk(kiosks, rng):
    a, b = kiosks
    person, vectors = _enroll(a, rng)
    record = a.export_person_record(person.person_id)
    assert record["version"] == {"counter": 2, "device": "kiosk-a"} and len(record["templates"]) == 2
    assert a.audit_records()[-1]["action"] == "export"
    remote_changes: list[str] = []
    b.subscribe(remote_changes.append, include_remote=True)
    assert b.apply_person_record(record) is True
    assert remote_changes == [person.person_id]
    assert b.person("E1").name == "Person E1" and b.consent(person.person_id).allows_fleet
    result = Matcher.from_store(b, "m1").search(vectors[1], 0.3)
    assert result.person_id == person.person_id and result.distance < 1e-5
    assert b.apply_person_record(record) is False                 # same version again: no change
    assert b.export_person_record(person.person_id) == record     # the same content, re-encrypted locally


def test_local_only_consent_is_never_exported(kiosks, rng):
    a, _ = kiosks
    person, _ = _enroll(a, rng, consent=consent_record(scope=["local"]))
    assert a.export_person_record(person.person_id) is None
    assert list(a.all_person_records()) == []


def test_higher_counter_wins_then_device_id_breaks_ties(kiosks, rng):
    a, b = kiosks
    person, _ = _enroll(a, rng)
    base = a.export_person_record(person.person_id)
    older = copy.deepcopy(base)
    older["version"]["counter"] = 1
    newer = copy.deepcopy(base)
    newer["version"]["counter"] = 5
    newer["person"]["name"] = "Renamed"
    tie_low = copy.deepcopy(newer)
    tie_low["version"]["device"] = "kiosk-0"
    tie_low["person"]["name"] = "Loses the tie"
    tie_high = copy.deepcopy(newer)
    tie_high["version"]["device"] = "kiosk-z"
    tie_high["person"]["name"] = "Wins the tie"

    assert b.apply_person_record(newer) is True
    assert b.apply_person_record(older) is False
    assert b.apply_person_record(tie_low) is False      # (5, "kiosk-0") < (5, "kiosk-a")
    assert b.apply_person_record(tie_high) is True      # (5, "kiosk-z") > (5, "kiosk-a")
    assert b.person("E1").name == "Wins the tie"
    # Applied in any order, the same set of records ends in the same state.
    c = a  # reuse kiosk a as a third order of arrival
    for record in (tie_high, older, newer, tie_low):
        c.apply_person_record(record)
    assert c.person("E1").name == "Wins the tie"


def test_local_change_goes_past_the_highest_counter_seen(kiosks, rng):
    a, b = kiosks
    person, _ = _enroll(a, rng)
    record = a.export_person_record(person.person_id)
    record["version"]["counter"] = 41
    b.apply_person_record(record)
    changed: list[str] = []
    b.subscribe(changed.append)
    b.update_person("E1", actor="test", name="Edited on B")
    mine = b.export_person_record(person.person_id)
    assert mine["version"] == {"counter": 42, "device": "kiosk-b"} and changed == [person.person_id]
    assert a.apply_person_record(mine) is True and a.person("E1").name == "Edited on B"


def test_a_counter_beyond_the_bound_is_refused_and_local_changes_keep_working(kiosks, rng):
    a, b = kiosks
    person, _ = _enroll(a, rng)
    record = a.export_person_record(person.person_id)
    for counter in (2 ** 63 - 1, 2 ** 53):
        record["version"]["counter"] = counter
        with pytest.raises(RecordError, match="version.counter"):
            b.apply_person_record(record)
    record["version"]["counter"] = 7
    assert b.apply_person_record(record) is True
    b.update_person("E1", actor="test", name="Edited on B")
    assert b.export_person_record(person.person_id)["version"] == {"counter": 8, "device": "kiosk-b"}


def test_a_counter_applied_before_the_bound_existed_does_not_break_local_changes(kiosks, rng):
    a, _ = kiosks
    person, _ = _enroll(a, rng)
    other, _ = _enroll(a, rng, employee_no="E2")
    with a._write() as db:     # what an unbounded fleet once wrote
        db.execute("UPDATE persons SET version_counter = ? WHERE person_id = ?", [2 ** 63 - 1, other.person_id])
    a.update_person("E1", actor="test", name="Still editable")
    assert a.export_person_record(person.person_id)["version"]["counter"] < 2 ** 53


def test_tombstone_erases_at_once_and_an_older_record_cannot_resurrect(kiosks, rng):
    a, b = kiosks
    person, vectors = _enroll(a, rng)
    live = a.export_person_record(person.person_id)
    b.apply_person_record(live)
    a.delete_person("E1")
    tomb = a.export_person_record(person.person_id)
    assert tomb == {"person_id": person.person_id, "version": {"counter": 3, "device": "kiosk-a"}, "deleted": True,
                    "person": None, "consent": None, "templates": []}
    assert b.apply_person_record(tomb) is True
    assert b.templates(person.person_id) == [] and b.consent(person.person_id) is None
    assert Matcher.from_store(b, "m1").search(vectors[0], 0.5).person_id is None
    assert b.apply_person_record(live) is False          # a late copy of the old version stays dead
    assert b.person_by_id(person.person_id).deleted
    assert tomb in list(b.all_person_records())          # tombstones are shared onwards


def test_tombstone_for_an_unknown_person_is_kept(kiosks):
    _, b = kiosks
    tomb = {"person_id": "ab" * 16, "version": {"counter": 9, "device": "kiosk-x"}, "deleted": True,
            "person": None, "consent": None, "templates": []}
    assert b.apply_person_record(tomb) is True
    assert b.person_by_id("ab" * 16).deleted


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("version"), "version"),
    (lambda r: r.update(person_id="not-hex"), "person_id"),
    (lambda r: r["person"].update(role="boss"), "role"),
    (lambda r: r["templates"][0].update(embedding_b64="****"), "base64"),
    (lambda r: r["templates"][0].update(embedding_b64="AAAAAAA="), "5 bytes"),
    (lambda r: r.update(deleted=True), "tombstone"),
    (lambda r: r["consent"].update(scope=["local"]), "fleet"),
    (lambda r: r["consent"].pop("given_by"), "given_by"),
    (lambda r: r.update(extra=1), "extra"),
])
def test_malformed_records_are_refused_with_the_reason(kiosks, rng, mutate, message):
    a, b = kiosks
    person, _ = _enroll(a, rng)
    record = a.export_person_record(person.person_id)
    mutate(record)
    with pytest.raises(RecordError, match=message):
        b.apply_person_record(record)
    assert b.persons(include_deleted=True) == []


def test_embedding_of_another_size_is_refused(kiosks, rng):
    a, b = kiosks
    _enroll(b, rng, employee_no="B1")
    person, _ = _enroll(a, rng)
    record = a.export_person_record(person.person_id)
    for template in record["templates"]:
        template["embedding_b64"] = "AAAA/w=="                 # one float32 value
    with pytest.raises(RecordError, match="1 values; templates of model m1 have 128"):
        b.apply_person_record(record)
    record["templates"][0]["embedding_b64"] = a.export_person_record(person.person_id)["templates"][0]["embedding_b64"]
    with pytest.raises(RecordError, match="different sizes"):
        b.apply_person_record(record)


def test_nan_embedding_is_refused(kiosks, rng):
    import base64

    a, b = kiosks
    person, _ = _enroll(a, rng)
    record = a.export_person_record(person.person_id)
    record["templates"][0]["embedding_b64"] = base64.b64encode(np.full(128, np.nan, "<f4").tobytes()).decode()
    with pytest.raises(RecordError, match="NaN"):
        b.apply_person_record(record)


def test_a_following_matcher_sees_applied_records_and_tombstones(kiosks, rng):
    a, b = kiosks
    matcher = Matcher("m1")
    stop = matcher.follow(b)
    person, vectors = _enroll(a, rng)
    b.apply_person_record(a.export_person_record(person.person_id))
    assert matcher.search(vectors[0], 0.3).person_id == person.person_id
    a.delete_person("E1")
    b.apply_person_record(a.export_person_record(person.person_id))
    assert matcher.search(vectors[0], 0.3).person_id is None and len(matcher) == 0
    stop()
    _enroll(b, rng, employee_no="B2")
    assert len(matcher) == 0                                       # no longer following


def test_withdrawing_fleet_consent_tombstones_the_person_for_the_others_only(kiosks, rng):
    a, b = kiosks
    person, vectors = _enroll(a, rng, consent=consent_record(scope=["local", "fleet", "keep_images"]))
    assert b.apply_person_record(a.export_person_record(person.person_id)) is True
    narrowed = a.withdraw_fleet_consent("E1", actor="test", reason="asked")
    assert narrowed.scope == ("local", "keep_images") and a.consent(person.person_id) == narrowed
    record = a.export_person_record(person.person_id)
    local = a.person("E1")
    assert record == {"person_id": person.person_id, "version": {"counter": local.version_counter,
                                                                "device": "kiosk-a"},
                      "deleted": True, "person": None, "consent": None, "templates": []}
    assert [r["person_id"] for r in a.all_person_records()] == [person.person_id]
    [audit] = [r for r in a.audit_records() if r["action"] == "consent_withdraw"]
    assert audit["outcome"] == "fleet" and audit["actor"] == "test" and '"reason":"asked"' in audit["detail"]

    assert b.apply_person_record(record) is True                            # the other kiosk erases the person
    assert b.person_by_id(person.person_id).deleted and b.templates(person.person_id) == []
    assert a.apply_person_record(record) is False                           # its own tombstone comes back: kept
    assert len(a.templates(person.person_id)) == 2
    assert Matcher.from_store(a, "m1").search(vectors[0], 0.3).person_id == person.person_id

    a.enroll(person.person_id, list(vectors), model_id="m1", consent=FLEET)  # consents to the fleet again
    again = a.export_person_record(person.person_id)
    assert not again["deleted"] and b.apply_person_record(again) is True
    assert b.person("E1").name == "Person E1"


def test_withdrawing_fleet_needs_a_fleet_scope(kiosks, rng):
    a, _ = kiosks
    _enroll(a, rng, consent=consent_record(scope=["local"]))
    with pytest.raises(StoreError, match="the consent of 'E1' does not include 'fleet': nothing to withdraw"):
        a.withdraw_fleet_consent("E1")
