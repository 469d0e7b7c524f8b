"""Visitors: pre-registration with host, purpose and window; the one-time self-enrollment link."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from admin_support import admin_console, logged_in, post

from kiosk.web.admin.visits import MAX_ATTEMPTS

VISIT = {"name": "Vera Visitor", "employee_no": "", "host": "Ann Example", "purpose": "audit <meeting>",
         "valid_from": "", "valid_to": "2099-12-31", "link": "yes", "link_hours": "24"}


@pytest.fixture
def admin(tmp_path: Path, pipeline):
    with admin_console(tmp_path, pipeline) as admin:
        yield admin


def _register(client, **fields):
    return post(client, "/admin/visitors/new", {**VISIT, **fields}, "/admin/visitors/new")


def _link(page: str) -> str:
    return re.search(r'<code id="link">http://127\.0\.0\.1:8080(/enroll/[^<]+)</code>', page).group(1)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _held(page: str) -> str:
    return re.search(r'name="held" value="([^"]+)"', page).group(1)


def test_register_a_visitor_with_host_purpose_and_window(admin) -> None:
    client = logged_in(admin, "hana")
    done = _register(client)
    assert done.status_code == 200 and "visiting Ann Example (audit &lt;meeting&gt;)" in done.text
    [person] = admin.store.persons(role="visitor")
    assert person.name == "Vera Visitor" and person.employee_no.startswith("V-") and person.valid_to
    listing = client.get("/admin/visitors")
    assert "Ann Example" in listing.text and "open until" in listing.text
    [added] = admin.audit("person_add")
    assert added["actor"] == "web:hana"
    [made] = [r for r in admin.audit("command") if r["outcome"] == "link_created"]
    assert made["person_id"] == person.person_id
    token = _link(done.text).rsplit("/", 1)[1]
    assert token not in (admin.config.state_dir / "admin.db").read_bytes().decode("latin-1"), "kept hashed"


@pytest.mark.parametrize(("fields", "error"), [
    ({"valid_from": "2099-12-31", "valid_to": "2099-12-01"}, "is not after valid_from"),
    ({"valid_to": ""}, "give the end of the visit"),
    ({"host": ""}, "give the host"),
    ({"link_hours": "1000"}, "at most 168 hours"),
    ({"link_hours": "soon"}, "not a number"),
])
def test_bad_visits_are_explained_and_nothing_is_written(admin, fields, error) -> None:
    response = _register(logged_in(admin, "hana"), **fields)
    assert response.status_code == 400 and error in response.text
    assert admin.store.persons() == []


def test_the_visitor_enrolls_with_the_link_once(admin, sim_dir: Path) -> None:
    link = _link(_register(logged_in(admin, "root")).text)
    visitor = admin.client()           # no account, no session
    page = visitor.get(link)
    assert page.status_code == 200 and "Hello Vera Visitor" in page.text and "privacy notice" in page.text
    assert 'type="file"' not in page.text
    assert visitor.post(f"{link}/consent", data={"agreed": "yes"}).status_code == 403, "needs its form token"
    refused = visitor.post(f"{link}/consent", data={"csrf": _csrf(page.text)})
    assert refused.status_code == 400 and "You have not agreed" in refused.text
    consent = visitor.post(f"{link}/consent", data={"csrf": _csrf(page.text), "agreed": "yes"})
    assert consent.status_code == 200 and 'type="file"' in consent.text
    [record] = admin.audit("consent")
    assert record["actor"] == "link:root" and json.loads(record["detail"])["method"].startswith("self-enrollment")
    blank = visitor.post(f"{link}/photo", data={"csrf": _csrf(consent.text), "held": _held(consent.text)},
                         files=[("photo", ("x.jpg", b"not an image", "image/jpeg"))])
    assert blank.status_code == 400 and "not a readable image" in blank.text
    photo = (sim_dir / "obama_enroll.jpg").read_bytes()
    done = visitor.post(f"{link}/photo", data={"csrf": _csrf(blank.text), "held": _held(blank.text)},
                        files=[("photo", ("me.jpg", photo, "image/jpeg"))])
    assert done.status_code == 200 and "Done, Vera Visitor" in done.text
    [person] = admin.store.persons(role="visitor")
    assert admin.store.templates(person.person_id) and admin.audit("enroll")[0]["actor"] == "link:root"
    again = visitor.get(link)
    assert again.status_code == 404 and "not valid" in again.text, "used once"


def test_links_expire_and_unknown_links_say_nothing(admin) -> None:
    link = _link(_register(logged_in(admin, "hana"), link_hours="1").text)
    assert admin.client().get(link).status_code == 200
    admin.clock.now += 3601
    assert admin.client().get(link).status_code == 404
    assert admin.client().get("/enroll/made-up-token").status_code == 404
    assert admin.client().post("/enroll/made-up-token/photo", files=[("photo", ("x", b"x" * 100, "image/jpeg"))]
                               ).status_code == 404


def test_a_new_link_replaces_the_old_and_attempts_are_limited(admin) -> None:
    client = logged_in(admin, "hana")
    old = _link(_register(client).text)
    [person] = admin.store.persons(role="visitor")
    new = _link(post(client, f"/admin/visitors/{person.person_id}/link", {}, "/admin/visitors").text)
    assert admin.client().get(old).status_code == 404 and admin.client().get(new).status_code == 200
    visitor = admin.client()
    page = visitor.get(new)
    consent = visitor.post(f"{new}/consent", data={"csrf": _csrf(page.text), "agreed": "yes"})
    for _ in range(MAX_ATTEMPTS):
        consent = visitor.post(f"{new}/photo", data={"csrf": _csrf(consent.text), "held": _held(consent.text)},
                               files=[("photo", ("x.jpg", b"nope", "image/jpeg"))])
    assert visitor.get(new).status_code == 404, "no attempts left"


def test_auditors_see_visitors_but_cannot_register(admin) -> None:
    _register(logged_in(admin, "hana"))
    auditor = logged_in(admin, "audrey")
    assert "Vera Visitor" in auditor.get("/admin/visitors").text
    assert auditor.get("/admin/visitors/new").status_code == 403
    assert post(auditor, "/admin/visitors/new", VISIT, "/admin/visitors").status_code == 403
