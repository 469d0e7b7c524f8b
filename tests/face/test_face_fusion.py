"""The recognizer matches the fused walk-up (kiosk.recognition.fusion), in process, with the real models and photos.

Obama and Biden are enrolled in a real store from one photo each; the walk-up frames are made from
their other photos at kiosk size (face 150-210 px in 640x480, kiosk.face.frames) with explicit
timestamps at 15 fps."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.camera.base import Frame
from kiosk.config import KioskConfig
from kiosk.config.store import StoreConfig
from kiosk.face.frames import kiosk_frame
from kiosk.face.images import read_image
from kiosk.face.pipeline import FacePipeline
from kiosk.face.spec import Metric
from kiosk.recognition.enroll import Enroller, NewPerson
from kiosk.recognition.recognizer import Recognizer
from kiosk.store import Store, init_keys
from kiosk.thermal import calibration_for_config

FPS = 15.0
CONSENT = {"given_by": "self", "given_at": "2026-01-05T09:30:00+01:00", "notice_version": "v1",
           "method": "signed paper form", "scope": ["local"]}


@pytest.fixture
def recognizer(pipeline: FacePipeline, testdata: Path, tmp_path: Path):
    init_keys(tmp_path / "keys")
    store = Store(tmp_path / "kiosk.db", tmp_path / "keys", config=StoreConfig())
    enroller = Enroller(store, pipeline, threshold=pipeline.threshold_for(KioskConfig().recognition, 1))
    ids = {}
    for employee_no, name, photo in (("E1", "Obama", "obama.jpg"), ("E2", "Biden", "biden.jpg")):
        report = enroller.enroll_files(NewPerson(employee_no, name), [testdata / photo], CONSENT)
        ids[name] = report.person.person_id
    config = KioskConfig()
    yield Recognizer(config, pipeline, enroller.matcher, store, calibration_for_config(config)), ids
    store.close()


def frame_of(pipeline: FacePipeline, path: Path, face_px: float, t: float) -> Frame:
    image = read_image(path)
    box = pipeline.detect(image)[0].box
    return Frame(kiosk_frame(image, box, face_px), t, int(t * FPS))


def test_walk_up_is_matched_on_the_fused_frames_and_never_fused_across_people(recognizer, pipeline, testdata):
    rec, ids = recognizer
    t = 100.0
    fused, single, weights = [], [], []
    for name, px in (("obama2.jpg", 150), ("obama3.jpg", 170), ("obama2.jpg", 190), ("obama3.jpg", 210)):
        sample = rec.process(frame_of(pipeline, testdata / name, px, t), None).samples[0]
        assert sample.match.person_id == ids["Obama"]
        fused.append(sample.match.distance)
        single.append(rec.matcher.search(sample.face.embedding, rec.threshold).distance)
        weights.append(sample.face.score)
        t += 1 / FPS
    assert len(rec.fusion) == 4 and rec.fusion.resets == 0
    # Scored by the frames' own distances (root mean square, weighted by detector score: one template each),
    # so the thresholds keep the scale they were measured on.
    # Euclidean: their root mean square; cosine: their mean.
    if pipeline.metric == Metric.cosine:
        expected = np.average(single, weights=weights)
    else:
        expected = np.sqrt(np.average(np.square(single), weights=weights))
    assert fused[-1] == pytest.approx(expected, rel=1e-4)

    # Biden steps into the same place in the next frame: not averaged into Obama's vector.
    sample = rec.process(frame_of(pipeline, testdata / "biden2.jpg", 200, t), None).samples[0]
    assert rec.fusion.resets == 1 and len(rec.fusion) == 1
    assert sample.match.person_id == ids["Biden"]
    np.testing.assert_allclose(rec.fusion.fused(), sample.face.embedding, atol=1e-6)

    # Obama again after 3 s away (longer than recognition.track_timeout_s): a new walk-up.
    sample = rec.process(frame_of(pipeline, testdata / "obama2.jpg", 180, t + 3.0), None).samples[0]
    assert rec.fusion.resets == 2 and len(rec.fusion) == 1
    assert sample.match.person_id == ids["Obama"]
