"""The kiosk daemon: the services (kiosk/service/services.py), one asyncio loop, one task per stage (kiosk/service/stages/).

    camera reader thread --LatestQueue(drops stale frames)--> RecognitionStage (inference thread)
    thermal reader thread --newest frame only----------------/        | results (bounded)
                                                                       v
    DecisionStage (tracker + policy) --> gate controller (relay thread), feedback
                 |
                 v  events (never dropped)
    EventWriter: sign + local event log (store thread) --> MQTT durable outbox --> broker
                  (a grant opens the gate only once its events are in the local log)
    health (log, MQTT, systemd watchdog fed only while results flow), attendance ledger, retention, door inputs
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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from drivers.camera.base import Camera, Frame
from drivers.gpio_inputs import InputError
from drivers.thermal.base import ThermalFrame, ThermalSensor

from ..access.door import DoorAlarm, DoorWatcher, build_inputs
from ..access.tracker import Tracker
from ..config import ConfigError, KioskConfig, load_config
from ..hardware import build_camera, build_thermal
from ..recognition.recognizer import FrameResult
from ..runtime.queues import LatestQueue
from ..runtime.reader import DeviceReader, wait_stopped
from .remote import RemoteCommands
from .sdnotify import Notifier
from .services import Services, StartupError, build_services
from .stages.decision import DecisionStage
from .stages.recognition import RecognitionStage
from .stages.upkeep import AttendanceSaver, follow_other_writers, report_health, retention, watchdog

if TYPE_CHECKING:
    from ..mqtt import MqttService
    from ..web.server import WebServer

log = logging.getLogger("kiosk.daemon")

SHUTDOWN_BUDGET_S = 1.5       # stages + event flush; the gate is locked before this starts


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
    """Builds the services, starts the device readers and the stages, and stops them all (gate locked first)."""

    def __init__(self, config: KioskConfig, config_path: Optional[Path] = None) -> None:
        self.config = config
        self.config_path = config_path
        self.reload_requested = False
        self.notifier = Notifier()
        self.services: Optional[Services] = None

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload, stop)
        services = self.services = await build_services(self.config, self.config_path)
        try:
            running = Running(services, self.notifier)
            try:
                await running.serve(stop)
            finally:
                services.gate.lock()   # at once, before anything slow
                await running.shutdown()
        finally:
            await asyncio.shield(services.gate.stop())
        return 0

    def _reload(self, stop: asyncio.Event) -> None:
        """SIGHUP: check the configuration file; when it loads, stop cleanly (gate locked, events
        written) so that `kiosk run` starts again in the same process with it. A file that does not
        load is refused with its error and the daemon goes on with the configuration it has."""
        health = self.services.health if self.services is not None else None
        try:
            load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration", extra={"fields": {"error": str(exc)}})
            if health is not None:
                health.raise_alarm("config_reload", str(exc))
            self.notifier.status(f"reload refused: {exc}")
            return
        if health is not None:
            health.clear_alarm("config_reload")
        log.info("reloading the configuration", extra={"fields": {"config": str(self.config_path or "default")}})
        self.reload_requested = True
        self.notifier.reloading()
        stop.set()


class Running:
    """One run of the daemon on its services: the device readers, the stages as tasks, and their shutdown."""

    def __init__(self, services: Services, notifier: Notifier) -> None:
        self.services = services
        self.notifier = notifier
        config = services.config
        self.frames: LatestQueue[Frame] = LatestQueue(config.health.frame_queue)
        self.results: asyncio.Queue[FrameResult] = asyncio.Queue(maxsize=4)
        web = services.web
        # On simulated hardware the scene waits for recognition: it runs at most `recognition_lead_s` past the
        # moment the last frame was recognised (kiosk/sim/pacing.py). None on real devices.
        self.pace = services.world.recognition_pace() if services.world is not None else None
        self.recognition = RecognitionStage(self.frames, self.results, services.recognizer, services.infer,
                                            services.health, on_faces=web.offer_faces if web is not None else None,
                                            on_done=self.pace.mark if self.pace is not None else None)
        self.ledger = AttendanceSaver(services.attendance, services.store_thread, services.health)
        self.decisions = DecisionStage(
            self.results, tracker=Tracker(config), feedback=services.feedback, attendance=services.attendance,
            writer=services.writer, gate=services.gate, health=services.health,
            record_wait_s=config.gate.record_wait_s, open_before_recorded=config.gate.open_before_recorded,
            model_id=services.pipeline.model_id, store=services.store, store_thread=services.store_thread,
            attendance_changed=self.ledger.changed)
        self.readers: list[DeviceReader] = []
        self.devices: list[OpenOnRead] = []
        self.tasks: list[asyncio.Task] = []
        self.mqtt_started = False

    # ---- devices -------------------------------------------------------------------------------
    def _start_reader(self, name: str, device: Camera | ThermalSensor, timeout_s: float,
                      deliver: Callable[[Any], None]) -> None:
        health = self.services.health
        source = OpenOnRead(device, timeout_s)
        self.devices.append(source)

        def failed(exc: Exception) -> None:
            health.count(f"{name}_errors")
            log.warning("%s: %s", name, exc)

        reader = DeviceReader(name, source.read, deliver, asyncio.get_running_loop(), on_error=failed)
        self.readers.append(reader)
        health.gauge(f"{name}_health", lambda: device.health.as_dict())
        reader.start()

    def _on_frame(self, frame: Frame) -> None:
        self.services.health.tick("camera")
        self.frames.put(frame)
        if self.services.web is not None:
            self.services.web.offer_frame(frame)

    def _on_thermal(self, frame: ThermalFrame) -> None:
        self.services.health.tick("thermal")
        self.recognition.offer_thermal(frame)

    def _door_state(self, is_open: bool) -> None:
        if self.services.mqtt is not None:
            self.services.mqtt.set_door(is_open)

    def _door_alarm(self, alarm: DoorAlarm) -> None:
        self.services.writer.submit(alarm.event(self.services.config, datetime.now(UTC)))

    # ---- start ---------------------------------------------------------------------------------
    async def _start_mqtt(self, mqtt: MqttService) -> None:
        """Remote commands registered first (none is refused as unknown meanwhile); events handed on once started."""
        from ..mqtt import OutboxError
        from ..store.errors import KeyFileError

        RemoteCommands(self.services).register(mqtt.commands)
        try:
            await mqtt.start()
        except (OutboxError, KeyFileError) as exc:
            raise StartupError(f"mqtt: {exc}") from None
        self.mqtt_started = True
        self.services.writer.sink = mqtt

    def _bind_web(self, web: WebServer) -> None:
        """Listen: the last start-up step that can fail, so that no later one leaves the socket open."""
        from ..web.server import WebError
        try:
            web.bind()
        except WebError as exc:
            raise StartupError(f"web: {exc}") from None
        self.services.health.gauge("web", web.status)

    async def serve(self, stop: asyncio.Event) -> None:
        services, config = self.services, self.services.config
        try:
            inputs = build_inputs(config)
        except InputError as exc:
            raise StartupError(f"door inputs: {exc}") from None
        camera = build_camera(config, services.world)
        thermal = build_thermal(config, services.world)
        if self.pace is not None:
            self.pace.mark()      # the scene waits for the first frame recognised (the first inference is slow)
        self._start_reader("camera", camera, 1.0, self._on_frame)
        if thermal is not None:
            self._start_reader("thermal", thermal, max(1.0, 3.0 / (config.thermal.subpage_hz or 1.0)), self._on_thermal)
        services.health.gauge("queues", lambda: {"frames": self.frames.qsize(), "frames_dropped": self.frames.dropped,
                                                 "results": self.results.qsize(), "events": services.writer.qsize()})
        if services.mqtt is not None:
            await self._start_mqtt(services.mqtt)
        if services.web is not None:
            self._bind_web(services.web)
        stages = {"recognition": self.recognition.run(), "decisions": self.decisions.run(),
                  "events": services.writer.run(),
                  "health": report_health(config.health, services.health, services.clock, self.notifier,
                                          frames_dropped=lambda: self.frames.dropped, mqtt=services.mqtt),
                  "attendance": self.ledger.run(),
                  "retention": retention(services.store, services.store_thread, config.store.retention_interval_s),
                  "store_watch": follow_other_writers(services.store, services.store_thread,
                                                      (services.matcher, services.upper_matcher), services.attendance)}
        interval = self.notifier.watchdog_interval()
        if interval:
            stages["watchdog"] = watchdog(services.health, self.notifier, interval)
        if inputs is not None:
            stages["doors"] = DoorWatcher(inputs, services.gate, config, self._door_alarm,
                                          on_door=self._door_state).run()
        if services.web is not None:
            stages["web"] = services.web.serve()
        self.tasks = [asyncio.create_task(coro, name=name) for name, coro in stages.items()]
        self.notifier.ready(f"deciding; device {config.device.id}")
        self._announce()
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *self.tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            died = task.exception() if task is not stopped else None
            if died is not None:
                # A stage died: fail secure (the caller locks the gate) and exit non-zero for systemd.
                if isinstance(died, InputError):   # the door lines cannot be requested: a set-up error
                    raise StartupError(f"door inputs: {died}") from None
                raise died
        log.info("stopping (signal received)")
        stopped.cancel()

    def _announce(self) -> None:
        config = self.services.config
        where = [f"local event log {config.database_path} (see `kiosk events list --config ...`)"]
        if config.mqtt.enabled:
            where.append(f"MQTT {config.mqtt.host}:{config.mqtt.port} topic "
                         f"{config.mqtt.topic_prefix}/{config.device.id}/events/<type> "
                         f"(durable outbox {config.state_dir / 'outbox.db'})")
        else:
            where.append("MQTT disabled ([mqtt] enabled = false)")
        log.info("kiosk running", extra={"fields": {
            "device": config.device.id, "model": self.services.pipeline.model_id,
            "enrolled": self.services.matcher.person_count,
            "camera": config.camera.backend, "thermal": config.thermal.backend,
            "gate": config.gate.backend, "events_to": "; ".join(where)}})

    # ---- stop ----------------------------------------------------------------------------------
    async def shutdown(self) -> None:
        """The gate is already locked: stop the stages, write every decided event (waiting on the writer's
        queue, within SHUTDOWN_BUDGET_S), stop MQTT, save the ledger, close the devices and the services."""
        services = self.services
        self.notifier.stopping()
        deadline = time.monotonic() + SHUTDOWN_BUDGET_S
        if self.pace is not None:
            self.pace.leave()     # the camera reader must not wait for a recognition that has stopped
        if services.world is not None:
            log.info("simulated scene: waited for the kiosk", extra={"fields": services.world.clock.waited()})
        writer = next((t for t in self.tasks if t.get_name() == "events"), None)
        others = [t for t in self.tasks if t is not writer]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        # Off the loop: events still flush meanwhile.
        still = await asyncio.get_running_loop().run_in_executor(None, wait_stopped, self.readers, 0.3)
        if still:
            log.warning("device readers still busy at exit: %s", ", ".join(still))
        self.decisions.cancel_grants()
        # Flush: every decided event reaches the local log (and the outbox) before we go.
        unwritten = await services.writer.drain(max(0.0, deadline - time.monotonic())) if writer is not None else 0
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        if unwritten:
            log.error("%d events could not be written before exit", unwritten)
        if self.mqtt_started and services.mqtt is not None:
            await services.mqtt.stop(timeout=max(0.2, deadline - time.monotonic()))
        await self.ledger.save()
        for device in self.devices if not still else []:
            device.close()
        await services.close()
        log.info("stopped")
