"""Open-set security levels: the stranger-score model, the threshold in force as N grows, where it shows up.

The model tests use synthetic distances with a known distribution; the pipeline, recognizer, selftest
and health tests use the real dlib model with the stranger scores pinned in kiosk.models.registry.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from kiosk.config import KioskConfig, load_config
from kiosk.config.recognition import RecognitionConfig, SecurityLevel
from kiosk.face.errors import ModelError
from kiosk.face.openset import distance_at_fmr, fit_stranger_scores, fmr_at, fmr_for_fpir, fnir_at, fpir_for_fmr, open_set_point
from kiosk.face.pipeline import FacePipeline
from kiosk.face.spec import StrangerScores, load_spec
from kiosk.models.registry import default_model
from kiosk.recognition.matching import Matcher
from kiosk.recognition.recognizer import Recognizer
from kiosk.service.health import HealthMonitor
from kiosk.service.selftest import SecurityLevelWarning, SelfTest
from kiosk.store import Store, init_keys
from kiosk.thermal import calibration_for_config

CONSENT = {"given_by": "Ann Example", "given_at": "2026-01-05T09:30:00+01:00", "notice_version": "v1",
           "method": "signed paper form", "scope": ["local"]}
IMPOSTOR = NormalDist(1.0, 0.1)     # synthetic stranger distances
GENUINE = NormalDist(0.4, 0.1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def synthetic() -> StrangerScores:
    rng = np.random.default_rng(7)
    return fit_stranger_scores(rng.normal(IMPOSTOR.mean, IMPOSTOR.stdev, 80_000),
                               rng.normal(GENUINE.mean, GENUINE.stdev, 400), "synthetic", "synthetic")


def test_tail_fit_recovers_a_known_false_match_rate_beyond_the_data(synthetic):
    # 80,000 pairs show FMR down to ~1e-5; the fitted tail must carry on to 1e-6 and 1e-7.
    for target in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
        true_rate = IMPOSTOR.cdf(distance_at_fmr(synthetic, target))
        assert target / 2 < true_rate < target * 2, target
        assert fmr_at(synthetic, distance_at_fmr(synthetic, target)) == pytest.approx(target, rel=1e-6)
    assert fnir_at(synthetic, GENUINE.inv_cdf(0.9)) == pytest.approx(0.1, abs=0.03)


def test_fpir_and_fmr_invert_each_other():
    for fpir, n in ((1e-2, 1), (1e-3, 700), (1e-4, 10_000)):
        assert fpir_for_fmr(fmr_for_fpir(fpir, n), n) == pytest.approx(fpir, rel=1e-9)
    assert fmr_for_fpir(1e-3, 1) == pytest.approx(1e-3)
    assert fmr_for_fpir(1e-3, 1000) == pytest.approx(1.0005e-6, rel=1e-3)


def test_threshold_grows_stricter_as_more_people_are_enrolled(synthetic):
    points = [open_set_point(synthetic, 1e-3, n, "normal") for n in (1, 10, 100, 1000, 10_000)]
    thresholds = [p.threshold for p in points]
    assert thresholds == sorted(thresholds, reverse=True) and len(set(thresholds)) == len(thresholds)
    assert all(p.expected_fpir == pytest.approx(1e-3, rel=1e-6) for p in points)
    fnirs = [p.expected_fnir for p in points]
    assert fnirs == sorted(fnirs)


def test_a_level_the_model_cannot_meet_is_a_warning(synthetic):
    assert open_set_point(synthetic, 1e-2, 10, "low").warning is None
    beyond = open_set_point(synthetic, 1e-4, 100_000, "high")
    assert "cannot be met with 100000 templates" in beyond.warning and "beyond the fitted range" in beyond.warning
    weak = synthetic.model_copy(update={"genuine": [(0.02, 0.1), (0.5, 0.9), (0.98, 1.2)]})
    missed = open_set_point(weak, 1e-3, 100, "normal")
    assert "of enrolled people would be missed" in missed.warning


def test_spec_rejects_inconsistent_stranger_scores(tmp_path, synthetic):
    spec = default_model("dlib_resnet_v1").spec
    data = json.loads(spec.model_dump_json(exclude_none=True))
    data["stranger_scores"] = json.loads(synthetic.model_dump_json())
    data["stranger_scores"]["fmr"][2][1] = 5.0          # distance no longer falls with the rate
    (tmp_path / "dlib_resnet_v1.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="stranger_scores.fmr must fall strictly"):
        load_spec(tmp_path, "dlib_resnet_v1")


# -- with the real model ------------------------------------------------------------------------------
def test_pinned_dlib_scores_give_the_levels_in_order(dlib):
    assert dlib.spec.stranger_scores is not None
    at_100 = {level: dlib.threshold_for(RecognitionConfig(security_level=level), 100) for level in SecurityLevel}
    assert at_100[SecurityLevel.low] > at_100[SecurityLevel.normal] > at_100[SecurityLevel.high]
    # N = 1: an FPIR is a per-comparison rate, close to the spec's per-comparison FAR threshold (1e-3).
    assert dlib.threshold_for(RecognitionConfig(fpir=1e-3), 1) == pytest.approx(dlib.threshold(SecurityLevel.normal),
                                                                                 abs=0.03)


def test_overrides_fpir_and_fixed_threshold(dlib, models_dir):
    fpir = dlib.operating_point(RecognitionConfig(fpir=0.05), 700)
    assert fpir.level == "fpir override" and fpir.expected_fpir == pytest.approx(0.05, rel=1e-6)
    fixed = dlib.operating_point(RecognitionConfig(threshold=0.5, fpir=0.05), 700)
    assert fixed.threshold == 0.5 and fixed.fpir_target is None and 0 < fixed.expected_fpir < 1
    # A spec without stranger scores keeps its per-comparison thresholds, and says what that means.
    from kiosk.config.face import FaceConfig

    old = FacePipeline(FaceConfig(), models_dir)
    if old.spec.stranger_scores is None:
        point = old.operating_point(RecognitionConfig(), 1000)
        assert point.threshold == old.threshold(SecurityLevel.normal)
        assert "no stranger_scores" in point.warning
        with pytest.raises(ModelError, match="recognition.fpir needs the spec's stranger_scores"):
            old.operating_point(RecognitionConfig(fpir=0.01), 10)


def _config(tmp_path: Path, models: Path, **recognition) -> KioskConfig:
    init_keys(tmp_path / "state" / "keys")
    lines = [f'[device]\nstate_dir = "{tmp_path / "state"}"',
             f'[face]\nmodels_dir = "{models}"\nembedder = "dlib_resnet_v1"', "[recognition]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in recognition.items()]
    (tmp_path / "kiosk.toml").write_text("\n".join(lines) + "\n")
    return load_config(tmp_path / "kiosk.toml")


def _enroll(store: Store, model_id: str, count: int, rng: np.random.Generator, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + count):
        person = store.add_person(employee_no=f"E{i:05d}", name=f"Person {i}", role="staff")
        vector = rng.normal(size=128).astype(np.float32)
        store.enroll(person.person_id, [0.6 * vector / np.linalg.norm(vector)], model_id=model_id,
                     consent=CONSENT)
        ids.append(person.person_id)
    return ids


def test_recognizer_recomputes_the_threshold_when_people_are_enrolled_or_erased(tmp_path, dlib, pinned_models,
                                                                                 caplog, rng):
    config = _config(tmp_path, pinned_models)
    with Store.open(config) as store:
        matcher = Matcher.from_store(store, dlib.model_id, metric=str(dlib.metric))
        unfollow = matcher.follow(store)
        with caplog.at_level(logging.INFO, logger="kiosk.recognizer"):
            recognizer = Recognizer(config, dlib, matcher, store, calibration_for_config(config))
        assert "security level normal (FPIR 0.003), N=0 templates" in caplog.text
        empty = recognizer.threshold
        people = _enroll(store, dlib.model_id, 50, rng)
        face = dlib.process(np.zeros((240, 320, 3), np.uint8))     # no face: nothing is matched
        assert face == []
        assert recognizer.security_now().gallery_size == 50
        recognizer._follow_gallery_size()                          # what a walk-up with a face does first
        assert recognizer.threshold < empty and recognizer.security.gallery_size == 50
        for person_id in people[:40]:
            store.delete_person(person_id)
        recognizer._follow_gallery_size()
        assert recognizer.security.gallery_size == 10
        assert empty > recognizer.threshold > dlib.threshold_for(config.recognition, 50)
        assert recognizer.duplicate_threshold == pytest.approx(empty)
        unfollow()


def test_selftest_and_health_show_level_n_threshold_fpir_and_fnir(tmp_path, dlib, pinned_models, rng):
    config = _config(tmp_path, pinned_models)
    with Store.open(config) as store:
        _enroll(store, dlib.model_id, 20, rng)
        matcher = Matcher.from_store(store, dlib.model_id, metric=str(dlib.metric))
        recognizer = Recognizer(config, dlib, matcher, store, calibration_for_config(config))
        health = HealthMonitor(stall_s=5.0)
        health.gauge("security", lambda: recognizer.security_now().as_dict())
        report = health.report()["security"]
    assert report["level"] == "normal" and report["gallery_size"] == 20 and report["fpir_target"] == 3e-3
    assert report["threshold"] == pytest.approx(dlib.threshold_for(config.recognition, 20))
    assert 0 < report["expected_fnir"] < 1 and report["expected_fpir"] == pytest.approx(3e-3, rel=1e-6)

    selftest = SelfTest(config)
    selftest.models()
    line = selftest.security()
    assert "security level normal (FPIR 0.003), N=20 templates: threshold" in line
    assert "expected FPIR" in line and "FNIR" in line
    strict = SelfTest(_config(tmp_path / "strict", pinned_models, security_level="high"))
    strict.models()
    with Store.open(strict.config) as store:
        _enroll(store, dlib.model_id, 200, rng)
    with pytest.raises(SecurityLevelWarning, match="cannot be met with 200 templates"):
        strict.security()
