"""What the console needs from the daemon, behind one object the routes share.

In the daemon (kiosk.service.console.console_for): the daemon's store on its store thread (one owner of kiosk.db), its
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

from drivers.camera.base import CameraError, Frame

from ...config import KioskConfig
from .accounts import Accounts, Session
from .burst import SHOTS, BurstCamera, FrameBurst
from .held import HeldConsents
from .limits import LoginLimiter
from .visits import VisitBook

if TYPE_CHECKING:
    from ...face.pipeline import FacePipeline
    from ...recognition.enroll import EnrollReport
    from ...recognition.matching import Matcher
    from ...store import Store

Enroll = Callable[[str, list[tuple[str, bytes]], Any, str], Awaitable["EnrollReport"]]
EnrollBurst = Callable[[str, list[Frame], Any, str], Awaitable["EnrollReport"]]
BURST_WORK_S = 60.0     # a guard: the frames are there already, the work is a few hundred ms

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
    enroll_burst: Optional[EnrollBurst] = None    # (person_id, frames, consent, actor) -> report
    burst: Optional[FrameBurst] = None    # fed with the live camera's frames by the web server
    held_consents: HeldConsents = field(default_factory=HeldConsents)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # Password hashing (32 MiB, 0.1 s each) one at a time: a flood of logins cannot take the memory.
    password_executor: Executor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="admin-pw"))
    clock: Callable[[], float] = time.time
    visits: Optional[VisitBook] = None     # default: in the accounts' file

    def __post_init__(self) -> None:
        if self.visits is None:
            self.visits = VisitBook(self.accounts.path, self.clock)

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


def _enroller(config: KioskConfig, store: Store, faces: FacePipeline, matcher: Optional[Matcher], who: str) -> Any:
    from ...recognition.enroll import Enroller

    return Enroller(store, faces, threshold=faces.threshold_for(config.recognition, 1), matcher=matcher,
                    recognition=config.recognition, allow_duplicates=config.store.allow_duplicate_faces,
                    masked_templates=config.mask.masked_templates, upper_face=config.mask.upper_face, actor=who)


def enroll_with(config: KioskConfig, store: Callable[[], Store], pipeline: Callable[[], FacePipeline],
                executor: Executor, matcher: Callable[[], Optional[Matcher]] = lambda: None
                ) -> tuple[Enroll, EnrollBurst]:
    """Enrollment from photos, and from a burst of camera frames, by the same Enroller as `kiosk enroll` (and
    its `--camera` quality gate) and the MQTT command, on `executor` (the thread that owns the face pipeline)."""
    async def photos(person_id: str, images: list[tuple[str, bytes]], consent: Any, who: str) -> EnrollReport:
        def run() -> EnrollReport:
            enroller = _enroller(config, store(), pipeline(), matcher(), who)
            return enroller.enroll_images(person_id, images, consent, source="web")
        return await asyncio.get_running_loop().run_in_executor(executor, run)

    async def frames(person_id: str, burst: list[Frame], consent: Any, who: str) -> EnrollReport:
        from ...recognition.enroll import EnrollError

        def run() -> EnrollReport:
            if not burst:
                raise EnrollError("no frame came from the camera (see the device's health)")
            enroller = _enroller(config, store(), pipeline(), matcher(), who)
            problems: list[str] = []
            try:
                return enroller.enroll_camera(person_id, BurstCamera(burst), consent, shots=SHOTS,
                                              timeout_s=BURST_WORK_S, min_interval_s=0.0, feedback=problems.append)
            except CameraError:
                usable = len(burst) - len(problems)
                last = problems[-1] if problems else "none"
                raise EnrollError(f"only {usable} of {len(burst)} camera frames were usable, {SHOTS} are needed "
                                  f"(last problem: {last}); the person should face the camera, alone, closer"
                                  ) from None
        return await asyncio.get_running_loop().run_in_executor(executor, run)

    return photos, frames
