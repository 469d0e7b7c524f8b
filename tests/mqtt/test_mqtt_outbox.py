"""The outbox file and its asyncio front: order, durability across reopen, acks, alarms, overflow."""
from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from kiosk.mqtt import durable
from kiosk.mqtt.durable import ALARM_DISK, ALARM_FULL, ALARM_REJECTED, DurableQueue
from kiosk.mqtt.outbox import Message, Outbox, OutboxError


def msg(n: int, kind: str = "event") -> Message:
    return Message("kiosk/d/events/attendance", f'{{"n":{n}}}'.encode(), 1, False, kind, f"ref{n}", time.time())


def numbers(rows) -> list[int]:
    return [int(r.payload.decode().split(":")[1].rstrip("}")) for r in rows]


def test_rows_keep_their_order_survive_reopen_and_go_after_ack(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = Outbox(path)
    seqs = box.add([msg(i) for i in range(5)])
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    box.close()
    box = Outbox(path)                       # a restart: everything committed is still there
    assert numbers(box.after(0, 100)) == [0, 1, 2, 3, 4]
    box.delete(seqs[:2])
    assert numbers(box.after(0, 100)) == [2, 3, 4]
    assert numbers(box.after(seqs[3], 100)) == [4]
    assert box.reject(seqs[2], "0x87 Not authorized")
    assert box.depth() == 2 and box.rejected_count() == 1
    more = box.add([msg(9)])
    assert more[0] > seqs[-1]                # AUTOINCREMENT: a seq is never reused
    box.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_nonces_are_single_use_until_they_expire(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db")
    now = time.time()
    assert box.use_nonce("k:abc", now + 10, now)
    assert not box.use_nonce("k:abc", now + 10, now)
    assert box.use_nonce("k:abc", now + 30, now + 20)   # expired and purged: usable again
    box.close()


def test_group_commit_keeps_order(tmp_path: Path) -> None:
    async def main() -> list[int]:
        queue = DurableQueue(tmp_path / "outbox.db", 10_000)
        await queue.open()
        results = await asyncio.gather(*(queue.put(msg(i)) for i in range(500)))
        assert all(results) and queue.depth == 500
        rows = await queue.read_after(0, 1000)
        await queue.close()
        return numbers(rows)
    assert asyncio.run(main()) == list(range(500))


def test_acks_delete_and_counters_follow(tmp_path: Path) -> None:
    async def main() -> None:
        queue = DurableQueue(tmp_path / "outbox.db", 10_000)
        await queue.open()
        for i in range(10):
            await queue.put(msg(i))
        rows = await queue.read_after(0, 100)
        for row in rows[:6]:
            queue.ack(row.seq)
        await queue.reject(rows[6].seq, "0x97 Quota exceeded")
        await queue.close()
        again = DurableQueue(tmp_path / "outbox.db", 10_000)
        await again.open()
        assert again.depth == 3 and again.rejected == 1 and ALARM_REJECTED in again.alarms
        assert numbers(await again.read_after(0, 100)) == [7, 8, 9]
        await again.close()
    asyncio.run(main())


def test_full_outbox_raises_an_alarm_holds_events_in_order_and_recovers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(durable, "RETRY_PERIOD_S", 0.01)
    seen: list[frozenset[str]] = []

    async def main() -> None:
        queue = DurableQueue(tmp_path / "outbox.db", 100, on_alarm=seen.append)
        await queue.open()
        committed = [await queue.put(msg(i)) for i in range(130)]
        assert committed == [True] * 100 + [False] * 30       # never blocks, never raises
        assert ALARM_FULL in queue.alarms and queue.overflow == 30 and queue.dropped == 0
        rows = await queue.read_after(0, 1000)
        for row in rows[:50]:
            queue.ack(row.seq)                                # the broker catches up
        for _ in range(200):
            await asyncio.sleep(0.01)
            if queue.overflow == 0:
                break
        assert queue.overflow == 0 and ALARM_FULL not in queue.alarms
        assert numbers(await queue.read_after(rows[49].seq, 1000)) == list(range(50, 130))
        await queue.close()
    asyncio.run(main())
    assert frozenset({ALARM_FULL}) in seen and seen[-1] == frozenset()


def test_disk_full_raises_an_alarm_and_nothing_is_lost(tmp_path: Path, monkeypatch) -> None:
    """SQLite's own SQLITE_FULL (the file may not grow past max_page_count) stands in for a full disk."""
    monkeypatch.setattr(durable, "RETRY_PERIOD_S", 0.01)

    async def main() -> None:
        path = tmp_path / "outbox.db"
        queue = DurableQueue(path, 1_000_000, max_page_count=12)
        await queue.open()
        big = [Message("t", bytes(2000), 1, False, "event", f"e{i}", time.time()) for i in range(40)]
        results = [await queue.put(m) for m in big]
        assert False in results
        first_held = results.index(False)
        assert ALARM_DISK in queue.alarms and queue.overflow == 40 - first_held and queue.dropped == 0
        # space comes back (here: the limit is lifted); the held messages are committed in order
        await queue._run(queue._outbox._db.execute, "PRAGMA max_page_count = 100000")
        for _ in range(300):
            await asyncio.sleep(0.01)
            if queue.overflow == 0:
                break
        assert queue.overflow == 0 and ALARM_DISK not in queue.alarms
        rows = await queue.read_after(0, 1000)
        assert len(rows) == 40
        await queue.close()
    asyncio.run(main())


def test_memory_overflow_full_counts_and_logs_each_refused_event(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(durable, "OVERFLOW_MAX", 5)

    async def main() -> None:
        queue = DurableQueue(tmp_path / "outbox.db", 100)
        await queue.open()
        for i in range(100):
            await queue.put(msg(i))
        for i in range(100, 108):
            assert await queue.put(msg(i)) is False
        assert queue.overflow == 5 and queue.dropped == 3
        await queue.close()
    asyncio.run(main())
    refused = [r.getMessage() for r in caplog.records if "NOT queued" in r.getMessage()]
    assert len(refused) == 3 and "ref107" in refused[-1]


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(OutboxError, match="schema version 99"):
        Outbox(path)
