"""FacePipeline end to end, bad input and bad model files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kiosk.config.face import FaceConfig
from kiosk.config.recognition import SecurityLevel
from kiosk.face.errors import FaceError, ImageError, ModelError
from kiosk.face.images import read_image
from kiosk.face.pipeline import FacePipeline


def test_process_gives_embeddings_that_match_the_same_person(pipeline, testdata):
    obama = [pipeline.embed_for_enrollment(read_image(testdata / f"obama{n}.jpg")) for n in ("", "2", "3")]
    biden = pipeline.embed_for_enrollment(read_image(testdata / "biden.jpg"))
    normal = pipeline.threshold(SecurityLevel.normal)
    for other in obama[1:]:
        assert pipeline.distance(obama[0].embedding, other.embedding) < normal
    assert pipeline.distance(obama[0].embedding, biden.embedding) > pipeline.threshold(SecurityLevel.low)
    gallery = np.stack([biden.embedding, obama[1].embedding])
    assert int(np.argmin(pipeline.distances(gallery, obama[0].embedding))) == 1
    assert obama[0].model_id == pipeline.model_id and obama[0].embedding.shape == (pipeline.dim,)


def test_observations_carry_quality_mask_score_and_model_id(pipeline, testdata):
    faces = pipeline.process(read_image(testdata / "two_people.jpg"))
    assert len(faces) == 2 and faces[0].width >= faces[1].width
    for face in faces:
        assert face.quality.ok and face.embedding is not None
        assert 0.0 <= face.mask_score < 0.5
        assert face.model_id == pipeline.model_id and face.keypoints.shape == (6, 2)
        assert face.landmarks.shape == (5, 2)   # eyes, nose tip, mouth corners from FaceMesh


def test_model_id_and_thresholds_are_stable(pipeline, models_dir):
    again = FacePipeline(FaceConfig(), models_dir)
    assert again.model_id == pipeline.model_id
    t = pipeline.thresholds
    assert t[SecurityLevel.high] < t[SecurityLevel.normal] < t[SecurityLevel.low]
    dlib = FacePipeline(FaceConfig(embedder="dlib_resnet_v1"), models_dir)
    assert dlib.model_id == "dlib_resnet_v1@b21043042f08" and "Euclidean" in dlib.metric_description


def test_a_small_face_is_kept_but_not_embedded(pipeline, astronaut):
    import cv2

    small = cv2.resize(astronaut, (300, 300))        # face about 55 px < face.min_face_px (80)
    faces = pipeline.process(small)
    assert len(faces) == 1 and faces[0].embedding is None and faces[0].quality.reason == "move closer"
    with pytest.raises(FaceError, match="move closer"):
        pipeline.embed_for_enrollment(small)


def test_no_face_is_an_empty_result_or_a_face_error(pipeline):
    blank = np.full((480, 640, 3), 90, np.uint8)
    assert pipeline.process(blank) == []
    with pytest.raises(FaceError, match="no face found"):
        pipeline.embed_for_enrollment(blank)


def test_grey_and_bgra_frames_are_accepted(pipeline, astronaut):
    import cv2

    assert len(pipeline.process(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))) == 1
    assert len(pipeline.process(cv2.cvtColor(astronaut, cv2.COLOR_BGR2BGRA))) == 1


@pytest.mark.parametrize("bad", [None, np.zeros((10, 10, 3), np.uint8), np.zeros((100, 100, 3), np.float32),
                                 np.zeros((100, 100, 5), np.uint8)])
def test_bad_frames_raise_image_error(pipeline, bad):
    with pytest.raises(ImageError):
        pipeline.process(bad)


def test_unreadable_image_file_names_the_file(tmp_path: Path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageError, match="broken.jpg"):
        read_image(broken)
    with pytest.raises(ImageError, match="missing.png"):
        read_image(tmp_path / "missing.png")


@pytest.fixture
def models_copy(models_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    copy.mkdir()
    for path in models_dir.glob("*"):
        if path.is_file():
            (copy / path.name).symlink_to(path.resolve())
    return copy


def _replace(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def test_missing_model_file_names_it_and_the_fix(models_copy: Path):
    (models_copy / "dlib_face_recognition_resnet_model_v1.tflite").unlink()
    with pytest.raises(ModelError) as err:
        FacePipeline(FaceConfig(embedder="dlib_resnet_v1"), models_copy)
    message = str(err.value)
    assert "dlib_face_recognition_resnet_model_v1.tflite: missing" in message
    assert f"kiosk models install --dir {models_copy}" in message


def test_corrupt_model_file_is_caught_by_its_hash(models_copy: Path):
    target = models_copy / "face_detection_short_range.tflite"
    data = bytearray(target.read_bytes())
    data[5000] ^= 0xFF
    _replace(target, bytes(data))
    with pytest.raises(ModelError, match="face_detection_short_range.tflite: corrupt"):
        FacePipeline(FaceConfig(), models_copy)


def test_truncated_model_without_pin_is_not_loadable(models_copy: Path):
    spec_file = models_copy / "dlib_resnet_v1.json"
    spec = json.loads(spec_file.read_text())
    del spec["sha256"]
    _replace(spec_file, json.dumps(spec).encode())
    target = models_copy / "dlib_face_recognition_resnet_model_v1.tflite"
    _replace(target, target.resolve().read_bytes()[:4096] if target.exists() else b"")
    with pytest.raises(ModelError, match="not a loadable TFLite model"):
        FacePipeline(FaceConfig(embedder="dlib_resnet_v1"), models_copy)


def test_unknown_embedder_id_names_the_spec_file(models_copy: Path):
    with pytest.raises(ModelError, match="arcface_x.json: missing"):
        FacePipeline(FaceConfig(embedder="arcface_x"), models_copy)


def test_another_embedding_model_plugs_in_by_spec(models_copy: Path, shared_dir: Path, testdata: Path):
    """The MobileFaceNet of ../shared, used in place through an absolute path in its spec."""
    spec = {"id": "mfn_shared", "task": "embedder",
            "file": str(shared_dir / "models" / "embedding" / "mobilefacenet_foamliu.tflite"),
            "input_size": [112, 112], "color": "rgb", "mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5],
            "metric": "cosine",
            "template": [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                         [70.7299, 92.2041]]}
    (models_copy / "mfn_shared.json").write_text(json.dumps(spec))
    pipe = FacePipeline(FaceConfig(embedder="mfn_shared"), models_copy)
    assert pipe.model_id.startswith("mfn_shared@") and pipe.dim == 128
    a = pipe.embed_for_enrollment(read_image(testdata / "obama.jpg")).embedding
    b = pipe.embed_for_enrollment(read_image(testdata / "obama2.jpg")).embedding
    c = pipe.embed_for_enrollment(read_image(testdata / "biden.jpg")).embedding
    assert pipe.distance(a, b) < pipe.distance(a, c)
    with pytest.raises(ModelError, match="no threshold for security level normal"):
        pipe.threshold(SecurityLevel.normal)
