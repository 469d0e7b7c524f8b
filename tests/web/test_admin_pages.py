"""Each console page against a real store: what it shows, what each role may do, the audit it leaves."""
from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from admin_support import admin_console, csrf_of, logged_in, post
from web_support import WAIT_S, LiveServer, web_config, welcome

from kiosk.store.clock import to_utc_iso, utc_now
from kiosk.web.admin.dashboard import device_time


@pytest.fixture
def admin(tmp_path: Path):
    with admin_console(tmp_path) as admin:
        yield admin


def _today(admin) -> str:
    return str(device_time(admin.config.device.timezone).date())


def _record(admin, kind: str, person: Any = None, direction: str | None = None, **parts: Any) -> None:
    now = device_time(admin.config.device.timezone)
    event: dict[str, Any] = {"type": kind, "event_id": uuid.uuid4().hex, "device_id": "door-1",
                             "device_time": now.isoformat(timespec="milliseconds"), **parts}
    if person is not None:
        event["person"] = {"person_id": person.person_id, "employee_no": person.employee_no, "name": person.name}
    if direction:
        event["attendance"] = {"direction": direction}
    admin.store.record_event(event)


def _people(admin):
    ann = admin.store.add_person(employee_no="E1", name="Ann <b>Example</b>", role="staff")
    vic = admin.store.add_person(employee_no="V1", name="张伟", role="visitor",
                                 valid_to=to_utc_iso(utc_now() + timedelta(days=2)))
    return ann, vic


# -- dashboard -------------------------------------------------------------------------------------

def test_dashboard_shows_health_todays_counts_and_recent_decisions(admin) -> None:
    ann, _ = _people(admin)
    _record(admin, "access_granted", ann, decision={"outcome": "granted", "reasons": []})
    _record(admin, "attendance", ann, "in")
    page = logged_in(admin, "audrey").get("/admin")
    assert page.status_code == 200 and "Pipeline running" in page.text
    assert "<td>access_granted</td><td>1</td>" in page.text and "2 event(s) since midnight" in page.text
    assert "Ann &lt;b&gt;Example&lt;/b&gt; (E1)" in page.text, "names escaped"
    assert 'data-feed="/admin/decisions"' in page.text


def test_the_last_decisions_are_pushed_live(tmp_path: Path) -> None:
    with admin_console(tmp_path) as admin, LiveServer(web_config(), console=admin.console) as server:
        client = httpx.Client(base_url=server.url, timeout=WAIT_S)
        page = client.get("/admin/login")
        client.post("/admin/login", data={"csrf": csrf_of(page.text), "name": "hana",
                                          "password": "staple 12345678"})
        lines: list[str] = []
        got = threading.Event()

        def read() -> None:
            with client.stream("GET", "/admin/decisions") as response:
                for line in response.iter_lines():
                    lines.append(line)
                    if line.startswith("data: "):
                        got.set()
                        return
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        while server.call(lambda: server.web.screen.clients) == 0:
            threading.Event().wait(0.01)
        server.call(server.web.screen.show, welcome("José"))
        assert got.wait(WAIT_S)
        data = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
        assert data["tone"] == "granted" and data["text"] == "Welcome, José — 36.6 °C"
        assert "event: decision" in lines


# -- attendance ------------------------------------------------------------------------------------

def test_attendance_table_and_exports(admin) -> None:
    ann, vic = _people(admin)
    for person in (ann, vic):
        _record(admin, "attendance", person, "in")
        _record(admin, "attendance", person, "out")
    client = logged_in(admin, "hana")
    today = _today(admin)
    page = client.get(f"/admin/attendance?from={today}&to={today}")
    assert page.status_code == 200 and "Ann &lt;b&gt;Example&lt;/b&gt;" in page.text and "张伟" in page.text
    staff = client.get(f"/admin/attendance?from={today}&to={today}&role=staff").text
    assert "Ann &lt;b&gt;" in staff and "张伟" not in staff
    data = {"from": today, "to": today, "role": ""}
    exported = post(client, "/admin/attendance/export", {**data, "format": "csv"}, "/admin/attendance")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == f'attachment; filename="attendance-door-1-{today}-{today}.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["employee_no"] for r in rows) == ["E1", "V1"] and all(r["first_in"] for r in rows)
    workbook = post(client, "/admin/attendance/export", {**data, "format": "xlsx"}, "/admin/attendance")
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    assert [c.value for c in sheet[1]][:3] == ["day", "employee_no", "name"] and sheet.max_row == 3
    audits = [(r["action"], json.loads(r["detail"]).get("format")) for r in admin.audit()
              if r["detail"] and "attendance report" in r["detail"]]
    assert [a for a in audits if a[0] == "export"] == [("export", "csv"), ("export", "xlsx")]
    assert ("view", None) in audits
    assert all(r["actor"] == "web:hana" for r in admin.audit("export"))


@pytest.mark.parametrize(("query", "error"), [("from=2026-12-31&to=2026-12-01", "is before"),
                                              ("from=yesterday", "is not a date"),
                                              ("from=2020-01-01&to=2026-01-01", "at most 366 days"),
                                              ("role=boss", "not staff or visitor")])
def test_attendance_bad_ranges_are_explained(admin, query: str, error: str) -> None:
    page = logged_in(admin, "root").get(f"/admin/attendance?{query}")
    assert page.status_code == 400 and error in page.text


def test_export_format_is_checked(admin) -> None:
    client = logged_in(admin, "root")
    response = post(client, "/admin/attendance/export", {"format": "pdf"}, "/admin/attendance")
    assert response.status_code == 400 and "not csv or xlsx" in response.text


# -- events and audit ------------------------------------------------------------------------------

def test_events_filtered_and_exported(admin) -> None:
    ann, vic = _people(admin)
    _record(admin, "access_granted", ann, decision={"outcome": "granted", "reasons": []})
    _record(admin, "access_denied", vic, decision={"outcome": "denied", "reasons": ["expired"]})
    client = logged_in(admin, "audrey")
    page = client.get("/admin/events?type=access_denied")
    assert page.status_code == 200 and "expired" in page.text and "Ann &lt;b&gt;" not in page.text
    assert "Ann &lt;b&gt;" in client.get("/admin/events?person=E1").text
    assert client.get("/admin/events?type=bogus").status_code == 400
    assert "no person" in client.get("/admin/events?person=NOPE").text
    exported = post(client, "/admin/events/export", {"type": "", "from": "", "to": "", "person": ""}, "/admin/events")
    events = [json.loads(line) for line in exported.text.splitlines()]
    assert [e["type"] for e in events] == ["access_granted", "access_denied"] and all("signature" in e for e in events)
    [export] = [r for r in admin.audit("export") if '"events"' in r["detail"]]
    assert export["actor"] == "web:audrey"


def test_audit_verify_and_export(admin) -> None:
    _people(admin)
    client = logged_in(admin, "audrey")
    page = client.get("/admin/audit")
    assert page.status_code == 200 and "person_add" in page.text
    verified = post(client, "/admin/audit/verify", {}, "/admin/audit")
    assert verified.status_code == 200 and 'id="verdict"' in verified.text and "audit ledger OK" in verified.text
    exported = post(client, "/admin/audit/export", {"format": "json", "from": "", "to": ""}, "/admin/audit")
    assert exported.status_code == 200 and json.loads(exported.text)["records"]
    commands = [json.loads(r["detail"])["command"] for r in admin.audit("command")]
    assert commands == ["audit verify"]


# -- device ----------------------------------------------------------------------------------------

def test_device_page_redacts_secret_files_and_runs_the_checks(tmp_path: Path) -> None:
    with admin_console(tmp_path, mqtt={"enabled": False, "username": "kiosk", "password_file": "/etc/kiosk/mqtt.pw"}) \
            as admin:
        client = logged_in(admin, "root")
        page = client.get("/admin/device")
        assert page.status_code == 200 and "/etc/kiosk/mqtt.pw" not in page.text and "(set, not shown)" in page.text
        assert 'id = "door-1"' in page.text.replace("&#34;", '"') and "built-in defaults" in page.text
        result = post(client, "/admin/device/selftest", {}, "/admin/device")
        assert result.status_code == 200 and "Selftest passed" in result.text
        relay = post(client, "/admin/device/relay-test", {}, "/admin/device")
        assert relay.status_code == 200 and "Gate unlocked" in relay.text
        assert admin.gate_reasons == ["relay test by web:root"]
        commands = [(r["actor"], json.loads(r["detail"])["command"]) for r in admin.audit("command")]
        assert commands == [("web:root", "selftest"), ("web:root", "relay test")]
        auditor = logged_in(admin, "audrey")
        assert auditor.get("/admin/device").status_code == 200
        assert 'id="relay-test"' not in auditor.get("/admin/device").text
        assert post(auditor, "/admin/device/relay-test", {}, "/admin/device").status_code == 403
        assert admin.gate_reasons == ["relay test by web:root"]


# -- people ----------------------------------------------------------------------------------------

def test_people_search_and_view_are_audited(admin) -> None:
    ann, _ = _people(admin)
    client = logged_in(admin, "audrey")
    page = client.get("/admin/people?q=ann")
    assert "Ann &lt;b&gt;Example" in page.text and "张伟" not in page.text and "1 person(s)" in page.text
    assert "张伟" in client.get("/admin/people?role=visitor").text
    person = client.get(f"/admin/people/{ann.person_id}")
    assert person.status_code == 200 and "E1" in person.text and 'id="erase"' not in person.text
    assert client.get("/admin/people/nobody").status_code == 404
    views = [(r["actor"], json.loads(r["detail"])["what"]) for r in admin.audit("view")]
    assert views == [("web:audrey", "person list"), ("web:audrey", "person list"), ("web:audrey", "person record")]


def test_add_edit_suspend_reactivate_extend_and_erase(admin) -> None:
    client = logged_in(admin, "hana")
    added = post(client, "/admin/people/new", {"employee_no": "E9", "name": "Nia Obi", "role": "visitor",
                                               "valid_days": "1"}, "/admin/people/new")
    assert added.status_code == 303
    path = added.headers["location"].split("?")[0]
    assert "Added." in client.get(added.headers["location"]).text
    edited = post(client, f"{path}/edit", {"name": "Nia Obi-Ade", "employee_no": "E9", "role": "visitor"}, path)
    assert edited.status_code == 200 and "Updated Nia Obi-Ade: employee_no, name, role." in edited.text
    suspended = post(client, f"{path}/suspend", {"reason": "lost badge"}, path)
    assert "is now suspended" in suspended.text and 'id="reactivate"' in suspended.text
    again = post(client, f"{path}/suspend", {}, path)
    assert again.status_code == 400 and "already suspended" in again.text
    assert "is now active" in post(client, f"{path}/reactivate", {}, path).text
    extended = post(client, f"{path}/extend", {"days": "7"}, path)
    assert extended.status_code == 200 and "is valid until" in extended.text
    refused = post(client, f"{path}/erase", {"confirm": "E1", "reason": "request"}, path)
    assert refused.status_code == 400 and "type the employee number E9" in refused.text
    erased = post(client, f"{path}/erase", {"confirm": "E9", "reason": "left"}, path)
    assert erased.status_code == 200 and "erased Nia Obi-Ade (E9)" in erased.text
    actions = [(r["action"], r["outcome"]) for r in admin.audit() if r["actor"] == "web:hana"
               and r["action"] in ("person_add", "person_update", "delete")]
    assert actions == [("person_add", None), ("person_update", "edited"), ("person_update", "suspended"),
                       ("person_update", "reactivated"), ("person_update", "extended"), ("delete", "erased")]
    assert admin.store.verify_audit().ok


@pytest.mark.parametrize(("fields", "error"), [
    ({"employee_no": "V2", "name": "Vi", "role": "visitor"}, "a visitor needs valid_to"),
    ({"employee_no": "V2", "name": "Vi", "role": "visitor", "valid_from": "2026-12-10", "valid_to": "2026-12-01"},
     "is not after valid_from"),
    ({"employee_no": "V2", "name": "Vi", "role": "staff", "valid_days": "soon"}, "valid days: not a number"),
    ({"employee_no": "V2", "name": "Vi", "role": "staff", "valid_to": "next week"}, "is not a date"),
    ({"employee_no": "V2", "name": "Vi", "role": "staff", "schedule": "nights"}, "--schedule"),
])
def test_bad_person_input_is_explained_and_nothing_is_written(admin, fields, error) -> None:
    client = logged_in(admin, "root")
    response = post(client, "/admin/people/new", fields, "/admin/people/new")
    assert response.status_code == 400 and error in response.text
    assert admin.store.persons() == [] and admin.audit("person_add") == []


def test_auditors_cannot_change_people(admin) -> None:
    ann, _ = _people(admin)
    client = logged_in(admin, "audrey")
    path = f"/admin/people/{ann.person_id}"
    for kind in ("edit", "suspend", "erase"):
        assert post(client, f"{path}/{kind}", {"confirm": "E1"}, path).status_code == 403
    assert client.get("/admin/people/new").status_code == 403
    assert admin.store.person("E1").status == "active"


def test_hr_cannot_open_events_audit_or_device(admin) -> None:
    client = logged_in(admin, "hana")
    for path in ("/admin/events", "/admin/audit", "/admin/device"):
        assert client.get(path).status_code == 403, path
    assert client.get("/admin/attendance").status_code == 200 and client.get("/admin/people").status_code == 200


def test_every_page_is_strict_and_not_cached(admin) -> None:
    client = logged_in(admin, "root")
    for path in ("/admin", "/admin/people", "/admin/people/new", "/admin/attendance", "/admin/events",
                 "/admin/audit", "/admin/device"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["cache-control"] == "no-store" and "unsafe" not in page.headers["content-security-policy"]
        assert "<script>" not in page.text and " style=" not in page.text and " onclick" not in page.text, path


def test_the_session_ends_in_a_live_server_after_its_lifetime(tmp_path: Path) -> None:
    with admin_console(tmp_path) as admin, LiveServer(web_config(), console=admin.console) as server:
        client = httpx.Client(base_url=server.url, timeout=WAIT_S, follow_redirects=True)
        page = client.get("/admin/login")
        assert client.post("/admin/login", data={"csrf": csrf_of(page.text), "name": "root",
                                                 "password": "correct horse battery"}).status_code == 200
        assert client.get("/admin/people").status_code == 200
        admin.clock.now += admin.config.web.session_lifetime_s
        assert "Your session has ended" in client.get("/admin/people").text

