"""Access policy: a pure function from what was observed and the configuration to a decision.

`decide(observation, config)` looks at identity (the matcher's result and the margin to the
runner-up), thermal liveness, temperature readings, the mask score, the time and the person's
record (role, schedule, validity window, status). It returns `granted`, `denied` with every
reason, or `retry` with a message for the person ("please come closer"...) while a better
observation could still change the verdict. When the caller has retried long enough it sets
`observation.final`; every open question then counts against the person ("please see staff").
No I/O, no clock: the same inputs always give the same decision.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Optional
from zoneinfo import ZoneInfo

from ..config import KioskConfig
from ..config.temperature import FeverMode, MaskPolicy, ScreeningOrder
from ..recognition.observations import PersonInfo
from ..types import LivenessResult, MatchResult, TemperatureReading
from . import catalogue


class Outcome(StrEnum):
    granted = "granted"
    denied = "denied"
    retry = "retry"     # no verdict yet: ask the person for something and look again


class Notice(StrEnum):
    """What the person at the kiosk is told; kiosk.access.feedback maps each to a screen, LED and buzzer."""

    welcome = "welcome"
    come_closer = "come_closer"
    stand_still = "stand_still"
    look_at_camera = "look_at_camera"
    wear_mask = "wear_mask"
    remove_mask = "remove_mask"
    denied = "denied"
    fever = "fever"
    see_staff = "see_staff"


# English, for logs, events and the OpenCV window; the web screen speaks display.language (kiosk.access.catalogue).
MESSAGES: dict[Notice, str] = {notice: catalogue.text(notice.value) for notice in Notice}


# Reasons (stable strings: they go into events and logs).
NOT_LIVE = "not_live"
LIVENESS_PENDING = "liveness_pending"          # retry; final: liveness_unavailable
LIVENESS_UNAVAILABLE = "liveness_unavailable"
UNKNOWN_FACE = "unknown_face"
AMBIGUOUS_MATCH = "ambiguous_match"
FACE_NOT_READY = "face_not_ready"              # no embedding yet (quality gates); final: face_quality
FACE_QUALITY = "face_quality"
SUSPENDED = "suspended"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"
VISITOR_WITHOUT_WINDOW = "visitor_without_window"
OUTSIDE_SCHEDULE = "outside_schedule"
NO_SCHEDULE_FOR_ROLE = "no_schedule_for_role"
INVALID_SCHEDULE = "invalid_schedule"
FEVER = "fever"
TEMPERATURE_LOW_QUALITY = "temperature_low_quality"   # retry; final: temperature_unreadable
TEMPERATURE_UNREADABLE = "temperature_unreadable"
FEVER_UNCONFIRMED = "fever_unconfirmed"               # retry, and the final reason if it stays so
TEMPERATURE_NOT_MEASURED = "temperature_not_measured"  # no thermal sensor configured (warning)
NO_MASK = "no_mask"                                    # require: retry then deny; warn: warning
MASK_ON = "mask_on"                                    # forbid: retry then deny
MASK_NOT_CHECKED = "mask_not_checked"                  # require, but the pipeline gave no mask score
RECOGNISED = "recognised"

# Denial reasons that leave the identity unproven: the best match is only a candidate (events put it in
# `candidate`, not `person`; a photo of an employee must not read as that employee).
UNIDENTIFIED = frozenset({NOT_LIVE, LIVENESS_UNAVAILABLE, UNKNOWN_FACE, AMBIGUOUS_MATCH, FACE_QUALITY})

# What a verdict was verified by (`Decision.checks`, the events' `verify_mode`), in this order.
CHECK_ORDER = ("face", "liveness", "temperature", "mask")

# Alerts: extra events of these docs/contracts.md types go out with the decision.
FEVER_ALERT = "fever_alert"
SPOOF_ATTEMPT = "spoof_attempt"
UNKNOWN_FACE_ALERT = "unknown_face"


@dataclass(frozen=True)
class Observation:
    """Everything seen of one person, aggregated by kiosk.access.tracker over the confirming frames."""

    at: datetime                                    # wall-clock time of the decision (aware)
    match: Optional[MatchResult] = None             # None = no embedding yet
    person: Optional[PersonInfo] = None             # the matched person's record (None = unknown)
    liveness: Optional[LivenessResult] = None       # None = not measured (yet)
    temperatures: tuple[TemperatureReading, ...] = ()  # this person's readings, oldest first
    mask_score: Optional[float] = None              # None = not checked
    face_hint: Optional[str] = None                 # FaceQuality.reason while there is no embedding
    final: bool = False                             # retried long enough: decide now


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]        # denied: every reason; retry: what is awaited; granted: recognised + warnings
    notice: Notice
    message: str                    # the text for the person
    alerts: tuple[str, ...] = ()    # event types to raise besides the access event
    fever: Optional[bool] = None    # None = not screened
    temperature: Optional[TemperatureReading] = None  # the reading the verdict used
    masked: Optional[bool] = None
    checks: tuple[str, ...] = ()    # the factors checked for a verdict (CHECK_ORDER); a grant passed them all

    @property
    def granted(self) -> bool:
        return self.outcome == Outcome.granted

    @property
    def identified(self) -> bool:
        """Whether the verdict proves who the person is (a grant, or a denial for a policy reason)."""
        return self.final and not UNIDENTIFIED.intersection(self.reasons)

    @property
    def verify_mode(self) -> Optional[str]:
        """"face", "face+liveness+temperature" ...: the checks joined by "+" (None when nothing was checked)."""
        return "+".join(self.checks) or None

    @property
    def final(self) -> bool:
        return self.outcome != Outcome.retry

    def as_event(self) -> dict[str, Any]:
        """The event's `decision` part (verdicts only)."""
        return {"outcome": self.outcome.value, "reasons": list(self.reasons)}


@dataclass
class _Findings:
    deny: list[str] = field(default_factory=list)
    retry: list[tuple[str, Notice]] = field(default_factory=list)
    warn: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


def decide(obs: Observation, config: KioskConfig) -> Decision:
    """The decision for one observation. Pure."""
    found = _Findings()
    if obs.match is None:
        if not obs.final:
            notice = _hint_notice(obs.face_hint)
            return Decision(Outcome.retry, (FACE_NOT_READY,), notice, MESSAGES[notice])
        found.deny.append(FACE_QUALITY)

    live = _check_liveness(obs, config, found)
    identity_ok = _check_identity(obs, config, found)
    if live is False:
        # A photo or a screen: refuse now; screening it or asking it to fix its mask makes no sense.
        return _verdict(Outcome.denied, found, obs, fever=None, reading=None, masked=None,
                        checks=_checks(obs, config, live, None, None))
    if UNKNOWN_FACE in found.deny:
        found.alerts.append(UNKNOWN_FACE_ALERT)
    fever, reading = _check_temperature(obs, config, found, identity_ok)
    masked = _check_mask(obs, config, found, identity_ok)

    if found.retry and not obs.final:
        code, notice = found.retry[0]
        return Decision(Outcome.retry, tuple(c for c, _ in found.retry), notice, MESSAGES[notice],
                        fever=fever, temperature=reading, masked=masked)
    if found.retry:   # final: every open question counts against the person
        _settle_retries(found, config)
    outcome = Outcome.denied if found.deny else Outcome.granted
    return _verdict(outcome, found, obs, fever=fever, reading=reading, masked=masked,
                    checks=_checks(obs, config, live, fever, masked))


def _checks(obs: Observation, config: KioskConfig, live: Optional[bool], fever: Optional[bool],
            masked: Optional[bool]) -> tuple[str, ...]:
    """The factors this verdict rests on: a face compared, a liveness result, a screening temperature (not in
    temperature.mode = off: measured only), a mask state the policy requires or forbids (not 'warn')."""
    done = {"face": obs.match is not None, "liveness": live is not None,
            "temperature": fever is not None and config.temperature.mode != FeverMode.off,
            "mask": masked is not None and config.mask.policy in (MaskPolicy.require, MaskPolicy.forbid)}
    return tuple(name for name in CHECK_ORDER if done[name])


# Liveness ------------------------------------------------------------------------------------------
def _check_liveness(obs: Observation, config: KioskConfig, found: _Findings) -> Optional[bool]:
    if not config.liveness.enabled or config.thermal.backend == "none":
        return None
    if obs.liveness is None:
        found.retry.append((LIVENESS_PENDING, Notice.stand_still))
        return None
    if not obs.liveness.live:
        found.deny.append(NOT_LIVE)
        found.alerts.append(SPOOF_ATTEMPT)
        return False
    return True


# Identity ------------------------------------------------------------------------------------------
def _check_identity(obs: Observation, config: KioskConfig, found: _Findings) -> bool:
    match = obs.match
    if match is None:
        return False
    if match.person_id is None or obs.person is None or not match.distance <= match.threshold:
        found.deny.append(UNKNOWN_FACE)
        return False
    if obs.person.person_id != match.person_id:
        raise ValueError("observation.person does not belong to observation.match")
    if match.margin < config.recognition.min_margin:
        found.deny.append(AMBIGUOUS_MATCH)
        return False
    before = len(found.deny)
    person = obs.person
    if person.status != "active":
        found.deny.append(SUSPENDED)
    local = _local_time(obs.at, config.device.timezone)
    if person.valid_from is not None and local < _aware(person.valid_from, local):
        found.deny.append(NOT_YET_VALID)
    if person.valid_to is not None and local >= _aware(person.valid_to, local):
        found.deny.append(EXPIRED)
    if person.role == "visitor" and person.valid_to is None:
        found.deny.append(VISITOR_WITHOUT_WINDOW)
    found.deny.extend(_check_schedule(person, local, config))
    return len(found.deny) == before


def _check_schedule(person: PersonInfo, local: datetime, config: KioskConfig) -> list[str]:
    schedules = config.access.schedules
    if person.schedule:
        try:
            parsed = person_schedule(person.schedule, config)
        except ValueError:
            return [INVALID_SCHEDULE]
    elif person.role in schedules:
        parsed = [Window.parse(text) for text in schedules[person.role]]   # checked when the config was loaded
    else:
        return [NO_SCHEDULE_FOR_ROLE]
    return [] if any(window.contains(local) for window in parsed) else [OUTSIDE_SCHEDULE]


def person_schedule(spec: str, config: KioskConfig) -> list[Window]:
    """A person's own schedule: a name in access.schedules, or windows 'mon-fri 08:00-12:00; sat 09:00-12:00'.
    ValueError naming the problem when it is neither."""
    spec = spec.strip()
    if spec in config.access.schedules:
        return [Window.parse(text) for text in config.access.schedules[spec]]
    parts = [part for part in re.split(r"[;,]", spec) if part.strip()]
    try:
        if not parts:
            raise ValueError(spec)
        return [Window.parse(part) for part in parts]
    except ValueError:
        names = ", ".join(sorted(config.access.schedules)) or "none"
        raise ValueError(f"schedule '{spec}' is neither a name in access.schedules ({names}) nor windows like "
                         "'mon-fri 07:00-19:00'") from None


def unknown_schedules(persons: Iterable[Any], config: KioskConfig) -> dict[str, list[str]]:
    """Person schedules that resolve to nothing (a renamed or removed access.schedules entry): each with the
    employee numbers (or person ids) of the persons who have it. Those persons are denied 'invalid_schedule'."""
    found: dict[str, list[str]] = {}
    for person in persons:
        if person.schedule:
            try:
                person_schedule(person.schedule, config)
            except ValueError:
                found.setdefault(person.schedule.strip(), []).append(person.employee_no or person.person_id)
    return found


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))? "
                     r"(\d\d):(\d\d)-(\d\d):(\d\d)$")


@dataclass(frozen=True)
class Window:
    """A weekly window 'mon-fri 07:00-19:00'. Day ranges may wrap (fri-mon); an end at or before
    the start runs past midnight and belongs to the day it starts on; the end is exclusive."""

    days: frozenset[int]   # 0 = Monday
    start_min: int
    end_min: int

    @classmethod
    def parse(cls, text: str) -> Window:
        found = _WINDOW.match(text.strip().lower())
        if not found:
            raise ValueError(f"'{text}' is not a window like 'mon-fri 07:00-19:00'")
        first, last, h1, m1, h2, m2 = found.groups()
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days = frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        if start >= 24 * 60 or end > 24 * 60 or int(m1) > 59 or int(m2) > 59:
            raise ValueError(f"'{text}': times must be 00:00 to 24:00")
        return cls(days, start, end)

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.start_min < self.end_min:
            return day in self.days and self.start_min <= minute < self.end_min
        return (day in self.days and minute >= self.start_min) or ((day - 1) % 7 in self.days and minute < self.end_min)


# Temperature ---------------------------------------------------------------------------------------
def _check_temperature(obs: Observation, config: KioskConfig, found: _Findings,
                       identity_ok: bool) -> tuple[Optional[bool], Optional[TemperatureReading]]:
    """Returns (fever, the reading used). Readings at or above the threshold are fever."""
    cfg = config.temperature
    good = [r for r in obs.temperatures if r.body_c is not None and math.isfinite(r.body_c)
            and r.quality >= cfg.min_quality]
    latest = good[-1] if good else None
    fever = None if latest is None or latest.body_c is None else latest.body_c >= cfg.fever_threshold_c
    if cfg.mode == FeverMode.off:
        return fever, latest                     # measured and reported only
    if config.thermal.backend == "none":
        found.warn.append(TEMPERATURE_NOT_MEASURED)
        return None, None
    if cfg.order == ScreeningOrder.after_identification and not identity_ok:
        return None, None                        # only recognised persons are screened
    if latest is None:
        last = obs.temperatures[-1] if obs.temperatures else None
        found.retry.append((TEMPERATURE_LOW_QUALITY, _hint_notice(last.reason if last else None)))
        return None, None
    if not fever:
        return False, latest
    run = 0
    for reading in reversed(good):
        if reading.body_c is None or reading.body_c < cfg.fever_threshold_c:
            break
        run += 1
    if run < cfg.confirm_readings:
        found.retry.append((FEVER_UNCONFIRMED, Notice.stand_still))  # a second reading before denying
        return None, latest
    found.alerts.append(FEVER_ALERT)
    if cfg.mode == FeverMode.hard:
        found.deny.append(FEVER)
    else:
        found.warn.append(FEVER)
    return True, latest


# Mask ----------------------------------------------------------------------------------------------
def _check_mask(obs: Observation, config: KioskConfig, found: _Findings, identity_ok: bool) -> Optional[bool]:
    policy = config.mask.policy
    masked = None if obs.mask_score is None else obs.mask_score >= config.mask.threshold
    if policy == MaskPolicy.ignore:
        return masked
    if policy == MaskPolicy.require:
        if not identity_ok:
            return masked                        # no point asking an unknown face to put a mask on
        if masked is None:
            found.retry.append((MASK_NOT_CHECKED, Notice.wear_mask))
        elif not masked:
            found.retry.append((NO_MASK, Notice.wear_mask))
    elif policy == MaskPolicy.warn:
        if masked is False and identity_ok:
            found.warn.append(NO_MASK)
    elif policy == MaskPolicy.forbid and masked:
        # Also for an unknown face: the mask may be why it was not recognised.
        found.retry.append((MASK_ON, Notice.remove_mask))
    return masked


# Outcome -------------------------------------------------------------------------------------------
def _settle_retries(found: _Findings, config: KioskConfig) -> None:
    soft = config.temperature.mode == FeverMode.soft
    for code, _ in found.retry:
        if code == TEMPERATURE_LOW_QUALITY:
            (found.warn if soft else found.deny).append(TEMPERATURE_UNREADABLE)
        elif code == FEVER_UNCONFIRMED:
            (found.warn if soft else found.deny).append(FEVER_UNCONFIRMED)
        elif code == LIVENESS_PENDING:
            found.deny.append(LIVENESS_UNAVAILABLE)
        else:
            found.deny.append(code)
    found.retry.clear()


def _verdict(outcome: Outcome, found: _Findings, obs: Observation, *, fever: Optional[bool],
             reading: Optional[TemperatureReading], masked: Optional[bool], checks: tuple[str, ...]) -> Decision:
    if outcome == Outcome.granted:
        reasons = (RECOGNISED, *found.warn)
        notice = Notice.welcome
        name = obs.person.name.split()[0] if obs.person and obs.person.name.strip() else ""
        parts = [catalogue.welcome("en", name)]
        if reading is not None and reading.body_c is not None:
            parts.append(catalogue.temperature("en", reading.body_c))
        if NO_MASK in found.warn:
            parts.append(catalogue.text("mask_reminder"))
        message = " - ".join(parts)
    else:
        reasons = tuple(found.deny)
        if FEVER in reasons:
            notice = Notice.fever
        elif obs.final:
            notice = Notice.see_staff
        else:
            notice = Notice.denied
        message = MESSAGES[notice]
    return Decision(outcome, reasons, notice, message, alerts=tuple(dict.fromkeys(found.alerts)), fever=fever,
                    temperature=reading, masked=masked, checks=checks)


# Helpers -------------------------------------------------------------------------------------------
def _hint_notice(hint: Optional[str]) -> Notice:
    """A Notice for a quality hint from the face pipeline or the temperature reading."""
    text = (hint or "").lower()
    if "closer" in text or "thermal view" in text or "small" in text:
        return Notice.come_closer
    if "look" in text or "turn" in text:
        return Notice.look_at_camera
    return Notice.stand_still


def _local_time(at: datetime, timezone: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError("observation time must be timezone-aware")
    return at.astimezone() if timezone == "localtime" else at.astimezone(ZoneInfo(timezone))


def _aware(instant: datetime, like: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=like.tzinfo)


def describe(decision: Decision) -> str:
    """One log line for a decision."""
    return f"{decision.outcome.value} reasons={','.join(decision.reasons) or '-'} notice={decision.notice.value}"


__all__ = ["Outcome", "Notice", "MESSAGES", "Observation", "Decision", "Window", "decide", "describe"]
