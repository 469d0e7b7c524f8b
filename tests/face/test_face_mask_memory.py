"""Mask scores reused across camera frames for `face.mask_every_s`, never across enrollment photos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from fake_clock import FakeClock

from kiosk.config.face import FaceConfig
from kiosk.face.boxes import iou
from kiosk.face.mask_memory import RecentMaskScores
from kiosk.face.pipeline import FacePipeline


def test_a_face_in_the_same_place_keeps_its_score_until_it_is_too_old():
    clock = FakeClock()
    recent = RecentMaskScores(0.5, clock)
    calls: list[float] = []

    def compute(value: float):
        return lambda: calls.append(value) or value

    assert recent.score((100, 100, 200, 200), compute(0.9)) == 0.9
    clock.now += 0.3
    assert recent.score((105, 102, 206, 203), compute(0.1)) == 0.9         # moved a little: kept
    assert recent.score((400, 100, 500, 200), compute(0.2)) == 0.2         # elsewhere: another face
    clock.now += 0.25
    assert recent.score((100, 100, 200, 200), compute(0.3)) == 0.3         # 0.55 s old: scored again
    assert calls == [0.9, 0.2, 0.3]


def test_zero_keeps_nothing():
    recent = RecentMaskScores(0.0, FakeClock())
    assert [recent.score((0, 0, 10, 10), lambda v=v: v) for v in (0.1, 0.7)] == [0.1, 0.7]


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9


class CountingScorer:
    name = model_id = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, image_bgr: np.ndarray, detection) -> float:
        self.calls += 1
        return 0.0


def test_camera_frames_reuse_the_score_and_enrollment_photos_do_not(models_dir: Path, astronaut):
    pipeline = FacePipeline(FaceConfig(mask_every_s=5.0), models_dir)     # long enough for a busy machine
    counting = CountingScorer()
    pipeline.mask = counting
    for _ in range(3):
        assert len(pipeline.process(astronaut)) == 1
    assert counting.calls == 1
    for _ in range(2):
        pipeline.embed_for_enrollment(astronaut)
    assert counting.calls == 3
