"""`kiosk bench` runs every stage on real photos and reports figures (timing bars live in bench/, not here)."""
from __future__ import annotations

import json
from pathlib import Path

from kiosk.cli import main
from kiosk.face.choice import AUTO, AUTO_ORDER, choose_embedder


def test_kiosk_bench_reports_every_stage(models_dir: Path, testdata: Path, tmp_path: Path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "astronaut.png"):
        (photos / name).symlink_to(testdata / name)
    out = tmp_path / "bench.json"
    code = main(["bench", "--models", str(models_dir), "--images", str(photos), "--repeat", "1", "--gallery", "500",
                 "--json", str(out)])
    assert code == 0
    figures = json.loads(out.read_text())
    for label in ("one_thread", "all_cores"):
        stages = figures[label]
        assert {"decode", "detect", "landmarks", "align", "quality_mask", "embed", "match", "frame"} <= set(stages)
        assert stages["faces_found"] == 2 and stages["fps"] > 0
    assert figures["photos"] == 2 and figures["model_id"].split("@")[0] == figures["embedder"]
    assert figures["embedder"] in AUTO_ORDER
    assert "match 1:500" in capsys.readouterr().out


def test_kiosk_bench_without_photos_is_one_line(models_dir: Path, tmp_path: Path, capsys):
    assert main(["bench", "--models", str(models_dir), "--images", str(tmp_path)]) == 1
    assert "no readable .jpg/.png images" in capsys.readouterr().err


def test_kiosk_frame_puts_the_face_at_kiosk_size(pipeline, testdata: Path):
    from kiosk.face.frames import FACE_CENTRE, kiosk_frame
    from kiosk.face.images import read_image

    image = read_image(testdata / "obama2.jpg")              # a tall photo: fitted whole, its face is small
    box = pipeline.detect(image)[0].box
    for px in (130, 250):
        frame = kiosk_frame(image, box, px)
        found = pipeline.detect(frame)[0].box
        assert frame.shape == (480, 640, 3)
        assert abs((found[2] - found[0]) - px) < 0.15 * px
        assert abs((found[0] + found[2]) / 2 - FACE_CENTRE[0]) < 0.1 * px


def test_kiosk_bench_walkup_times_whole_frames_against_n_people(models_dir: Path, testdata: Path, tmp_path: Path,
                                                                capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "astronaut.png"):
        (photos / name).symlink_to(testdata / name)
    out = tmp_path / "bench.json"
    assert main(["bench", "--models", str(models_dir), "--images", str(photos), "--repeat", "1", "--gallery", "100",
                 "--walkup", "--people", "50", "--json", str(out)]) == 0
    walkup = json.loads(out.read_text())["walkup"]
    assert walkup["frames"] == 10 and walkup["people"] == 50 and walkup["face_px"] == [130, 160, 190, 220, 250]
    assert list(walkup["embedders"]) == [choose_embedder(AUTO, models_dir).model_id]   # the one in force
    for model, figure in walkup["embedders"].items():
        assert figure["frames_with_embedding"] == 10 and figure["n"] == 10 and figure["model_id"].startswith(f"{model}@")
        assert 0 < figure["cpu_median_ms"] <= figure["cpu_p95_ms"] and 0 < figure["wall_median_ms"] and "met" in figure
    assert "face_recognition" not in walkup                    # only with --dlib
    assert "walk-up frame (640x480, face 130-250 px" in capsys.readouterr().out
