"""Safe enrollment photos: one person per photo, large photos searched before 'no face', a pixel cap read
from the header, and duplicates of someone else refused unless allowed."""
from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from store_helpers import consent_record

from kiosk.cli import main
from kiosk.config import KioskConfig
from kiosk.config.face import FaceConfig
from kiosk.face.errors import FaceError, ImageError
from kiosk.face.image_size import check_pixels
from kiosk.recognition.enroll import Enroller, EnrollError, NewPerson, enroll_remote


@pytest.fixture(scope="module")
def pipeline(models_dir: Path):
    from kiosk.face.pipeline import FacePipeline

    return FacePipeline(FaceConfig(), models_dir)


@pytest.fixture(scope="module")
def obama(sim_dir: Path) -> np.ndarray:
    return cv2.imread(str(sim_dir / "obama_enroll.jpg"))


@pytest.fixture(scope="module")
def collins(sim_dir: Path) -> np.ndarray:
    return cv2.imread(str(sim_dir / "collins.png"))


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    right = cv2.resize(right, (left.shape[0] * right.shape[1] // right.shape[0], left.shape[0]))
    return np.hstack([left, right])


def enroller(store, pipeline, **options) -> Enroller:
    return Enroller(store, pipeline, threshold=pipeline.threshold_for(KioskConfig().recognition, 1),
                    recognition=KioskConfig().recognition, actor="test", **options)


def test_a_photo_of_two_people_is_refused(store, pipeline, obama, collins, tmp_path):
    two = side_by_side(obama, collins)
    # The whole picture shows only the larger face; the window search finds the other one too.
    assert len(pipeline.detector.detect(two)) == 1
    cv2.imwrite(str(tmp_path / "two_people.jpg"), two)
    with pytest.raises(EnrollError, match=r"two_people\.jpg: 2 faces in the photo .* of this person alone"):
        enroller(store, pipeline).enroll_files(NewPerson("E1", "Obama"), [tmp_path / "two_people.jpg"],
                                               consent_record())
    assert store.persons() == []


def test_a_small_background_face_is_ignored(pipeline, obama, collins):
    photo = obama.copy()
    far = cv2.resize(collins, (160, 160))       # Collins' face is ~30 px: under a third of Obama's ~275 px
    photo[-160:, -160:] = far
    observation = pipeline.embed_for_enrollment(photo)
    assert observation.box[0] < obama.shape[1] / 2 < observation.box[2]


def test_a_small_face_in_a_large_photo_is_found(pipeline, obama):
    canvas = np.full((4000, 3000, 3), 120, np.uint8)
    canvas[1500:2250, 1200:1800] = cv2.resize(obama, (600, 750))   # the face is ~6% of the width
    assert pipeline.detector.detect(canvas) == []
    observation = pipeline.embed_for_enrollment(canvas)
    assert 1200 < observation.box[0] < observation.box[2] < 1800
    with pytest.raises(FaceError, match=r"no face found in the 3000x4000 image; .* crop the photo"):
        pipeline.embed_for_enrollment(np.full((4000, 3000, 3), 120, np.uint8))


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header says width x height, with a token of pixel data: only decoding would find out."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64)))
            + chunk(b"IEND", b""))


def test_pixel_cap_is_read_from_the_header(store, pipeline):
    with pytest.raises(ImageError, match=r"image of 9000x8000 pixels \(72\.0 MP\), over the cap of 40 MP"):
        check_pixels(png_header(9000, 8000), 40_000_000)
    check_pixels(png_header(4000, 3000), 40_000_000)
    # 20000x20000 (the 1.2 MB PNG of the issue) is beyond Pillow's own limit, which gives no size: a bound instead.
    with pytest.raises(EnrollError, match=r"bomb\.png: image of more than 179 MP, over the cap of 40 MP "
                                          r"\(face\.max_image_pixels\)"):
        enroller(store, pipeline).enroll_images(NewPerson("E1", "X"), [("bomb.png", png_header(20000, 20000))],
                                                consent_record())
    with pytest.raises(ImageError, match="not a readable image"):
        check_pixels(b"GIF89a?", 40_000_000)


def test_a_duplicate_of_someone_else_is_refused_unless_allowed(store, pipeline, sim_dir):
    enroll = enroller(store, pipeline)
    first = enroll.enroll_files(NewPerson("E1", "Obama"), [sim_dir / "obama_enroll.jpg"], consent_record())
    with pytest.raises(EnrollError, match=rf"already enrolled as Obama \(E1, person {first.person.person_id}\)"):
        enroll.enroll_files(NewPerson("E2", "Twin"), [sim_dir / "obama_walkup.jpg"], consent_record(given_by="Twin"))
    assert [p.employee_no for p in store.persons()] == ["E1"]
    # The same person again is no duplicate; allowed, the duplicate is enrolled and reported.
    assert enroll.enroll_files("E1", [sim_dir / "obama_walkup.jpg"], consent_record()).duplicates == []
    report = enroller(store, pipeline, allow_duplicates=True).enroll_files(
        NewPerson("E2", "Twin"), [sim_dir / "obama_walkup.jpg"], consent_record(given_by="Twin"))
    assert [d.person_id for d in report.duplicates] == [first.person.person_id]
    vector = pipeline.embed_for_enrollment(cv2.imread(str(sim_dir / "obama_walkup.jpg"))).embedding
    with pytest.raises(EnrollError, match="already enrolled as"):
        enroll_remote(store, NewPerson("E3", "Remote"), [vector], model_id=pipeline.model_id,
                      consent=consent_record(), active_model_id=pipeline.model_id, matcher=enroll.matcher,
                      threshold=enroll.threshold)


def test_cli_two_face_photo_exits_non_zero_and_enrolls_nothing(capsys, tmp_path, models_dir, obama, collins):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n[face]\nmodels_dir = "{models_dir}"\n')
    cv2.imwrite(str(tmp_path / "two_people.jpg"), side_by_side(obama, collins))
    assert main(["keys", "init", "--config", str(config)]) == 0
    capsys.readouterr()
    code = main(["enroll", "--config", str(config), "--employee-no", "E1", "--name", "Obama", "--consent-given-by",
                 "Obama", "--consent-method", "form", str(tmp_path / "two_people.jpg")])
    err = capsys.readouterr().err
    assert code != 0 and "2 faces in the photo" in err
    assert main(["person", "list", "--config", str(config)]) == 0
    assert "0 person(s)" in capsys.readouterr().out
