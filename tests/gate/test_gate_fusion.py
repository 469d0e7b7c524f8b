"""kiosk.recognition.fusion.TrackFusion: a walk-up's frames are fused, two people never are.

Synthetic 128-d embeddings (dlib-like scale: distances of 0.3-0.6 between photos of one person,
about 1.4 between people) and explicit timestamps at 15 fps (no sleeping)."""
from __future__ import annotations

import numpy as np
import pytest

from kiosk.face.metrics import distance
from kiosk.face.spec import Metric
from kiosk.recognition.fusion import TrackFusion
from kiosk.recognition.matching import Matcher

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


def walk_up(rng: np.random.Generator, matcher: Matcher, face: np.ndarray, frames: int = 30) -> tuple[list, list]:
    """Frames of `face` with noise of 0.1 to 0.45 (sharp and blurred frames); each frame's match alone and
    the fused match of the walk-up so far."""
    fusion = TrackFusion("euclidean", THRESHOLD, window=8)
    single, fused = [], []
    for i in range(frames):
        frame = face + noise(rng, rng.uniform(0.1, 0.45))
        fusion.add(frame, 0.9, BOX, 100.0 + i / FPS)
        single.append(matcher.search(frame, THRESHOLD))
        fused.append(fusion.search(matcher, THRESHOLD))
    assert fusion.resets == 0 and len(fusion) == 8                    # one face, a bounded window
    return single, fused


def test_fusion_steadies_decisions_both_ways() -> None:
    """An employee whose frames are within the threshold on average, and a stranger whose frames are
    beyond it on average: single frames flicker both ways, the fused walk-up does not."""
    rng = np.random.default_rng(7)
    ann, stranger = unit(rng), unit(rng)
    matcher = Matcher("m", metric="euclidean")
    matcher.add(["t1"], ["ann"], (ann + noise(rng, 0.48))[None])          # enrolled on another day
    matcher.add(["t2"], ["bob"], (stranger + noise(rng, 0.53))[None])     # the stranger looks a bit like Bob
    single, fused = walk_up(rng, matcher, ann)
    assert sum(m.person_id != "ann" for m in single) >= 5
    assert all(m.person_id == "ann" for m in fused[4:])
    single, fused = walk_up(rng, matcher, stranger)
    assert sum(m.person_id == "bob" for m in single) >= 5
    assert not any(m.person_id for m in fused[4:])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_the_fused_score_is_the_frames_mean_distance(metric: str) -> None:
    """Root mean square (Euclidean) or mean (cosine) of the frames' own distances, weighted by quality: the
    scale the thresholds are measured on, so fusing does not move a stranger closer to everyone."""
    rng = np.random.default_rng(5)
    face = unit(rng)
    template = face + noise(rng, 0.5)
    frames = [face + noise(rng, 0.3) for _ in range(5)]
    weights = [0.9, 0.5, 0.8, 0.7, 0.95]
    fusion = TrackFusion(metric, 10.0)
    for i, (frame, w) in enumerate(zip(frames, weights, strict=True)):
        fusion.add(frame, w, BOX, i / FPS)
    matcher = Matcher("m", metric=metric)
    matcher.add(["t"], ["p"], template[None])
    own = np.array([distance(f, template, Metric(metric)) for f in frames])
    expected = np.sqrt(np.average(own ** 2, weights=weights)) if metric == "euclidean" else np.average(own, weights=weights)
    result = fusion.search(matcher, 10.0)
    assert result.person_id == "p" and result.distance == pytest.approx(expected, rel=1e-5)
    assert result.distance > distance(fusion.fused(), template, Metric(metric))    # the fused vector alone is closer


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
        assert fusion.search(matcher, THRESHOLD).person_id is None
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
