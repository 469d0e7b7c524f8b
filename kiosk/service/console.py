"""The web admin console over the daemon's services: its store thread, health, gate and selftest.

Built here, in the service layer, so the console (kiosk.web.admin) knows only the callables it is given.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..web.admin.accounts import Accounts
from ..web.admin.burst import FrameBurst
from ..web.admin.console import Console, enroll_with
from .remote import RemoteCommands

if TYPE_CHECKING:
    from ..store import Store
    from .services import Services


def console_for(services: Services) -> Console:
    """The console over the daemon's services (the gate is started before the console is made)."""
    remote = RemoteCommands(services)

    async def open_gate(reason: str) -> dict[str, Any]:
        return await remote.open_gate({"reason": reason})

    async def selftest() -> dict[str, Any]:
        return await remote.selftest({})

    def store() -> Store:
        return services.store

    photos, frames = enroll_with(services.config, store, lambda: services.pipeline, services.infer,
                                 lambda: services.matcher)
    return Console(config=services.config, accounts=Accounts.in_state_dir(services.config.state_dir), store=store,
                   store_executor=services.store_thread, health=services.health.report, open_gate=open_gate,
                   selftest=selftest, enroll=photos, enroll_burst=frames, burst=FrameBurst())
