"""The daemon's services, built once at start: everything the stages and the remote commands use.

`build_services(config)` opens them in order and fails with a one-line StartupError (a missing model, a bad key
or calibration, a store that cannot record, a display or relay that cannot be opened); whatever it had opened by
then is closed again. Blocking set-up runs off the event loop: the face pipeline is created on the inference
thread that will run it (its interpreters are not thread-safe), and so is everything that uses it at start (the
simulator's demo enrollment).

The MQTT service is created here but started by the daemon, once the remote commands are registered; the web
server is bound by the daemon as its last start-up step. The gate is started here (locked).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

from drivers.relay.base import RelayError

from ..access.attendance import LEDGER_FILE, Attendance, open_ledger
from ..access.feedback import Feedback, FeedbackError
from ..access.gate import GateController
from ..access.policy import unknown_schedules
from ..config import KioskConfig
from ..face.pipeline import FacePipeline
from ..hardware import needs_simulator
from ..recognition.matching import Matcher
from ..recognition.recognizer import Recognizer
from ..store import Store
from ..thermal import Calibration, calibration_for_config
from .health import HealthMonitor
from .stages.event_writer import EventWriter
from .timesync import ClockWatch

if TYPE_CHECKING:
    from ..mqtt import MqttService
    from ..sim.world import SimWorld
    from ..web.server import WebServer

log = logging.getLogger("kiosk.daemon")


class StartupError(Exception):
    """The daemon cannot start (missing model, bad key or calibration, a relay, door line, display or outbox
    that cannot be opened): one line for the operator."""


@dataclass(frozen=True)
class Services:
    config: KioskConfig
    config_path: Optional[Path]            # where `reload_config` reads the configuration again (None: default)
    health: HealthMonitor
    clock: ClockWatch
    infer: ThreadPoolExecutor              # the one thread that runs the face pipeline
    store_thread: ThreadPoolExecutor       # the one thread that uses kiosk.db
    pipeline: FacePipeline
    store: Store
    calibration: Calibration
    attendance: Attendance
    matcher: Matcher
    upper_matcher: Matcher                 # the upper-face gallery, for masked faces
    recognizer: Recognizer
    writer: EventWriter
    feedback: Feedback
    gate: GateController                   # started (locked); the daemon locks and stops it last
    close_store: Callable[[], None] = field(repr=False)   # unhooks the matchers from the store, closes it
    mqtt: Optional[MqttService] = None     # [mqtt] enabled: created, not started
    web: Optional[WebServer] = None        # [web] enabled: created, not bound
    world: Optional[SimWorld] = None       # the simulator, when a device is simulated

    async def close(self) -> None:
        """After the stages have stopped and the events are written: the screen, the store, the executors.
        The gate is not touched (the daemon locked it first and stops it last)."""
        self.feedback.close()
        await asyncio.get_running_loop().run_in_executor(self.store_thread, self.close_store)
        self.infer.shutdown(wait=False, cancel_futures=True)
        self.store_thread.shutdown(wait=False)


class _Loaded(NamedTuple):
    """What `_load` builds on the inference thread."""
    pipeline: FacePipeline
    store: Store
    calibration: Calibration
    attendance: Attendance
    matcher: Matcher
    upper_matcher: Matcher
    recognizer: Recognizer
    world: Optional[SimWorld]
    close: Callable[[], None]        # unhook the matchers from the store, close it


async def build_services(config: KioskConfig, config_path: Optional[Path] = None) -> Services:
    """Open every service in order (see the module docstring); StartupError with one line if one cannot be."""
    loop = asyncio.get_running_loop()
    health = HealthMonitor(config.health.stall_s)
    clock = ClockWatch(health)
    infer = ThreadPoolExecutor(1, thread_name_prefix="infer")
    store_thread = ThreadPoolExecutor(1, thread_name_prefix="store")
    async with AsyncExitStack() as undo:          # on an error: close what was opened, newest first
        undo.callback(store_thread.shutdown, wait=False)
        undo.callback(infer.shutdown, wait=False, cancel_futures=True)
        loaded = await loop.run_in_executor(infer, _load, config, health)
        undo.callback(loaded.close)
        writer = EventWriter(loaded.store, store_thread, health, clock_synchronised=lambda: clock.synchronised)
        if config.gate.open_before_recorded:
            log.warning("gate.open_before_recorded = true: a grant opens the gate before its event is recorded; a "
                        "crash or a failing disk can leave an opening unrecorded")
        feedback = Feedback(config)
        try:
            await loop.run_in_executor(None, feedback.start)   # an OpenCV window may take seconds
        except FeedbackError as exc:
            raise StartupError(str(exc)) from None
        undo.callback(feedback.close)
        gate = GateController.from_config(config)
        try:
            await gate.start()
        except (RelayError, OSError) as exc:
            raise StartupError(f"gate: {exc}") from None
        health.gauge("gate", lambda: {"unlocked": gate.unlocked, **gate.health.as_dict()})
        health.gauge("clock", lambda: clock.state.as_dict())
        world = loaded.world
        if world is not None:     # how much the simulated scene has waited for the kiosk (kiosk/sim/pacing.py)
            health.gauge("sim", lambda: {"paced": world.pacing is not None, **world.clock.waited()})
        mqtt = _mqtt_service(config, loaded.store, store_thread, health) if config.mqtt.enabled else None
        services = Services(config=config, config_path=config_path, health=health, clock=clock, infer=infer,
                            store_thread=store_thread, pipeline=loaded.pipeline, store=loaded.store,
                            calibration=loaded.calibration, attendance=loaded.attendance, matcher=loaded.matcher,
                            upper_matcher=loaded.upper_matcher, recognizer=loaded.recognizer, writer=writer,
                            feedback=feedback, gate=gate, mqtt=mqtt, world=loaded.world,
                            close_store=loaded.close)
        if config.web.enabled:     # last: the admin console works through the services
            from ..web.server import WebServer
            from .console import console_for
            web = WebServer(config, health.report, console=console_for(services))
            feedback.subscribe(web.screen.show)
            services = dataclasses.replace(services, web=web)
        undo.pop_all()
    return services


def _mqtt_service(config: KioskConfig, store: Store, store_thread: ThreadPoolExecutor,
                  health: HealthMonitor) -> MqttService:
    from ..mqtt import MqttService, audit_to_store

    mqtt = MqttService(config, store, audit=audit_to_store(store), store_executor=store_thread)
    health.gauge("mqtt", lambda: {"connected": mqtt.connected, "alarms": sorted(mqtt.alarms)})
    return mqtt


def _load(config: KioskConfig, health: HealthMonitor) -> _Loaded:
    """Blocking set-up, on the inference thread (the pipeline then stays on that thread)."""
    from ..face.errors import PIPELINE_SETUP_ERRORS
    from ..store.errors import StoreError
    from ..thermal import CalibrationError

    with ExitStack() as undo:
        try:
            pipeline = FacePipeline(config.face, config.models_dir)
        except PIPELINE_SETUP_ERRORS as exc:
            raise StartupError(str(exc)) from None
        try:
            store = Store.open(config)
            undo.callback(store.close)
            store.check_writable()     # a store that cannot record must not let anyone in
        except StoreError as exc:
            raise StartupError(str(exc)) from None
        try:
            calibration = calibration_for_config(config)
        except CalibrationError as exc:
            raise StartupError(str(exc)) from None
        try:
            attendance = open_ledger(config, store)    # a damaged ledger is rebuilt from the event log
        except OSError as exc:
            raise StartupError(f"{config.state_dir / LEDGER_FILE}: {exc.strerror or exc}") from None
        metric = str(pipeline.metric)
        matcher = Matcher.from_store(store, pipeline.model_id, metric=metric)
        _warn_people_of_another_model(store, matcher, pipeline.model_id)
        _alarm_unknown_schedules(store, config, health)
        # Masked faces are matched by the upper face (config mask.upper_face) in a gallery of their own.
        upper_matcher = Matcher.from_store(store, pipeline.upper_model_id, metric=metric)
        for stop in (matcher.follow(store), upper_matcher.follow(store)):
            undo.callback(stop)
        try:
            recognizer = Recognizer(config, pipeline, matcher, store, calibration, upper_matcher=upper_matcher)
        except PIPELINE_SETUP_ERRORS as exc:   # no threshold for the configured security level
            raise StartupError(str(exc)) from None
        # Level, N, threshold, expected FPIR/FNIR and any warning that the level cannot be met at this N.
        health.gauge("security", lambda: recognizer.security_now().as_dict())
        # The same for masked faces, matched by the upper face in a gallery of their own (None: matched whole).
        health.gauge("security_upper_face", lambda: _as_dict(recognizer.upper_security_now()))
        world = _start_simulator(config, pipeline, store, matcher, recognizer) if needs_simulator(config) else None
        return _Loaded(pipeline, store, calibration, attendance, matcher, upper_matcher, recognizer, world,
                       undo.pop_all().close)


def _as_dict(point: Any) -> Optional[dict]:
    return point.as_dict() if point is not None else None


def _warn_people_of_another_model(store: Store, matcher: Matcher, model_id: str) -> None:
    """After a model change (e.g. `face.embedder = "auto"` taking a newly installed model) enrolled
    people have no templates of the active model and are not recognised until re-embedded."""
    people = len(store.persons())
    missing = people - matcher.person_count
    if missing > 0:
        log.warning("%d of %d enrolled people have no templates of the active model %s and will not be "
                    "recognised: run `kiosk person reembed`", missing, people, model_id)


def _alarm_unknown_schedules(store: Store, config: KioskConfig, health: HealthMonitor) -> None:
    """Persons whose schedule is not in access.schedules (renamed or removed) are denied 'invalid_schedule';
    not a reason to stay down (a fleet record may name a schedule this kiosk lacks), but an alarm."""
    unknown = unknown_schedules(store.persons(), config)
    if unknown:
        detail = "; ".join(f"'{name}': {', '.join(who)}" for name, who in sorted(unknown.items()))
        health.raise_alarm("schedules", f"no such schedule in access.schedules for {detail}")
        log.error("persons name schedules that access.schedules does not have (denied invalid_schedule): %s",
                  detail)


def _start_simulator(config: KioskConfig, pipeline: FacePipeline, store: Store, matcher: Matcher,
                     recognizer: Recognizer) -> SimWorld:
    from ..recognition.enroll import Enroller
    from ..sim.demo import enroll_demo_staff
    from ..sim.world import SimulationError, SimWorld
    try:
        world = SimWorld.from_config(config, pipeline.detector)
    except (SimulationError, ValueError) as exc:
        raise StartupError(f"simulator: {exc}") from None
    enroller = Enroller(store, pipeline, threshold=recognizer.duplicate_threshold, matcher=matcher,
                        recognition=config.recognition, allow_duplicates=config.store.allow_duplicate_faces,
                        masked_templates=config.mask.masked_templates,
                        upper_face=config.mask.upper_face, actor="sim")
    enroll_demo_staff(enroller, config.sim_assets_dir)
    return world
