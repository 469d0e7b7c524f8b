"""Bounded frame queues drop stale frames; device readers survive driver errors."""
from __future__ import annotations

import asyncio
import itertools
import time

from kiosk.runtime.queues import LatestQueue
from kiosk.runtime.reader import DeviceReader, wait_stopped
from kiosk.service.health import HealthMonitor


def test_latest_queue_keeps_only_the_newest_items():
    async def scenario():
        queue: LatestQueue[int] = LatestQueue(maxsize=2)
        for i in range(5):
            queue.put(i)
        assert queue.qsize() == 2 and queue.dropped == 3
        assert [await queue.get(), await queue.get()] == [3, 4]
        waiter = asyncio.create_task(queue.get())
        await asyncio.sleep(0.01)
        assert not waiter.done()  # empty: the consumer waits
        queue.put(9)
        assert await asyncio.wait_for(waiter, 1) == 9

    asyncio.run(scenario())


def test_reader_delivers_on_the_loop_and_survives_errors():
    counter = itertools.count()

    def read():
        n = next(counter)
        time.sleep(0.005)
        if n % 3 == 1:
            raise OSError(5, "Input/output error")
        return n

    async def scenario():
        loop = asyncio.get_running_loop()
        delivered, errors = [], []
        reader = DeviceReader("test", read, delivered.append, loop, on_error=errors.append, max_backoff_s=0.01)
        reader.start()
        await asyncio.sleep(0.3)
        assert wait_stopped([reader], 1.0) == []
        return delivered, errors

    delivered, errors = asyncio.run(scenario())
    assert len(delivered) > 5 and all(n % 3 != 1 for n in delivered)
    assert errors and all(isinstance(e, OSError) for e in errors)


def test_watchdog_is_fed_only_while_results_come(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("kiosk.service.health.time.monotonic", lambda: clock[0])
    health = HealthMonitor(stall_s=10)
    assert health.pipeline_alive()  # grace period after start
    clock[0] += 11
    assert not health.pipeline_alive()
    health.pipeline_result()
    assert health.pipeline_alive()
    clock[0] += 9.9
    assert health.pipeline_alive()
    clock[0] += 0.2
    assert not health.pipeline_alive()
