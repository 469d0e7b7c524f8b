"""MqttService: what the daemon creates, starts, feeds and stops.

    service = MqttService(config, store, audit=audit_to_store(store))
    service.commands.register("open_gate", open_gate_handler)      # async (params) -> dict
    await service.start()                     # opens <state_dir>/outbox.db, connects in the background
    await service.publish_event(signed_event) # returns once committed to the outbox
    service.update_health(health_monitor.report())   # fps, latency, queues, device states
    # fleet: the service subscribes itself to the store's change hook (Store.subscribe)
    await service.stop()                      # within ~1 s

The connection runs forever in the background with exponential backoff and jitter; events are
accepted whether the broker is reachable or not.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

import paho.mqtt.client as mqtt

from .. import __version__
from ..config import KioskConfig
from ..event_model import event_problem
from .commands import CommandProcessor, CommandRegistry
from .connection import ConnectError, Connection, Will, backoff_delay
from .device_signing import sign_message
from .durable import DurableQueue
from .fleet import ALARM_NO_KEY, FleetCipher, FleetSync
from .fleet_signing import FleetSigning
from .ha import HaState, discovery_messages, removal_messages
from .outbox_rebuild import event_message
from .publisher import Publisher
from .reconcile import EventReconciler
from .security import insecure_warnings
from .signing import TrustedKeys, now_iso
from .takeover import ALARM as ALARM_TAKEOVER
from .takeover import TakeoverWatch
from .topics import Topics

log = logging.getLogger("kiosk.mqtt")

AuditCallback = Callable[[str, dict[str, Any]], Any]


def check_event(event: Any, device_id: str) -> Optional[str]:
    """The event contract (kiosk/event_model.py), signed, and from this device; None when it holds."""
    problem = event_problem(event, signed=True)
    if problem is None and event.get("device_id") != device_id:
        problem = f"event device_id {event.get('device_id')!r} is not this device ({device_id!r})"
    return problem


def audit_to_store(store: Any) -> AuditCallback:
    """The audit callback for a kiosk.store.Store: one ledger record per command, actor 'mqtt'."""
    def audit(action: str, detail: dict[str, Any]) -> None:
        store.audit(action, actor="mqtt", outcome=detail.get("outcome"), detail=detail)
    return audit


class MqttService:
    def __init__(self, config: KioskConfig, store: Any = None, device_id: Optional[str] = None, *,
                 audit: Optional[AuditCallback] = None, store_executor: Optional[Executor] = None,
                 on_alarm: Optional[Callable[[frozenset[str]], None]] = None,
                 outbox_max_pages: Optional[int] = None) -> None:
        """`store` provides the fleet contract (export/apply/all_person_records); None disables fleet sync.

        `audit(action, detail)` records every command (sync callables run on `store_executor`, which
        defaults to one private thread; coroutine functions are awaited). `on_alarm(alarms)` is called
        on the loop whenever the set of raised alarms changes.
        """
        self.config = config
        self.mqtt = config.mqtt
        self.device_id = device_id or config.device.id
        self.topics = Topics(self.mqtt.topic_prefix, self.device_id, self.mqtt.fleet_topic)
        self.client_id = self.mqtt.client_id or f"kiosk-{self.device_id}"
        self.outbox_path = Path(config.state_dir) / "outbox.db"
        self.commands = CommandRegistry()
        self._store = store
        self._audit_cb = audit
        self._own_executor = store_executor is None
        self._store_executor = store_executor or ThreadPoolExecutor(1, thread_name_prefix="kiosk-mqtt-store")
        self._on_alarm = on_alarm
        self._outbox_max_pages = outbox_max_pages
        self._daemon_health: dict[str, Any] = {}
        self._ha = HaState() if self.mqtt.ha_discovery else None
        self._ha_marker = Path(config.state_dir) / "ha-discovery.json"   # discovery configs are on the broker
        self._started_at = time.monotonic()
        self._conn: Optional[Connection] = None
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.queue: Optional[DurableQueue] = None
        self.reconciler: Optional[EventReconciler] = None   # with a store: the outbox follows its event log
        self.fleet: Optional[FleetSync] = None
        self.processor: Optional[CommandProcessor] = None
        self.public_key: Optional[dict[str, str]] = None
        self._device_key: Any = None          # Ed25519PrivateKey: signs command results and the status
        self.takeovers = TakeoverWatch(self.client_id)
        self._published_head: Optional[bytes] = None   # the audit head last published on this connection
        self.connects = 0
        self._since = ""                      # when the current connection attempt started (status message)
        self._fleet_alarm: Optional[str] = None
        self._unsubscribe: Optional[Callable[[], None]] = None
        self._last_alarms: frozenset[str] = frozenset()

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the device key (raises KeyFileError), open the outbox (raises OutboxError) and start connecting
        in the background."""
        await asyncio.get_running_loop().run_in_executor(None, self._load_device_key)
        for line in insecure_warnings(self.mqtt):
            log.warning("%s", line)
        log_backed = callable(getattr(self._store, "outbox_page", None))
        self.queue = DurableQueue(self.outbox_path, self.mqtt.outbox_max_events, max_page_count=self._outbox_max_pages,
                                  on_alarm=lambda _: self._alarms_changed(), log_backed=log_backed,
                                  on_behind=self._outbox_behind)
        await self.queue.open()
        if log_backed:
            self.reconciler = EventReconciler(self.queue, self._store, self._in_store, self.topics)
            self._tasks.append(asyncio.create_task(self.reconciler.run(), name="mqtt-reconcile"))
        self._publisher = Publisher(self.queue, self.mqtt.inflight_max)
        await self._start_fleet(self.queue)
        if self.mqtt.accept_commands:
            self.processor = CommandProcessor(self.device_id, self.mqtt.command_auth,
                                              TrustedKeys(self.config.trusted_keys_dir), self.mqtt.command_max_age_s,
                                              self.commands, self.queue.use_nonce, self._reply, self._audit,
                                              issued_after=datetime.now(UTC) if self.queue.rebuilt else None)
            self._tasks.append(asyncio.create_task(self.processor.run(), name="mqtt-commands"))
        self._tasks.append(asyncio.create_task(self._connection_loop(), name="mqtt-connection"))
        if self.queue.depth:
            log.info("mqtt: %d messages waiting in %s from before", self.queue.depth, self.outbox_path)

    async def run(self) -> None:
        """start(), then wait until cancelled, then stop() — for running the service as one task."""
        await self.start()
        try:
            await self._stopping.wait()
        finally:
            await self.stop()

    async def stop(self, timeout: float = 1.0) -> None:
        """Flush what is in flight (briefly), publish 'offline', disconnect, close the outbox."""
        if self._stopping.is_set() and not self._tasks:
            return
        self._stopping.set()
        deadline = time.monotonic() + timeout
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        conn = self._conn
        if conn is not None and conn.connected:
            while self._publisher.inflight and time.monotonic() < deadline - 0.5:
                await asyncio.sleep(0.01)
            await conn.publish_wait(self.topics.status, self._status("offline"), 1, True,
                                    timeout=max(0.05, min(0.3, deadline - time.monotonic() - 0.2)))
            await conn.close(timeout=max(0.05, min(0.2, deadline - time.monotonic())))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.queue is not None:
            await self.queue.close()
        if self._own_executor:
            self._store_executor.shutdown(wait=False)

    # -- daemon API -----------------------------------------------------------------------------------
    async def publish_event(self, event: dict[str, Any]) -> bool:
        """Commit a signed event to the outbox for `<prefix>/<device>/events/<type>` (QoS 1).

        Returns True once durable in the outbox. False when it is not there yet: with a store, because
        the outbox is full, the disk failed or earlier events wait (the event is in the local log and the
        reconciler takes it from there, in seq order); without a store it is held in memory (an alarm is
        raised; it is committed when possible). Never waits for the broker.
        Raises ValueError for a malformed event (a bug in the caller).
        """
        if self.queue is None or self._stopping.is_set():
            raise RuntimeError("the MQTT service is not running (start() first, nothing after stop())")
        problem = check_event(event, self.device_id)
        if problem:
            raise ValueError(problem)
        try:
            message = event_message(self.topics, event)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event {event['event_id']} is not JSON-serialisable: {exc}") from None
        if self._ha is not None and self._ha.note_event(event):
            self._publish_ha_state()
        if self.reconciler is not None and self.reconciler.behind and message.event_seq is not None:
            self.reconciler.wake()           # it takes this event from the log, after the ones before it
            return False
        return await self.queue.put(message)

    def _outbox_behind(self) -> None:
        if self.reconciler is not None:
            self.reconciler.wake()

    def update_health(self, data: dict[str, Any]) -> None:
        """The daemon's part of the health message (kiosk.service.health.HealthMonitor.report())."""
        self._daemon_health = dict(data)

    def set_door(self, is_open: Optional[bool]) -> None:
        """Door state for Home Assistant (ignored unless mqtt.ha_discovery)."""
        if self._ha is not None and self._ha.set_door(is_open):
            self._publish_ha_state()

    def person_changed(self, person_id: str) -> None:
        """The store's change hook (any thread): publish this person's record to the fleet."""
        if self.fleet is not None:
            self.fleet.person_changed(person_id)

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.connected

    @property
    def alarms(self) -> frozenset[str]:
        alarms = set(self.queue.alarms) if self.queue else set()
        if self.fleet is not None:
            alarms |= self.fleet.alarms
        elif self._fleet_alarm:
            alarms.add(self._fleet_alarm)
        if self.takeovers.alarm:
            alarms.add(ALARM_TAKEOVER)
        return frozenset(alarms)

    def health(self) -> dict[str, Any]:
        """The health message (health.schema.json)."""
        q = self.queue
        alarms = sorted(self.alarms)
        oldest = q.oldest_created if q else None
        return {
            "device_id": self.device_id, "time": now_iso(), "uptime_s": round(time.monotonic() - self._started_at, 1),
            "status": "degraded" if alarms else "ok", "alarms": alarms,
            "mqtt": {
                "connected": self.connected, "reconnects": max(0, self.connects - 1),
                "published": q.published if q else 0,
                "outbox": {"depth": q.depth if q else 0,
                           "oldest_age_s": None if oldest is None else round(max(0.0, time.time() - oldest), 1),
                           "overflow": q.overflow if q else 0, "dropped": q.dropped if q else 0,
                           "rejected": q.rejected if q else 0,
                           "behind_log": self.reconciler is not None and self.reconciler.behind},
                "takeovers": self.takeovers.total,
                "commands": {"accepted": self.processor.accepted if self.processor else 0,
                             "refused": self.processor.refused if self.processor else 0},
                "fleet": {"applied": self.fleet.applied if self.fleet else 0,
                          "ignored": self.fleet.ignored if self.fleet else 0,
                          "errors": self.fleet.errors if self.fleet else 0},
            },
            "daemon": self._daemon_health,
        }

    # -- internals ------------------------------------------------------------------------------------
    async def _start_fleet(self, queue: DurableQueue) -> None:
        if not self.mqtt.fleet_sync or self._store is None:
            return
        from ..store.errors import KeyFileError
        from ..store.keys import FLEET_KEY, read_secret

        try:
            key = await asyncio.get_running_loop().run_in_executor(None, read_secret, self.config.keys_dir, FLEET_KEY)
        except KeyFileError as exc:
            self._fleet_alarm = ALARM_NO_KEY
            log.error("mqtt: fleet sync is off: %s", exc)
            return
        signing = FleetSigning(self._device_key, self.config.device_keys_dir)
        self.fleet = FleetSync(self._store, FleetCipher(key), signing, self.topics, queue, self._in_store,
                               on_alarm=self._alarms_changed)
        await self.fleet.load_versions()
        self._tasks.append(asyncio.create_task(self.fleet.run_maintenance(), name="mqtt-fleet-maintenance"))
        self._tasks.append(asyncio.create_task(self.fleet.run_incoming(), name="mqtt-fleet-in"))
        self._tasks.append(asyncio.create_task(self.fleet.run_outgoing(), name="mqtt-fleet-out"))
        subscribe = getattr(self._store, "subscribe", None)   # Store.subscribe(hook) -> unsubscribe
        if callable(subscribe):
            self._unsubscribe = subscribe(self.person_changed)
        if self.commands.get("sync") is None:
            self.commands.register("sync", self._sync_command)

    async def _sync_command(self, params: dict[str, Any]) -> dict[str, Any]:
        assert self.fleet is not None
        return {"published": await self.fleet.republish_all()}

    async def _in_store(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._store_executor, fn, *args)

    def _load_device_key(self) -> None:
        """The device key (`signing.key`, as for events) that signs command results and the status."""
        from ..store.keys import key_id, load_signing_key

        self._device_key = load_signing_key(self.config.keys_dir)
        self.public_key = {"alg": "Ed25519", "key_id": key_id(self._device_key.public_key())}

    def _status(self, state: str) -> bytes:
        """The signed status; `public_key` names the device key for verifiers that have it pinned."""
        status = {"state": state, "device_id": self.device_id, "since": self._since, "software": __version__,
                  "public_key": self.public_key}
        return json.dumps(sign_message(status, self._device_key), separators=(",", ":")).encode("utf-8")

    async def _connection_loop(self) -> None:
        attempt = 0
        taken = False   # the last connection was taken over: its reconnect is logged quietly
        while not self._stopping.is_set():
            self._since = now_iso()
            will = Will(self.topics.status, self._status("offline"))
            try:
                conn = await Connection.open(self.mqtt, self.client_id, will, self._on_message)
            except ConnectError as exc:
                delay = backoff_delay(attempt, self.mqtt.reconnect_min_s, self.mqtt.reconnect_max_s)
                attempt += 1
                log.warning("mqtt: %s; retrying in %.1f s", exc, delay)
                await self._sleep(delay)
                continue
            attempt = 0
            self.connects += 1
            log.log(logging.DEBUG if taken else logging.INFO, "mqtt: connected to %s:%d as %s (MQTT %s)",
                    self.mqtt.host, self.mqtt.port, self.client_id, self.mqtt.protocol.value)
            self._conn = conn
            try:
                await self._session(conn)
            except ConnectError as exc:
                log.warning("mqtt: %s", exc)
            finally:
                self._conn = None
                if not self._stopping.is_set():
                    await conn.abort("session ended")
            if not self._stopping.is_set():
                taken = self._taken_over(conn)
                delay = backoff_delay(self.takeovers.recent() if taken else 0, self.mqtt.reconnect_min_s,
                                      self.mqtt.reconnect_max_s)
                log.log(logging.DEBUG if taken else logging.WARNING, "mqtt: connection lost (%s); reconnecting in "
                        "%.1f s", conn.close_reason, delay)
                await self._sleep(delay)

    def _taken_over(self, conn: Connection) -> bool:
        """Note a takeover of the session: alarm, and one rate-limited report instead of a line per reconnect
        (the reconnects then back off by the number of recent takeovers)."""
        if conn.close_code is None:   # closed by this side, not by the broker
            return False
        taken = self.takeovers.connection_lost(conn.close_code, time.monotonic() - conn.connected_at,
                                               refusals=conn.refusals)
        line = self.takeovers.report()
        if line is not None:
            log.error("%s", line)
        self._alarms_changed()
        return taken

    async def _sleep(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            pass

    async def _session(self, conn: Connection) -> None:
        filters = [(self.topics.command_filter, 1)] if self.processor is not None else []
        if self.fleet is not None:
            # Two SUBSCRIBEs in this order: the broker queues every retained tombstone before any retained
            # person record, so a replayed pre-erasure record arrives after the erasure it predates.
            conn.subscribe([(self.topics.fleet_tombstone_filter, 1)])
            filters.append((self.topics.fleet_filter, 1))
        if filters:
            conn.subscribe(filters)
        conn.publish(self.topics.status, self._status("online"), 1, True)
        self._published_head = None
        if self._ha is not None:
            for topic, payload in discovery_messages(self.topics, self.mqtt.ha_prefix):
                conn.publish(topic, payload, 1, True)
            self._ha_marker.write_text(json.dumps({"ha_prefix": self.mqtt.ha_prefix}))
            self._publish_ha_state()
        elif self._ha_marker.exists():
            self._remove_ha_discovery(conn)
        tasks = [asyncio.create_task(self._publisher.run(conn), name="mqtt-publisher"),
                 asyncio.create_task(self._health_loop(conn), name="mqtt-health")]
        stop = asyncio.ensure_future(self._stopping.wait())
        closed = asyncio.ensure_future(conn.closed.wait())
        try:
            await asyncio.wait([stop, closed, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise ConnectError(f"session task {task.get_name()} failed: {task.exception()}")
        finally:
            for waiter in (*tasks, stop, closed):
                waiter.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _health_loop(self, conn: Connection) -> None:
        while conn.connected:
            self._alarms_changed()   # alarms that clear with time (takeovers)
            if self.queue is not None and self.queue.depth:
                await self.queue.refresh_oldest()
            payload = json.dumps(self.health(), separators=(",", ":"), default=str).encode("utf-8")
            conn.publish(self.topics.health, payload, 0, True)
            await self._publish_audit_head(conn)
            await asyncio.sleep(self.mqtt.health_interval_s)

    async def _publish_audit_head(self, conn: Connection) -> None:
        """The store's signed audit head, retained, whenever it moved: a copy off the device that shows records
        cut from the end of the ledger even if the head file on the device goes with them."""
        payload = await asyncio.get_running_loop().run_in_executor(None, self._audit_head_payload)
        if payload is not None and payload != self._published_head:
            conn.publish(self.topics.audit_head, payload, 1, True)
            self._published_head = payload

    def _audit_head_payload(self) -> Optional[bytes]:
        from ..store.audit_head import HeadFile, HeadFileError

        try:
            head = HeadFile(self.config.audit_head_path).read()
        except HeadFileError as exc:
            log.warning("mqtt: audit head not published: %s", exc)
            return None
        if head is None:
            return None
        return json.dumps({"device_id": self.device_id, **head.as_dict()}, separators=(",", ":")).encode("utf-8")

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        payload = bytes(message.payload)   # typed bytes | bytearray
        name = self.topics.command_name(topic)
        if name is not None:
            if self.processor is not None:
                self.processor.submit(name, payload, bool(message.retain))
            return
        if self.fleet is not None:
            self.fleet.received(topic, payload)

    def _reply(self, name: str, payload: dict[str, Any]) -> None:
        conn = self._conn
        if conn is None or not conn.connected:
            log.warning("mqtt: result of %s %s not sent: not connected", name, payload.get("request_id"))
            return
        try:
            signed = sign_message(payload, self._device_key)
            conn.publish(self.topics.command_result(name), json.dumps(signed).encode("utf-8"), 1, False)
        except (ConnectError, ValueError) as exc:
            log.warning("mqtt: result of %s not sent: %s", name, exc)

    async def _audit(self, action: str, detail: dict[str, Any]) -> None:
        callback = self._audit_cb
        if callback is None:
            return
        try:
            if inspect.iscoroutinefunction(callback):
                await callback(action, detail)
            else:
                await self._in_store(callback, action, detail)
        except Exception:
            log.exception("mqtt: audit record for %s failed", detail.get("command"))

    def _remove_ha_discovery(self, conn: Connection) -> None:
        """Discovery was on at an earlier start and is off now: remove the entities from Home Assistant
        (empty retained configs under the prefix they were published with)."""
        try:
            prefix = str(json.loads(self._ha_marker.read_text())["ha_prefix"])
        except (OSError, ValueError, KeyError, TypeError):
            prefix = self.mqtt.ha_prefix
        for topic, payload in removal_messages(self.topics, prefix):
            conn.publish(topic, payload, 1, True)
        conn.publish(self.topics.ha_state, b"", 0, True)
        self._ha_marker.unlink(missing_ok=True)
        log.info("mqtt: Home Assistant discovery is off: removed this kiosk's entities under %s/", prefix)

    def _publish_ha_state(self) -> None:
        conn = self._conn
        if self._ha is None or conn is None or not conn.connected:
            return
        conn.publish(self.topics.ha_state, json.dumps(self._ha.document()).encode("utf-8"), 0, True)

    def _alarms_changed(self) -> None:
        alarms = self.alarms
        if alarms == self._last_alarms:
            return
        raised, cleared = alarms - self._last_alarms, self._last_alarms - alarms
        self._last_alarms = alarms
        if raised:
            log.error("mqtt: alarm raised: %s", ", ".join(sorted(raised)))
        if cleared:
            log.info("mqtt: alarm cleared: %s", ", ".join(sorted(cleared)))
        if self._on_alarm is not None:
            try:
                self._on_alarm(alarms)
            except Exception:
                log.exception("mqtt: on_alarm callback failed")

