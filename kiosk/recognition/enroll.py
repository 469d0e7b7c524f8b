"""Enrollment: image files, camera shots or a remote embedding in, encrypted templates out.

Every path checks the consent record first (no consent, no face processing), refuses photos over
`face.max_image_pixels` before decoding them, embeds with the face pipeline's quality gates (one
person per photo: kiosk.face.photo_faces), checks that all shots show one face, checks the face
against everyone else enrolled (1:N against the live gallery), and creates the person only once
there is something to enroll.

Duplicates: a shot within the recognizer's threshold in force (the security level at the gallery's
size, what a walk-up is matched with) of another person would be granted as that person, so it is
refused, naming them, unless duplicates are allowed (`--allow-duplicate`, `store.allow_duplicate_faces`:
twins, or one person under two employee numbers). A shot only within the one-to-one threshold
(`threshold`, looser) is a look-alike: enrolled, with a warning in the report.

With `masked_templates` (config `[mask] masked_templates`), each photo also gives one template per
synthetic mask style (kiosk.face.masked), stored with kind 'masked'; with `upper_face` (config
`[mask] upper_face`, on by default) its upper-face embedding, stored with kind 'upper' in the model's
upper-face space (`pipeline.upper_model_id`), which the recognizer searches for masked walk-ups.
Each photo's derived templates are stored right after its own, so the per-person cap drops them with
it. Remote enrollment by embedding cannot make either: it has no photo (the reply says so).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from ..config.recognition import RecognitionConfig
from ..store import Consent, EnrollResult, Person, PersonNotFound, Store, StoreError, parse_consent
from .matching import Matcher

if TYPE_CHECKING:
    from drivers.camera.base import Camera

    from ..face.pipeline import FacePipeline
    from ..types import FaceObservation

# Templates kept per person and model. A person is scored by their nearest template, so 3 to 5 views
# (angle, light, glasses) catch more of their walk-ups; but every template is one more chance for a
# stranger to fall within the threshold, so an enrollment keeps its best 5 shots (detector score) and
# a later one replaces the person's oldest templates beyond 5.
MAX_TEMPLATES_PER_PERSON = 5


class EnrollError(StoreError):
    """Nothing could be enrolled (no usable face, shots of different faces, a refused duplicate...)."""


@dataclass(frozen=True)
class Derived:
    """A template made from a photo's face: with a synthetic mask (kind 'masked', the model's space) or its upper
    face (kind 'upper', the model's upper-face space)."""

    vector: np.ndarray
    kind: str
    space: str


def derived_templates(pipeline: FacePipeline, image: np.ndarray, observation: FaceObservation, *,
                      masked_templates: bool, upper_face: bool) -> list[Derived]:
    """The templates made from one enrolled face, as configured (see the module's docstring)."""
    points = pipeline.alignment_points(observation)
    out = [Derived(v, "masked", pipeline.model_id) for v in pipeline.masked_embeddings(image, *points)] \
        if masked_templates else []
    if upper_face:
        out.append(Derived(pipeline.upper_embedding(image, *points), "upper", pipeline.upper_model_id))
    return out


@dataclass(frozen=True)
class NewPerson:
    """A person to create when the employee number is not enrolled yet."""

    employee_no: str
    name: str
    role: str = "staff"
    valid_from: Optional[str] = None
    valid_to: Optional[str] = None
    schedule: Optional[str] = None


PersonRef = Union[str, NewPerson]   # an existing person id / employee number, or a person to create


@dataclass(frozen=True)
class Shot:
    source: str                      # file name, "camera frame 12", "remote"
    reason: Optional[str] = None     # why it was not used; None = used
    quality: Optional[float] = None  # detector score of the face used


@dataclass(frozen=True)
class Duplicate:
    person_id: str
    employee_no: Optional[str]
    name: Optional[str]
    distance: float

    def refusal(self, threshold: float) -> EnrollError:
        return EnrollError(f"face already enrolled as {self.name} ({self.employee_no}, person {self.person_id}): "
                           f"distance {self.distance:.3f} is within the matching threshold {threshold:.3f}, so one "
                           "would be granted as the other; not enrolled (allow with --allow-duplicate or "
                           "store.allow_duplicate_faces)")


@dataclass
class EnrollReport:
    person: Person
    result: EnrollResult
    shots: list[Shot] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)


def _ensure_person(store: Store, ref: PersonRef, actor: str) -> Person:
    if isinstance(ref, str):
        return store.person(ref)
    try:
        return store.person(ref.employee_no)
    except PersonNotFound:
        return store.add_person(employee_no=ref.employee_no, name=ref.name, role=ref.role, valid_from=ref.valid_from,
                                valid_to=ref.valid_to, schedule=ref.schedule, actor=actor)


def _existing_id(store: Store, ref: PersonRef) -> Optional[str]:
    try:
        return store.person(ref if isinstance(ref, str) else ref.employee_no).person_id
    except PersonNotFound:
        if isinstance(ref, str):
            raise
        return None


class Enroller:
    """Enrolls with one face pipeline; keeps its own duplicate-check gallery up to date across a batch."""

    def __init__(self, store: Store, pipeline: FacePipeline, *, threshold: float, matcher: Optional[Matcher] = None,
                 recognition: Optional[RecognitionConfig] = None, allow_duplicates: bool = False,
                 masked_templates: bool = False, upper_face: bool = False, actor: str = "system") -> None:
        """`threshold`: the one-to-one threshold (same-face check, look-alike warnings); `recognition`: the
        settings that give the threshold in force for duplicates (None: `threshold` is used)."""
        self.store = store
        self.pipeline = pipeline
        self.threshold = threshold
        self.recognition = recognition
        self.allow_duplicates = allow_duplicates
        self.masked_templates = masked_templates
        self.upper_face = upper_face
        self.actor = actor
        self.matcher = matcher or Matcher.from_store(store, pipeline.model_id, metric=str(pipeline.metric))

    # -- shared steps ------------------------------------------------------------------------------

    def _duplicates(self, vectors: Sequence[np.ndarray], exclude: Optional[str]) -> list[Duplicate]:
        found: dict[str, float] = {}
        for vector in vectors:
            match = self.matcher.search(vector, self.threshold, exclude=exclude)
            if match.person_id is not None:
                found[match.person_id] = min(found.get(match.person_id, np.inf), match.distance)
        duplicates = []
        for person_id, distance in sorted(found.items(), key=lambda kv: kv[1]):
            other = self.store.person_by_id(person_id)
            duplicates.append(Duplicate(person_id, other.employee_no if other else None, other.name if other else None,
                                        float(distance)))
        return duplicates

    def _refusal_threshold(self) -> float:
        """What a walk-up is matched with now (the gallery grows during a batch)."""
        if self.recognition is None:
            return self.threshold
        return min(self.threshold, self.pipeline.threshold_for(self.recognition, len(self.matcher)))

    def _check_one_face(self, vectors: Sequence[np.ndarray]) -> None:
        """All shots must show the same face: a friend stepping in must not be enrolled too."""
        for i in range(len(vectors)):
            for j in range(i + 1, len(vectors)):
                gap = self.pipeline.distance(vectors[i], vectors[j])
                if gap > self.threshold:
                    raise EnrollError(f"shots {i + 1} and {j + 1} do not show the same face (distance {gap:.3f} > "
                                      f"{self.threshold:.3f}); enroll again with one person only")

    def _derived(self, image: np.ndarray, observation: FaceObservation) -> list[Derived]:
        """The shot's synthetic-mask and upper-face templates, as configured."""
        return derived_templates(self.pipeline, image, observation, masked_templates=self.masked_templates,
                                 upper_face=self.upper_face)

    def _commit(self, ref: PersonRef, consent: Consent, vectors: list[np.ndarray], qualities: list[Optional[float]],
                images: Sequence[tuple[bytes, str]], shots: list[Shot], source: str,
                derived: list[list[Derived]]) -> EnrollReport:
        """`derived` holds each used shot's synthetic-mask and upper-face templates (aligned with `vectors`)."""
        if not vectors:
            reasons = "; ".join(f"{s.source}: {s.reason}" for s in shots if s.reason) or "no image given"
            raise EnrollError(f"no usable face to enroll ({reasons})")
        self._check_one_face(vectors)
        duplicates = self._duplicates(vectors, _existing_id(self.store, ref))
        if duplicates and not self.allow_duplicates:
            refuse_at = self._refusal_threshold()
            if duplicates[0].distance <= refuse_at:
                raise duplicates[0].refusal(refuse_at)
        if len(vectors) > MAX_TEMPLATES_PER_PERSON:
            vectors, qualities, images, shots, derived = _best_shots(vectors, qualities, images, shots, derived)
        model_id = self.pipeline.model_id
        # Each photo, then what was made from it (see drop_oldest_templates).
        rows: list[tuple[np.ndarray, Optional[float], str, str]] = []
        for vector, quality, made in zip(vectors, qualities, derived, strict=True):
            rows.append((vector, quality, "face", model_id))
            rows += [(d.vector, quality, d.kind, d.space) for d in made]
        person = _ensure_person(self.store, ref, self.actor)
        result = self.store.enroll(person.person_id, [r[0] for r in rows], model_id=model_id, consent=consent,
                                   qualities=[r[1] for r in rows], images=images, source=source,
                                   kinds=[r[2] for r in rows], spaces=[r[3] for r in rows],
                                   max_templates=MAX_TEMPLATES_PER_PERSON, actor=self.actor)
        self.matcher.refresh_person(self.store, person.person_id)
        return EnrollReport(self.store.person(person.person_id), result, shots, duplicates)

    def _keep_images(self, consent: Consent) -> bool:
        return self.store.config.keep_source_images and consent.allows_keep_images

    # -- sources -----------------------------------------------------------------------------------

    def enroll_files(self, ref: PersonRef, paths: Sequence[Path], consent: Consent | Mapping[str, Any] | None
                     ) -> EnrollReport:
        """Enroll from image files; unusable files are reported in `shots`, not fatal unless all fail."""
        consent = _require_consent(consent)
        items: list[tuple[str, bytes | str]] = []
        for path in paths:
            try:
                items.append((Path(path).name, Path(path).read_bytes()))
            except OSError as exc:
                items.append((Path(path).name, f"cannot read: {exc.strerror or exc}"))
        return self._enroll_encoded(ref, items, consent, "files")

    def enroll_images(self, ref: PersonRef, images: Sequence[tuple[str, bytes]],
                      consent: Consent | Mapping[str, Any] | None, *, source: str = "remote") -> EnrollReport:
        """Enroll from encoded images (name, JPEG/PNG bytes), e.g. the image of an MQTT `enroll` command."""
        return self._enroll_encoded(ref, list(images), _require_consent(consent), source)

    def _enroll_encoded(self, ref: PersonRef, items: Sequence[tuple[str, bytes | str]], consent: Consent,
                        source: str) -> EnrollReport:
        """Each item is (name, encoded bytes) or (name, why it could not be read)."""
        import cv2

        from ..face.errors import FaceError, ImageError
        from ..face.image_size import check_pixels
        from ..face.images import as_bgr

        vectors, kept, shots = [], [], []
        qualities: list[Optional[float]] = []
        derived: list[list[Derived]] = []
        for name, data in items:
            if isinstance(data, str):
                shots.append(Shot(name, data))
                continue
            try:
                check_pixels(data, self.pipeline.config.max_image_pixels)   # before decoding: no pixel bombs
            except ImageError as exc:
                shots.append(Shot(name, str(exc)))
                continue
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                shots.append(Shot(name, "not a readable image (empty, truncated or unknown format)"))
                continue
            try:
                observation = self.pipeline.embed_for_enrollment(as_bgr(image))
            except (FaceError, ImageError) as exc:
                shots.append(Shot(name, str(exc)))
                continue
            vectors.append(observation.required_embedding())
            qualities.append(round(float(observation.score), 4))
            derived.append(self._derived(image, observation))
            shots.append(Shot(name, None, qualities[-1]))
            if self._keep_images(consent):
                kept.append((data, _media_type(Path(name))))
        return self._commit(ref, consent, vectors, qualities, kept, shots, source, derived)

    def enroll_camera(self, ref: PersonRef, camera: Camera, consent: Consent | Mapping[str, Any] | None, *,
                      shots: int = 3, timeout_s: float = 30.0, min_interval_s: float = 0.4,
                      feedback: Optional[Callable[[str], None]] = None) -> EnrollReport:
        """Take `shots` (1 to MAX_TEMPLATES_PER_PERSON) quality-gated shots from an open camera, at least
        `min_interval_s` apart so they differ; `feedback` gets each rejection reason ("move closer", ...)
        for the person in front."""
        import cv2

        from ..face.errors import FaceError

        if not 1 <= shots <= MAX_TEMPLATES_PER_PERSON:
            raise EnrollError(f"shots = {shots}: take 1 to {MAX_TEMPLATES_PER_PERSON} (templates kept per person)")
        consent = _require_consent(consent)
        vectors: list[np.ndarray] = []
        qualities: list[Optional[float]] = []
        images: list[tuple[bytes, str]] = []
        derived: list[list[Derived]] = []
        log: list[Shot] = []
        deadline = time.monotonic() + timeout_s
        last_taken = -np.inf
        while len(vectors) < shots and time.monotonic() < deadline:
            frame = camera.read(timeout=min(1.0, max(0.05, deadline - time.monotonic())))
            if frame.timestamp - last_taken < min_interval_s:
                continue
            try:
                observation = self.pipeline.embed_for_enrollment(frame.image)
            except FaceError as exc:
                log.append(Shot(f"camera frame {frame.seq}", str(exc)))
                if feedback:
                    feedback(str(exc))
                continue
            last_taken = frame.timestamp
            vectors.append(observation.required_embedding())
            qualities.append(round(float(observation.score), 4))
            derived.append(self._derived(frame.image, observation))
            log.append(Shot(f"camera frame {frame.seq}", None, qualities[-1]))
            if self._keep_images(consent):
                ok, encoded = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
                if ok:
                    images.append((encoded.tobytes(), "image/jpeg"))
        if len(vectors) < shots:
            last = next((s.reason for s in reversed(log) if s.reason), "no frame")
            raise EnrollError(f"only {len(vectors)} of {shots} usable shots in {timeout_s:g} s (last problem: {last})")
        return self._commit(ref, consent, vectors, qualities, images, log, "camera", derived)


def _best_shots(vectors: list[np.ndarray], qualities: list[Optional[float]], images: Sequence[tuple[bytes, str]],
                shots: list[Shot], derived: list[list[Derived]]
                ) -> tuple[list[np.ndarray], list[Optional[float]], list[tuple[bytes, str]], list[Shot],
                           list[list[Derived]]]:
    """The MAX_TEMPLATES_PER_PERSON shots of highest detector score; the others are reported as not used.

    `vectors` and `derived` (and `images`, when kept) follow the order of the used shots in `shots`."""
    ranked = sorted(range(len(vectors)), key=lambda i: -(qualities[i] or 0.0))
    keep = sorted(ranked[:MAX_TEMPLATES_PER_PERSON])
    used = [n for n, shot in enumerate(shots) if shot.reason is None]
    left_out = {used[i] for i in ranked[MAX_TEMPLATES_PER_PERSON:]}
    reason = f"not used: the {MAX_TEMPLATES_PER_PERSON} best shots are kept"
    shots = [Shot(shot.source, reason, shot.quality) if n in left_out else shot for n, shot in enumerate(shots)]
    kept_images = [images[i] for i in keep] if len(images) == len(vectors) else list(images)
    return [vectors[i] for i in keep], [qualities[i] for i in keep], kept_images, shots, [derived[i] for i in keep]


def _require_consent(consent: Consent | Mapping[str, Any] | None) -> Consent:
    from ..store import ConsentError

    if consent is None:
        raise ConsentError("enrollment refused: no consent record (who, when, notice version, how)")
    return parse_consent(consent)


def _media_type(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(suffix, f"image/{suffix or 'octet-stream'}")


def enroll_remote(store: Store, ref: PersonRef, embeddings: Sequence[np.ndarray], *, model_id: str,
                  consent: Consent | Mapping[str, Any] | None, active_model_id: str,
                  matcher: Optional[Matcher] = None, threshold: Optional[float] = None,
                  refusal_threshold: Optional[float] = None, allow_duplicates: bool = False,
                  actor: str = "remote") -> EnrollReport:
    """Enrollment from a remote request (the MQTT `enroll` command): embeddings computed elsewhere.

    Refused when the consent is missing or incomplete (ConsentError), when `model_id` is not the
    active model (vectors of two models are never compared), or when a vector is malformed.
    With a matcher and threshold, duplicates within `threshold` are reported, and refused within
    `refusal_threshold` (the threshold in force; default `threshold`) unless `allow_duplicates`."""
    consent = _require_consent(consent)
    if model_id != active_model_id:
        raise EnrollError(f"embedding of model {model_id!r}, this kiosk matches with {active_model_id!r}")
    vectors = [np.asarray(e, np.float32).reshape(-1) for e in embeddings]
    if not vectors:
        raise EnrollError("no embedding in the request")
    if len(vectors) > MAX_TEMPLATES_PER_PERSON:
        raise EnrollError(f"{len(vectors)} embeddings in the request; at most {MAX_TEMPLATES_PER_PERSON} per person")
    if matcher is not None and matcher.dim and any(v.size != matcher.dim for v in vectors):
        raise EnrollError(f"embedding size {vectors[0].size} does not match the model's {matcher.dim}")
    if not all(np.all(np.isfinite(v)) for v in vectors):
        raise EnrollError("embedding holds NaN or infinite values")
    duplicates: list[Duplicate] = []
    if matcher is not None and threshold is not None:
        exclude = _existing_id(store, ref)
        for vector in vectors:
            match = matcher.search(vector, threshold, exclude=exclude)
            if match.person_id is not None:
                other = store.person_by_id(match.person_id)
                duplicates.append(Duplicate(match.person_id, other.employee_no if other else None,
                                            other.name if other else None, match.distance))
        nearest = min(duplicates, key=lambda d: d.distance, default=None)
        refuse_at = threshold if refusal_threshold is None else min(threshold, refusal_threshold)
        if nearest is not None and not allow_duplicates and nearest.distance <= refuse_at:
            raise nearest.refusal(refuse_at)
    person = _ensure_person(store, ref, actor)
    result = store.enroll(person.person_id, vectors, model_id=model_id, consent=consent, source="remote",
                          max_templates=MAX_TEMPLATES_PER_PERSON, actor=actor)
    if matcher is not None:
        matcher.refresh_person(store, person.person_id)
    return EnrollReport(store.person(person.person_id), result, [Shot("remote")], duplicates)


@dataclass
class ReembedReport:
    reembedded: list[str] = field(default_factory=list)
    needs_reenrollment: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    without_upper: list[str] = field(default_factory=list)   # up to date, but no kept image gave upper-face templates


def reembed(store: Store, pipeline: FacePipeline, *, prune_other_models: bool = False, masked_templates: bool = False,
            upper_face: bool = False, actor: str = "system", progress: Optional[Callable[[Person], object]] = None
            ) -> ReembedReport:
    """After a model change: persons without templates of the active model are re-embedded from their
    kept source images (only where the consent scope has keep_images), else marked 'needs re-enrollment'.
    With `masked_templates`, each image also gives its synthetic-mask templates (kind 'masked'); with
    `upper_face`, its upper-face template, and a person who has the model's templates but no upper-face
    ones (enrolled before them) is re-embedded from the kept images too, or listed in `without_upper`."""
    report = ReembedReport()
    for person in store.persons():
        if progress:
            progress(person)
        spaces = {t.model_id for t in store.templates(person.person_id)}
        if pipeline.model_id in spaces and (not upper_face or pipeline.upper_model_id in spaces):
            if prune_other_models:
                store.prune_templates(person.person_id, keep_model=pipeline.model_id, actor=actor)
            report.up_to_date.append(person.person_id)
            continue
        rows = _embed_kept_images(store, pipeline, person, masked_templates=masked_templates, upper_face=upper_face)
        if rows:
            store.replace_templates(person.person_id, [r[0] for r in rows], model_id=pipeline.model_id,
                                    qualities=[r[1] for r in rows], prune_other_models=prune_other_models,
                                    kinds=[r[2] for r in rows], spaces=[r[3] for r in rows], actor=actor)
            report.reembedded.append(person.person_id)
        elif pipeline.model_id in spaces:     # whole-face templates but nothing to make upper-face ones from
            if prune_other_models:
                store.prune_templates(person.person_id, keep_model=pipeline.model_id, actor=actor)
            report.up_to_date.append(person.person_id)
            report.without_upper.append(person.person_id)
        else:
            if not person.needs_reenrollment:
                store.mark_needs_reenrollment(person.person_id, model_id=pipeline.model_id, actor=actor)
            report.needs_reenrollment.append(person.person_id)
    return report


def _embed_kept_images(store: Store, pipeline: FacePipeline, person: Person, *, masked_templates: bool,
                       upper_face: bool) -> list[tuple[np.ndarray, float, str, str]]:
    """(vector, quality, kind, space) of every usable kept image of a person, each photo followed by its derived
    templates; [] when the consent does not keep images or none has a usable face."""
    import cv2

    from ..face.errors import FaceError, ImageError

    consent = store.consent(person.person_id)
    if consent is None or not consent.allows_keep_images:
        return []
    rows = []
    for data in store.person_images(person.person_id):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            continue
        try:
            observation = pipeline.embed_for_enrollment(image)
        except (FaceError, ImageError):
            continue
        quality = round(float(observation.score), 4)
        rows.append((observation.required_embedding(), quality, "face", pipeline.model_id))
        rows += [(d.vector, quality, d.kind, d.space) for d in derived_templates(
            pipeline, image, observation, masked_templates=masked_templates, upper_face=upper_face)]
    return rows
