"""1:N matching: person-level top-2 margin, thresholds, incremental rows, and erasure."""
from __future__ import annotations

import numpy as np
import pytest
from store_helpers import consent_record, unit

from kiosk.recognition.matching import Matcher


def _gallery(rng, persons: int = 20, per_person: int = 3, noise: float = 0.01):
    centres = unit(rng, persons)
    ids, pids, rows = [], [], []
    for p, centre in enumerate(centres):
        for t in range(per_person):
            ids.append(f"t{p}-{t}")
            pids.append(f"p{p}")
            rows.append(centre + rng.normal(scale=noise, size=centre.shape))
    return centres, ids, pids, np.asarray(rows, np.float32)


def test_search_finds_the_person_and_a_person_level_margin(rng):
    centres, ids, pids, rows = _gallery(rng)
    matcher = Matcher("m1")
    matcher.add(ids, pids, rows)
    result = matcher.search(centres[7], threshold=0.6)
    assert result.person_id == "p7"
    # The second-best PERSON is another identity (about sqrt(2) away), not p7's second template.
    brute = np.linalg.norm(rows - centres[7], axis=1)
    other = min(d for d, pid in zip(brute, pids, strict=True) if pid != "p7")
    assert result.distance == pytest.approx(brute.min(), abs=1e-4)
    assert result.margin == pytest.approx(other - brute.min(), abs=1e-4)
    assert result.margin > 1.0


def test_threshold_and_min_margin_reject(rng):
    centres, ids, pids, rows = _gallery(rng)
    matcher = Matcher("m1")
    matcher.add(ids, pids, rows)
    stranger = unit(rng)[0]
    assert matcher.search(stranger, threshold=0.6).person_id is None
    assert matcher.search(centres[3], threshold=0.01).person_id is None
    # Two persons with the same face: within the threshold but no margin, so nobody is accepted.
    matcher.add(["twin"], ["p-twin"], rows[9][None] + 0.001)     # nearly p3's first template
    result = matcher.search(rows[9], threshold=0.6, min_margin=0.04)
    assert result.person_id is None and result.distance < 0.6 and result.margin < 0.04


def test_empty_gallery(rng):
    result = Matcher("m1").search(unit(rng)[0], threshold=0.5)
    assert result.person_id is None and result.distance == float("inf")


def test_incremental_remove_and_add_equal_a_rebuild(rng):
    centres, ids, pids, rows = _gallery(rng, persons=30)
    matcher = Matcher("m1")
    matcher.add(ids, pids, rows)
    for gone in ("p0", "p13", "p29"):
        assert matcher.remove_person(gone) == 3
    keep = [i for i, pid in enumerate(pids) if pid not in ("p0", "p13", "p29")]
    rebuilt = Matcher("m1")
    rebuilt.add([ids[i] for i in keep], [pids[i] for i in keep], rows[keep])
    assert len(matcher) == len(rebuilt) == 81 and matcher.person_count == 27
    for probe in centres:
        a, b = matcher.search(probe, 0.6), rebuilt.search(probe, 0.6)
        assert (a.person_id, round(a.distance, 4), round(a.margin, 4)) == \
               (b.person_id, round(b.distance, 4), round(b.margin, 4))
    assert matcher.search(centres[13], 0.6).person_id is None


def test_cosine_metric(rng):
    centres, ids, pids, rows = _gallery(rng)
    matcher = Matcher("m1", metric="cosine")
    matcher.add(ids, pids, rows * 7.0)          # scale does not matter for cosine
    result = matcher.search(centres[2] * 0.1, threshold=0.05)
    expected = 1 - (rows[6:9] @ centres[2]) / np.linalg.norm(rows[6:9], axis=1)
    assert result.person_id == "p2" and result.distance == pytest.approx(expected.min(), abs=1e-4)


def test_dimension_mismatch_is_named(rng):
    matcher = Matcher("m1")
    matcher.add(["a"], ["p"], unit(rng))
    with pytest.raises(ValueError, match="64 values"):
        matcher.search(np.zeros(64, np.float32), 0.5)


def test_deleted_person_no_longer_matches_and_leaves_no_template(store, rng):
    ann_vectors, bob_vectors = unit(rng, 2), unit(rng, 1)
    ann = store.add_person(employee_no="E1", name="Ann", role="staff")
    bob = store.add_person(employee_no="E2", name="Bob", role="staff")
    store.enroll(ann.person_id, list(ann_vectors), model_id="m1", consent=consent_record())
    store.enroll(bob.person_id, list(bob_vectors), model_id="m1", consent=consent_record(given_by="Bob"))
    matcher = Matcher.from_store(store, "m1")
    store.subscribe(lambda person_id: matcher.refresh_person(store, person_id))
    assert matcher.search(ann_vectors[0], 0.5).person_id == ann.person_id
    ciphertexts = [r[0] for r in store._db.db().execute(
        "SELECT ciphertext FROM templates WHERE person_id = ?", [ann.person_id]).fetchall()]

    store.delete_person("E1")

    assert matcher.search(ann_vectors[0], 0.5).person_id is None        # via the change hook
    assert Matcher.from_store(store, "m1").search(ann_vectors[0], 0.5).person_id is None
    assert store.templates(ann.person_id) == [] and store.consent(ann.person_id) is None
    assert store.person_images(ann.person_id) == []
    tomb = store.person_by_id(ann.person_id)
    assert tomb.deleted and tomb.name is None and tomb.employee_no is None
    raw = store.path.read_bytes() + (store.path.with_name(store.path.name + "-wal").read_bytes()
                                     if store.path.with_name(store.path.name + "-wal").exists() else b"")
    assert all(ct[:24] not in raw for ct in ciphertexts)          # secure_delete + WAL checkpoint
    assert b"Ann" not in raw.replace(b"Ann Example", b"")         # name gone from the file too
    assert matcher.search(bob_vectors[0], 0.5).person_id == bob.person_id
    assert store.verify_audit().ok
