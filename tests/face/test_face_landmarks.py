"""The landmark stage: FaceMesh's five points land on the eyes, nose tip and mouth corners, the crop
maps back to the frame, a bad model is one line, and the pipeline aligns on five points."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.config.face import FaceConfig, LandmarkSource
from kiosk.face.detectors.base import Detection, KeypointLayout
from kiosk.face.detectors.yunet import YuNetDetector
from kiosk.face.errors import ModelError
from kiosk.face.images import read_image
from kiosk.face.landmarks import ARCFACE_112, FACEMESH_IN_ARCFACE_112, roi_transform, template_for, to_frame
from kiosk.face.pipeline import FacePipeline
from kiosk.face.spec import load_spec

PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "biden2.jpg", "astronaut.png", "two_people.jpg")


@pytest.fixture(scope="module")
def yunet(shared_dir: Path) -> YuNetDetector:
    return YuNetDetector(shared_dir / "models" / "detection" / "face_detection_yunet_2023mar.onnx")


def test_points_land_on_the_same_features_as_yunets(pipeline, yunet, testdata: Path):
    errors = []
    for name in PHOTOS:
        image = read_image(testdata / name)
        theirs = yunet.detect(image)
        for face in pipeline.detect(image):
            assert face.layout == KeypointLayout.five_point and face.keypoints.shape == (5, 2)
            other = min(theirs, key=lambda d: np.linalg.norm(d.keypoints[0] - face.keypoints[0]))
            eye_distance = np.linalg.norm(other.keypoints[1] - other.keypoints[0])
            errors.append(np.linalg.norm(face.keypoints - other.keypoints, axis=1) / eye_distance)
            left_eye, right_eye, nose, mouth_left, mouth_right = face.keypoints
            assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
            assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    errors = np.array(errors)
    assert len(errors) == len(PHOTOS) + 1                       # two faces in two_people.jpg
    # The two models mark the points a little differently (FaceMesh's nose tip is lower); measured
    # at most 0.16 of the eye distance per point, 0.08 on average. A point on a wrong feature is > 0.3.
    assert errors.max() < 0.2 and errors.mean() < 0.1


def test_crop_to_frame_mapping_round_trips_and_levels_the_eyes():
    keypoints = np.array([[100, 120], [160, 100], [130, 140], [110, 170], [150, 160]], np.float32)
    detection = Detection((80.0, 70.0, 190.0, 200.0), 0.9, keypoints, KeypointLayout.five_point)
    matrix = roi_transform(detection, 192)
    in_crop = keypoints @ matrix[:, :2].T + matrix[:, 2]
    assert abs(in_crop[0, 1] - in_crop[1, 1]) < 1e-3             # eyes level in the crop
    centre = np.array([[135.0, 135.0]])                          # the box centre lands in the crop's centre
    assert np.allclose(centre @ matrix[:, :2].T + matrix[:, 2], [[96, 96]], atol=1e-3)
    side = 1.5 * 130                                             # 1.5 x the longer box side fills the crop
    assert np.isclose(np.hypot(*matrix[:, 0]), 192 / side)
    assert np.allclose(to_frame(in_crop, matrix), keypoints, atol=1e-3)


def test_facemesh_template_is_derived_for_an_arcface_model_and_taken_from_dlibs_spec(dlib, models_dir: Path):
    arcface = load_spec(models_dir, "dlib_resnet_v1").model_copy(
        update={"id": "arc", "template": ARCFACE_112.tolist(), "landmark_templates": None})
    assert np.allclose(template_for(arcface, "facemesh"), FACEMESH_IN_ARCFACE_112, atol=1e-3)
    assert np.allclose(template_for(arcface, "detector"), ARCFACE_112)
    dlib_pipeline, dlib = dlib, load_spec(models_dir, "dlib_resnet_v1")
    assert np.allclose(dlib_pipeline.embedder.template, dlib.landmark_templates["facemesh"])


def test_pipeline_aligns_on_five_points_after_landmarks(pipeline, models_dir: Path, testdata: Path):
    assert pipeline.landmarks.name == "facemesh"
    image = read_image(testdata / "obama.jpg")
    refined = pipeline.detect(image)[0]
    raw = pipeline.detector.detect(image)[0]
    assert raw.layout == KeypointLayout.blazeface6 and refined.layout == KeypointLayout.five_point
    assert pipeline.landmarks.presence > 0.9
    face = pipeline.process(image)[0]
    # the observation keeps the detector's points (thermal ROI, simulator) and carries the five it was
    # aligned on; the chip is the one of the five points
    assert pipeline.keypoint_layout == KeypointLayout.blazeface6 and np.allclose(face.keypoints, raw.keypoints)
    assert np.allclose(face.landmarks, refined.keypoints)
    chip = pipeline.embedder.chip(image, refined.keypoints, refined.layout)
    assert np.allclose(face.embedding, pipeline.embedder.embed_face(image, refined.keypoints, refined.layout, chip))
    coarse = FacePipeline(FaceConfig(landmarks=LandmarkSource.detector), models_dir)
    assert np.allclose(coarse.detect(image)[0].keypoints, raw.keypoints) and coarse.process(image)[0].landmarks is None
    # the same face, aligned on better points, gives another (closer to dlib's own) embedding
    assert not np.allclose(face.embedding, coarse.process(image)[0].embedding, atol=1e-3)


def _models_without_facemesh(models_dir: Path, target: Path) -> Path:
    target.mkdir()
    for path in models_dir.iterdir():
        if path.is_file():
            (target / path.name).symlink_to(path)
    (target / "face_landmark.tflite").unlink()
    return target


def test_missing_or_corrupt_landmark_model_is_one_line(models_dir: Path, tmp_path: Path):
    models = _models_without_facemesh(models_dir, tmp_path / "models")
    with pytest.raises(ModelError) as missing:
        FacePipeline(FaceConfig(), models)
    assert "face_landmark.tflite: missing" in str(missing.value) and "\n" not in str(missing.value)
    data = bytearray((models_dir / "face_landmark.tflite").read_bytes())
    data[1000:1004] = b"XXXX"
    (models / "face_landmark.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="face_landmark.tflite: corrupt or replaced") as corrupt:
        FacePipeline(FaceConfig(), models)
    assert "\n" not in str(corrupt.value) and "kiosk models install" in str(corrupt.value)
    shutil.copy(models_dir / "face_landmark.tflite", models / "face_landmark.tflite")
    (models / "facemesh.json").unlink()
    with pytest.raises(ModelError, match="facemesh.json: missing"):
        FacePipeline(FaceConfig(), models)
    FacePipeline(FaceConfig(landmarks=LandmarkSource.detector), models)   # not needed without it
