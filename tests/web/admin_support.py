"""Helpers of the console tests: a Console over a real store in a temporary state dir, a fake clock, login."""
from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from fake_clock import FakeClock
from starlette.testclient import TestClient

from kiosk.config import KioskConfig, parse_config
from kiosk.store import Store, init_keys
from kiosk.web.admin.accounts import Accounts
from kiosk.web.admin.burst import FrameBurst
from kiosk.web.admin.console import Console, enroll_with
from kiosk.web.admin.limits import LoginLimiter
from kiosk.web.app import create_app
from kiosk.web.screen import ScreenHub

PASSWORDS = {"root": "correct horse battery", "hana": "staple 12345678", "audrey": "read only 12345"}
ROLES = {"root": "admin", "hana": "hr", "audrey": "auditor"}
BASE = "http://127.0.0.1:8080"



def health() -> dict[str, Any]:
    return {"uptime_s": 5.0, "pipeline_alive": True, "fps": {"camera": 15.0}, "alarms": {}}


@dataclass
class Admin:
    config: KioskConfig
    console: Console
    store: Store
    clock: FakeClock
    screen: ScreenHub
    gate_reasons: list[str] = field(default_factory=list)

    def client(self) -> TestClient:
        return TestClient(create_app(self.screen, health, console=self.console), base_url=BASE)

    def audit(self, action: Optional[str] = None) -> list[dict[str, Any]]:
        return [r for r in self.store.audit_records() if action is None or r["action"] == action]


@contextmanager
def admin_console(tmp_path: Path, pipeline: Any = None, **sections: Any) -> Iterator[Admin]:
    """`pipeline`: a FacePipeline for enrollment (None: the console has no enrollment)."""
    state = tmp_path / "state"
    config = parse_config({"device": {"id": "door-1", "state_dir": str(state), "timezone": "Europe/Berlin"},
                           "web": {"enabled": True, "listen": "127.0.0.1:0"}, **sections})
    init_keys(config.keys_dir)
    store = Store.open(config)
    clock = FakeClock(1_800_000_000.0)
    accounts = Accounts.in_state_dir(config.state_dir, clock)
    for name, role in ROLES.items():
        accounts.add(name, role, PASSWORDS[name])
    executor = ThreadPoolExecutor(1, thread_name_prefix="store")
    reasons: list[str] = []

    async def open_gate(reason: str) -> dict[str, Any]:
        reasons.append(reason)
        return {"opened": True, "duration_s": 1.0}

    async def selftest() -> dict[str, Any]:
        return {"ok": True, "health": health()}

    photos, frames = enroll_with(config, lambda: store, lambda: pipeline, executor) if pipeline else (None, None)
    console = Console(config=config, accounts=accounts, store=lambda: store, store_executor=executor,
                      health=health, open_gate=open_gate, selftest=selftest, enroll=photos, enroll_burst=frames,
                      burst=FrameBurst(timeout_s=3.0) if pipeline else None, limiter=LoginLimiter(clock), clock=clock)
    try:
        yield Admin(config, console, store, clock, ScreenHub("en"), reasons)
    finally:
        executor.shutdown()
        console.password_executor.shutdown()
        store.close()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "a form with its CSRF token"
    return match.group(1)


def login(client: TestClient, name: str, password: Optional[str] = None, next_path: str = "/admin") -> Any:
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"csrf": csrf_of(page.text), "name": name,
                                             "password": PASSWORDS[name] if password is None else password,
                                             "next": next_path}, follow_redirects=False)


def logged_in(admin: Admin, name: str) -> TestClient:
    client = admin.client()
    response = login(client, name)
    assert response.status_code == 303, response.text
    return client


def post(client: TestClient, path: str, data: dict[str, Any], page: Optional[str] = None, **kwargs: Any) -> Any:
    """POST a console form with the CSRF token of the page it is on (`page`, default the dashboard)."""
    token = csrf_of(client.get(page or "/admin").text)
    return client.post(path, data={"csrf": token, **data}, follow_redirects=False, **kwargs)
