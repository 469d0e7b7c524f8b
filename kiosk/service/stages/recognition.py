"""The recognition stage: the newest camera frame, with the newest thermal frame, through the recogniser on the
inference thread; each result to the decision stage.

    camera reader --LatestQueue (stale frames dropped)--> recognizer.process (inference thread) --results--> decisions
    thermal reader --offer_thermal (newest only)------/

The recogniser runs on one dedicated thread (`infer`): the face pipeline's interpreters are not thread-safe and
were created on that thread. The results queue is bounded, so recognition waits for the decisions.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Optional, Protocol

from drivers.camera.base import Frame
from drivers.thermal.base import ThermalFrame

from ...recognition.observations import FaceSample
from ...recognition.recognizer import FrameResult
from ...runtime.queues import LatestQueue
from ..health import HealthMonitor

log = logging.getLogger("kiosk.daemon")

FacesListener = Callable[[float, list[FaceSample]], None]


class FrameRecognizer(Protocol):
    def process(self, frame: Frame, thermal: Optional[ThermalFrame]) -> FrameResult: ...


class RecognitionStage:
    def __init__(self, frames: LatestQueue[Frame], results: asyncio.Queue[FrameResult], recognizer: FrameRecognizer,
                 infer: Executor, health: HealthMonitor, *, on_faces: Optional[FacesListener] = None,
                 on_done: Optional[Callable[[], Any]] = None) -> None:
        """`on_faces(timestamp, samples)`: each recognised frame's faces, on the loop (the web preview's boxes);
        `on_done()`: recognition has finished a frame, on the loop (the simulated scene waits for it)."""
        self.frames = frames
        self.results = results
        self.recognizer = recognizer
        self.infer = infer
        self.health = health
        self.on_faces = on_faces
        self.on_done = on_done
        self.thermal: Optional[ThermalFrame] = None   # the newest thermal frame; older ones are of no use

    def offer_thermal(self, frame: ThermalFrame) -> None:
        """From the thermal reader (on the loop): keep only the newest."""
        self.thermal = frame

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame = await self.frames.get()
            started = time.monotonic()
            try:
                result = await loop.run_in_executor(self.infer, self.recognizer.process, frame, self.thermal)
            except Exception:
                # A bad frame or a model error must not end recognition; the health report shows it.
                self.health.count("recognition_errors")
                log.exception("recognition failed on frame %d", frame.seq)
                continue
            finally:
                if self.on_done is not None:
                    self.on_done()
            self.health.pipeline_result()
            self.health.latency("recognition", time.monotonic() - started)
            for stage, seconds in result.latencies.items():
                self.health.latency(stage, seconds)
            if self.on_faces is not None:
                self.on_faces(result.timestamp, result.samples)
            await self.results.put(result)
