"""Fleet sync: person records shared between the kiosks of a site over the broker (docs/contracts.md section 2).

Transport only; the store owns content and the conflict rule. Each person is one retained QoS 1
message on `<fleet_topic>/persons/<person_id>`, signed by the publishing kiosk's device key
(fleet_signing.py) and encrypted with AES-256-GCM under the site's fleet key (associated data: the
person_id). Erasures are also retained on `<fleet_topic>/tombstones/<person_id>`, subscribed first,
so a device that (re)connects learns every erasure before it applies the persons' records, and a
replayed pre-erasure record on the person's topic is older than what the store already holds.

Repairs: an empty message (a cleared retained topic), a record that cannot be opened or verified,
or an older record on either topic makes the device republish its own record of that person (its
tombstone on both topics). Bad records are counted and raise an alarm that clears after
GOOD_TO_CLEAR good records or ALARM_QUIET_S without a bad one.

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
from .fleet_signing import FleetSigning
from .outbox import Message
from .schemas import first_error
from .signing import SignatureError
from .topics import Topics

log = logging.getLogger("kiosk.mqtt")

RunInStore = Callable[..., Awaitable[Any]]
Version = tuple[int, str]

RECONCILE_PERIOD_S = 10.0
ALARM_NO_KEY = "fleet_key_missing"
ALARM_UNDECRYPTABLE = "fleet_undecryptable"
ALARM_BAD_RECORDS = "fleet_bad_records"
GOOD_TO_CLEAR = 3          # good records after the last bad one that clear the alarms
ALARM_QUIET_S = 600.0      # or this long without a bad record


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
    def __init__(self, store: Any, cipher: FleetCipher, signing: FleetSigning, topics: Topics, queue: DurableQueue,
                 run_in_store: RunInStore, on_alarm: Optional[Callable[[], None]] = None) -> None:
        self._store = store
        self._cipher = cipher
        self._signing = signing
        self._topics = topics
        self._queue = queue
        self._run = run_in_store
        self._known: dict[str, Version] = {}   # newest version published or applied, per person
        self._unsaved: dict[str, Version] = {}
        self._incoming: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()   # (topic, person_id, payload)
        self._loop = asyncio.get_running_loop()
        self._outgoing: asyncio.Queue[str] = asyncio.Queue()
        self._changed_pending: set[str] = set()
        self.applied = 0
        self.ignored = 0
        self.errors = 0
        self.alarms: set[str] = set()
        self._on_alarm = on_alarm
        self._good_since_bad = 0
        self._last_bad = 0.0

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
            if self.alarms and now - self._last_bad >= ALARM_QUIET_S:
                self._clear_alarms()
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
        payload = self._cipher.seal(self._signing.sign(record))
        topics = [self._topics.fleet_person(person_id)]
        if record["deleted"]:
            topics.append(self._topics.fleet_tombstone(person_id))
        for topic in topics:
            await self._queue.put(Message(topic, payload, 1, True, "fleet", person_id, time.time()))
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
        person_id = self._topics.fleet_person_id(topic) or self._topics.fleet_tombstone_id(topic)
        if person_id is not None:
            self._incoming.put_nowait((topic, person_id, payload))

    async def run_incoming(self) -> None:
        """Apply received records one at a time, in arrival order."""
        while True:
            topic, person_id, payload = await self._incoming.get()
            try:
                await self._apply(topic, person_id, payload)
            except Exception:
                self.errors += 1
                log.exception("fleet: error while applying the record of %s", person_id)

    async def _apply(self, topic: str, person_id: str, payload: bytes) -> None:
        on_tombstones = self._topics.fleet_tombstone_id(topic) is not None
        if not payload:   # the retained copy was cleared: put this device's back
            await self._repair(person_id, on_tombstones, "cleared")
            return
        try:
            signed = self._cipher.open(person_id, payload)
            signer, record = await self._loop.run_in_executor(None, self._signing.verify, signed)
            if on_tombstones and not record["deleted"]:
                raise FleetError("a live record on a tombstone topic")
        except (FleetError, SignatureError) as exc:
            self._bad(isinstance(exc, FleetError) and exc.undecryptable)
            log.error("fleet: refused the record on %s: %s", topic, exc)
            await self._repair(person_id, on_tombstones, "replaced by a bad record")
            return
        self._good()
        incoming = version_of(record)
        known = self._known.get(person_id)
        if known is not None and incoming == known:
            self.ignored += 1
            return
        if known is not None and incoming < known:
            self.ignored += 1
            await self._republish_if_newer(person_id, incoming, on_tombstones)
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
            log.info("fleet: applied %s of person %s version %s (signed by %s)",
                     "erasure" if record["deleted"] else "record", person_id, incoming, signer)
        else:
            self.ignored += 1
            await self._republish_if_newer(person_id, incoming, on_tombstones)

    def _bad(self, undecryptable: bool) -> None:
        self.errors += 1
        self._good_since_bad = 0
        self._last_bad = self._loop.time()
        alarm = ALARM_UNDECRYPTABLE if undecryptable else ALARM_BAD_RECORDS
        if alarm not in self.alarms:
            self.alarms.add(alarm)
            if self._on_alarm is not None:
                self._on_alarm()

    def _good(self) -> None:
        self._good_since_bad += 1
        if self.alarms and self._good_since_bad >= GOOD_TO_CLEAR:
            self._clear_alarms()

    def _clear_alarms(self) -> None:
        log.info("fleet: good records flow again: alarms %s cleared", ", ".join(sorted(self.alarms)))
        self.alarms.clear()
        if self._on_alarm is not None:
            self._on_alarm()

    async def _local_record(self, person_id: str) -> Optional[dict[str, Any]]:
        try:
            return await self._run(self._store.export_person_record, person_id)
        except Exception as exc:   # PersonNotFound: nothing of this person here
            log.debug("fleet: no local record of person %s: %s", person_id, exc)
            return None

    async def _repair(self, person_id: str, on_tombstones: bool, what: str) -> None:
        """Republish this device's record when the retained copy was cleared or replaced by garbage (on the
        tombstone topic: only a tombstone)."""
        local = await self._local_record(person_id)
        if not local or not shareable(local) or (on_tombstones and not local["deleted"]):
            return
        log.warning("fleet: the retained record of person %s was %s: republishing version %s", person_id, what,
                    version_of(local))
        await self._queue_record(local, force=True)

    async def _republish_if_newer(self, person_id: str, incoming: Version, on_tombstones: bool) -> None:
        """Convergence: the fleet holds an older version than this device. An old tombstone of a person whose
        newer record is live is normal (the tombstone topic is never cleared) and needs nothing."""
        local = await self._local_record(person_id)
        if not local:
            return
        mine = version_of(local)
        self._note(person_id, mine)
        if on_tombstones and not local["deleted"]:
            return
        if mine > incoming and shareable(local):
            log.info("fleet: the fleet holds %s of person %s, this device %s: republishing", incoming, person_id, mine)
            await self._queue_record(local, force=True)
