"""Events for verdicts: an access event for every decision, alerts, and attendance (clock in/out).

`Attendance.events_for(verdict, at)` returns the unsigned event dicts of docs/contracts.md section 1
for one verdict (the store signs and keeps them, MQTT publishes them):

- `access_granted` / `access_denied` for every verdict, with every reason of a denial;
- `fever_alert`, `spoof_attempt`, `unknown_face` when the policy raised them;
- `attendance` for a granted person whose role is in `attendance.roles`, at most one per person
  per `attendance.cooldown_s`. The direction comes from the device role (`entry` = in,
  `exit` = out) or, with `attendance.mode = "first_last"` or a device of role `both`, from the
  day: the person's first attendance of the day is "in", later ones "out" (the last one is the
  clock-out). A day begins at `attendance.day_starts_at`, local time of `device.timezone`.

The ledger (per person: last attendance time, the day of their first clock-in) survives restarts
through `save()` / the `state_path` given at construction; `save()` writes a small JSON file, so
call it off the event loop. It is derived data: a damaged file raises `LedgerDamaged`, and
`replay()` rebuilds the ledger from the attendance events of the signed event log.
"""
from __future__ import annotations

import json
import logging
import math
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

from ..config import KioskConfig
from ..config.device import DeviceRole
from ..config.gate import AttendanceMode
from ..config.mqtt import AttendanceField
from ..runtime.files import set_aside, write_atomic
from .policy import Decision, Observation
from .tracker import Verdict

log = logging.getLogger("kiosk.attendance")
LEDGER_FILE = "attendance.json"
REPLAY_HOURS = 48     # attendance events older than this change nothing (cooldowns are shorter, days begin once)


class LedgerDamaged(ValueError):
    """The ledger file exists but cannot be read as a ledger."""


class Attendance:
    def __init__(self, config: KioskConfig, state_path: Optional[Path] = None) -> None:
        self.config = config
        self.state_path = state_path
        self._last: dict[str, datetime] = {}     # person_id -> last attendance event (aware)
        self._first_day: dict[str, date] = {}    # person_id -> attendance day of their last clock-in
        if state_path is not None:
            self._load(state_path)

    # Verdicts ----------------------------------------------------------------------------------
    def events_for(self, verdict: Verdict, at: Optional[datetime] = None) -> list[dict[str, Any]]:
        """Every event for one verdict, access event first. `at` defaults to the observation time."""
        decision, obs = verdict.decision, verdict.observation
        at = at or obs.at
        parts: dict[str, Any] = observation_parts(decision, obs)   # spread into make_event's keywords
        kind = "access_granted" if decision.granted else "access_denied"
        detail = {"track_id": verdict.track_id, "message": decision.message}
        walkup: dict[str, Any] = {"walkup_id": verdict.walkup_id, "verify_mode": decision.verify_mode}
        events = [make_event(kind, self.config, at, **parts, **walkup, detail=detail)]
        for alert in decision.alerts:
            events.append(make_event(alert, self.config, at, **parts, **walkup, detail=detail))
        direction = self.clock(decision, obs, at)
        if direction is not None:
            events.append(self.attendance_event(parts, direction, at, **walkup))
        return events

    def attendance_event(self, parts: dict[str, Optional[dict]], direction: str, at: datetime, *,
                         walkup_id: Optional[str] = None, verify_mode: Optional[str] = None) -> dict[str, Any]:
        """The HR feed's event: who, which way, and only the parts `mqtt.attendance_fields` names."""
        fields = set(self.config.mqtt.attendance_fields)
        person = parts["person"] or {}
        who = {key: value for key, value in person.items()
               if key in ("person_id", "employee_no") or AttendanceField(key) in fields}
        extra = {part: parts[part] for part in ("temperature", "mask", "decision", "match")
                 if AttendanceField(part) in fields}
        return make_event("attendance", self.config, at, person=who, attendance={"direction": direction},
                          walkup_id=walkup_id, verify_mode=verify_mode, **extra)

    def clock(self, decision: Decision, obs: Observation, at: datetime) -> Optional[str]:
        """"in", "out" or None (no attendance event) for a verdict; updates the ledger."""
        person = obs.person
        cfg = self.config.attendance
        if not decision.granted or person is None or person.role not in cfg.roles:
            return None
        last = self._last.get(person.person_id)
        if last is not None and (at - last).total_seconds() < cfg.cooldown_s:
            return None
        role = self.config.device.role
        day = self.attendance_day(at)
        if cfg.mode == AttendanceMode.device_role and role == DeviceRole.entry:
            direction = "in"
        elif cfg.mode == AttendanceMode.device_role and role == DeviceRole.exit:
            direction = "out"
        else:
            direction = "out" if self._first_day.get(person.person_id) == day else "in"
        if direction == "in":
            self._first_day[person.person_id] = day
        self._last[person.person_id] = at
        return direction

    def attendance_day(self, at: datetime) -> date:
        return attendance_day(at, self.config)

    # Ledger ------------------------------------------------------------------------------------
    def save(self, path: Optional[Path] = None) -> None:
        """Write the ledger (atomically). Blocking: run it in an executor."""
        path = path or self.state_path
        if path is None:
            return
        # Copies first: the event loop may add a person to the ledger while this runs in a thread.
        last, first_day = dict(self._last), dict(self._first_day)
        data = {"last": {pid: when.isoformat() for pid, when in last.items()},
                "first_day": {pid: day.isoformat() for pid, day in first_day.items()}}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, sort_keys=True).encode("utf-8"))

    def replay(self, events: list[dict[str, Any]]) -> int:
        """Rebuild the ledger from stored `attendance` events, oldest first; returns how many were used."""
        used = 0
        for event in events:
            try:
                person_id = event["person"]["person_id"]
                at = datetime.fromisoformat(event["device_time"])
                direction = event["attendance"]["direction"]
            except (KeyError, TypeError, ValueError):
                continue
            if event.get("type") != "attendance" or at.tzinfo is None:
                continue
            self._last[person_id] = max(at, self._last.get(person_id, at))
            if direction == "in":
                self._first_day[person_id] = self.attendance_day(at)
            used += 1
        return used

    def forget(self, person_id: str) -> None:
        """Drop a person from the ledger (erasure)."""
        self._last.pop(person_id, None)
        self._first_day.pop(person_id, None)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            self._last = {pid: datetime.fromisoformat(when) for pid, when in data.get("last", {}).items()}
            self._first_day = {pid: date.fromisoformat(day) for pid, day in data.get("first_day", {}).items()}
        except FileNotFoundError:
            return
        except (ValueError, TypeError, AttributeError) as exc:
            raise LedgerDamaged(f"{path}: attendance ledger unreadable ({exc})") from None


def open_ledger(config: KioskConfig, store: Any) -> Attendance:
    """The ledger `<state_dir>/attendance.json`; a damaged file is set aside (`.damaged-<UTC time>`) and the
    ledger rebuilt from the attendance events of the last REPLAY_HOURS in `store`'s signed event log."""
    path = config.state_dir / LEDGER_FILE
    try:
        return Attendance(config, path)
    except LedgerDamaged as exc:
        aside = set_aside(path)
        attendance = Attendance(config, path)
        since = (datetime.now(UTC) - timedelta(hours=REPLAY_HOURS)).isoformat()
        used = attendance.replay(store.signed_events(since=since, types=["attendance"]))
        attendance.save()
        log.warning("%s; set aside as %s, ledger rebuilt from %d attendance events of the signed event log",
                    exc, aside.name, used)
        return attendance


def attendance_day(at: datetime, config: KioskConfig) -> date:
    """The attendance day `at` falls in (days begin at attendance.day_starts_at, local time)."""
    hours, minutes = (int(part) for part in config.attendance.day_starts_at.split(":"))
    return (_local(at, config.device.timezone) - timedelta(hours=hours, minutes=minutes)).date()


# Event dicts -----------------------------------------------------------------------------------------
def make_event(kind: str, config: KioskConfig, at: datetime, *, person: Optional[dict] = None,
               temperature: Optional[dict] = None, liveness: Optional[dict] = None, mask: Optional[dict] = None,
               decision: Optional[dict] = None, attendance: Optional[dict] = None, match: Optional[dict] = None,
               detail: Optional[dict] = None, candidate: Optional[dict] = None, walkup_id: Optional[str] = None,
               verify_mode: Optional[str] = None) -> dict[str, Any]:
    """An unsigned event (docs/contracts.md section 1) stamped with the device id and time (the store adds
    `seq` when it records it)."""
    if at.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return {
        "type": kind,
        "event_id": uuid.uuid4().hex,
        "device_id": config.device.id,
        "device_time": _local(at, config.device.timezone).isoformat(timespec="milliseconds"),
        "walkup_id": walkup_id,
        "person": person,
        "candidate": candidate,
        "verify_mode": verify_mode,
        "temperature": temperature,
        "liveness": liveness,
        "mask": mask,
        "decision": decision,
        "attendance": attendance,
        "match": match,
        "detail": detail,
    }


def observation_parts(decision: Decision, obs: Observation) -> dict[str, Optional[dict]]:
    """The event parts describing a verdict. No face data: no embedding, no image.

    `person` only when the verdict identified the person (a grant, or a denial for a policy reason such
    as schedule or fever); for a spoof, an unknown, ambiguous or unverified face the best match goes to
    `candidate`, with its id and employee number only (never the name)."""
    reading = decision.temperature
    if reading is None and obs.temperatures:
        reading = obs.temperatures[-1]
    temperature = None
    if reading is not None:
        temperature = {"body_c": _num(reading.body_c, 2), "skin_c": _num(reading.skin_c, 2),
                       "quality": _num(reading.quality, 3) or 0.0, "fever": decision.fever}
    liveness = None
    if obs.liveness is not None:
        liveness = {"live": bool(obs.liveness.live), "score": _num(obs.liveness.score, 3),
                    "reason": obs.liveness.reason}
    mask = None
    if obs.mask_score is not None:
        mask = {"score": _num(obs.mask_score, 3), "masked": bool(decision.masked)}
    match = None
    if obs.match is not None and math.isfinite(obs.match.distance):
        # margin is null when there is no runner-up (a gallery of one person).
        match = {"distance": _num(obs.match.distance, 4), "margin": _num(obs.match.margin, 4)}
    person = candidate = None
    if obs.person is not None and decision.identified:
        person = obs.person.as_event()
    elif obs.person is not None:
        candidate = {"person_id": obs.person.person_id, "employee_no": obs.person.employee_no}
    return {"person": person, "candidate": candidate, "temperature": temperature,
            "liveness": liveness, "mask": mask, "match": match,
            "decision": decision.as_event() if decision.final else None}


def _num(value: Optional[float], digits: int) -> Optional[float]:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _local(at: datetime, timezone: str) -> datetime:
    return at.astimezone() if timezone == "localtime" else at.astimezone(ZoneInfo(timezone))
