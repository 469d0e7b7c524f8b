"""The events_since command (HR pulls a gap from the local log): params schema, paging, bounded size."""
from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from kiosk.mqtt.schemas import COMMANDS, first_error
from kiosk.service.remote import RemoteCommands
from kiosk.store.clock import utc_now


def _event() -> dict:
    return {"type": "gate_opened", "event_id": uuid.uuid4().hex, "device_id": "kiosk-1",
            "device_time": utc_now().isoformat(timespec="milliseconds"), "person": None, "detail": {"source": "x"}}


def test_params_schema() -> None:
    assert "events_since" in COMMANDS
    assert first_error("cmd-events_since", {"seq": 1}) is None
    assert first_error("cmd-events_since", {"seq": 5, "limit": 500}) is None
    assert first_error("cmd-events_since", {"seq": 0}) is not None
    assert first_error("cmd-events_since", {"seq": 1, "limit": 501}) is not None
    assert first_error("cmd-events_since", {"limit": 5}) is not None
    assert first_error("cmd-events_since", {"seq": "1"}) is not None


def test_pages_through_the_log(store) -> None:
    for _ in range(5):
        store.record_event(_event())
    with ThreadPoolExecutor(1) as thread:
        remote = RemoteCommands(SimpleNamespace(store=store, store_thread=thread))  # type: ignore[arg-type]
        page = asyncio.run(remote.events_since({"seq": 2, "limit": 3}))
        assert [e["seq"] for e in page["events"]] == [2, 3, 4]
        assert (page["next_seq"], page["last_seq"], page["first_seq"], page["more"]) == (5, 5, 1, True)
        page = asyncio.run(remote.events_since({"seq": page["next_seq"]}))
        assert [e["seq"] for e in page["events"]] == [5] and page["more"] is False
        assert all(e["signature"]["canon"] == "jcs" for e in page["events"])


def test_a_bad_page_is_a_failed_command(store) -> None:
    from kiosk.mqtt import CommandFailed

    with ThreadPoolExecutor(1) as thread:
        remote = RemoteCommands(SimpleNamespace(store=store, store_thread=thread))  # type: ignore[arg-type]
        with pytest.raises(CommandFailed, match="at least 1"):
            asyncio.run(remote.events_since({"seq": 1, "limit": 0}))
