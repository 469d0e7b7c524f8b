"""People: search and list, one person's record, add, edit, suspend / reactivate, extend, erase.

Every change goes through the same functions as `kiosk person ...` (commands.person_cmd and
person_change_cmd), so it is checked, versioned and audited the same way, with 'web:<account>' as
the actor. Erasure asks, as the CLI's --yes does, for a confirmation: the employee number typed again.
"""
from __future__ import annotations

from typing import Any, Optional

from starlette.responses import RedirectResponse, Response

from ...actions.errors import CommandError
from ...actions.persons import add_person, edit_person, erase_person, extend_person, set_status
from ...store.errors import StoreError
from .auth import Context
from .console import actor
from .render import render

STATUSES = ("", "active", "suspended", "erased")
ROLES = ("", "staff", "visitor")
NEW_FIELDS = ("employee_no", "name", "role", "valid_from", "valid_to", "valid_days", "schedule")


def _matches(person: Any, words: list[str]) -> bool:
    text = f"{person.name or ''} {person.employee_no or ''} {person.person_id}".lower()
    return all(word in text for word in words)


async def listing(context: Context) -> Response:
    query = context.request.query_params
    q, role, status = query.get("q", "")[:100], query.get("role", ""), query.get("status", "")
    if role not in ROLES or status not in STATUSES:
        return render(context, "people.html", 400, error="unknown role or status", persons=[], q=q, role="",
                      state="", roles=ROLES, statuses=STATUSES)

    def read(store: Any) -> list[dict[str, Any]]:
        persons = store.persons(role=role or None, include_deleted=status == "erased")
        words = q.lower().split()
        chosen = [p for p in persons if _matches(p, words)
                  and (not status or (p.deleted if status == "erased" else (not p.deleted and p.status == status)))]
        store.audit("view", actor=actor(context.session), detail={"what": "person list", "persons": len(chosen)})
        return [{**p.as_dict(), "templates": len(store.templates(p.person_id))} for p in chosen]

    persons = await context.console.in_store(read)
    return render(context, "people.html", persons=persons, q=q, role=role, state=status, roles=ROLES,
                  statuses=STATUSES)


async def to_people(context: Context) -> Response:
    """/admin/persons (the word of the CLI and the issue) is /admin/people."""
    return RedirectResponse("/admin/people", status_code=308)


async def show(context: Context, *, message: Optional[str] = None, error: Optional[str] = None,
               status: int = 200) -> Response:
    ref = context.request.path_params["ref"]
    if message is None and context.request.query_params.get("added"):
        message = "Added."
    try:
        view = await context.console.in_store(lambda store: store.view_person(ref, actor=actor(context.session)))
    except StoreError as exc:
        return render(context, "person.html", 404, error=str(exc), view=None)
    return render(context, "person.html", status, view=view, message=message, error=error)


async def new_form(context: Context) -> Response:
    return render(context, "person_new.html", values=dict.fromkeys(NEW_FIELDS, ""), roles=ROLES[1:])


async def add(context: Context) -> Response:
    values = {key: context.text(key) for key in NEW_FIELDS}
    config = context.console.config
    try:
        days = float(values["valid_days"]) if values["valid_days"] else None
        person = await context.console.in_store(lambda store: add_person(
            store, config, employee_no=values["employee_no"], name=values["name"], role=values["role"] or "staff",
            valid_from=values["valid_from"] or None, valid_to=values["valid_to"] or None, valid_days=days,
            schedule=values["schedule"] or None, actor=actor(context.session)))
    except (CommandError, StoreError, ValueError) as exc:
        return render(context, "person_new.html", 400, error=_clean(exc), values=values, roles=ROLES[1:])
    return RedirectResponse(f"/admin/people/{person.person_id}?added=1", status_code=303)


def _clean(exc: Exception) -> str:
    text = str(exc)
    return "valid days: not a number" if "could not convert string to float" in text else text


def change(kind: str):
    """POST /admin/people/{ref}/{kind}: edit, suspend, reactivate, extend, erase."""
    async def handler(context: Context) -> Response:
        ref = context.request.path_params["ref"]
        config, who = context.console.config, actor(context.session)
        text = context.text

        def run(store: Any) -> str:
            if kind == "edit":
                person, changed = edit_person(
                    store, config, ref, name=text("name") or None, employee_no=text("employee_no") or None,
                    role=text("role") or None, schedule=text("schedule") or None,
                    valid_from=text("valid_from") or None, valid_to=text("valid_to") or None,
                    clear=[f for f in ("schedule", "valid-from", "valid-to") if text(f"clear_{f}")], actor=who)
                return f"Updated {person.name}: {', '.join(changed)}."
            if kind in ("suspend", "reactivate"):
                status, outcome = ("suspended", "suspended") if kind == "suspend" else ("active", "reactivated")
                person = set_status(store, ref, status, outcome, text("reason") or None, actor=who)
                return f"{person.name} is now {person.status}."
            if kind == "extend":
                days = float(text("days")) if text("days") else None
                before, person = extend_person(store, config, ref, until=text("until") or None, days=days, actor=who)
                return f"{person.name} is valid until {person.valid_to} (was {before.valid_to})."
            person = store.person(ref)
            if text("confirm") != person.employee_no:
                raise CommandError(f"erasing cannot be undone: type the employee number {person.employee_no} "
                                   "to confirm")
            return erase_person(store, person, text("reason") or "request", actor=who)

        try:
            message = await context.console.in_store(run)
        except (CommandError, StoreError, ValueError) as exc:
            return await show(context, error=_clean(exc), status=400)
        if kind == "erase":
            return render(context, "erased.html", message=message)
        return await show(context, message=message)
    return handler
