"""Bounded hand-over between pipeline stages.

Frames are perishable: `LatestQueue` keeps only the newest `maxsize` items and counts what it
dropped. Events are not: they go through ordinary unbounded queues and durable storage.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestQueue(Generic[T]):
    """An asyncio queue that drops its oldest item instead of blocking the producer."""

    def __init__(self, maxsize: int = 1) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: deque[T] = deque(maxlen=maxsize)
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, item: T) -> None:
        """Add an item (never blocks); the oldest item is dropped when full. Loop thread only."""
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    async def get(self) -> T:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if not self._items:
            self._ready.clear()
        return item

    def qsize(self) -> int:
        return len(self._items)
