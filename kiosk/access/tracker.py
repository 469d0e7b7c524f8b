"""The decision state machine: from per-frame observations to one verdict per person.

The kiosk decides for the person in front of it: the largest face in the frame. A person is
confirmed when `recognition.confirm_frames` consecutive frames with an embedding agree on the
identity (an enrolled person, or "unknown"); then the policy is asked. While it answers
"retry" the tracker keeps looking (and the prompt is shown); after `recognition.retry_timeout_s`
of retries it asks for a final verdict. An identity is decided once per track, and an
enrolled person once per `recognition.cooldown_s` across tracks. A different identity, or a
face that jumps elsewhere in the frame, is a new face: its state starts afresh. A face unseen
for `recognition.track_timeout_s` ends its track.

Synchronous and pure apart from its own state; time comes in as explicit arguments (a
monotonic `t` for durations and an aware `at` for schedules), so tests drive it without sleeping.
"""
from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from ..config import KioskConfig
from ..face.boxes import iou
from ..recognition.observations import NEW_FACE_IOU, FaceSample, PersonInfo
from ..types import Box, LivenessResult, MatchResult
from .policy import Decision, Observation, decide

HISTORY = 16            # readings kept per identity (temperatures, liveness, mask scores)

Policy = Callable[[Observation, KioskConfig], Decision]


@dataclass(frozen=True)
class Verdict:
    """A final decision (granted or denied) to act on: gate, events, attendance, feedback."""

    track_id: int
    decision: Decision
    observation: Observation
    walkup_id: str = field(default_factory=lambda: uuid.uuid4().hex)   # links the events of one walk-up


@dataclass(frozen=True)
class Step:
    """The tracker's answer for one frame."""

    track_id: Optional[int]                 # None = nobody in front of the kiosk
    verdict: Optional[Verdict] = None       # a new verdict (at most one per person per cooldown)
    prompt: Optional[Decision] = None       # a retry to show ("please come closer"...)
    ended_track: Optional[int] = None       # a track that ended at this step


_UNSET = object()


@dataclass
class _Track:
    id: int
    started: float
    last_seen: float
    box: Box
    candidate: object = _UNSET              # person_id, None (= unknown) or _UNSET
    streak: int = 0
    challenger: object = _UNSET             # another identity seen since, not yet confirmed
    challenges: int = 0                     # consecutive frames of the challenger
    decided: set = field(default_factory=set)
    retry_since: Optional[float] = None
    match: Optional[MatchResult] = None
    person: Optional[PersonInfo] = None
    temperatures: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    liveness: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    masks: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    walkup_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def reset_identity(self, candidate: object) -> None:
        self.candidate, self.streak, self.retry_since = candidate, 0, None
        self.walkup_id = uuid.uuid4().hex      # another identity confirmed: another person's walk-up
        self.temperatures.clear()
        self.liveness.clear()
        self.masks.clear()


class Tracker:
    def __init__(self, config: KioskConfig, policy: Policy = decide) -> None:
        self.config = config
        self.policy = policy
        self._track: Optional[_Track] = None
        self._next_id = 1
        self._last_decided: dict[str, float] = {}   # person_id -> t of the last verdict

    @property
    def track_id(self) -> Optional[int]:
        return self._track.id if self._track else None

    def update(self, t: float, at: datetime, samples: Sequence[FaceSample]) -> Step:
        """Feed one frame (all faces found in it, possibly none); returns what to do now."""
        rec = self.config.recognition
        ended: Optional[int] = None
        track = self._track
        if track is not None and t - track.last_seen > rec.track_timeout_s:
            ended, track = track.id, None
        sample = max(samples, key=lambda s: s.face.width) if samples else None
        if sample is None:
            self._track = track
            return Step(track.id if track else None, ended_track=ended)
        if track is not None and iou(track.box, sample.face.box) < NEW_FACE_IOU:
            ended, track = track.id, None   # the face jumped: someone else
        if track is None:
            track = _Track(self._next_id, t, t, sample.face.box)
            self._next_id += 1
        self._track = track
        track.last_seen, track.box = t, sample.face.box

        if sample.match is not None:
            identity: object = sample.match.person_id   # compared with candidates, which may be _UNSET
            if identity == track.candidate:
                track.challenger, track.challenges = _UNSET, 0
                track.streak += 1
                track.match, track.person = sample.match, sample.person
            else:
                # Another identity must hold for confirm_frames frames before it replaces the candidate:
                # a one-frame flicker (a masked or turned face) must not restart the person's state.
                if identity == track.challenger:
                    track.challenges += 1
                else:
                    track.challenger, track.challenges = identity, 1
                if track.candidate is _UNSET or track.challenges >= rec.confirm_frames:
                    track.reset_identity(identity)   # a new face: start afresh
                    track.streak = track.challenges
                    track.challenger, track.challenges = _UNSET, 0
                    track.match, track.person = sample.match, sample.person
        if sample.temperature is not None:
            track.temperatures.append(sample.temperature)
        if sample.liveness is not None:
            track.liveness.append(sample.liveness)
        if sample.face.mask_score is not None:
            track.masks.append(sample.face.mask_score)

        if sample.match is None:
            if track.candidate is _UNSET:
                # Nothing to decide yet: say why (move closer, look at the camera ...).
                obs = Observation(at=at, face_hint=sample.face.quality.reason)
                return Step(track.id, prompt=self.policy(obs, self.config), ended_track=ended)
            return Step(track.id, ended_track=ended)
        identity = track.candidate
        if identity in track.decided or track.streak < rec.confirm_frames:
            return Step(track.id, ended_track=ended)
        if isinstance(identity, str) and t - self._last_decided.get(identity, -1e18) < rec.cooldown_s:
            track.decided.add(identity)          # decided recently, in an earlier track
            return Step(track.id, ended_track=ended)

        final = track.retry_since is not None and t - track.retry_since >= rec.retry_timeout_s
        obs = self._observation(track, at, final)
        decision = self.policy(obs, self.config)
        if not decision.final:
            if track.retry_since is None:
                track.retry_since = t
            return Step(track.id, prompt=decision, ended_track=ended)
        track.decided.add(identity)
        if isinstance(identity, str):
            self._last_decided = {pid: when for pid, when in self._last_decided.items() if t - when < rec.cooldown_s}
            self._last_decided[identity] = t
        return Step(track.id, verdict=Verdict(track.id, decision, obs, track.walkup_id), ended_track=ended)

    def _observation(self, track: _Track, at: datetime, final: bool) -> Observation:
        window = self.config.recognition.confirm_frames
        recent_masks = list(track.masks)[-window:]
        return Observation(
            at=at, match=track.match, person=track.person,
            liveness=_majority(list(track.liveness)[-2 * window:], window),
            temperatures=tuple(track.temperatures),
            mask_score=sum(recent_masks) / len(recent_masks) if recent_masks else None,
            final=final)


def _majority(readings: list[LivenessResult], needed: int) -> Optional[LivenessResult]:
    """The liveness verdict the recent readings agree on (the latest reading of that side), or None.

    One thermal frame taken while the face moved, or before the sensor caught up, must not turn a
    live person into a spoof attempt: "not live" needs at least `needed` such readings and more of
    them than live ones; "live" needs at least as many live readings as not-live ones.
    """
    live = [r for r in readings if r.live]
    spoof = [r for r in readings if not r.live]
    if len(spoof) > len(live) and len(spoof) >= needed:
        return spoof[-1]
    if live and len(live) >= len(spoof):
        return live[-1]
    return None
