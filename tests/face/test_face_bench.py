"""`kiosk bench` runs every stage on real photos and reports figures (timing bars live in bench/, not here)."""
from __future__ import annotations

import json
from pathlib import Path

from kiosk.cli import main


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
    assert figures["photos"] == 2 and figures["model_id"].startswith("dlib_resnet_v1@")
    assert "match 1:500" in capsys.readouterr().out


def test_kiosk_bench_without_photos_is_one_line(models_dir: Path, tmp_path: Path, capsys):
    assert main(["bench", "--models", str(models_dir), "--images", str(tmp_path)]) == 1
    assert "no readable .jpg/.png images" in capsys.readouterr().err
