"""Events and audit: the filtered event list and its export, the audit ledger, `audit verify`, audit export.

The same store calls and audit records as `kiosk events list/export` and `kiosk audit verify/export`.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from starlette.responses import Response

from ...actions.errors import CommandError
from ...actions.person_options import parse_when
from ...actions.reports import who
from ...event_model import EVENT_TYPES
from ...store.errors import StoreError
from .auth import Context
from .console import actor
from .render import render

LIST_LIMIT = 200


def _range(context: Context, values: Any) -> tuple[Optional[str], Optional[str]]:
    zone = context.console.config.device.timezone
    since = parse_when("from", values.get("from"), zone) if values.get("from") else None
    until = parse_when("to", values.get("to"), zone, end_of_day=True) if values.get("to") else None
    return since, until


def _event_filters(context: Context, values: Any) -> dict[str, Any]:
    """CommandError / ValueError for a bad date or type."""
    since, until = _range(context, values)
    kind = values.get("type") or ""
    if kind and kind not in EVENT_TYPES:
        raise ValueError(f"type: '{kind}' is not an event type")
    return {"since": since, "until": until, "types": [kind] if kind else None, "person": values.get("person") or ""}


def _select(store: Any, filters: dict[str, Any], limit: Optional[int]) -> list[dict[str, Any]]:
    person_id = store.person(filters["person"]).person_id if filters["person"] else None
    return store.events(since=filters["since"], until=filters["until"], types=filters["types"], person_id=person_id,
                        limit=limit)


def _row(event: dict[str, Any]) -> dict[str, Any]:
    decision = event.get("decision") or {}
    return {"seq": event.get("seq", "-"), "time": event["device_time"], "type": event["type"], "who": who(event),
            "outcome": decision.get("outcome", ""), "reasons": ", ".join(decision.get("reasons", []))}


async def events_page(context: Context) -> Response:
    query = context.request.query_params
    shown = {key: query.get(key, "")[:100] for key in ("from", "to", "type", "person")}
    try:
        filters = _event_filters(context, query)
        events = await context.console.in_store(lambda store: _select(store, filters, LIST_LIMIT))
    except (CommandError, StoreError, ValueError) as exc:
        return render(context, "events.html", 400, error=str(exc), rows=[], filters=shown, types=EVENT_TYPES,
                      limit=LIST_LIMIT)
    await context.console.audit(context.session, "view", detail={"what": "events", "events": len(events)})
    return render(context, "events.html", rows=[_row(e) for e in reversed(events)], filters=shown,
                  types=EVENT_TYPES, limit=LIST_LIMIT)


async def events_export(context: Context) -> Response:
    values = {key: context.text(key) for key in ("from", "to", "type", "person")}
    try:
        filters = _event_filters(context, values)

        def run(store: Any) -> list[dict[str, Any]]:
            events = _select(store, filters, None)
            store.audit("export", actor=actor(context.session), detail={
                "what": "events", "events": len(events), "since": values["from"] or None,
                "until": values["to"] or None})
            return events
        events = await context.console.in_store(run)
    except (CommandError, StoreError, ValueError) as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    name = f"events-{context.console.config.device.id}.jsonl"
    return Response(body, media_type="application/x-ndjson",
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


async def audit_page(context: Context, verdict: Optional[str] = None, ok: Optional[bool] = None) -> Response:
    query = context.request.query_params
    shown = {key: query.get(key, "")[:100] for key in ("from", "to")}
    try:
        since, until = _range(context, query)
    except (CommandError, ValueError) as exc:
        return render(context, "audit.html", 400, error=str(exc), records=[], filters=shown, verdict=verdict, ok=ok,
                      total=0, limit=LIST_LIMIT)
    records = await context.console.in_store(lambda store: store.audit_records(since=since, until=until))
    return render(context, "audit.html", records=list(reversed(records[-LIST_LIMIT:])), total=len(records),
                  filters=shown, verdict=verdict, ok=ok, limit=LIST_LIMIT)


async def audit_verify(context: Context) -> Response:
    verdict = await context.console.in_store(lambda store: store.verify_audit())
    await context.console.audit(context.session, "command", outcome="ok" if verdict.ok else "broken",
                                detail={"command": "audit verify"})
    return await audit_page(context, verdict.line(), verdict.ok)


async def audit_export(context: Context) -> Response:
    fmt = context.text("format")
    try:
        if fmt not in ("csv", "json"):
            raise ValueError(f"format: '{fmt}' is not csv or json")
        since, until = _range(context, {key: context.text(key) for key in ("from", "to")})
        text = await context.console.in_store(lambda store: store.export_audit(
            since=since, until=until, fmt=fmt, actor=actor(context.session)))
    except (CommandError, StoreError, ValueError) as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    kind = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    name = f"audit-{context.console.config.device.id}.{fmt}"
    return Response(text, media_type=kind,
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})
