"""BlazeFace anchors, decoding, weighted NMS, letterbox, and detection on real photos."""
from __future__ import annotations

import numpy as np

from kiosk.face.boxes import iou_many
from kiosk.face.detectors.blazeface import FULL_RANGE, SHORT_RANGE, Letterbox, decode, weighted_nms


def test_anchor_grids_match_the_models_outputs():
    short = SHORT_RANGE.anchors()
    assert short.shape == (896, 2)
    # stride 8: 16x16 cells, 2 anchors each, row-major from the top-left cell centre.
    np.testing.assert_allclose(short[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[1], short[0])
    np.testing.assert_allclose(short[2], [1.5 / 16, 0.5 / 16])
    # stride 16: 8x8 cells, 6 anchors each, after the first 512.
    np.testing.assert_allclose(short[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    assert FULL_RANGE.anchors().shape == (2304, 2)


def test_decode_offsets_are_relative_to_the_anchor_in_input_pixels():
    anchors = np.array([[0.5, 0.25]], np.float32)
    raw = np.zeros((1, 16), np.float32)
    raw[0, :4] = [12.8, -12.8, 32.0, 64.0]        # dx, dy, w, h in 128 px input
    raw[0, 4:6] = [6.4, 0.0]                      # first keypoint
    boxes, points = decode(raw, anchors, 128)
    np.testing.assert_allclose(boxes[0], [0.6 - 0.125, 0.15 - 0.25, 0.6 + 0.125, 0.15 + 0.25], atol=1e-6)
    np.testing.assert_allclose(points[0, 0], [0.55, 0.25], atol=1e-6)
    np.testing.assert_allclose(points[0, 1], [0.5, 0.25], atol=1e-6)


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float64)
    points = np.zeros((3, 6, 2))
    points[0, :, 0], points[1, :, 0], points[2, :, 0] = 0.0, 3.0, 55.0
    scores = np.array([0.9, 0.3, 0.8])
    merged = weighted_nms(boxes, points, scores, 0.3)
    assert len(merged) == 2
    box, kps, score = merged[0]
    assert score == 0.9
    np.testing.assert_allclose(box[0], (0 * 0.9 + 1 * 0.3) / 1.2)
    np.testing.assert_allclose(kps[0, 0], 3.0 * 0.3 / 1.2)
    assert merged[1][2] == 0.8
    assert iou_many(boxes[0], boxes[2:])[0] == 0.0


def test_letterbox_maps_input_points_back_to_the_frame():
    lb = Letterbox((480, 640, 3), 128)
    assert (lb.new_w, lb.new_h, lb.pad_x, lb.pad_y) == (128, 96, 0, 16)
    frame_point = np.array([320.0, 240.0])
    as_input = (frame_point * lb.scale + [lb.pad_x, lb.pad_y]) / 128
    np.testing.assert_allclose(lb.to_frame(as_input), frame_point, atol=1e-4)
    assert lb.apply(np.full((480, 640, 3), 255, np.uint8))[:16].max() == 0   # padding stays black


def test_detects_the_face_with_keypoints_inside_its_box(pipeline, astronaut):
    detections = pipeline.detect(astronaut)
    assert len(detections) == 1
    face = detections[0]
    x1, y1, x2, y2 = face.box
    assert 150 < x1 < 200 and 60 < y1 < 110 and 80 < face.width < 110     # the astronaut's face
    eyes_nose_mouth = face.keypoints[:4]
    assert np.all((eyes_nose_mouth[:, 0] > x1) & (eyes_nose_mouth[:, 0] < x2))
    assert np.all((eyes_nose_mouth[:, 1] > y1) & (eyes_nose_mouth[:, 1] < y2))
    assert face.keypoints[0, 0] < face.keypoints[1, 0]       # image-left eye first
    assert face.keypoints[2, 1] < face.keypoints[3, 1]       # nose above mouth


def test_two_people_largest_first_and_blank_frame_has_none(pipeline, testdata):
    from kiosk.face.images import read_image

    faces = pipeline.detect(read_image(testdata / "two_people.jpg"))
    assert len(faces) == 2 and faces[0].width >= faces[1].width
    assert pipeline.detect(np.full((480, 640, 3), 128, np.uint8)) == []


def test_full_range_detector_finds_a_face_too_small_for_short_range(pipeline, models_dir, astronaut):
    import cv2

    from kiosk.face.detectors.blazeface import BlazeFaceDetector
    from kiosk.face.spec import load_spec

    frame = np.zeros((480, 640, 3), np.uint8)
    frame[100:300, 200:400] = cv2.resize(astronaut, (200, 200))    # face about 37 px wide
    full = BlazeFaceDetector(load_spec(models_dir, "blazeface_full"), models_dir, 0.6)
    faces = full.detect(frame)
    assert len(faces) == 1 and 255 < faces[0].box[0] < 275 and 30 < faces[0].width < 50
    assert pipeline.detect(frame) == []      # short range (default) does not reach that far


def test_yunet_backend_gives_five_points_and_feeds_the_pipeline(models_dir, shared_dir, astronaut):
    from kiosk.config.face import FaceConfig
    from kiosk.face.detectors.base import KeypointLayout
    from kiosk.face.pipeline import FacePipeline

    config = FaceConfig(detector="yunet", yunet_model=shared_dir / "models" / "detection" /
                        "face_detection_yunet_2023mar.onnx")
    pipe = FacePipeline(config, models_dir)
    faces = pipe.process(astronaut)
    assert len(faces) == 1 and faces[0].keypoints.shape == (5, 2)
    assert pipe.keypoint_layout == KeypointLayout.five_point and faces[0].embedding is not None


def test_yunet_without_its_model_file_is_a_clear_error(models_dir, tmp_path):
    import pytest

    from kiosk.config.face import FaceConfig
    from kiosk.face.errors import ModelError
    from kiosk.face.pipeline import FacePipeline

    with pytest.raises(ModelError, match="yunet.onnx: missing"):
        FacePipeline(FaceConfig(detector="yunet", yunet_model=tmp_path / "yunet.onnx"), models_dir)
    with pytest.raises(ValueError, match="face.yunet_model"):
        FacePipeline(FaceConfig(detector="yunet"), models_dir)


def test_mediapipe_backend_without_the_package_says_how_to_get_it(models_dir):
    import importlib.util

    import pytest

    from kiosk.config.face import FaceConfig
    from kiosk.face.pipeline import FacePipeline

    if importlib.util.find_spec("mediapipe") is not None:
        pytest.skip("mediapipe is installed")
    with pytest.raises(RuntimeError, match=r"kiosk\[mediapipe\]"):
        FacePipeline(FaceConfig(detector="mediapipe"), models_dir)
