"""GET /admin: device health, today's counts, the last decisions (live through /admin/decisions, SSE)."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from typing import Any, Optional
from zoneinfo import ZoneInfo

from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ...actions.dates import day_start
from ...actions.reports import who
from ..screen import ScreenHub, TooManyClients
from .auth import Context
from .render import render

DECISION_TYPES = ["access_granted", "access_denied", "fever_alert", "spoof_attempt", "unknown_face"]
RECENT = 15


def device_time(zone: str, at: Optional[float] = None) -> datetime:
    """Now (or the epoch time `at`) in the device's time zone."""
    moment = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return moment.astimezone() if zone == "localtime" else moment.astimezone(ZoneInfo(zone))


def today_start(zone: str) -> str:
    return day_start(device_time(zone).date(), zone, time(0)).isoformat()


def decision_row(event: dict[str, Any]) -> dict[str, Any]:
    decision = event.get("decision") or {}
    return {"time": event["device_time"][11:19], "type": event["type"], "who": who(event),
            "outcome": decision.get("outcome", ""), "reasons": ", ".join(decision.get("reasons", []))}


def health_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The report's parts as (name, text) lines; nested parts as compact JSON."""
    return [(name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))
            for name, value in report.items()]


async def dashboard(context: Context) -> Response:
    console = context.console
    since = today_start(console.config.device.timezone)

    def read(store: Any) -> tuple[Counter[str], list[dict[str, Any]]]:
        counts = Counter(e["type"] for e in store.events(since=since))
        return counts, store.events(types=DECISION_TYPES, limit=RECENT)

    counts, recent = await console.in_store(read)
    report = console.health()
    alarms: dict[str, Any] = report.get("alarms") or {}
    return render(context, "dashboard.html", alive=bool(report.get("pipeline_alive")), alarms=alarms,
                  health=health_rows(report), counts=sorted(counts.items()), total=sum(counts.values()),
                  recent=[decision_row(e) for e in reversed(recent)])


def decisions_feed(screen: Optional[ScreenHub], zone: str):
    """GET /admin/decisions: the kiosk screen's pushed views that carry a verdict, as SSE `decision` events."""
    async def feed(context: Context) -> Response:
        if screen is None:
            return PlainTextResponse("no kiosk screen in this server", status_code=404)
        try:
            updates = screen.updates()
        except TooManyClients as exc:
            return PlainTextResponse(str(exc), status_code=503, headers={"retry-after": "5"})
        return StreamingResponse(_decisions(updates, zone), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})
    return feed


async def _decisions(updates: AsyncIterator[Optional[dict[str, Any]]], zone: str) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    first = True
    async for view in updates:
        if view is None:
            yield ": keepalive\n\n"
        elif view.get("decided_at") is not None and not first:    # the first is the state of the moment
            at = device_time(zone, view["decided_at"]).strftime("%H:%M:%S")
            data = {"time": at, "tone": view["tone"], "text": view["text"], "seq": view["seq"]}
            yield f"event: decision\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        first = False
