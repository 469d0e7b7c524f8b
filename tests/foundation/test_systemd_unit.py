"""The systemd unit: sandbox exposure rated 3.0 or lower and `systemd-analyze verify` clean."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "kiosk.service"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def test_security_exposure_is_at_most_3():
    out = subprocess.run([ANALYZE, "security", "--offline=true", str(UNIT)], capture_output=True, text=True,
                         check=True).stdout
    level = float(re.search(r"Overall exposure level for kiosk\.service: ([0-9.]+)", out).group(1))
    assert level <= 3.0, out


def test_verify_finds_nothing_wrong(tmp_path):
    # install.sh links /usr/local/bin/kiosk to the virtualenv; point the copy at this one.
    kiosk_bin = Path(sys.executable).with_name("kiosk")
    unit = tmp_path / "kiosk.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/kiosk", str(kiosk_bin)))
    result = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_unit_is_notify_with_watchdog_and_locks_the_gate_after_stop():
    text = UNIT.read_text()
    assert "Type=notify" in text and re.search(r"^WatchdogSec=\d+", text, re.M)
    assert re.search(r"^ExecStopPost=\S+ gate lock ", text, re.M)
    assert "Restart=on-failure" in text and "User=kiosk" in text


def test_unit_does_not_restart_a_configuration_error_and_reloads_after_a_check():
    text = UNIT.read_text()
    assert re.search(r"^RestartPreventExitStatus=2$", text, re.M)          # `kiosk run` exits 2 on config errors
    reloads = re.findall(r"^ExecReload=(.*)$", text, re.M)
    assert reloads[0].endswith("config check --config /etc/kiosk/kiosk.toml") and reloads[1] == "/bin/kill -HUP $MAINPID"
    assert re.search(r"^After=.*time-sync\.target", text, re.M)
    for group in ("video4linux", "media", "dma_heap"):                       # libcamera on Bookworm
        assert f"DeviceAllow=char-{group} rw" in text
