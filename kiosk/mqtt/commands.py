"""Remote commands: `<prefix>/<device>/cmd/<name>` in, `.../cmd/<name>/result` out.

Every request is checked in this order, and the first failure refuses it (the daemon is never
affected by a bad request): size, UTF-8 JSON text, retained flag, command name, a signature at all
(`signed` mode), envelope schema, name/topic agreement, target device, params schema,
authorisation (Ed25519 signature by a trusted key — required in `signed` mode, checked when
present in `acl` mode), freshness of `issued_at`, nonce not seen before, a registered handler.
Accepted requests run one at a time through the handler registry that the daemon fills in
(`name -> async (params) -> result dict`); each one that passed the checks is answered and leaves
one audit record.

Refusals by these checks can come from anyone who can publish, at any rate: they are answered at a
bounded rate per client (`ratelimit`) and audited as one summary per window (`refusals`), so a
flood costs the store thread one write a minute instead of one per request.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Optional

from ..config.mqtt import CommandAuth
from . import payload as text
from .ratelimit import ReplyLimiter
from .refusals import UNREAD, RefusalWindow, client_of
from .schemas import COMMANDS, first_error
from .signing import SignatureError, TrustedKeys, now_iso, parse_time, verify_envelope

log = logging.getLogger("kiosk.mqtt")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Audit = Callable[[str, dict[str, Any]], Awaitable[None]]
Reply = Callable[[str, dict[str, Any]], None]

MAX_COMMAND_BYTES = 12 * 1024 * 1024
PARSE_OFF_LOOP_BYTES = 64 * 1024
QUEUE_MAX = 256
HANDLER_TIMEOUT_S = 60.0
AUDIT_ACTION = "command"       # the store ledger's action for remote commands


class CommandFailed(Exception):
    """Raised by a handler: the request is answered ok=false, code 'failed', with this message."""


@dataclass
class Refusal(Exception):
    code: str
    message: str


class CommandRegistry:
    """name -> async handler(params) -> result dict. The daemon registers the actions it provides."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, handler: Handler) -> None:
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}; commands are {', '.join(COMMANDS)}")
        self._handlers[name] = handler

    def get(self, name: str) -> Optional[Handler]:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)


@dataclass
class Request:
    name: str
    payload: bytes
    retained: bool
    request_id: Optional[str] = None   # known once the payload parsed as a JSON object with a plausible id
    client: str = UNREAD               # whom a refusal is counted against (refusals.client_of)


class CommandProcessor:
    def __init__(self, device_id: str, mode: CommandAuth, trusted: TrustedKeys, max_age_s: float,
                 registry: CommandRegistry, use_nonce: Callable[[str, float], Awaitable[bool]],
                 reply: Reply, audit: Audit, *, issued_after: Optional[datetime] = None) -> None:
        """`issued_after`: refuse commands issued before it (the outbox, which holds the used nonces, was rebuilt)."""
        self.device_id = device_id
        self.issued_after = issued_after
        self.mode = mode
        self._trusted = trusted
        self.max_age_s = max_age_s
        self.registry = registry
        self._use_nonce = use_nonce
        self._reply = reply
        self._audit = audit
        self._queue: asyncio.Queue[Request] = asyncio.Queue(QUEUE_MAX)
        self.refusals = RefusalWindow()
        self.replies = ReplyLimiter()
        self.accepted = 0
        self.refused = 0

    def submit(self, name: str, payload: bytes, retained: bool) -> None:
        """Called from the MQTT message callback (loop thread); never blocks."""
        try:
            self._queue.put_nowait(Request(name, payload, retained))
        except asyncio.QueueFull:
            self._refuse(Request(name, payload, retained),
                         Refusal("busy", f"more than {QUEUE_MAX} commands are waiting; try again"))

    async def run(self) -> None:
        """Process requests until cancelled; the refusals of the open window are audited on the way out."""
        summaries = asyncio.create_task(self._summarise(), name="mqtt-refusal-summaries")
        try:
            while True:
                request = await self._queue.get()
                try:
                    await self.handle(request)
                except Exception:  # last line of defence: a request must never stop the processor
                    log.exception("mqtt command %s: unexpected error", text.clean(request.name))
                await asyncio.sleep(0)   # a refusal may never suspend: let the event writer and the rest run
        finally:
            summaries.cancel()
            await self.flush_refusals()

    async def _summarise(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.refusals.window_s / 4))
            if self.refusals.due:
                await asyncio.shield(self.flush_refusals())   # a stop meanwhile must not lose the taken window

    async def flush_refusals(self) -> None:
        """Audit the refusals counted so far as one summary record (nothing when there were none)."""
        summary = self.refusals.take()
        if summary is None:
            return
        log.warning("mqtt: %d commands refused since %s (%d answered): %s", summary["refused"], summary["from"],
                    summary["answered"], ", ".join(f"{c['client']} {c['code']} x{c['count']}"
                                                   for c in summary["counts"][:5]))
        await self._audit(AUDIT_ACTION, {"auth": self.mode.value, **summary})

    async def handle(self, request: Request) -> None:
        key = None
        try:
            envelope, key = await self._check(request)
            handler = self.registry.get(request.name)
            if handler is None:
                raise Refusal("unsupported", f"this device has no handler for '{request.name}'")
        except Refusal as refusal:
            if refusal.code == "unsupported":     # signed, fresh, nonce used: audited like an executed one
                await self._finish(request, key, error=refusal)
            else:
                self._refuse(request, refusal)
            return
        try:
            result = await asyncio.wait_for(handler(envelope["params"]), HANDLER_TIMEOUT_S)
            if not isinstance(result, dict):
                raise TypeError(f"handler returned {type(result).__name__}, not a dict")
            json.dumps(result)
        except CommandFailed as exc:
            await self._finish(request, key, error=Refusal("failed", str(exc) or "failed"))
        except TimeoutError:
            await self._finish(request, key,
                               error=Refusal("timeout", f"no result within {HANDLER_TIMEOUT_S:.0f} s"))
        except Exception as exc:
            log.exception("mqtt command %s (%s): handler crashed", request.name, request.request_id)
            await self._finish(request, key, error=Refusal("internal", f"{type(exc).__name__}: {exc}"))
        else:
            await self._finish(request, key, result=result)

    async def _check(self, request: Request) -> tuple[dict[str, Any], Optional[str]]:
        if len(request.payload) > MAX_COMMAND_BYTES:
            raise Refusal("too_large", f"{len(request.payload)} bytes; the limit is {MAX_COMMAND_BYTES}")
        big = len(request.payload) > PARSE_OFF_LOOP_BYTES    # an enrolment image: do not stall the loop
        try:
            envelope = await _off_loop(text.parse, request.payload) if big else text.parse(request.payload)
            request.request_id, request.client = _request_id(envelope), client_of(envelope, None)
            await _off_loop(text.check_text, envelope) if big else text.check_text(envelope)
        except text.PayloadError as exc:
            raise Refusal("bad_json", f"the payload is {exc}") from None
        if request.retained:
            raise Refusal("retained", "retained commands are refused (they would replay on every reconnect)")
        if request.name not in COMMANDS:
            raise Refusal("unknown_command", f"'{request.name[:64]}' is not a command; commands are {', '.join(COMMANDS)}")
        if self.mode == CommandAuth.signed and isinstance(envelope, dict) and "signature" not in envelope:
            # before the schema checks: the cheapest refusal first, as floods are made of unsigned commands
            raise Refusal("unauthorised", "the command is not signed (command_auth = signed)")
        problem = first_error("command", envelope)
        if problem:
            raise Refusal("bad_request", f"envelope: {problem}")
        if envelope["command"] != request.name:
            raise Refusal("bad_request", f"envelope command '{envelope['command']}' does not match topic '{request.name}'")
        if envelope["device_id"] != self.device_id:
            raise Refusal("wrong_device", f"addressed to '{envelope['device_id']}', this is '{self.device_id}'")
        problem = first_error(f"cmd-{request.name}", envelope["params"])
        if problem:
            raise Refusal("bad_request", f"params: {problem}")
        key = await self._authorise(envelope)
        request.client = client_of(envelope, key)
        try:
            issued = parse_time(envelope["issued_at"])
        except ValueError as exc:
            raise Refusal("bad_request", f"issued_at: {exc}") from None
        skew = abs((datetime.now(UTC) - issued).total_seconds())
        if skew > self.max_age_s:
            raise Refusal("stale", f"issued_at is {skew:.0f} s away from the device clock "
                                   f"(limit mqtt.command_max_age_s = {self.max_age_s:.0f})")
        if self.issued_after is not None and issued <= self.issued_after:
            raise Refusal("stale", "issued before the outbox and its record of used nonces were rebuilt: "
                                   "send it again with a new nonce")
        expires = time.time() + 2 * self.max_age_s
        if not await self._use_nonce(f"{key or 'acl'}:{envelope['nonce']}", expires):
            raise Refusal("replay", "this nonce was already used (a replayed command)")
        return envelope, key

    async def _authorise(self, envelope: dict[str, Any]) -> Optional[str]:
        def verify() -> str:
            return verify_envelope(envelope, self._trusted.keys())
        if self.mode == CommandAuth.acl and "signature" not in envelope:
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(None, verify)
        except SignatureError as exc:
            raise Refusal("unauthorised", str(exc)) from None

    def _refuse(self, request: Request, error: Refusal) -> None:
        """A request refused by the checks: answered while the client's reply budget lasts, counted for
        the window's summary, logged one by one only for the first few of a window."""
        self.refused += 1
        answered = self.replies.allow(request.client)
        if answered:
            self._reply(request.name, self._result(request, None, error))
        name, message = text.clean(request.name[:64]), text.clean(error.message)
        sample = {"command": name, "request_id": request.request_id, "reason": message[:300]}
        if self.refusals.add(request.client, error.code, answered, sample):
            log.warning("mqtt command %s request=%s client=%s: %s: %s", name, request.request_id, request.client,
                        error.code, message)

    def _result(self, request: Request, result: Optional[dict[str, Any]], error: Optional[Refusal]) -> dict[str, Any]:
        return {"request_id": request.request_id, "command": text.clean(request.name[:64]),
                "device_id": self.device_id, "time": now_iso(), "ok": error is None,
                "result": result if error is None else None,
                "error": None if error is None else {"code": error.code, "message": text.clean(error.message)}}

    async def _finish(self, request: Request, key: Optional[str], *,
                      result: Optional[dict[str, Any]] = None, error: Optional[Refusal] = None) -> None:
        """A request that passed every check: always answered, and audited on its own."""
        name, request_id = text.clean(request.name[:64]), request.request_id
        payload = self._result(request, result, error)
        if error is None:
            self.accepted += 1
            log.info("mqtt command %s request=%s key=%s: done", name, request_id, key)
        else:
            self.refused += 1
            log.warning("mqtt command %s request=%s key=%s: %s: %s", name, request_id, key, error.code,
                        payload["error"]["message"])
        self._reply(request.name, payload)
        await self._audit(AUDIT_ACTION, {
            "command": name, "request_id": request_id, "key_id": key, "auth": self.mode.value,
            "outcome": "executed" if error is None else ("failed" if error.code in ("failed", "timeout", "internal")
                                                         else "refused"),
            "code": None if error is None else error.code,
            "reason": None if error is None else payload["error"]["message"][:300]})


async def _off_loop(fn: Callable[[Any], Any], arg: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, arg)


def _request_id(data: Any) -> Optional[str]:
    """The request id to echo, when the payload is a JSON object carrying a plausible one."""
    value = data.get("request_id") if isinstance(data, dict) else None
    if isinstance(value, str) and 0 < len(value) <= 64 and all(c.isalnum() or c in "_.:-" for c in value):
        return value
    return None
