"""The kiosk daemon: one asyncio loop, one task per stage.

    camera reader thread --LatestQueue(drops stale frames)--> recognition (inference thread)
    thermal reader thread --newest frame only--------------/        |
                                                                     v
    decision (tracker + policy) --> gate controller (relay thread), feedback
                 |
                 v  events (never dropped)
    event writer: sign + local event log (store thread) --> MQTT durable outbox --> broker
                  (a grant opens the gate only once its events are in the local log)
    health (log, MQTT, systemd watchdog fed only while results flow), retention, door inputs
    web server ([web] enabled): the kiosk screen, pushed each change of the feedback screen (not each frame)

Blocking work never runs on the loop: devices have their own reader threads, inference runs in
one dedicated thread, SQLite in one store thread. SIGTERM/SIGINT lock the gate at once, then
stop the stages and flush pending events within about two seconds.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from drivers.camera.base import Camera, Frame
from drivers.gpio_inputs import InputError
from drivers.relay.base import RelayError
from drivers.thermal.base import ThermalFrame, ThermalSensor

from . import timesync
from .attendance import LEDGER_FILE, open_ledger
from .config import ConfigError, KioskConfig, load_config
from .door import DoorWatcher, build_inputs
from .event_writer import EventWriter
from .face.pipeline import FacePipeline
from .feedback import Feedback, FeedbackError
from .gate import GateController
from .hardware import build_camera, build_thermal, needs_simulator
from .health import HealthMonitor
from .matching import Matcher
from .policy import describe, unknown_schedules
from .recognizer import FrameResult, Recognizer
from .runtime.queues import LatestQueue
from .runtime.reader import DeviceReader, wait_stopped
from .sdnotify import Notifier
from .store import MatchAttempt, Store
from .thermal import calibration_for_config
from .tracker import Step, Tracker

if TYPE_CHECKING:
    from .web.server import WebServer

log = logging.getLogger("kiosk.daemon")
decisions_log = logging.getLogger("kiosk.decision")

SHUTDOWN_BUDGET_S = 1.5       # stages + event flush; the gate is locked before this starts
STORE_POLL_S = 2.0            # how often changes made by other processes (the CLI) are looked for
ATTENDANCE_SAVE_S = 5.0


class StartupError(Exception):
    """The daemon cannot start (missing model, bad key or calibration, a relay, door line, display or outbox
    that cannot be opened): one line for the operator."""


class OpenOnRead:
    """A device that is (re)opened by its reader thread: a camera unplugged at start or later is retried
    with backoff instead of stopping the daemon; its health says what is wrong meanwhile."""

    def __init__(self, device: Camera | ThermalSensor, timeout_s: float) -> None:
        self.device = device
        self.timeout_s = timeout_s
        self._open = False

    def read(self) -> Frame | ThermalFrame:
        if not self._open:
            self.device.open()
            self._open = True
        try:
            return self.device.read(self.timeout_s)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self.device.close()
            except Exception:
                log.exception("closing %s", type(self.device).__name__)


class Daemon:
    def __init__(self, config: KioskConfig, config_path: Optional[Path] = None) -> None:
        self.config = config
        self.config_path = config_path
        self.health = HealthMonitor(config.health.stall_s)
        self.clock = timesync.ClockState(None, "not checked yet")
        self.reload_requested = False
        self.notifier = Notifier()
        self.infer = ThreadPoolExecutor(1, thread_name_prefix="infer")
        self.store_thread = ThreadPoolExecutor(1, thread_name_prefix="store")
        self.frames: LatestQueue[Frame] = LatestQueue(config.health.frame_queue)
        self.thermal_latest: Optional[ThermalFrame] = None   # newest thermal frame; older ones are of no use
        self.results: asyncio.Queue[FrameResult] = asyncio.Queue(maxsize=4)
        self._writer: Optional[EventWriter] = None      # once the store is open
        self._grants: set[asyncio.Task[None]] = set()   # grants waiting for their events to be recorded
        self.readers: list[DeviceReader] = []
        self.devices: list[OpenOnRead] = []
        self.tasks: list[asyncio.Task] = []
        self.store: Optional[Store] = None
        self.mqtt: Any = None
        self.world: Any = None
        self.web: Optional[WebServer] = None     # [web] enabled
        self._last_prompt: Optional[str] = None

    @property
    def opened_store(self) -> Store:
        """The store, from start-up (`_load`) on."""
        if self.store is None:
            raise RuntimeError("the store is not open yet")
        return self.store

    @property
    def writer(self) -> EventWriter:
        """The event writer stage, from start-up (once the store is open) on."""
        if self._writer is None:
            raise RuntimeError("the event writer is not set up yet")
        return self._writer

    @writer.setter
    def writer(self, writer: EventWriter) -> None:
        self._writer = writer

    # ---- start-up ------------------------------------------------------------------------------
    def _load(self) -> None:
        """Blocking set-up, in the inference thread (the pipeline then stays on that thread)."""
        from .face.errors import PIPELINE_SETUP_ERRORS
        from .store.errors import StoreError
        from .thermal import CalibrationError

        config = self.config
        try:
            self.pipeline = FacePipeline(config.face, config.models_dir)
        except PIPELINE_SETUP_ERRORS as exc:
            raise StartupError(str(exc)) from None
        try:
            self.store = Store.open(config)
            self.store.check_writable()     # a store that cannot record must not let anyone in
        except StoreError as exc:
            raise StartupError(str(exc)) from None
        try:
            self.calibration = calibration_for_config(config)
        except CalibrationError as exc:
            raise StartupError(str(exc)) from None
        try:
            self.attendance = open_ledger(config, self.store)    # a damaged ledger is rebuilt from the event log
        except OSError as exc:
            raise StartupError(f"{config.state_dir / LEDGER_FILE}: {exc.strerror or exc}") from None
        self.matcher = Matcher.from_store(self.store, self.pipeline.model_id, metric=str(self.pipeline.metric))
        self._warn_people_of_another_model()
        self._alarm_unknown_schedules()
        # Masked faces are matched by the upper face (config mask.upper_face) in a gallery of their own.
        self.upper_matcher = Matcher.from_store(self.store, self.pipeline.upper_model_id,
                                                metric=str(self.pipeline.metric))
        stops = [self.matcher.follow(self.store), self.upper_matcher.follow(self.store)]

        def unfollow() -> None:
            for stop in stops:
                stop()
        self._unfollow = unfollow
        try:
            self.recognizer = Recognizer(config, self.pipeline, self.matcher, self.store, self.calibration,
                                         upper_matcher=self.upper_matcher)
        except PIPELINE_SETUP_ERRORS as exc:   # no threshold for the configured security level
            raise StartupError(str(exc)) from None
        # Level, N, threshold, expected FPIR/FNIR and any warning that the level cannot be met at this N.
        self.health.gauge("security", lambda: self.recognizer.security_now().as_dict())
        # The same for masked faces, matched by the upper face in a gallery of their own (None: matched whole).
        self.health.gauge("security_upper_face", self._upper_security)
        if needs_simulator(config):
            self._start_simulator()

    def _upper_security(self) -> Optional[dict]:
        point = self.recognizer.upper_security_now()
        return point.as_dict() if point is not None else None

    def _warn_people_of_another_model(self) -> None:
        """After a model change (e.g. `face.embedder = "auto"` taking a newly installed model) enrolled
        people have no templates of the active model and are not recognised until re-embedded."""
        people = len(self.opened_store.persons())
        missing = people - self.matcher.person_count
        if missing > 0:
            log.warning("%d of %d enrolled people have no templates of the active model %s and will not be "
                        "recognised: run `kiosk person reembed`", missing, people, self.pipeline.model_id)

    def _alarm_unknown_schedules(self) -> None:
        """Persons whose schedule is not in access.schedules (renamed or removed) are denied 'invalid_schedule';
        not a reason to stay down (a fleet record may name a schedule this kiosk lacks), but an alarm."""
        unknown = unknown_schedules(self.opened_store.persons(), self.config)
        if unknown:
            detail = "; ".join(f"'{name}': {', '.join(who)}" for name, who in sorted(unknown.items()))
            self.health.raise_alarm("schedules", f"no such schedule in access.schedules for {detail}")
            log.error("persons name schedules that access.schedules does not have (denied invalid_schedule): %s",
                      detail)

    def _start_simulator(self) -> None:
        from .enroll import Enroller
        from .sim.demo import enroll_demo_staff
        from .sim.world import SimulationError, SimWorld
        try:
            self.world = SimWorld.from_config(self.config, self.pipeline.detector)
        except (SimulationError, ValueError) as exc:
            raise StartupError(f"simulator: {exc}") from None
        enroller = Enroller(self.opened_store, self.pipeline, threshold=self.recognizer.duplicate_threshold,
                            matcher=self.matcher,
                            recognition=self.config.recognition, allow_duplicates=self.config.store.allow_duplicate_faces,
                            masked_templates=self.config.mask.masked_templates,
                            upper_face=self.config.mask.upper_face, actor="sim")
        enroll_demo_staff(enroller, self.config.sim_assets_dir)

    def _start_reader(self, name: str, device: Camera | ThermalSensor, timeout_s: float,
                      deliver: Callable[[Any], None]) -> None:
        loop = asyncio.get_running_loop()
        source = OpenOnRead(device, timeout_s)
        self.devices.append(source)

        def failed(exc: Exception) -> None:
            self.health.count(f"{name}_errors")
            log.warning("%s: %s", name, exc)

        reader = DeviceReader(name, source.read, deliver, loop, on_error=failed)
        self.readers.append(reader)
        self.health.gauge(f"{name}_health", lambda: device.health.as_dict())
        reader.start()

    def _on_frame(self, frame: Frame) -> None:
        self.health.tick("camera")
        self.frames.put(frame)
        if self.web is not None:
            self.web.offer_frame(frame)

    def _on_thermal(self, frame: ThermalFrame) -> None:
        self.health.tick("thermal")
        self.thermal_latest = frame

    # ---- stages --------------------------------------------------------------------------------
    async def _recognition(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame = await self.frames.get()
            started = time.monotonic()
            try:
                result = await loop.run_in_executor(self.infer, self.recognizer.process, frame,
                                                    self.thermal_latest)
            except Exception:
                # A bad frame or a model error must not end recognition; the health report shows it.
                self.health.count("recognition_errors")
                log.exception("recognition failed on frame %d", frame.seq)
                continue
            self.health.pipeline_result()
            self.health.latency("recognition", time.monotonic() - started)
            for stage, seconds in result.latencies.items():
                self.health.latency(stage, seconds)
            if self.web is not None:
                self.web.offer_faces(result.timestamp, result.samples)
            await self.results.put(result)

    async def _decisions(self) -> None:
        while True:
            result = await self.results.get()
            at = datetime.now(UTC)
            try:
                self._decide(result, at)
            except Exception as exc:
                self._decision_failed(exc)

    def _decide(self, result: FrameResult, at: datetime) -> None:
        step = self.tracker.update(result.timestamp, at, result.samples)
        self.feedback.present(step)
        if step.prompt is not None and step.prompt.message != self._last_prompt:
            log.info("prompt", extra={"fields": {"track": step.track_id, "message": step.prompt.message,
                                                 "reasons": list(step.prompt.reasons)}})
            self._last_prompt = step.prompt.message
        if step.track_id is None:
            self._last_prompt = None
        if step.verdict is not None:
            self._act(step, at)

    def _act(self, step: Step, at: datetime) -> None:
        """A verdict: its events and log line are built before the gate moves (an error building them must not
        leave the gate open with nothing recorded), then the log line, the events (with the match audit, one
        transaction), and the gate once they are recorded."""
        verdict = step.verdict
        assert verdict is not None
        decision, obs = verdict.decision, verdict.observation
        events = self.attendance.events_for(verdict, at)
        person = obs.person
        temperature = decision.temperature
        fields = {
            "outcome": decision.outcome.value,
            "reasons": ",".join(decision.reasons) or "-",
            # As in the events: a face not proven to be the person is only a candidate (no name).
            "person": person.name if person and decision.identified else "unknown",
            "employee_no": person.employee_no if person and decision.identified else None,
            "candidate": person.employee_no if person and not decision.identified else None,
            "body_c": round(temperature.body_c, 2) if temperature and temperature.body_c is not None else None,
            "live": obs.liveness.live if obs.liveness else None,
            "masked": decision.masked,
            "message": decision.message,
            "events": ",".join(e["type"] for e in events),
            "summary": describe(decision)}
        grant = decision.granted and self._may_grant(events, fields)
        decisions_log.info("decision", extra={"fields": fields})
        self.health.count(f"decisions_{decision.outcome.value}")
        self.health.clear_alarm("decision")
        match = (MatchAttempt(obs.match, decision.granted, self.pipeline.model_id, tuple(decision.reasons))
                 if obs.match is not None else None)
        recorded = [self.writer.submit(event, match if i == 0 else None) for i, event in enumerate(events)]
        if match is not None and not events:
            self.store_thread.submit(self._audit_match, match)
        if grant:
            if self.config.gate.open_before_recorded:
                self.gate.grant()
            else:
                task = asyncio.get_running_loop().create_task(self._grant_when_recorded(recorded))
                self._grants.add(task)
                task.add_done_callback(self._grants.discard)
        self._attendance_dirty = True

    def _may_grant(self, events: list[dict[str, Any]], fields: dict[str, Any]) -> bool:
        """Never grant what cannot be recorded: while the event log fails (alarm `event_log`: disk full, a
        damaged or closed database) the gate stays locked and the events say so."""
        failing = self.health.alarms.get("event_log")
        if failing is None:
            return True
        self._withheld(f"the event log cannot record ({failing})")
        fields["gate"] = "kept locked: the event log cannot record"
        for event in events:
            event["detail"] = {**(event.get("detail") or {}), "gate": "kept_locked_event_log_failing"}
        return False

    async def _grant_when_recorded(self, recorded: list[asyncio.Future[bool]]) -> None:
        """Open the gate once every event of the grant is in the local log (a crash or a failing disk cannot
        leave an opening unrecorded); not within gate.record_wait_s and it stays locked."""
        try:
            done = await asyncio.wait_for(asyncio.gather(*(asyncio.shield(r) for r in recorded)),
                                          self.config.gate.record_wait_s)
        except TimeoutError:
            self._withheld(f"its events were not recorded within {self.config.gate.record_wait_s:g} s")
            return
        if all(done):
            self.gate.grant()
        else:
            self._withheld("its events were refused by the event log")

    def _withheld(self, why: str) -> None:
        self.health.count("grants_withheld")
        log.error("gate kept locked for a granted person: %s", why)

    def _decision_failed(self, exc: Exception) -> None:
        """A bug or bad data in the decision path must not end the daemon: the gate is locked, the error logged
        and alarmed (health `alarms.decision`, cleared by the next verdict), and the next frame is decided."""
        self.gate.lock()
        self.health.count("decision_errors")
        self.health.raise_alarm("decision", f"{type(exc).__name__}: {exc}")
        log.exception("decision failed; gate locked")

    def _audit_match(self, match: MatchAttempt) -> None:
        """A match attempt that produced no event (its audit otherwise goes with the event's transaction)."""
        try:
            self.opened_store.record_match_attempt(match.result, granted=match.granted, model_id=match.model_id,
                                            reasons=match.reasons, actor=match.actor)
        except Exception:
            log.exception("audit of a match attempt failed")

    async def _health(self) -> None:
        interval, log_every = self.config.health.interval_s, self.config.health.log_interval_s
        logged_at, logged_alarms = -float("inf"), None
        self.health.gauge("clock", lambda: self.clock.as_dict())
        self._check_clock()
        while True:
            await asyncio.sleep(interval)
            self._check_clock()
            report = self.health.report()
            now = time.monotonic()
            if now - logged_at >= log_every or report["alarms"] != logged_alarms:
                logged_at, logged_alarms = now, report["alarms"]
                log.info("health", extra={"fields": {
                    "alive": report["pipeline_alive"], "fps": report["fps"],
                    "recognition_ms": report["latency"].get("recognition", {}).get("p50_ms"),
                    "frames_dropped": self.frames.dropped, "alarms": report["alarms"] or None}})
            if self.mqtt is not None:
                self.mqtt.update_health(report)
            self.notifier.status(f"{report['fps'].get('pipeline', 0):.1f} fps, "
                                 f"{sum(v for k, v in report['counters'].items() if k.startswith('decisions_'))} decisions")

    def _check_clock(self) -> None:
        """Alarm `clock` while the kernel says nobody has synchronised the clock (events carry its time)."""
        state = self.clock = timesync.clock_state()
        if state.synchronised is False:
            if "clock" not in self.health.alarms:
                log.warning("clock not synchronised", extra={"fields": {"detail": timesync.describe(state)}})
            self.health.raise_alarm("clock", timesync.describe(state), warning=True)
        else:
            self.health.clear_alarm("clock")

    async def _watchdog(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.health.pipeline_alive():
                self.notifier.watchdog()
            else:
                log.error("pipeline stalled: not feeding the systemd watchdog")

    async def _attendance_saver(self) -> None:
        while True:
            await asyncio.sleep(ATTENDANCE_SAVE_S)
            if self._attendance_dirty:
                self._attendance_dirty = False
                if not await self._save_attendance():
                    self._attendance_dirty = True

    async def _save_attendance(self) -> bool:
        """Write the attendance ledger on the store thread; a failure (disk full) is an alarm, not a crash."""
        try:
            await asyncio.get_running_loop().run_in_executor(self.store_thread, self.attendance.save)
        except Exception as exc:
            self.health.raise_alarm("attendance_ledger", str(exc))
            log.error("attendance ledger not saved: %s", exc)
            return False
        self.health.clear_alarm("attendance_ledger")
        return True

    async def _retention(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                report = await loop.run_in_executor(self.store_thread, self.opened_store.purge_expired)
                if any(report.as_dict().values()):
                    log.info("retention purge", extra={"fields": report.as_dict()})
            except Exception:
                log.exception("retention purge failed")
            await asyncio.sleep(self.config.store.retention_interval_s)

    async def _follow_other_writers(self) -> None:
        """Keep the matcher in step with enrollments and erasures made by other processes (the `kiosk`
        CLI writes the same database). Changes made here or applied from the fleet arrive through the
        store's change hook at once; these are picked up within STORE_POLL_S."""
        loop = asyncio.get_running_loop()
        store = self.opened_store
        seen = await loop.run_in_executor(self.store_thread, store.version_high_water)
        while True:
            await asyncio.sleep(STORE_POLL_S)
            changed = await loop.run_in_executor(self.store_thread, store.persons_changed_since, seen)
            for person in changed:
                for matcher in (self.matcher, self.upper_matcher):
                    await loop.run_in_executor(self.store_thread, matcher.refresh_person, store,
                                               person.person_id)
                if person.deleted:
                    self.attendance.forget(person.person_id)
                seen = max(seen, person.version_counter)
            if changed:
                log.info("persons changed by another process", extra={"fields": {"persons": len(changed)}})

    def _door_state(self, is_open: bool) -> None:
        if self.mqtt is not None:
            self.mqtt.set_door(is_open)

    def _door_alarm(self, alarm) -> None:
        self.writer.submit(alarm.event(self.config, datetime.now(UTC)))

    # ---- MQTT ----------------------------------------------------------------------------------
    async def _start_mqtt(self) -> None:
        from .mqtt import MqttService, OutboxError, audit_to_store
        from .remote import RemoteCommands
        from .store.errors import KeyFileError

        self.mqtt = MqttService(self.config, self.store, audit=audit_to_store(self.store),
                                store_executor=self.store_thread)
        RemoteCommands(self).register(self.mqtt.commands)
        self.health.gauge("mqtt", lambda: {"connected": self.mqtt.connected, "alarms": sorted(self.mqtt.alarms)})
        try:
            await self.mqtt.start()
        except (OutboxError, KeyFileError) as exc:
            self.mqtt = None
            raise StartupError(f"mqtt: {exc}") from None
        self.writer.sink = self.mqtt

    # ---- web -----------------------------------------------------------------------------------
    def _bind_web(self, web: WebServer) -> None:
        """Listen: the last start-up step that can fail, so that no later one leaves the socket open."""
        from .web.server import WebError
        try:
            web.bind()
        except WebError as exc:
            raise StartupError(f"web: {exc}") from None
        self.health.gauge("web", web.status)

    # ---- run -----------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload, stop)
        self._last_prompt = None
        self._attendance_dirty = False
        await loop.run_in_executor(self.infer, self._load)
        self.writer = EventWriter(self.opened_store, self.store_thread, self.health,
                                  clock_synchronised=lambda: self.clock.synchronised)
        if self.config.gate.open_before_recorded:
            log.warning("gate.open_before_recorded = true: a grant opens the gate before its event is recorded; a "
                        "crash or a failing disk can leave an opening unrecorded")
        self.tracker: Tracker = Tracker(self.config)
        self.feedback: Feedback = Feedback(self.config)
        try:
            await loop.run_in_executor(None, self.feedback.start)   # an OpenCV window may take seconds
        except FeedbackError as exc:
            raise StartupError(str(exc)) from None
        if self.config.web.enabled:
            from .web.server import WebServer
            self.web = WebServer(self.config, self.health.report)
            self.feedback.subscribe(self.web.screen.show)
        self.gate: GateController = GateController.from_config(self.config)
        try:
            await self.gate.start()
        except (RelayError, OSError) as exc:
            self.feedback.close()
            raise StartupError(f"gate: {exc}") from None
        try:
            try:
                await self._serve(stop)
            finally:
                self.gate.lock()   # at once, before anything slow
                await self._shutdown()
        finally:
            await asyncio.shield(self.gate.stop())
        return 0

    def _reload(self, stop: asyncio.Event) -> None:
        """SIGHUP: check the configuration file; when it loads, stop cleanly (gate locked, events
        written) so that `kiosk run` starts again in the same process with it. A file that does not
        load is refused with its error and the daemon goes on with the configuration it has."""
        try:
            load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration", extra={"fields": {"error": str(exc)}})
            self.health.raise_alarm("config_reload", str(exc))
            self.notifier.status(f"reload refused: {exc}")
            return
        self.health.clear_alarm("config_reload")
        log.info("reloading the configuration", extra={"fields": {"config": str(self.config_path or "default")}})
        self.reload_requested = True
        self.notifier.reloading()
        stop.set()

    async def _serve(self, stop: asyncio.Event) -> None:
        config = self.config
        try:
            inputs = build_inputs(config)
        except InputError as exc:
            raise StartupError(f"door inputs: {exc}") from None
        camera = build_camera(config, self.world)
        thermal = build_thermal(config, self.world)
        self._start_reader("camera", camera, 1.0, self._on_frame)
        if thermal is not None:
            self._start_reader("thermal", thermal, max(1.0, 3.0 / (config.thermal.subpage_hz or 1.0)), self._on_thermal)
        self.health.gauge("gate", lambda: {"unlocked": self.gate.unlocked, **self.gate.health.as_dict()})
        self.health.gauge("queues", lambda: {"frames": self.frames.qsize(), "frames_dropped": self.frames.dropped,
                                             "results": self.results.qsize(), "events": self.writer.qsize()})
        if config.mqtt.enabled:
            await self._start_mqtt()
        if self.web is not None:
            self._bind_web(self.web)
        stages = {"recognition": self._recognition(), "decisions": self._decisions(),
                  "events": self.writer.run(), "health": self._health(),
                  "attendance": self._attendance_saver(), "retention": self._retention(),
                  "store_watch": self._follow_other_writers()}
        watchdog = self.notifier.watchdog_interval()
        if watchdog:
            stages["watchdog"] = self._watchdog(watchdog)
        if inputs is not None:
            stages["doors"] = DoorWatcher(inputs, self.gate, config, self._door_alarm, on_door=self._door_state).run()
        if self.web is not None:
            stages["web"] = self.web.serve()
        self.tasks = [asyncio.create_task(coro, name=name) for name, coro in stages.items()]
        self.notifier.ready(f"deciding; device {config.device.id}")
        self._announce()
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *self.tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            failure = None if task is stopped else task.exception()
            if failure is not None:
                # A stage died: fail secure (the caller locks the gate) and exit non-zero for systemd.
                if isinstance(failure, InputError):   # the door lines cannot be requested: a set-up error
                    raise StartupError(f"door inputs: {failure}") from None
                raise failure
        log.info("stopping (signal received)")
        stopped.cancel()

    def _announce(self) -> None:
        config = self.config
        where = [f"local event log {config.database_path} (see `kiosk events list --config ...`)"]
        if config.mqtt.enabled:
            where.append(f"MQTT {config.mqtt.host}:{config.mqtt.port} topic "
                         f"{config.mqtt.topic_prefix}/{config.device.id}/events/<type> "
                         f"(durable outbox {config.state_dir / 'outbox.db'})")
        else:
            where.append("MQTT disabled ([mqtt] enabled = false)")
        log.info("kiosk running", extra={"fields": {
            "device": config.device.id, "model": self.pipeline.model_id, "enrolled": self.matcher.person_count,
            "camera": config.camera.backend, "thermal": config.thermal.backend,
            "gate": config.gate.backend, "events_to": "; ".join(where)}})

    async def _shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        self.notifier.stopping()
        deadline = time.monotonic() + SHUTDOWN_BUDGET_S
        for task in self.tasks:
            if task.get_name() != "events":
                task.cancel()
        await asyncio.gather(*(t for t in self.tasks if t.get_name() != "events"), return_exceptions=True)
        still = await loop.run_in_executor(None, wait_stopped, self.readers, 0.3)  # off the loop: events still flush
        if still:
            log.warning("device readers still busy at exit: %s", ", ".join(still))
        # Flush: every decided event reaches the local log (and the outbox) before we go.
        for grant in list(self._grants):
            grant.cancel()
        writer = next((t for t in self.tasks if t.get_name() == "events"), None)
        unwritten = await self.writer.drain(max(0.0, deadline - time.monotonic())) if writer is not None else 0
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        if unwritten:
            log.error("%d events could not be written before exit", unwritten)
        if self.mqtt is not None:
            await self.mqtt.stop(timeout=max(0.2, deadline - time.monotonic()))
        await self._save_attendance()
        self.feedback.close()
        for device in self.devices if not still else []:
            device.close()
        if self.store is not None:
            self._unfollow()
            await loop.run_in_executor(self.store_thread, self.store.close)
        self.infer.shutdown(wait=False, cancel_futures=True)
        self.store_thread.shutdown(wait=False)
        log.info("stopped")

