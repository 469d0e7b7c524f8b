"""Enrollment in the console: the notice and the consent first, then the photos; every refusal says why."""
from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from admin_support import admin_console, logged_in, post
from web_support import WAIT_S

from drivers.camera.base import Frame

CONSENT = {"given_by": "", "method": "in person, notice shown on the console", "agreed": "yes"}


@pytest.fixture
def admin(tmp_path: Path, pipeline):
    with admin_console(tmp_path, pipeline) as admin:
        admin.ann = admin.store.add_person(employee_no="E1", name="Ann Example", role="staff")
        yield admin


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def _consent(client, admin, **fields) -> tuple[int, str, str]:
    """Record the consent; returns (status, page, held id)."""
    path = f"/admin/people/{admin.ann.person_id}/enroll"
    response = post(client, f"{path}/consent", {**CONSENT, **fields}, path)
    held = response.text.split('name="held" value="')[1].split('"')[0] if 'name="held"' in response.text else ""
    return response.status_code, response.text, held


def _upload(client, admin, held: str, files: list[tuple[str, bytes]]):
    path = f"/admin/people/{admin.ann.person_id}/enroll"
    return post(client, f"{path}/photos", {"held": held}, path,
                files=[("photos", (name, data, "image/jpeg")) for name, data in files])


def test_the_notice_is_shown_and_consent_comes_before_any_photo(admin, sim_dir: Path) -> None:
    client = logged_in(admin, "hana")
    form = client.get(f"/admin/people/{admin.ann.person_id}/enroll")
    assert form.status_code == 200 and "privacy notice (version v1)" in form.text
    assert 'type="file"' not in form.text, "no upload before the consent"
    status, page, held = _consent(client, admin, scope_keep_images="yes")
    assert status == 200 and "Consent recorded (notice v1, by Ann Example)" in page and held
    [record] = admin.audit("consent")
    detail = json.loads(record["detail"])
    assert record["actor"] == "web:hana" and record["person_id"] == admin.ann.person_id
    assert detail["notice_version"] == "v1" and len(detail["notice_sha256"]) == 64
    assert detail["scope"] == ["local", "keep_images"]
    done = _upload(client, admin, held, [("ann.jpg", (sim_dir / "obama_enroll.jpg").read_bytes())])
    assert done.status_code == 200 and "template(s) stored" in done.text
    [enroll] = admin.audit("enroll")
    assert enroll["actor"] == "web:hana" and enroll["seq"] > record["seq"]
    assert admin.store.consent(admin.ann.person_id).consent_id == detail["consent_id"]
    again = _upload(client, admin, held, [("ann.jpg", (sim_dir / "obama_enroll.jpg").read_bytes())])
    assert again.status_code == 400 and "record the consent first" in again.text, "a consent is used once"


@pytest.mark.parametrize(("fields", "error"), [
    ({"agreed": ""}, "Consent not given"),
    ({"minor": "yes"}, "guardian"),
    ({"method": "shouted"}, "Say how the consent was given"),
])
def test_no_consent_no_upload(admin, fields, error) -> None:
    client = logged_in(admin, "hana")
    status, page, held = _consent(client, admin, **fields)
    assert status == 400 and error in page and not held and admin.audit("consent") == []


def test_an_upload_without_a_held_consent_is_refused_before_reading_it(admin, sim_dir: Path) -> None:
    client = logged_in(admin, "hana")
    response = _upload(client, admin, "made-up", [("ann.jpg", (sim_dir / "obama_enroll.jpg").read_bytes())])
    assert response.status_code == 400 and "record the consent first" in response.text
    assert admin.audit("enroll") == [] and admin.store.templates(admin.ann.person_id) == []


def test_a_consent_is_for_its_account_only(admin, sim_dir: Path) -> None:
    _, _, held = _consent(logged_in(admin, "hana"), admin)
    other = logged_in(admin, "root")
    response = _upload(other, admin, held, [("ann.jpg", (sim_dir / "obama_enroll.jpg").read_bytes())])
    assert response.status_code == 400 and admin.store.templates(admin.ann.person_id) == []


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header says width x height, with a token of pixel data: refused before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64)))
            + chunk(b"IEND", b""))


def _refusal(admin, files) -> str:
    client = logged_in(admin, "hana")
    _, _, held = _consent(client, admin)
    enrolls = len(admin.audit("enroll"))
    response = _upload(client, admin, held, files)
    assert response.status_code == 400, response.text[:300]
    assert admin.store.templates(admin.ann.person_id) == [] and len(admin.audit("enroll")) == enrolls
    return response.text


def test_refusals_say_why(admin, sim_dir: Path) -> None:
    face = cv2.imread(str(sim_dir / "obama_enroll.jpg"))
    other = cv2.imread(str(sim_dir / "biden.jpg"))
    other = cv2.resize(other, (face.shape[1] * other.shape[0] // other.shape[0], face.shape[0]))
    pair = np.hstack([face, cv2.resize(other, (face.shape[1], face.shape[0]))])
    tiny = cv2.resize(face, (48, 48))
    cases = {"blank.jpg": (_jpeg(np.full((480, 640, 3), 128, np.uint8)), "no face"),
             "text.jpg": (b"hello, not an image", "not a readable image"),
             "huge.png": (_png_header(20000, 20000), "MP"),
             "two.jpg": (_jpeg(pair), "2 faces in the photo"),
             "tiny.jpg": (_jpeg(tiny), "the face is too small")}
    for name, (data, reason) in cases.items():
        page = _refusal(admin, [(name, data)])
        assert "Not enrolled" in page and name in page and reason in page, (name, page[page.find("error"):][:400])


def test_a_duplicate_is_refused_naming_the_other_person(admin, sim_dir: Path) -> None:
    bob = admin.store.add_person(employee_no="E2", name="Bob Other", role="staff")
    client = logged_in(admin, "hana")
    path = f"/admin/people/{bob.person_id}/enroll"
    response = post(client, f"{path}/consent", {**CONSENT}, path)
    held = response.text.split('name="held" value="')[1].split('"')[0]
    photo = (sim_dir / "obama_enroll.jpg").read_bytes()
    assert post(client, f"{path}/photos", {"held": held}, path,
                files=[("photos", ("b.jpg", photo, "image/jpeg"))]).status_code == 200
    page = _refusal(admin, [("a.jpg", photo)])
    assert "already enrolled as Bob Other (E2" in page


def test_an_oversized_upload_is_refused_whole(admin) -> None:
    client = logged_in(admin, "hana")
    _, _, held = _consent(client, admin)
    response = _upload(client, admin, held, [("big.jpg", b"\xff" * (11 * 1024 * 1024))])
    assert response.status_code == 413 and admin.audit("enroll") == []


def test_auditors_cannot_enroll(admin) -> None:
    client = logged_in(admin, "audrey")
    assert client.get(f"/admin/people/{admin.ann.person_id}/enroll").status_code == 403


# -- from the running kiosk's camera (a burst of the frames the web server is offered) ------------

def _feed(admin, image: np.ndarray, frames: int = 14) -> threading.Thread:
    """Offer frames 0.3 s apart (by their timestamps) once the burst is armed, as the daemon's loop would."""
    def run() -> None:
        deadline = time.monotonic() + WAIT_S
        while not admin.console.burst.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        start = time.monotonic()
        for seq in range(frames):
            admin.console.burst.offer(Frame(image, start + 0.3 * seq, seq))
    feeder = threading.Thread(target=run, daemon=True)
    feeder.start()
    return feeder


def _camera(client, admin, held: str):
    path = f"/admin/people/{admin.ann.person_id}/enroll"
    return post(client, f"{path}/camera", {"held": held}, path)


def test_enrollment_from_a_burst_of_the_live_camera(admin, sim_dir: Path) -> None:
    client = logged_in(admin, "hana")
    _, page, held = _consent(client, admin)
    assert 'id="camera"' in page
    _feed(admin, cv2.imread(str(sim_dir / "obama_enroll.jpg")))
    done = _camera(client, admin, held)
    assert done.status_code == 200 and "template(s) stored" in done.text, done.text[-600:]
    assert done.text.count("camera frame") >= 3
    [enroll] = admin.audit("enroll")
    assert enroll["actor"] == "web:hana" and json.loads(enroll["detail"])["source"] == "camera"
    assert not admin.console.burst.busy


def test_a_burst_without_a_usable_face_says_why(admin) -> None:
    client = logged_in(admin, "hana")
    _, _, held = _consent(client, admin)
    _feed(admin, np.full((480, 640, 3), 90, np.uint8))
    refused = _camera(client, admin, held)
    assert refused.status_code == 400 and "only 0 of 12 camera frames were usable" in refused.text
    assert "no face found" in refused.text and admin.store.templates(admin.ann.person_id) == []
    nothing = _camera(client, admin, held)     # nobody feeds: the burst times out
    assert nothing.status_code == 400 and "no frame came from the camera" in nothing.text
