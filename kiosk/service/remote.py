"""The daemon's answers to remote MQTT commands (validated and authorised by kiosk.mqtt first).

open_gate, enroll (an image, or an embedding with its model id, plus a consent record),
delete_person, reload_config, selftest and events_since (HR's pull of a gap in the event sequence).
Store work runs on the services' store thread; face work on their inference thread (the face pipeline
is single-threaded).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..access.attendance import make_event
from ..config import ConfigError, load_config
from .stages.event_writer import wait_recorded

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger("kiosk.remote")

# Sections that can change while running; the others need a restart.
EVENTS_PAGE = 100       # events_since's default page size (the schema allows up to 500)
LIVE_SECTIONS = ("recognition", "temperature", "liveness", "mask", "access", "attendance")


class RemoteCommands:
    def __init__(self, services: Services) -> None:
        self.services = services

    def register(self, registry: Any) -> None:
        for name in ("open_gate", "enroll", "delete_person", "reload_config", "selftest", "events_since"):
            registry.register(name, getattr(self, name))

    async def _run(self, executor: Any, fn: Callable[[], Any]) -> Any:
        from ..face.errors import FaceError, ImageError
        from ..mqtt import CommandFailed
        from ..store.errors import StoreError

        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn)
        except (StoreError, FaceError, ImageError, ValueError) as exc:
            raise CommandFailed(str(exc)) from None

    async def open_gate(self, params: dict[str, Any]) -> dict[str, Any]:
        """As for a face grant, the gate opens once its `gate_opened` event is in the local log."""
        from ..mqtt import CommandFailed

        services = self.services
        duration = params.get("duration_s")
        opened_for = duration or services.config.gate.pulse_s
        recorded = services.writer.submit(make_event("gate_opened", services.config, datetime.now(UTC), detail={
            "source": "remote_command", "reason": params.get("reason"), "duration_s": opened_for}))
        if (not services.config.gate.open_before_recorded
                and await wait_recorded([recorded], services.config.gate.record_wait_s) is not None):
            raise CommandFailed("gate kept locked: its gate_opened event could not be recorded "
                                "(see the health alarm event_log)")
        services.gate.grant(duration)
        log.info("gate opened by remote command", extra={"fields": {"reason": params.get("reason"),
                                                                       "duration_s": duration}})
        return {"opened": True, "duration_s": opened_for}

    async def enroll(self, params: dict[str, Any]) -> dict[str, Any]:
        from ..recognition.enroll import Enroller, NewPerson, enroll_remote
        from ..store.fleet import decode_embedding

        services = self.services
        fields = {k: v for k, v in params["person"].items() if k != "person_id"}
        person = NewPerson(**fields)
        threshold = services.recognizer.duplicate_threshold
        # Decoding runs with the work it feeds (off the loop); bad base64 is a one-line CommandFailed.
        if "embedding" in params:
            embedding = params["embedding"]
            report = await self._run(services.store_thread, lambda: enroll_remote(
                services.store, person, [decode_embedding(embedding["embedding_b64"])], model_id=embedding["model_id"],
                consent=params["consent"], active_model_id=services.pipeline.model_id, matcher=services.matcher,
                threshold=threshold, refusal_threshold=services.recognizer.security_now().threshold,
                allow_duplicates=services.config.store.allow_duplicate_faces))
            if services.config.mask.upper_face:
                note = ("enrolled by embedding: no photo to make the upper-face template from, so this person "
                        "is not recognised masked; enroll a photo for that")
                log.info(note, extra={"fields": {"person_id": report.person.person_id}})
                return {"person_id": report.person.person_id, "duplicates": len(report.duplicates), "note": note}
        else:
            enroller = Enroller(services.store, services.pipeline, threshold=threshold, matcher=services.matcher,
                                recognition=services.config.recognition,
                                allow_duplicates=services.config.store.allow_duplicate_faces,
                                masked_templates=services.config.mask.masked_templates,
                                upper_face=services.config.mask.upper_face, actor="mqtt")
            report = await self._run(services.infer, lambda: enroller.enroll_images(
                person, [("remote image", _image_bytes(params["image_b64"]))], params["consent"], source="mqtt"))
        return {"person_id": report.person.person_id, "duplicates": len(report.duplicates)}

    async def delete_person(self, params: dict[str, Any]) -> dict[str, Any]:
        services = self.services
        ref = params.get("person_id") or params["employee_no"]
        person = await self._run(services.store_thread, lambda: services.store.delete_person(
            ref, actor="mqtt", reason=params.get("reason", "request")))
        services.attendance.forget(person.person_id)
        return {"person_id": person.person_id, "erased": True}

    async def reload_config(self, params: dict[str, Any]) -> dict[str, Any]:
        from ..mqtt import CommandFailed

        services = self.services
        try:
            fresh = await asyncio.get_running_loop().run_in_executor(None, load_config, services.config_path)
        except ConfigError as exc:
            raise CommandFailed(f"configuration not reloaded: {exc}") from None
        current = services.config
        changed = [name for name in type(current).model_fields if getattr(fresh, name) != getattr(current, name)]
        applied = [name for name in changed if name in LIVE_SECTIONS]
        for name in applied:
            setattr(current, name, getattr(fresh, name))
        restart = [name for name in changed if name not in LIVE_SECTIONS]
        await asyncio.get_running_loop().run_in_executor(services.infer, services.recognizer.reconfigure)
        await self._run(services.store_thread, lambda: services.store.audit(
            "config_change", actor="mqtt", detail={"applied": applied, "needs_restart": restart}))
        log.info("configuration reloaded", extra={"fields": {"applied": applied, "needs_restart": restart}})
        return {"applied": applied, "needs_restart": restart}

    async def selftest(self, params: dict[str, Any]) -> dict[str, Any]:
        health = self.services.health
        report = health.report()
        return {"ok": bool(report["pipeline_alive"]) and not health.failing_alarms(), "health": report}

    async def events_since(self, params: dict[str, Any]) -> dict[str, Any]:
        """A page of the signed local log from params.seq on (cmd-events_since.schema.json), for HR to fill a gap."""
        services = self.services
        limit = params.get("limit", EVENTS_PAGE)
        page = await self._run(services.store_thread, lambda: services.store.events_from(params["seq"], limit))
        return {**page, "more": page["next_seq"] <= page["last_seq"]}


def _image_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text)
    except binascii.Error:
        raise ValueError("image_b64 is not base64") from None
