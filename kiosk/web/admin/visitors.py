"""Visitors: pre-registration (host, purpose, validity window) and one-time self-enrollment links.

A visitor is added with `kiosk person add`'s own function (role visitor, the window checked by the
store: an end before the start is refused), so expiry and retention erase them as any visitor. The
link is shown once, to the operator who made it; the visitor opens it (/enroll/<token>), reads the
notice, consents, and uploads a photo (kiosk/web/admin/selfenroll.py).
"""
from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Optional

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ...actions.errors import CommandError
from ...actions.persons import add_person
from ...store.clock import parse_iso
from ...store.errors import StoreError
from .auth import Context
from .console import actor
from .render import render

FIELDS = ("name", "employee_no", "host", "purpose", "valid_from", "valid_to", "link", "link_hours")
LINK_HOURS = 24.0
MAX_LINK_HOURS = 7 * 24.0


def _when(stamp: Optional[float]) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="minutes") if stamp else "-"


async def listing(context: Context, **extra: Any) -> Response:
    console = context.console
    persons = await console.in_store(lambda store: store.persons(role="visitor"))
    assert console.visits is not None
    visits = await run_in_threadpool(console.visits.visits, [p.person_id for p in persons])
    counts = await console.in_store(lambda store: {p.person_id: len(store.templates(p.person_id)) for p in persons})
    await console.audit(context.session, "view", detail={"what": "visitor list", "persons": len(persons)})
    rows = []
    for p in persons:
        visit = visits.get(p.person_id)
        links = await run_in_threadpool(console.visits.links_of, p.person_id)
        link = links[0] if links else None
        state = ("-" if link is None else f"used {_when(link.used)}" if link.used
                 else f"open until {_when(link.expires)}")
        rows.append({"person": p, "host": visit.host if visit else "-", "purpose": visit.purpose if visit else "-",
                     "templates": counts[p.person_id], "link": state})
    return render(context, "visitors.html", rows=rows, **extra)


async def new_form(context: Context) -> Response:
    return render(context, "visitor_new.html", values={**dict.fromkeys(FIELDS, ""), "link": "yes",
                                                       "link_hours": str(int(LINK_HOURS))})


async def register(context: Context) -> Response:
    console = context.console
    values = {key: context.text(key) for key in FIELDS}
    number = values["employee_no"] or f"V-{secrets.token_hex(3).upper()}"
    try:
        if not values["host"] or not values["purpose"]:
            raise CommandError("give the host (who they visit) and the purpose of the visit")
        hours = float(values["link_hours"] or LINK_HOURS)
        if not 0 < hours <= MAX_LINK_HOURS:
            raise CommandError(f"link lifetime: more than 0 and at most {MAX_LINK_HOURS:g} hours")
        if not values["valid_to"]:
            raise CommandError("give the end of the visit (valid to)")
        config, who = console.config, actor(context.session)
        person = await console.in_store(lambda store: add_person(
            store, config, employee_no=number, name=values["name"], role="visitor",
            valid_from=values["valid_from"] or None, valid_to=values["valid_to"], actor=who))
    except (CommandError, StoreError, ValueError) as exc:
        text = "link lifetime: not a number" if "could not convert" in str(exc) else str(exc)
        return render(context, "visitor_new.html", 400, error=text, values=values)
    assert console.visits is not None
    await run_in_threadpool(console.visits.register, person.person_id, values["host"], values["purpose"],
                            context.session.account.name)
    link = await _new_link(context, person, hours) if values["link"] == "yes" else None
    return render(context, "visitor_done.html", person=person, host=values["host"], purpose=values["purpose"],
                  link=link)


async def link(context: Context) -> Response:
    """POST /admin/visitors/{ref}/link: a new link (the earlier unused one stops working)."""
    ref = context.request.path_params["ref"]
    try:
        person = await context.console.in_store(lambda store: store.person(ref))
        if person.role != "visitor":
            raise StoreError(f"{person.name} is not a visitor")
    except StoreError as exc:
        return await listing(context, error=str(exc))
    made = await _new_link(context, person, LINK_HOURS)
    if made is None:
        return await listing(context, error=f"{person.name}'s visit has ended: no link")
    return render(context, "visitor_done.html", person=person, host=None, purpose=None, link=made)


async def _new_link(context: Context, person: Any, hours: float) -> Optional[dict[str, str]]:
    """The link (shown once) and its expiry: `hours`, but not past the end of the visit."""
    console = context.console
    assert console.visits is not None
    now = console.clock()
    end = parse_iso(person.valid_to).timestamp() if person.valid_to else now + hours * 3600
    lifetime = min(hours * 3600, end - now)
    if lifetime <= 0:
        return None
    token, expires = await run_in_threadpool(console.visits.new_link, person.person_id,
                                             context.session.account.name, lifetime)
    await console.audit(context.session, "command", outcome="link_created", person_id=person.person_id,
                        detail={"command": "self-enrollment link", "expires": _when(expires)})
    return {"url": f"{str(context.request.base_url).rstrip('/')}/enroll/{token}", "expires": _when(expires)}
