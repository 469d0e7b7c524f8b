"""Masked templates at enrollment: one per synthetic mask style, marked 'masked', matched like the others."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from store_helpers import consent_record

from kiosk.config.face import FaceConfig
from kiosk.face.images import read_image
from kiosk.face.synthetic_mask import MASK_STYLES
from kiosk.recognition.enroll import Enroller, NewPerson, reembed
from kiosk.recognition.matching import Matcher
from kiosk.store import StoreError

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def pipeline(models_dir: Path):
    from kiosk.face.pipeline import FacePipeline

    # dlib: the figures below were measured with it (the ensemble under `make test` would be picked by "auto")
    return FacePipeline(FaceConfig(embedder="dlib_resnet_v1", min_sharpness=10.0, max_yaw_deg=45.0), models_dir)


@pytest.fixture(scope="module")
def mfr2(shared_dir: Path) -> dict[str, dict[bool, list[Path]]]:
    """identity -> {masked: images} of MFR2 dev."""
    root = shared_dir / "data" / "masked" / "mfr2_dev"
    out: dict[str, dict[bool, list[Path]]] = {}
    with open(root / "labels.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out.setdefault(row["identity"], {True: [], False: []})[row["masked"] == "1"].append(root / row["image"])
    return out


def test_one_photo_gives_one_plus_k_templates(store, pipeline, shared_dir):
    photo = shared_dir / "data" / "faces" / "lfw_dev" / "images" / "Adel_Al-Jubeir" / "Adel_Al-Jubeir_0001.jpg"
    plain = Enroller(store, pipeline, threshold=pipeline.threshold("normal"), actor="test")
    masked = Enroller(store, pipeline, threshold=pipeline.threshold("normal"), masked_templates=True, actor="test")
    assert len(plain.enroll_files(NewPerson("E1", "Plain"), [photo], consent_record()).result.template_ids) == 1
    report = masked.enroll_files(NewPerson("E2", "Masked"), [photo], consent_record())
    assert len(report.result.template_ids) == 1 + len(MASK_STYLES)
    kinds = [t.kind for t in store.templates(report.person.person_id)]
    assert sorted(kinds) == ["face"] + ["masked"] * len(MASK_STYLES)
    assert {t.model_id for t in store.templates(report.person.person_id)} == {pipeline.model_id}
    assert json.loads(store.audit_records()[-1]["detail"])["masked_templates"] == len(MASK_STYLES)


def test_reembed_remakes_masked_templates(make_store, pipeline, shared_dir):
    store = make_store(keep_source_images=True)
    photo = shared_dir / "data" / "faces" / "lfw_dev" / "images" / "Adel_Al-Jubeir" / "Adel_Al-Jubeir_0001.jpg"
    person = store.add_person(employee_no="E1", name="A", role="staff")
    store.enroll(person.person_id, [np.ones(128, np.float32)], model_id="old@000000000000",
                 consent=consent_record(scope=["local", "keep_images"]), images=[(photo.read_bytes(), "image/jpeg")])
    report = reembed(store, pipeline, masked_templates=True)
    assert report.reembedded == [person.person_id]
    kinds = [t.kind for t in store.templates(person.person_id) if t.model_id == pipeline.model_id]
    assert sorted(kinds) == ["face"] + ["masked"] * len(MASK_STYLES)


def test_masked_walk_up_matches_better_with_masked_templates(make_store, pipeline, mfr2):
    """Each MFR2 dev person enrolled from one bare photo; every masked photo searched 1:N."""
    galleries = {}
    for masked_templates in (False, True):
        store = make_store(f"kiosk-{masked_templates}.db")
        # Two MFR2 people are within the per-comparison threshold of each other: allowed, as before.
        enroller = Enroller(store, pipeline, threshold=pipeline.threshold("normal"), masked_templates=masked_templates,
                            allow_duplicates=True, actor="test")
        for identity, images in sorted(mfr2.items()):
            enroller.enroll_files(NewPerson(identity, identity), images[False][:1], consent_record())
        galleries[masked_templates] = (store, Matcher.from_store(store, pipeline.model_id, str(pipeline.metric)))
    results = {}
    threshold = pipeline.threshold("normal")
    for masked_templates, (store, matcher) in galleries.items():
        right, accepted, wrong, genuine = 0, 0, 0, []
        for identity, images in mfr2.items():
            for path in images[True]:
                image = read_image(path)
                probe = pipeline.embed_detection(image, pipeline.detect(image)[0])
                match = matcher.search(probe, threshold=10.0)
                right += store.person_by_id(match.person_id).employee_no == identity
                named = store.person_by_id(match.person_id).employee_no
                accepted += match.distance <= threshold and named == identity
                wrong += match.distance <= threshold and named != identity
                _, _, own = store.load_templates(pipeline.model_id, [store.person(identity).person_id])
                genuine.append(float(pipeline.distances(own, probe).min()))
        results[masked_templates] = (right, accepted, float(np.mean(genuine)), wrong)
    # Measured (dlib_resnet_v1, FaceMesh landmarks, 25 masked probes of 10 people): rank-1 22 -> 22, identified
    # at the normal threshold 6 -> 20, mean distance to the own templates 0.567 -> 0.423, and a wrong person
    # within the threshold 1 -> 2 (masked templates bring every masked face closer, strangers' too).
    right, accepted, own_distance, wrong = results[True]
    assert right >= results[False][0]
    assert accepted >= results[False][1] + 8
    assert own_distance < results[False][2] - 0.1
    assert wrong <= results[False][3] + 2


def test_template_cap_keeps_the_newest_photos_with_their_masked_templates(store, rng):
    person = store.add_person(employee_no="E1", name="A", role="staff")
    for _ in range(3):
        vectors = list(rng.normal(size=(3, 128)).astype(np.float32))
        store.enroll(person.person_id, vectors, model_id="m@1", consent=consent_record(),
                     kinds=["face", "masked", "masked"], max_templates=2)
    kinds = [t.kind for t in store.templates(person.person_id)]
    assert sorted(kinds) == ["face"] * 2 + ["masked"] * 4
    with pytest.raises(StoreError, match="kinds"):
        store.enroll(person.person_id, vectors, model_id="m@1", consent=consent_record(), kinds=["face", "beard", "x"])


def test_cap_drops_each_photo_with_its_derived_templates_in_every_space(store, rng):
    """Upper-face templates live in `<model>+upper`; the cap counts photos of the model and drops an old photo's
    masked and upper-face templates with it, also when a later enrollment pushes out only some photos."""
    person = store.add_person(employee_no="E1", name="A", role="staff").person_id
    photo = ["face", "masked", "upper"]

    def enroll(photos: int) -> list[str]:
        vectors = list(rng.normal(size=(3 * photos, 128)).astype(np.float32))
        return store.enroll(person, vectors, model_id="m@1", consent=consent_record(), kinds=photo * photos,
                            spaces=["m@1", "m@1", "m@1+upper"] * photos, max_templates=3).template_ids

    first = enroll(2)
    second = enroll(2)       # 4 photos > 3: the oldest photo goes with its masked and upper-face templates
    templates = {t.template_id: (t.model_id, t.kind) for t in store.templates(person)}
    assert set(templates) == set(first[3:] + second)
    assert sorted(templates.values()) == sorted([("m@1", "face"), ("m@1", "masked"), ("m@1+upper", "upper")] * 3)
    assert len(store.load_templates("m@1+upper")[0]) == 3
    # Pruning other models keeps the model's derived spaces.
    store.enroll(person, list(rng.normal(size=(1, 128)).astype(np.float32)), model_id="old@1", consent=consent_record())
    assert store.prune_templates(person, keep_model="m@1") == 1
    assert len(store.templates(person)) == 9
    with pytest.raises(StoreError, match="spaces"):
        store.enroll(person, [rng.normal(size=128)], model_id="m@1", consent=consent_record(), spaces=["other+upper"])
