"""Fleet sync: person records shared between the kiosks of a site over the broker (docs/contracts.md section 2).

Transport only; the store owns content and the conflict rule. Each person is one retained QoS 1
message on `<fleet_topic>/persons/<person_id>`, encrypted with AES-256-GCM under the site's
fleet key (associated data: the person_id). A device that (re)connects receives every retained
record and applies them through `Store.apply_person_record`, so an offline device catches up.

Local changes go through the durable outbox, so a change made while offline is published on
reconnect. The store's change hook only fires in this process, so every RECONCILE_PERIOD_S the
local versions (`Store.persons`) are compared with the versions noted in the outbox file, which
catches changes made by the CLI or while the daemon was not running.

Convergence rule: when a device receives a record older than its own version of the person, it
republishes its own, so the retained message always ends at the highest version even when an
older publication arrives last. The store exports only persons whose consent scope contains
"fleet" (and every tombstone); this module also refuses to publish anything else.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Any, Optional

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .durable import DurableQueue
from .outbox import Message
from .schemas import first_error
from .topics import Topics

log = logging.getLogger("kiosk.mqtt")

RunInStore = Callable[..., Awaitable[Any]]
Version = tuple[int, str]

RECONCILE_PERIOD_S = 10.0
ALARM_NO_KEY = "fleet_key_missing"
ALARM_UNDECRYPTABLE = "fleet_undecryptable"


class FleetError(Exception):
    """A fleet message that cannot be used (one line: why)."""

    def __init__(self, message: str, undecryptable: bool = False) -> None:
        super().__init__(message)
        self.undecryptable = undecryptable   # another fleet key or tampering, as opposed to a malformed record


class FleetCipher:
    """AES-256-GCM sealing of person records: `{"v": 1, "nonce": b64, "ciphertext": b64}`."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the fleet key is 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, record: dict[str, Any]) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        sealed = self._aead.encrypt(nonce, plain, record["person_id"].encode("ascii"))
        return json.dumps({"v": 1, "nonce": base64.b64encode(nonce).decode("ascii"),
                           "ciphertext": base64.b64encode(sealed).decode("ascii")}, separators=(",", ":")).encode()

    def open(self, person_id: str, payload: bytes) -> dict[str, Any]:
        try:
            envelope = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FleetError("not JSON") from None
        problem = first_error("fleet-envelope", envelope)
        if problem:
            raise FleetError(f"envelope: {problem}")
        try:
            nonce = base64.b64decode(envelope["nonce"], validate=True)
            sealed = base64.b64decode(envelope["ciphertext"], validate=True)
            plain = self._aead.decrypt(nonce, sealed, person_id.encode("ascii"))
        except (binascii.Error, ValueError):
            raise FleetError("nonce or ciphertext is not valid base64") from None
        except InvalidTag:
            raise FleetError("cannot decrypt: another fleet key, a tampered message, or moved to another topic",
                             undecryptable=True) from None
        try:
            record = json.loads(plain)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FleetError("decrypted record is not JSON") from None
        problem = first_error("person-record", record)
        if problem:
            raise FleetError(f"record: {problem}")
        if record["person_id"] != person_id:
            raise FleetError(f"record for {record['person_id']} published under {person_id}")
        return record


def version_of(record: dict[str, Any]) -> Version:
    return int(record["version"]["counter"]), str(record["version"]["device"])


def shareable(record: dict[str, Any]) -> bool:
    """Tombstones always; live persons only with 'fleet' in their consent scope."""
    if record.get("deleted"):
        return True
    consent = record.get("consent") or {}
    return "fleet" in (consent.get("scope") or [])


class FleetSync:
    def __init__(self, store: Any, cipher: FleetCipher, topics: Topics, queue: DurableQueue,
                 run_in_store: RunInStore, on_alarm: Optional[Callable[[], None]] = None) -> None:
        self._store = store
        self._cipher = cipher
        self._topics = topics
        self._queue = queue
        self._run = run_in_store
        self._known: dict[str, Version] = {}   # newest version published or applied, per person
        self._unsaved: dict[str, Version] = {}
        self._incoming: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._outgoing: asyncio.Queue[str] = asyncio.Queue()
        self._changed_pending: set[str] = set()
        self.applied = 0
        self.ignored = 0
        self.errors = 0
        self.alarms: set[str] = set()
        self._on_alarm = on_alarm

    # -- outgoing ---------------------------------------------------------------------------------------
    def person_changed(self, person_id: str) -> None:
        """The store's change hook: safe to call from any thread."""
        self._loop.call_soon_threadsafe(self._changed, person_id)

    def _changed(self, person_id: str) -> None:
        if person_id not in self._changed_pending:   # one export covers any number of changes made meanwhile
            self._changed_pending.add(person_id)
            self._outgoing.put_nowait(person_id)

    async def run_outgoing(self) -> None:
        """Export and queue changed persons one at a time, in the order they changed."""
        while True:
            person_id = await self._outgoing.get()
            self._changed_pending.discard(person_id)
            try:
                await self.publish_local(person_id)
            except Exception:
                log.exception("fleet: cannot publish person %s", person_id)

    def _note(self, person_id: str, version: Version) -> None:
        """Local versions only grow, so the highest one seen is this device's current one."""
        known = self._known.get(person_id)
        if known is None or version > known:
            self._known[person_id] = version
            self._unsaved[person_id] = version

    async def load_versions(self) -> None:
        """The versions this device published or applied before (kept in the outbox file)."""
        self._known = await self._queue.fleet_versions()

    async def run_maintenance(self, reconcile_period_s: float = RECONCILE_PERIOD_S) -> None:
        """Save noted versions every second; reconcile with the store at start and every period."""
        next_reconcile = 0.0
        while True:
            if self._unsaved:
                batch, self._unsaved = self._unsaved, {}
                try:
                    await self._queue.save_fleet_versions(batch)
                except Exception as exc:   # only an optimisation: at worst a record is published again
                    log.warning("fleet: cannot save published versions: %s", exc)
            now = self._loop.time()
            if now >= next_reconcile:
                next_reconcile = now + reconcile_period_s
                try:
                    await self.reconcile()
                except Exception:
                    log.exception("fleet: reconciliation with the store failed")
            await asyncio.sleep(1.0)

    async def reconcile(self) -> int:
        """Publish local changes the change hook did not see (made by the CLI, another process, or while
        the daemon was down): every person whose local version is newer than the one noted here.
        Returns how many were queued. Needs `Store.persons(include_deleted=True)`; skipped without it."""
        persons = getattr(self._store, "persons", None)
        if not callable(persons):
            return 0
        local = await self._run(lambda: persons(include_deleted=True))
        present = set()
        queued = 0
        for person in local:
            person_id, version = person.person_id, (int(person.version_counter), str(person.version_device))
            present.add(person_id)
            known = self._known.get(person_id)
            if known is not None and version <= known:
                continue
            if await self.publish_local(person_id):
                queued += 1
            else:
                self._note(person_id, version)      # not shared (no fleet consent): nothing to do until it changes
        for person_id in set(self._known) - present:   # the store lost it (restored from a backup): apply again
            del self._known[person_id]
        if queued:
            log.info("fleet: %d local changes made outside this process queued for the fleet", queued)
        return queued

    async def publish_local(self, person_id: str) -> bool:
        """Export this device's record of `person_id` and queue it (durably) for the fleet topic."""
        try:
            record = await self._run(self._store.export_person_record, person_id)
        except Exception as exc:
            log.error("fleet: cannot export person %s: %s", person_id, exc)
            return False
        return await self._queue_record(record)

    async def _queue_record(self, record: Optional[dict[str, Any]], force: bool = False) -> bool:
        """Queue a record unless the fleet already has this version (published or applied here), or `force`."""
        if not record or not shareable(record):   # None: the person's consent does not cover the fleet
            return False
        person_id, version = record["person_id"], version_of(record)
        known = self._known.get(person_id)
        if not force and known is not None and version <= known:
            return False
        self._note(person_id, version)
        await self._queue.put(Message(self._topics.fleet_person(person_id), self._cipher.seal(record), 1, True,
                                      "fleet", person_id, time.time()))
        return True

    async def republish_all(self) -> int:
        """Queue every shareable local record (the `sync` command), reading the store in batches."""
        records = await self._run(lambda: iter(self._store.all_person_records()))
        count = 0
        while batch := await self._run(lambda: list(islice(records, 100))):
            for record in batch:
                count += await self._queue_record(record, force=True)
        return count

    # -- incoming ---------------------------------------------------------------------------------------
    def received(self, topic: str, payload: bytes) -> None:
        """From the MQTT message callback (loop thread): queue for the worker, in arrival order."""
        person_id = self._topics.fleet_person_id(topic)
        if person_id is None or not payload:   # an empty retained message clears a topic: nothing to apply
            return
        self._incoming.put_nowait((person_id, payload))

    async def run_incoming(self) -> None:
        """Apply received records one at a time, in arrival order."""
        while True:
            person_id, payload = await self._incoming.get()
            try:
                await self._apply(person_id, payload)
            except Exception:
                self.errors += 1
                log.exception("fleet: error while applying the record of %s", person_id)

    async def _apply(self, person_id: str, payload: bytes) -> None:
        try:
            record = self._cipher.open(person_id, payload)
        except FleetError as exc:
            self.errors += 1
            if exc.undecryptable and ALARM_UNDECRYPTABLE not in self.alarms:
                self.alarms.add(ALARM_UNDECRYPTABLE)
                if self._on_alarm is not None:
                    self._on_alarm()
            log.error("fleet: ignored the record on %s: %s", self._topics.fleet_person(person_id), exc)
            return
        incoming = version_of(record)
        known = self._known.get(person_id)
        if known is not None and incoming == known:
            self.ignored += 1
            return
        if known is not None and incoming < known:
            self.ignored += 1
            await self._republish_if_newer(person_id, incoming)
            return
        try:
            applied = await self._run(self._store.apply_person_record, record)
        except Exception as exc:  # the store refused the record (e.g. RecordError): one line, go on
            self.errors += 1
            log.error("fleet: the store refused the record of %s version %s: %s", person_id, incoming, exc)
            return
        if applied:
            self.applied += 1
            self._note(person_id, incoming)
            log.info("fleet: applied %s of person %s version %s", "erasure" if record["deleted"] else "record",
                     person_id, incoming)
        else:
            self.ignored += 1
            await self._republish_if_newer(person_id, incoming)

    async def _republish_if_newer(self, person_id: str, incoming: Version) -> None:
        try:
            local = await self._run(self._store.export_person_record, person_id)
        except Exception as exc:
            log.error("fleet: cannot export person %s: %s", person_id, exc)
            return
        if not local:
            return
        mine = version_of(local)
        self._note(person_id, mine)
        if mine > incoming and shareable(local):
            log.info("fleet: the fleet holds %s of person %s, this device %s: republishing", incoming, person_id, mine)
            await self._queue_record(local, force=True)
