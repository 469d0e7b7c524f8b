"""Acceptance (issue 14): a flood of unsigned commands through a real broker while the daemon's event writer
records events on the store thread it shares with the command audit. Every event is recorded, every command
counted, the audit ledger grows by summary records only, and a command whose text holds a lone surrogate
is answered and audited. How long events take during the flood is measured by bench/bench_flood.py."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from mqtt_support import Mosquitto, Recorder, kiosk_config, make_keys, until

from bench.bench_flood import FloodRig, flood
from kiosk.store.store import Store

pytestmark = pytest.mark.broker
COUNT = 2000
LONE_SURROGATE = b'{"command": "open_gate", "request_id": "lone-1", "params": {"reason": "\xed\xa0\x80"}}'


def test_a_flood_of_unsigned_commands_is_summarised_and_every_event_recorded(tmp_path: Path,
                                                                              broker: Mosquitto) -> None:
    make_keys(tmp_path)
    config = kiosk_config(tmp_path, broker.port)
    store = Store.open(config)
    first_seq = store.audit_head()[0]
    (tmp_path / "first.json").write_bytes(LONE_SURROGATE)
    results = Recorder(broker.port, ["kiosk/kiosk-1/cmd/+/result"], persistent=False)

    async def main() -> FloodRig:
        rig = FloodRig(config, store)
        await rig.start()
        flooding = asyncio.create_task(flood(broker.port, "kiosk-1", COUNT, 2.0, tmp_path / "first.json"))
        number = 0
        while not flooding.done():        # events at a steady pace for as long as the flood lasts
            rig.put(number)
            number += 1
            await asyncio.sleep(0.05)
        await flooding
        processor = rig.service.processor
        assert processor is not None
        assert await until(lambda: processor.refused >= COUNT + 1, 60), processor.refused
        await rig.stop()
        return rig
    try:
        rig = asyncio.run(asyncio.wait_for(main(), 180))
        answered = results.wait_for(lambda ms: any(b"lone-1" in m.payload for m in ms), 10)
        events = store.events(limit=100_000)
        added = [r for r in store.audit_records() if r["seq"] > first_seq]
        verdict = store.verify_audit()
    finally:
        results.close()
        store.close()
    assert len(rig.queued) > 10 and len(rig.logged) == len(rig.queued) == len(events)
    assert rig.writer.health.counters["events"] == len(events)
    processor = rig.service.processor
    assert processor is not None and processor.refused == COUNT + 1 and processor.accepted == 0

    assert all(r["action"] == "command" and r["outcome"] == "refused_summary" for r in added)
    summaries = [json.loads(r["detail"]) for r in added]
    assert 1 <= len(summaries) <= 4                # one per 60 s window (and one at stop)
    assert sum(s["refused"] for s in summaries) == COUNT + 1 == sum(c["count"] for s in summaries for c in s["counts"])
    assert sum(s["answered"] for s in summaries) < COUNT // 4   # within each sender's budget
    assert verdict.ok, verdict.line()

    assert answered
    reply = next(json.loads(m.payload) for m in results.messages if b"lone-1" in m.payload)
    assert reply["error"]["code"] == "bad_json" and "surrogate" in reply["error"]["message"]
    first = summaries[0]["samples"][0]
    assert first["request_id"] == "lone-1" and first["code"] == "bad_json" and first["answered"] is True
