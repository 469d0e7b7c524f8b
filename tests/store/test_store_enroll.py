"""Enrollment through the real face pipeline: files, camera shots (mock camera), remote, re-embedding."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from store_helpers import consent_record, unit

from drivers.camera.mock import MockCamera
from kiosk.config.face import FaceConfig
from kiosk.recognition.enroll import Enroller, EnrollError, NewPerson, enroll_remote, reembed
from kiosk.recognition.matching import Matcher
from kiosk.store import ConsentError

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def pipeline(models_dir: Path):
    from kiosk.face.pipeline import FacePipeline

    return FacePipeline(FaceConfig(min_sharpness=10.0), models_dir)


@pytest.fixture(scope="module")
def faces(shared_dir: Path) -> Path:
    return shared_dir / "data" / "faces" / "lfw_dev" / "images"


@pytest.fixture
def enroller(store, pipeline):
    return Enroller(store, pipeline, threshold=pipeline.threshold("normal"), actor="test")


def test_files_enroll_and_identify(enroller, store, pipeline, faces):
    images = sorted((faces / "Adel_Al-Jubeir").glob("*.jpg"))
    report = enroller.enroll_files(NewPerson("E1", "Adel"), images[:2], consent_record())
    assert len(report.result.template_ids) == 2 and report.duplicates == []
    probe = pipeline.embed_for_enrollment(cv2.imread(str(images[2]))).embedding
    match = Matcher.from_store(store, pipeline.model_id, metric=str(pipeline.metric)).search(probe, pipeline.threshold("normal"))
    assert match.person_id == report.person.person_id
    assert store.audit_records()[-1]["action"] == "enroll"


def test_files_refused_without_consent_before_any_processing(enroller, store, faces):
    with pytest.raises(ConsentError):
        enroller.enroll_files(NewPerson("E1", "Adel"), sorted((faces / "Adel_Al-Jubeir").glob("*.jpg")), None)
    assert store.persons() == []


def test_unusable_files_are_named(enroller, store, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(EnrollError, match=r"broken\.jpg: not a readable image.*grey\.png: no face found"):
        enroller.enroll_files(NewPerson("E1", "X"), [tmp_path / "broken.jpg", tmp_path / "grey.png"], consent_record())
    assert store.persons() == []


def test_encoded_images_from_a_remote_request(enroller, store, faces):
    data = sorted((faces / "Adel_Al-Jubeir").glob("*.jpg"))[0].read_bytes()
    report = enroller.enroll_images(NewPerson("M1", "Via MQTT"), [("cmd.jpg", data), ("junk.jpg", b"\x00" * 10)],
                                    consent_record(), source="mqtt")
    assert len(report.result.template_ids) == 1
    assert [(s.source, s.reason) for s in report.shots][1] == ("junk.jpg", "not a readable image (empty, truncated "
                                                                           "or unknown format)")
    assert json_detail(store.audit_records()[-1])["source"] == "mqtt"


def json_detail(record):
    import json

    return json.loads(record["detail"])


def test_shots_of_two_people_are_refused(enroller, store, faces):
    mixed = [sorted((faces / "Adel_Al-Jubeir").glob("*.jpg"))[0], sorted((faces / "Alberto_Fujimori").glob("*.jpg"))[0]]
    with pytest.raises(EnrollError, match="do not show the same face"):
        enroller.enroll_files(NewPerson("E1", "Mixed"), mixed, consent_record())
    assert store.persons() == []


def test_duplicate_is_refused_or_allowed_and_reported(enroller, store, faces):
    images = sorted((faces / "Adel_Al-Jubeir").glob("*.jpg"))
    first = enroller.enroll_files(NewPerson("E1", "Adel"), images[:1], consent_record())
    with pytest.raises(EnrollError, match=rf"already enrolled as Adel \(E1, person {first.person.person_id}\)"):
        enroller.enroll_files(NewPerson("E3", "Third"), images[2:3], consent_record(given_by="Third"))
    enroller.allow_duplicates = True
    report = enroller.enroll_files(NewPerson("E2", "Impostor"), images[1:2], consent_record(given_by="Impostor"))
    assert [d.employee_no for d in report.duplicates] == ["E1"]
    assert report.duplicates[0].person_id == first.person.person_id
    assert [p.employee_no for p in store.persons()] == ["E1", "E2"]
    # More shots of a person are no duplicate of that person (only of the impostor enrolled above).
    assert [d.employee_no for d in enroller.enroll_files("E1", images[2:3], consent_record()).duplicates] == ["E2"]


def test_camera_takes_quality_gated_shots(enroller, store, faces):
    good = [cv2.imread(str(p)) for p in sorted((faces / "Adel_Al-Jubeir").glob("*.jpg"))]
    blurred = cv2.GaussianBlur(good[0], (0, 0), 8)     # below min_sharpness 10 with either embedder's chip
    frames = itertools.chain([blurred] * 4, itertools.cycle(good))
    feedback: list[str] = []
    with MockCamera(lambda _t: next(frames), fps=50) as camera:
        report = enroller.enroll_camera(NewPerson("C1", "Cam"), camera, consent_record(), shots=3, timeout_s=10,
                                        min_interval_s=0.05, feedback=feedback.append)
    assert len(report.result.template_ids) == 3
    assert feedback and all(reason for reason in feedback)
    assert [s.reason for s in report.shots if s.reason] == feedback


def test_camera_times_out_with_the_last_reason(enroller, store):
    grey = np.full((240, 320, 3), 120, np.uint8)
    with MockCamera(lambda _t: grey, fps=50) as camera, pytest.raises(EnrollError, match="no face found"):
        enroller.enroll_camera(NewPerson("C1", "Nobody"), camera, consent_record(), shots=2, timeout_s=0.5)
    assert store.persons() == []


def test_remote_enroll_checks_model_and_matches(store, pipeline, faces):
    image = cv2.imread(str(sorted((faces / "Adel_Al-Jubeir").glob("*.jpg"))[0]))
    vector = pipeline.embed_for_enrollment(image).embedding
    matcher = Matcher.from_store(store, pipeline.model_id, metric=str(pipeline.metric))
    with pytest.raises(EnrollError, match="model 'other@1'"):
        enroll_remote(store, NewPerson("R1", "Remote"), [vector], model_id="other@1", consent=consent_record(),
                      active_model_id=pipeline.model_id)
    with pytest.raises(EnrollError, match="size 64"):
        enroll_remote(store, NewPerson("R1", "Remote"), [unit(np.random.default_rng(1), 1, 64)[0]],
                      model_id=pipeline.model_id, consent=consent_record(), active_model_id=pipeline.model_id,
                      matcher=Matcher("x", dim=128))
    report = enroll_remote(store, NewPerson("R1", "Remote"), [vector], model_id=pipeline.model_id,
                           consent=consent_record(), active_model_id=pipeline.model_id, matcher=matcher,
                           threshold=0.5, actor="mqtt:abcd")
    assert matcher.search(vector, 0.5).person_id == report.person.person_id
    assert store.audit_records()[-1]["actor"] == "mqtt:abcd"


def test_reembed_after_a_model_change(make_store, pipeline, faces, rng):
    store = make_store(keep_source_images=True)
    jpeg = (sorted((faces / "Adel_Al-Jubeir").glob("*.jpg"))[0].read_bytes(), "image/jpeg")
    kept = store.add_person(employee_no="K1", name="Kept", role="staff")
    store.enroll(kept.person_id, list(unit(rng)), model_id="old@1", images=[jpeg],
                 consent=consent_record(scope=["local", "keep_images"]))
    gone = store.add_person(employee_no="N1", name="No images", role="staff")
    store.enroll(gone.person_id, list(unit(rng)), model_id="old@1", images=[jpeg], consent=consent_record())

    report = reembed(store, pipeline, prune_other_models=True)

    assert report.reembedded == [kept.person_id] and report.needs_reenrollment == [gone.person_id]
    assert [t.model_id for t in store.templates(kept.person_id)] == [pipeline.model_id]
    assert store.person("N1").needs_reenrollment and not store.person("K1").needs_reenrollment
    assert [p.employee_no for p in store.persons(needs_reenrollment=True)] == ["N1"]
    again = reembed(store, pipeline)
    assert again.up_to_date == [kept.person_id] and again.needs_reenrollment == [gone.person_id]


def test_a_person_keeps_at_most_five_templates(enroller, store, faces, tmp_path):
    """An enrollment keeps its 5 best shots; a later one replaces the oldest templates beyond 5."""
    from kiosk.recognition.enroll import MAX_TEMPLATES_PER_PERSON

    photos = sorted((faces / "Adel_Al-Jubeir").glob("*.jpg"))
    files = []
    variants = (lambda image: image, lambda image: cv2.flip(image, 1), lambda image: cv2.convertScaleAbs(image, beta=12))
    for i, (photo, variant) in enumerate(itertools.product(photos, variants)):
        path = tmp_path / f"shot{i}.png"
        cv2.imwrite(str(path), variant(cv2.imread(str(photo))))
        files.append(path)
    report = enroller.enroll_files(NewPerson("E1", "Adel"), files, consent_record())
    used = [s for s in report.shots if s.reason is None]
    left_out = [s for s in report.shots if s.reason == "not used: the 5 best shots are kept"]
    assert MAX_TEMPLATES_PER_PERSON == 5 and len(used) == 5 and len(left_out) >= 2
    assert min(s.quality for s in used) >= max(s.quality for s in left_out)
    assert len(report.result.template_ids) == 5

    again = enroller.enroll_files("E1", files[:2], consent_record())
    templates = {t.template_id for t in store.templates(report.person.person_id)}
    assert len(templates) == 5 and set(again.result.template_ids) <= templates
    assert json.loads(store.audit_records()[-1]["detail"])["templates_dropped"] == 2
    with pytest.raises(EnrollError, match="shots = 6: take 1 to 5"):
        enroller.enroll_camera("E1", None, consent_record(), shots=6)
