"""What the console needs from the daemon, behind one object the routes share.

In the daemon (`for_daemon`): the daemon's store on its store thread (one owner of kiosk.db), its
health report, its gate (relay test, through the same code as the MQTT `open_gate` command) and
its selftest answer. Tests build a Console over a store of their own.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from ...config import KioskConfig
from .accounts import Accounts, Session
from .held import HeldConsents
from .limits import LoginLimiter

if TYPE_CHECKING:
    from ...daemon import Daemon
    from ...enroll import EnrollReport
    from ...face.pipeline import FacePipeline
    from ...matching import Matcher
    from ...store import Store

Enroll = Callable[[str, list[tuple[str, bytes]], dict[str, Any], str], Awaitable["EnrollReport"]]

T = TypeVar("T")


@dataclass
class Console:
    config: KioskConfig
    accounts: Accounts
    store: Callable[[], Store]
    store_executor: Executor
    health: Callable[[], dict[str, Any]]
    open_gate: Optional[Callable[[str], Awaitable[dict[str, Any]]]] = None    # reason -> result
    selftest: Optional[Callable[[], Awaitable[dict[str, Any]]]] = None
    enroll: Optional[Enroll] = None       # (person_id, [(name, bytes)], consent, actor) -> report
    held_consents: HeldConsents = field(default_factory=HeldConsents)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # Password hashing (32 MiB, 0.1 s each) one at a time: a flood of logins cannot take the memory.
    password_executor: Executor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="admin-pw"))
    clock: Callable[[], float] = time.time

    async def in_store(self, fn: Callable[[Store], T]) -> T:
        """Run `fn(store)` on the store's thread."""
        store = self.store()
        return await asyncio.get_running_loop().run_in_executor(self.store_executor, fn, store)

    async def audit(self, session: Session, action: str, *, outcome: Optional[str] = None,
                    person_id: Optional[str] = None, detail: Optional[dict[str, Any]] = None) -> None:
        """One audit record with the account as the actor ('web:<name>')."""
        await self.in_store(lambda store: store.audit(action, actor=actor(session), outcome=outcome,
                                                      person_id=person_id, detail=detail))


def actor(session: Session) -> str:
    return f"web:{session.account.name}"


def enroll_with(config: KioskConfig, store: Callable[[], Store], pipeline: Callable[[], FacePipeline],
                executor: Executor, matcher: Callable[[], Optional[Matcher]] = lambda: None) -> Enroll:
    """Enrollment from photos by the same Enroller as `kiosk enroll` and the MQTT command, on `executor` (the
    thread that owns the face pipeline)."""
    async def enroll(person_id: str, images: list[tuple[str, bytes]], consent: dict[str, Any],
                     who: str) -> EnrollReport:
        from ...enroll import Enroller

        def run() -> EnrollReport:
            faces = pipeline()
            enroller = Enroller(store(), faces, threshold=faces.threshold_for(config.recognition, 1),
                                matcher=matcher(), recognition=config.recognition,
                                allow_duplicates=config.store.allow_duplicate_faces,
                                masked_templates=config.mask.masked_templates, upper_face=config.mask.upper_face,
                                actor=who)
            return enroller.enroll_images(person_id, images, consent, source="web")
        return await asyncio.get_running_loop().run_in_executor(executor, run)
    return enroll


def for_daemon(daemon: Daemon) -> Console:
    """The console over a running daemon (its attributes are read when used: the gate comes after the web)."""
    from ...remote import RemoteCommands

    remote = RemoteCommands(daemon)

    async def open_gate(reason: str) -> dict[str, Any]:
        return await remote.open_gate({"reason": reason})

    async def selftest() -> dict[str, Any]:
        return await remote.selftest({})

    def store() -> Store:
        assert daemon.store is not None, "the store opens before the web server is made"
        return daemon.store

    enroll = enroll_with(daemon.config, store, lambda: daemon.pipeline, daemon.infer, lambda: daemon.matcher)
    return Console(config=daemon.config, accounts=Accounts.in_state_dir(daemon.config.state_dir), store=store,
                   store_executor=daemon.store_thread, health=daemon.health.report, open_gate=open_gate,
                   selftest=selftest, enroll=enroll)
