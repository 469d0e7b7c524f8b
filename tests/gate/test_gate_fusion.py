"""kiosk.fusion.TrackFusion: a walk-up's frames are fused, two people never are.

Synthetic 128-d embeddings (dlib-like scale: distances of 0.3-0.6 between photos of one person,
about 1.4 between people) and explicit timestamps at 15 fps (no sleeping)."""
from __future__ import annotations

import numpy as np
import pytest

from kiosk.fusion import TrackFusion
from kiosk.matching import Matcher

FPS = 15.0
THRESHOLD = 0.55            # dlib_resnet_v1 at the `normal` level
BOX = (250.0, 120.0, 410.0, 320.0)
DIM = 128


def unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


def noise(rng: np.random.Generator, length: float) -> np.ndarray:
    """A random offset of about `length` (Euclidean) in 128 dimensions."""
    return (rng.normal(size=DIM) * length / np.sqrt(DIM)).astype(np.float32)


def test_fusion_accepts_a_noisy_walk_up_that_single_frames_often_miss() -> None:
    rng = np.random.default_rng(7)
    face = unit(rng)
    matcher = Matcher("m", metric="euclidean")
    # Enrolled on another day: the template is 0.45 from today's face; each frame adds 0.3 of noise.
    matcher.add(["t1"], ["ann"], (face + noise(rng, 0.45))[None])
    matcher.add(["t2"], ["bob"], unit(rng)[None])
    fusion = TrackFusion("euclidean", THRESHOLD, window=8)
    single, fused = [], []
    for i in range(30):
        frame = face + noise(rng, 0.3)
        fusion.add(frame, 0.9, BOX, 100.0 + i / FPS)
        single.append(matcher.search(frame, THRESHOLD))
        fused.append(matcher.search(fusion.fused(), THRESHOLD))
    assert fusion.resets == 0 and len(fusion) == 8                    # one face, a bounded window
    missed_single = sum(m.person_id != "ann" for m in single)
    missed_fused = sum(m.person_id != "ann" for m in fused[4:])       # once a few frames are fused
    assert missed_single >= 5 and missed_fused == 0
    assert np.mean([m.distance for m in fused[8:]]) < np.mean([m.distance for m in single]) - 0.05


def test_quality_weighs_frames() -> None:
    fusion = TrackFusion("euclidean", 10.0)
    a, b = np.zeros(4, np.float32), np.ones(4, np.float32)
    fusion.add(a, 0.9, BOX, 0.0)
    fusion.add(b, 0.1, BOX, 0.1)
    np.testing.assert_allclose(fusion.fused(), np.full(4, 0.1), atol=1e-6)


def test_cosine_models_average_unit_vectors() -> None:
    fusion = TrackFusion("cosine", 1.5)   # orthogonal = distance 1: within
    fusion.add(np.array([10.0, 0.0], np.float32), 1.0, BOX, 0.0)     # length means nothing for cosine
    fusion.add(np.array([0.0, 0.1], np.float32), 1.0, BOX, 0.1)
    np.testing.assert_allclose(fusion.fused(), [0.5, 0.5], atol=1e-6)


def test_a_face_jump_starts_afresh() -> None:
    rng = np.random.default_rng(1)
    face = unit(rng)
    fusion = TrackFusion("euclidean", THRESHOLD)
    for i in range(5):
        fusion.add(face + noise(rng, 0.2), 0.9, BOX, i / FPS)
    fusion.add(face, 0.9, (20.0, 20.0, 120.0, 140.0), 5 / FPS)       # elsewhere in the frame: someone else
    assert len(fusion) == 1 and fusion.resets == 1
    np.testing.assert_allclose(fusion.fused(), face, atol=1e-6)


def test_a_different_person_after_a_gap_is_not_fused_with_the_previous_one() -> None:
    rng = np.random.default_rng(2)
    ann, bob = unit(rng), unit(rng)
    fusion = TrackFusion("euclidean", THRESHOLD, timeout_s=2.0)
    for i in range(8):
        fusion.add(ann + noise(rng, 0.2), 0.9, BOX, i / FPS)
    # Bob stands where Ann stood, 2.5 s later, and looks a little like her: within the threshold.
    lookalike = ann + 0.9 * (bob - ann) * THRESHOLD / float(np.linalg.norm(bob - ann))
    fusion.add(lookalike, 0.9, BOX, 8 / FPS + 2.5)
    assert len(fusion) == 1
    np.testing.assert_allclose(fusion.fused(), lookalike, atol=1e-6)


def test_someone_stepping_in_behind_an_employee_is_not_averaged_in() -> None:
    """Same place, no gap: the newest frame disagrees with the fused vector, so the fusion restarts."""
    rng = np.random.default_rng(3)
    ann, mallory = unit(rng), unit(rng)
    matcher = Matcher("m", metric="euclidean")
    matcher.add(["t1"], ["ann"], ann[None])
    fusion = TrackFusion("euclidean", THRESHOLD)
    t = 0.0
    for _ in range(8):
        fusion.add(ann + noise(rng, 0.2), 0.9, BOX, t)
        t += 1 / FPS
    for _ in range(3):
        fusion.add(mallory + noise(rng, 0.2), 0.9, BOX, t)
        t += 1 / FPS
        assert matcher.search(fusion.fused(), THRESHOLD).person_id is None
    assert fusion.resets == 1 and len(fusion) == 3


def test_frames_without_an_embedding_keep_the_track_alive() -> None:
    rng = np.random.default_rng(4)
    face = unit(rng)
    fusion = TrackFusion("euclidean", THRESHOLD, timeout_s=2.0)
    fusion.add(face, 0.9, BOX, 0.0)
    for i in range(1, 45):                       # 3 s of "look at the camera": seen, not embedded
        fusion.add(None, 0.9, BOX, i / FPS)
    fusion.add(face, 0.9, BOX, 3.0)
    assert len(fusion) == 2 and fusion.resets == 0


def test_window_must_hold_a_frame() -> None:
    with pytest.raises(ValueError, match="at least 1 frame"):
        TrackFusion("euclidean", THRESHOLD, window=0)
