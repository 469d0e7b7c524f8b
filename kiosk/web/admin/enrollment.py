"""Enrollment from uploaded photos, with consent first.

Two steps, so that no image reaches the daemon before the consent exists:

1. GET /admin/people/{ref}/enroll shows the privacy notice (versioned, kiosk/web/admin/notice.py)
   and the consent form; POST .../enroll/consent checks the record (the store's own rules), writes
   a 'consent' audit record with the notice's SHA-256, and holds the consent for this session and
   person (15 minutes). Only then is the upload form shown.
2. POST .../enroll/photos (multipart, at most 10 MiB and 5 files) hands the photos and the held
   consent to the same Enroller as the CLI and MQTT (kiosk.recognition.enroll): pixel cap before decoding, one
   face per photo, quality, same face in every photo, duplicates. Its refusals are shown as they are
   (no face, two faces, too small, already enrolled as someone else), and nothing is stored then.
   Or POST .../enroll/camera: a burst of the running kiosk's frames (kiosk/web/admin/burst.py) through
   the quality gate of `kiosk enroll --camera`.
"""
from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ...store import ConsentError, StoreError, parse_consent
from ...store.clock import to_utc_iso, utc_now
from .auth import Context
from .burst import BurstBusy
from .console import actor
from .held import Held
from .notice import Notice, NoticeMissing, notice_for
from .render import render

HOLD_S = 900.0
# The pipeline's quality reasons are worded for the person at the kiosk; on a photo they mean this.
PHOTO_TERMS = {": move closer": ": the face is too small in the photo (take it closer, or crop to head and shoulders)"}
METHODS = ("in person, notice shown on the console", "signed paper form")


async def _person_and_notice(context: Context) -> tuple[Any, Notice]:
    """The person of the URL and the notice in force (StoreError, NoticeMissing)."""
    ref = context.request.path_params["ref"]
    person = await context.console.in_store(lambda store: store.person(ref))
    return person, notice_for(context.console.config)


async def consent_form(context: Context, *, error: str | None = None, status: int = 200) -> Response:
    try:
        person, notice = await _person_and_notice(context)
    except (StoreError, NoticeMissing) as exc:
        return render(context, "enroll.html", 404 if isinstance(exc, StoreError) else 409, error=str(exc),
                      person=None, notice=None, step="consent", methods=METHODS, held="", camera=False)
    if context.console.enroll is None:
        return render(context, "enroll.html", 409, error="No face pipeline in this server.", person=None,
                      notice=None, step="consent", methods=METHODS, held="", camera=False)
    return render(context, "enroll.html", status, error=error, person=person, notice=notice, step="consent",
                  methods=METHODS, held="", camera=False)


async def record_consent(context: Context) -> Response:
    """Step 1: the consent, checked and audited; no image has been sent yet."""
    console = context.console
    try:
        person, notice = await _person_and_notice(context)
    except (StoreError, NoticeMissing) as exc:
        return await consent_form(context, error=str(exc), status=400)
    if context.text("agreed") != "yes":
        return await consent_form(context, error="Consent not given: the person must read the notice and agree "
                                                 "(tick the box), or enrollment does not happen.", status=400)
    scope = ["local", *(s for s in ("fleet", "keep_images") if context.text(f"scope_{s}") == "yes")]
    record = {"given_by": context.text("given_by") or (person.name or ""), "given_at": to_utc_iso(utc_now()),
              "notice_version": notice.version, "method": context.text("method"),
              "guardian": context.text("guardian") or None, "minor": context.text("minor") == "yes", "scope": scope}
    if record["method"] not in METHODS:
        return await consent_form(context, error="Say how the consent was given.", status=400)
    try:
        consent = parse_consent(record)
    except (ConsentError, ValueError) as exc:
        return await consent_form(context, error=str(exc), status=400)
    await console.audit(context.session, "consent", outcome="given", person_id=person.person_id, detail={
        "consent_id": consent.consent_id, "notice_version": notice.version, "notice_sha256": notice.sha256,
        "method": consent.method, "scope": list(consent.scope), "minor": consent.minor})
    now = console.clock()
    key = console.held_consents.hold(Held(context.session.account.name, person.person_id, consent, now + HOLD_S), now)
    return render(context, "enroll.html", person=person, notice=notice, step="photos", methods=METHODS, held=key,
                  camera=_camera_ready(context),
                  message=f"Consent recorded (notice {notice.version}, by {consent.given_by}). Now the photos.")


async def upload(context: Context) -> Response:
    """Step 2: the photos, with the consent held for this session and person."""
    files = context.files("photos")
    if not files:
        return await _enroll(context, None, "Choose at least one photo.")
    return await _enroll(context, [(f.filename or "photo", await f.read()) for f in files], None)


async def camera(context: Context) -> Response:
    """Step 2 from the running kiosk's camera: a burst of live frames, quality-gated as `enroll --camera`."""
    return await _enroll(context, "camera", None)


async def _enroll(context: Context, source: Any, error: str | None) -> Response:
    console = context.console
    try:
        person, notice = await _person_and_notice(context)
    except (StoreError, NoticeMissing) as exc:
        return await consent_form(context, error=str(exc), status=400)
    key = context.text("held")
    held = console.held_consents.get(key, context.session.account.name, person.person_id, console.clock())
    if held is None:
        return await consent_form(context, status=400, error="No consent on record for this enrollment (it expires "
                                                             "after 15 minutes): record the consent first.")
    page = {"person": person, "notice": notice, "step": "photos", "methods": METHODS, "held": key,
            "camera": _camera_ready(context)}
    if error:
        return render(context, "enroll.html", 400, error=error, **page)
    try:
        if source == "camera":
            if not page["camera"]:
                return render(context, "enroll.html", 409, error="No live camera in this server.", **page)
            assert console.burst is not None and console.enroll_burst is not None
            frames = await console.burst.take()
            report = await console.enroll_burst(person.person_id, frames, held.consent, actor(context.session))
        else:
            assert console.enroll is not None
            report = await console.enroll(person.person_id, source, held.consent, actor(context.session))
    except BurstBusy as exc:
        return render(context, "enroll.html", 409, error=str(exc), **page)
    except (StoreError, ValueError) as exc:
        reason = str(exc)
        for kiosk_words, photo_words in PHOTO_TERMS.items():
            reason = reason.replace(kiosk_words, photo_words)
        return render(context, "enroll.html", 400, error=f"Not enrolled: {reason}", **page)
    console.held_consents.drop(key)
    shots = [(s.source, s.reason or f"used (quality {s.quality})") for s in report.shots]
    lookalikes = [f"{d.name} ({d.employee_no}) at distance {d.distance:.3f}" for d in report.duplicates]
    return render(context, "enrolled.html", person=report.person, templates=len(report.result.template_ids),
                  shots=shots, lookalikes=lookalikes)


def _camera_ready(context: Context) -> bool:
    return context.console.burst is not None and context.console.enroll_burst is not None
