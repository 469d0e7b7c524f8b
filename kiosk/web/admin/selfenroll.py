"""/enroll/<token>: a visitor enrolls themselves with a one-time link (no account, no session).

The token is the only key: 256 random bits, kept hashed, checked before anything else (and before
an upload's body is read); it expires, allows a few attempts, and works once. As in the console, the
notice is shown and the consent recorded (audited, with the notice's SHA-256) before the upload form
exists; forms carry a token double-submitted against a cookie. The photo goes to the same Enroller
as everywhere else, under the actor 'link:<account that made the link>'.
"""
from __future__ import annotations

from typing import Any, Optional

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ...store import ConsentError, StoreError, parse_consent
from ...store.clock import to_utc_iso, utc_now
from .auth import FORM_LIMIT, UPLOAD_LIMIT, TooLarge, cookie_name, form_token, read_form, same_token, set_cookie
from .console import Console
from .enrollment import HOLD_S, PHOTO_TERMS
from .held import Held
from .notice import NoticeMissing, notice_for
from .render import render_plain
from .visits import Link

COOKIE = "kiosk_enroll"
METHOD = "self-enrollment link: notice read by the visitor on their own screen"
GONE = "This enrollment link is not valid: it has expired, has been used, or never existed. Ask your host for a new one."


async def _link(console: Console, token: str) -> tuple[Optional[Link], Any]:
    """The link and its live visitor, or (None, None)."""
    assert console.visits is not None
    link = await run_in_threadpool(console.visits.link, token)
    if link is None:
        return None, None
    person = await console.in_store(lambda store: store.person_by_id(link.person_id))
    if person is None or person.deleted or person.role != "visitor":
        return None, None
    return link, person


def _page(request: Request, console: Console, status: int = 200, **values: Any) -> Response:
    csrf = form_token(request, console, COOKIE)
    response = render_plain(request, "selfenroll.html", status, csrf=csrf, **{
        "person": None, "notice": None, "step": "gone", "error": None, "message": None, "held": "",
        "token": request.path_params.get("token", ""), **values})
    set_cookie(response, console, COOKIE, csrf, max_age=3600)
    return response


def _checked(request: Request, console: Console, form: Any) -> bool:
    return same_token(form.get("csrf"), request.cookies.get(cookie_name(console, COOKIE), ""))


async def start(request: Request, console: Console) -> Response:
    link, person = await _link(console, request.path_params["token"])
    if link is None:
        return _page(request, console, 404, error=GONE)
    try:
        notice = notice_for(console.config)
    except NoticeMissing:
        return _page(request, console, 409, error="Enrollment is not open here: ask your host.")
    return _page(request, console, person=person, notice=notice, step="consent")


async def consent(request: Request, console: Console) -> Response:
    link, person = await _link(console, request.path_params["token"])
    if link is None:
        return _page(request, console, 404, error=GONE)
    try:
        form = await read_form(request, FORM_LIMIT)
        notice = notice_for(console.config)
    except (TooLarge, NoticeMissing):
        return _page(request, console, 400, error="This form could not be read: reload the page.")
    if not _checked(request, console, form):
        return _page(request, console, 403, error="The form's security token is missing or wrong: reload the page.")
    if form.get("agreed") != "yes":
        return _page(request, console, 400, person=person, notice=notice, step="consent",
                     error="You have not agreed: without your consent no photo is taken and nothing is stored.")
    scope = ["local", *(["keep_images"] if form.get("scope_keep_images") == "yes" else [])]
    try:
        record = parse_consent({"given_by": person.name, "given_at": to_utc_iso(utc_now()), "method": METHOD,
                                "notice_version": notice.version, "scope": scope})
    except ConsentError as exc:
        return _page(request, console, 400, person=person, notice=notice, step="consent", error=str(exc))
    await console.in_store(lambda store: store.audit("consent", actor=f"link:{link.created_by}", outcome="given",
                                                     person_id=person.person_id, detail={
        "consent_id": record.consent_id, "notice_version": notice.version, "notice_sha256": notice.sha256,
        "method": METHOD, "scope": list(record.scope), "minor": False}))
    now = console.clock()
    key = console.held_consents.hold(Held(f"link:{link.token_hash}", person.person_id, record, now + HOLD_S), now)
    return _page(request, console, person=person, notice=notice, step="photo", held=key,
                 message="Thank you: your consent is recorded. Now a photo of your face.")


async def photo(request: Request, console: Console) -> Response:
    link, person = await _link(console, request.path_params["token"])     # before the body is read
    if link is None:
        return _page(request, console, 404, error=GONE)
    try:
        form = await read_form(request, UPLOAD_LIMIT)
        notice = notice_for(console.config)
    except TooLarge:
        return _page(request, console, 413, error=f"The photo is over {UPLOAD_LIMIT // 1024 // 1024} MiB.")
    except NoticeMissing:
        return _page(request, console, 409, error="Enrollment is not open here: ask your host.")
    if not _checked(request, console, form):
        return _page(request, console, 403, error="The form's security token is missing or wrong: reload the page.")
    key = str(form.get("held", ""))
    held = console.held_consents.get(key, f"link:{link.token_hash}", person.person_id, console.clock())
    if held is None:
        return _page(request, console, 400, person=person, notice=notice, step="consent",
                     error="Your consent was not found (it expires after 15 minutes): please agree again.")
    files = [f for f in form.getlist("photo") if isinstance(f, UploadFile) and f.filename]
    page = {"person": person, "notice": notice, "step": "photo", "held": key}
    if not files:
        return _page(request, console, 400, error="Choose a photo of your face.", **page)
    assert console.visits is not None and console.enroll is not None
    if not await run_in_threadpool(console.visits.claim, link):
        return _page(request, console, 409, error="This link is being used right now.", **page)
    images = [(f.filename or "photo", await f.read()) for f in files[:1]]
    try:
        report = await console.enroll(person.person_id, images, held.consent, f"link:{link.created_by}")
    except (StoreError, ValueError) as exc:
        await run_in_threadpool(console.visits.release, link)
        reason = str(exc)
        for kiosk_words, photo_words in PHOTO_TERMS.items():
            reason = reason.replace(kiosk_words, photo_words)
        return _page(request, console, 400, error=f"Not enrolled: {reason}", **page)
    console.held_consents.drop(key)
    return _page(request, console, person=report.person, step="done",
                 message=f"Done, {report.person.name}: the kiosk will recognise you until {report.person.valid_to}.")
