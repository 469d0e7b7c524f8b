"""`kiosk calibrate` / `python -m calibration` end to end on simulated captures."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kiosk.cli import main as kiosk_main
from kiosk.config import load_config
from kiosk.thermal.calibration import calibration_for_config


@pytest.fixture()
def config_file(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n')
    return path


def test_simulate_fit_show_and_the_daemon_loads_the_file(tmp_path, config_file, mock_driver, capsys):
    captures = tmp_path / "captures"
    assert kiosk_main(["calibrate", "simulate", "--config", str(config_file), "--dir", str(captures),
                       "--offset-mm", "36", "7", "2", "--rotation-deg", "1.5", "-1", "0.6", "--blackbody"]) == 0
    plots = tmp_path / "plots"
    assert kiosk_main(["calibrate", "fit", "--config", str(config_file), "--dir", str(captures),
                       "--plots", str(plots)]) == 0
    out = capsys.readouterr().out
    assert "registration: 27 pairs" in out and "distance: 18 readings" in out and "blackbody: region" in out
    assert (plots / "registration.png").stat().st_size > 10_000 and (plots / "distance.png").stat().st_size > 10_000

    config = load_config(config_file)
    calibration = calibration_for_config(config)             # what the daemon does at start
    assert calibration.source == str(config.calibration_path)
    assert calibration.registration.source == "fitted" and calibration.registration.residual_px < 0.1
    assert calibration.blackbody is not None

    assert kiosk_main(["calibrate", "show", "--config", str(config_file)]) == 0
    assert "valid" in capsys.readouterr().out


def test_python_dash_m_calibration_reports_a_bad_file_in_one_line(tmp_path):
    bad = tmp_path / "calibration.json"
    bad.write_text(json.dumps({"format": "kiosk-thermal-calibration", "version": 1}))
    result = subprocess.run([sys.executable, "-m", "calibration", "show", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "missing field 'rig'" in result.stderr and str(bad) in result.stderr


def test_fit_without_enough_targets_says_why(tmp_path, config_file, mock_driver, capsys):
    captures = tmp_path / "captures"
    assert kiosk_main(["calibrate", "simulate", "--config", str(config_file), "--dir", str(captures)]) == 0
    registration = sorted(captures.glob("*-registration.json"))
    for path in registration[5:]:
        path.unlink()
    assert kiosk_main(["calibrate", "fit", "--config", str(config_file), "--dir", str(captures)]) == 1
    assert "registration: 5 pairs: at least 6 are needed" in capsys.readouterr().err


def test_capture_needs_the_reference_values(tmp_path, config_file, capsys):
    assert kiosk_main(["calibrate", "capture", "distance", "--config", str(config_file), "--dir",
                       str(tmp_path / "c"), "--canthus-c", "35.5"]) == 1
    assert "needs --forehead-c" in capsys.readouterr().err


def test_broken_capture_file_is_named(tmp_path, config_file, capsys):
    captures = tmp_path / "captures"
    captures.mkdir()
    (captures / "0001-ambient.json").write_text(json.dumps({"kind": "ambient", "thermal": [[1, 2]], "ta_c": 30}))
    assert kiosk_main(["calibrate", "fit", "--config", str(config_file), "--dir", str(captures)]) == 1
    err = capsys.readouterr().err
    assert "0001-ambient.json" in err and "24 rows of 32" in err


def test_device_capture_goes_through_the_thermal_sensor_interface(tmp_path, config_file, mock_driver, monkeypatch,
                                                                  capsys):
    """`calibrate capture` on a kiosk: here the MLX90640 ThermalSensor sits on the mock bus."""
    from calibration import devices
    from drivers.mlx90640.mock import MockMlx90640Bus
    from drivers.thermal.mlx90640_i2c import Mlx90640I2CSensor
    from kiosk.sim.thermal_scene import ThermalScene
    from kiosk.thermal.geometry import Rig

    scene = ThermalScene(Rig.build(), 21.0, [])
    monkeypatch.setattr(devices, "_thermal_sensor", lambda config: Mlx90640I2CSensor(MockMlx90640Bus(scene),
                                                                                       refresh_hz=32))
    directory = tmp_path / "captures"
    assert kiosk_main(["calibrate", "capture", "ambient", "--config", str(config_file), "--dir", str(directory),
                       "--room-c", "21.0", "--frames", "2"]) == 0
    saved = json.loads((directory / "0001-ambient.json").read_text())
    assert saved["room_c"] == 21.0 and abs(saved["ta_c"] - 29.0) < 0.1
    assert abs(sum(map(sum, saved["thermal"])) / 768 - 21.0) < 0.05
