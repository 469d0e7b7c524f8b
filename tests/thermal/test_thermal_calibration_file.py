"""The calibration file: round trip, defaults, and one-line errors for bad files."""
from __future__ import annotations

import json

import pytest

from kiosk.config import KioskConfig, parse_config
from kiosk.thermal.calibration import Calibration, CalibrationError, calibration_for_config, load, rig_from_config, save, to_dict
from kiosk.thermal.compensation import Blackbody


@pytest.fixture()
def good(tmp_path):
    calibration = Calibration.default(rig_from_config(KioskConfig())).with_changes(
        blackbody=Blackbody((2, 27, 5, 30), 35.0, 34.2))
    path = tmp_path / "calibration.json"
    save(calibration, path)
    return path


def test_round_trip(good):
    loaded = load(good)
    again = to_dict(loaded)
    original = json.loads(good.read_text())
    assert again["registration"] == original["registration"]
    assert again["blackbody"] == {"region": [2, 27, 5, 30], "set_point_c": 35.0, "reference_reading_c": 34.2}
    assert loaded.rig.camera.width == 640 and loaded.source == str(good)


def _config(tmp_path, **temperature) -> KioskConfig:
    return parse_config({"device": {"state_dir": str(tmp_path)}, "temperature": temperature})


def test_daemon_uses_the_file_or_the_defaults(tmp_path, good):
    assert calibration_for_config(_config(tmp_path / "empty")).source == "built-in defaults"
    assert calibration_for_config(_config(tmp_path, calibration_file=str(good))).blackbody is not None
    with pytest.raises(CalibrationError, match="not found"):
        calibration_for_config(_config(tmp_path, calibration_file=str(tmp_path / "missing.json")))


def test_other_camera_aspect_ratio_is_refused(tmp_path, good):
    config = parse_config({"camera": {"width": 1280, "height": 720},
                           "temperature": {"calibration_file": str(good)}})
    with pytest.raises(CalibrationError, match="recalibrate"):
        calibration_for_config(config)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["registration"].update(homography=[[1, 0, 0], [0, 1, 0], [0, 0, 0]]), "registration.homography"),
    (lambda d: d["registration"].update(homography=[[1, 0], [0, 1]]), "registration.homography"),
    (lambda d: d["distance"].update(range_m=[1.0, 0.3]), "distance.range_m"),
    (lambda d: d["blackbody"].update(region=[0, 0, 30, 40]), "blackbody.region"),
    (lambda d: d.pop("ambient"), "missing field 'ambient'"),
    (lambda d: d["rig"]["camera"].update(width="wide"), "rig.camera.width"),
    (lambda d: d.update(colour="blue"), "unknown field 'colour'"),
    (lambda d: d.update(version=2), "version 2 is not supported"),
    (lambda d: d.update(format="something else"), "not a kiosk thermal calibration file"),
])
def test_bad_files_give_one_line_naming_the_problem(good, change, message):
    document = json.loads(good.read_text())
    change(document)
    good.write_text(json.dumps(document))
    with pytest.raises(CalibrationError) as caught:
        load(good)
    text = str(caught.value)
    assert message in text and "\n" not in text and str(good) in text


def test_not_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "kiosk-thermal-calibration", ')
    with pytest.raises(CalibrationError, match="not valid JSON"):
        load(path)
