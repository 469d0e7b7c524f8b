"""End to end: the console inside `kiosk run` on simulated hardware.

The first account is made with `kiosk admin add-user` (password on stdin); then, over HTTP: /admin/persons
without a session goes to the login page, a form without its CSRF token is refused, the dashboard shows
the daemon's own health, Eileen Collins (a staff member of the simulation, not enrolled beforehand) is
enrolled by upload with consent on the daemon's inference thread, and the kiosk screen welcomes her when
the simulator walks her up; the relay test pulses the daemon's gate and leaves a gate_opened event; an
enrollment from the running kiosk's camera (a burst) enrolls or says why not, and the daemon carries on.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_web_e2e import WALKUPS_S, _web_url
from web_support import WAIT_S

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "foundation"))
from e2e_support import sim_kiosk  # noqa: E402

PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _held(html: str) -> str:
    return re.search(r'name="held" value="([^"]+)"', html).group(1)


@pytest.mark.slow
def test_console_in_the_running_daemon(tmp_path: Path, models_dir: Path, sim_dir: Path) -> None:
    state = tmp_path / "state"
    config = sim_kiosk(state, models_dir, sim_dir, device={"id": "admin-kiosk", "log_format": "json",
                                                           "role": "entry"},
                       gate={"pulse_s": 0.5}, recognition={"cooldown_s": 5, "retry_timeout_s": 4.0},
                       mask={"policy": "forbid"}, sim={"loop": True, "speed": 1.5, "dwell_s": 6.0},
                       web={"enabled": True, "listen": "127.0.0.1:0", "preview_fps": 0})
    added = subprocess.run([sys.executable, "-m", "kiosk", "admin", "add-user", "hr1", "--role", "hr",
                            "--config", str(config)], input=f"{PASSWORD}\n", capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    subprocess.run([sys.executable, "-m", "kiosk", "admin", "add-user", "root", "--role", "admin",
                    "--config", str(config)], input=f"{PASSWORD}\n", check=True, capture_output=True, text=True,
                   timeout=60)
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log_file:
        daemon = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)], stdout=log_file,
                                  stderr=subprocess.STDOUT)
    try:
        url = _web_url(log_path, daemon)
        assert url is not None, log_path.read_text()[-3000:]
        assert f'"console": "{url}admin"' in log_path.read_text()
        web = httpx.Client(base_url=url, timeout=WAIT_S)
        refused = web.get("/admin/persons")
        assert refused.status_code == 303 and refused.headers["location"].startswith("/admin/login?next=")
        assert web.post("/admin/login", data={"name": "hr1", "password": PASSWORD}).status_code == 403
        page = web.get("/admin/login")
        logged = web.post("/admin/login", data={"csrf": _csrf(page.text), "name": "hr1", "password": PASSWORD})
        assert logged.status_code == 303
        assert web.post("/admin/logout", data={}).status_code == 403, "a form without its CSRF token"
        dashboard = web.get("/admin")
        assert dashboard.status_code == 200 and "Health report" in dashboard.text and "uptime_s" in dashboard.text

        # Eileen Collins (the simulator enrolled her at start): erased, then enrolled again from the console
        listed = web.get("/admin/people?q=E1002")
        old = re.search(r'href="(/admin/people/[0-9a-f]+)"', listed.text).group(1)
        erased = web.post(f"{old}/erase", data={"csrf": _csrf(listed.text), "confirm": "E1002", "reason": "test"})
        assert erased.status_code == 200 and "erased Eileen Collins (E1002)" in erased.text
        added = web.post("/admin/people/new", data={"csrf": _csrf(dashboard.text), "employee_no": "E1002",
                                                    "name": "Eileen Collins", "role": "staff"})
        assert added.status_code == 303, added.text[added.text.find("<main>"):][:600]
        person_path = added.headers["location"].split("?")[0]
        form = web.get(f"{person_path}/enroll")
        consent = web.post(f"{person_path}/enroll/consent", data={
            "csrf": _csrf(form.text), "given_by": "Eileen Collins", "agreed": "yes",
            "method": "in person, notice shown on the console"})
        assert consent.status_code == 200, consent.text[-500:]
        enrolled = web.post(f"{person_path}/enroll/photos", data={"csrf": _csrf(consent.text),
                                                                  "held": _held(consent.text)},
                            files=[("photos", ("collins.png", (sim_dir / "collins.png").read_bytes(), "image/png"))])
        assert enrolled.status_code == 200 and "template(s) stored" in enrolled.text, enrolled.text[-800:]
        assert web.get("/admin/events").status_code == 403, "hr does not read the event log"

        # recognised at her next walk-up as the person just enrolled (the simulation gives her a fever: denied)
        admin = httpx.Client(base_url=url, timeout=WAIT_S)
        page = admin.get("/admin/login")
        admin.post("/admin/login", data={"csrf": _csrf(page.text), "name": "root", "password": PASSWORD})
        deadline = time.monotonic() + WALKUPS_S
        while time.monotonic() < deadline and "Eileen Collins (E1002)" not in admin.get(
                "/admin/events?person=E1002").text:
            time.sleep(1.0)
        events = admin.get("/admin/events?person=E1002").text
        assert "Eileen Collins (E1002)" in events, log_path.read_text()[-3000:]

        # the relay test, as the admin, through the daemon's gate
        device = admin.get("/admin/device")
        pulsed = admin.post("/admin/device/relay-test", data={"csrf": _csrf(device.text)})
        assert pulsed.status_code == 200 and "Gate unlocked for 0.5 s" in pulsed.text
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and "relay test by web:root" not in admin.get(
                "/admin/events?type=gate_opened").text:
            time.sleep(0.5)
        events = admin.get("/admin/events?type=gate_opened")
        assert "gate_opened" in events.text

        # from the running kiosk's camera: whoever the simulator shows is taken (a burst of live frames);
        # enrolled, or refused with its reason (often: already enrolled as the person walking up)
        added = web.post("/admin/people/new", data={"csrf": _csrf(web.get("/admin/people/new").text),
                                                    "employee_no": "E9000", "name": "Cam Test", "role": "staff"})
        cam_path = added.headers["location"].split("?")[0]
        form = web.get(f"{cam_path}/enroll")
        consent = web.post(f"{cam_path}/enroll/consent", data={
            "csrf": _csrf(form.text), "agreed": "yes", "method": "in person, notice shown on the console"})
        assert 'id="camera"' in consent.text
        burst = web.post(f"{cam_path}/enroll/camera", data={"csrf": _csrf(consent.text), "held": _held(consent.text)})
        assert (burst.status_code, "template(s) stored" in burst.text) == (200, True) or (
            burst.status_code == 400 and "Not enrolled: " in burst.text), burst.text[-800:]
        assert web.get("/api/health").json()["pipeline_alive"] is True
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, log_path.read_text()[-3000:]
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
