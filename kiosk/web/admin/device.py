"""Device: the configuration (read-only, secret files redacted), calibration status, selftest, relay test.

The daemon owns the camera, sensor and relay while it runs, so the console does not run `kiosk
selftest` (which opens them): its selftest is the daemon's own answer (the MQTT `selftest` command:
pipeline alive, no failing alarm, the health report) plus the audit ledger's verification. The relay
test pulses the gate through the daemon's gate controller, as the MQTT `open_gate` command does
(a `gate_opened` event), and is audited with the account.
"""
from __future__ import annotations

import json
import re
from typing import Any

import tomli_w
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .auth import Context
from .console import actor
from .render import render

SECRET = re.compile(r"password|secret|token|key_file|tls_key|username", re.I)
REDACTED = "(set, not shown)"


def redacted(value: Any) -> Any:
    """The configuration with the values of secret-looking keys replaced (paths to key files included)."""
    if isinstance(value, dict):
        return {k: (REDACTED if SECRET.search(k) and v not in (None, "") else redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def calibration_status(context: Context) -> tuple[bool, str]:
    from ...thermal import describe_calibration

    try:
        return True, describe_calibration(context.console.config)
    except Exception as exc:    # any failure to load is the status to show
        return False, f"{type(exc).__name__}: {exc}"


async def page(context: Context, **extra: Any) -> Response:
    config = context.console.config
    text = tomli_w.dumps(redacted(config.model_dump(mode="json", exclude_none=True)))
    calibrated, calibration = await run_in_threadpool(calibration_status, context)   # reads a file
    return render(context, "device.html", extra.pop("status", 200), config_text=text, calibration=calibration,
                  calibrated=calibrated, relay=context.console.open_gate is not None, **extra)


async def selftest(context: Context) -> Response:
    console = context.console
    if console.selftest is None:
        return await page(context, error="No daemon to test in this server.", status=409)
    answer = await console.selftest()
    verdict = await console.in_store(lambda store: store.verify_audit())
    ok = bool(answer["ok"]) and verdict.ok
    alarms = answer["health"].get("alarms") or {}
    lines = [f"pipeline {'alive' if answer['health'].get('pipeline_alive') else 'STALLED'}",
             f"alarms: {json.dumps(alarms, ensure_ascii=False) if alarms else 'none'}", verdict.line()]
    await console.audit(context.session, "command", outcome="ok" if ok else "failed", detail={"command": "selftest"})
    return await page(context, selftest_ok=ok, selftest=lines)


async def relay_test(context: Context) -> Response:
    console = context.console
    if console.open_gate is None:
        return await page(context, error="No gate in this server.", status=409)
    reason = f"relay test by {actor(context.session)}"
    result = await console.open_gate(reason)
    await console.audit(context.session, "command", outcome="ok",
                        detail={"command": "relay test", "duration_s": result.get("duration_s")})
    return await page(context, message=f"Gate unlocked for {result.get('duration_s')} s (relay test, audited).")
