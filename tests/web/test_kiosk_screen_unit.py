"""The kiosk screen's user unit (systemd/kiosk-screen.service): systemd accepts it, it waits for the daemon,
and its Chromium command line (run headless here) loads the kiosk page from the local web server."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from web_support import LiveServer, web_config, welcome

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "kiosk-screen.service"
ANALYZE = shutil.which("systemd-analyze")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def directive(name: str) -> str:
    (value,) = re.findall(rf"^{name}=(.*)$", UNIT.read_text(), re.M)
    return value


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_verifies_the_unit() -> None:
    result = subprocess.run([ANALYZE, "verify", str(UNIT)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_it_shows_the_local_page_in_kiosk_mode_and_waits_for_the_daemon() -> None:
    assert directive("Environment") == "KIOSK_SCREEN_URL=http://127.0.0.1:8080/"   # the sim config's [web] listen
    assert "--kiosk" in directive("ExecStart") and "--incognito" in directive("ExecStart")
    assert directive("ExecStartPre").endswith("${KIOSK_SCREEN_URL}api/health")
    assert directive("Restart") == "always"
    assert directive("WantedBy") == "graphical-session.target"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt install chromium)")
def test_its_chromium_command_line_loads_the_kiosk_page(tmp_path: Path) -> None:
    """The unit's own ExecStartPre and ExecStart, with only what a headless test run needs added."""
    wait = directive("ExecStartPre")
    command = re.fullmatch(r"/bin/sh -c '(.*)'", directive("ExecStart")).group(1)
    headless = command.replace('"$KIOSK_SCREEN_URL"', '--headless=new --no-sandbox --timeout=5000 '
                                                      f'--user-data-dir={tmp_path} --dump-dom "$KIOSK_SCREEN_URL"')
    with LiveServer(web_config(preview_fps=0)) as server:
        server.call(server.web.screen.show, welcome("Ann Example"))
        env = {**os.environ, "KIOSK_SCREEN_URL": server.url.rstrip("/") + "/"}
        assert subprocess.run(["/bin/sh", "-c", wait], env=env, timeout=60).returncode == 0
        dom = subprocess.run(["/bin/sh", "-c", headless], env=env, capture_output=True, text=True, timeout=120).stdout
    assert 'id="message"' in dom and "<html" in dom, dom[:2000]
