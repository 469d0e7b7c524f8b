"""The recognition stage in process, with a fake recogniser: each frame goes through the inference thread with the
newest thermal frame, its result and timings reach the decision queue, and a failing frame is counted, not fatal."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np

from drivers.camera.base import Frame
from drivers.mlx90640.lens import mlx90640_geometry
from drivers.thermal.base import ThermalFrame
from kiosk.recognition.recognizer import FrameResult
from kiosk.runtime.queues import LatestQueue
from kiosk.service.health import HealthMonitor
from kiosk.service.stages.recognition import RecognitionStage


class FakeRecognizer:
    """Answers each frame with an empty result; frame `bad` raises. Notes the thread and thermal frame it got."""

    def __init__(self, bad: int = -1) -> None:
        self.bad = bad
        self.seen: list[tuple[int, Optional[int], str]] = []

    def process(self, frame: Frame, thermal: Optional[ThermalFrame]) -> FrameResult:
        self.seen.append((frame.seq, thermal.seq if thermal else None, threading.current_thread().name))
        if frame.seq == self.bad:
            raise ValueError("a corrupt frame")
        return FrameResult(frame.timestamp, [], {"detect": 0.004})


def frame(seq: int) -> Frame:
    return Frame(np.zeros((4, 4, 3), np.uint8), float(seq), seq)


def thermal(seq: int) -> ThermalFrame:
    return ThermalFrame(np.zeros((24, 32), np.float32), 25.0, float(seq), seq, geometry=mlx90640_geometry())


def run(recognizer: FakeRecognizer, scenario, done: Optional[list[int]] = None) -> tuple[HealthMonitor, list[float]]:
    """Runs `scenario(stage, frames, results)` against a RecognitionStage task; returns its health monitor and
    the timestamps of the frames whose faces it passed on. `done` gets a 1 per frame the stage finished."""
    health = HealthMonitor(30.0)
    infer = ThreadPoolExecutor(1, thread_name_prefix="infer")
    faces: list[float] = []
    finished = done if done is not None else []

    async def main() -> None:
        frames: LatestQueue[Frame] = LatestQueue(2)
        results: asyncio.Queue[FrameResult] = asyncio.Queue(4)
        stage = RecognitionStage(frames, results, recognizer, infer, health,
                                 on_faces=lambda timestamp, _samples: faces.append(timestamp),
                                 on_done=lambda: finished.append(1))
        task = asyncio.create_task(stage.run())
        async with asyncio.timeout(10):                       # a guard only
            await scenario(stage, frames, results)
        assert not task.done()
        task.cancel()

    try:
        asyncio.run(main())
    finally:
        infer.shutdown()
    return health, faces


def test_frames_go_through_the_inference_thread_with_the_newest_thermal_frame() -> None:
    recognizer = FakeRecognizer()

    async def scenario(stage: RecognitionStage, frames: LatestQueue[Frame], results: asyncio.Queue) -> None:
        frames.put(frame(1))
        assert (await results.get()).timestamp == 1.0
        stage.offer_thermal(thermal(10))
        stage.offer_thermal(thermal(11))                      # only the newest is used
        frames.put(frame(2))
        assert (await results.get()).timestamp == 2.0

    health, faces = run(recognizer, scenario)
    assert [(seq, heat) for seq, heat, _ in recognizer.seen] == [(1, None), (2, 11)]
    assert {thread for *_, thread in recognizer.seen} == {"infer_0"}
    assert faces == [1.0, 2.0]
    report = health.report()
    assert report["latency"]["detect"]["p50_ms"] == 4.0 and "recognition" in report["latency"]
    assert health.last_result is not None


def test_a_failing_frame_is_counted_and_recognition_goes_on(caplog) -> None:
    recognizer = FakeRecognizer(bad=1)

    async def scenario(_stage: RecognitionStage, frames: LatestQueue[Frame], results: asyncio.Queue) -> None:
        frames.put(frame(1))
        while not recognizer.seen:
            await asyncio.sleep(0.01)
        frames.put(frame(2))
        assert (await results.get()).timestamp == 2.0         # frame 1 produced no result

    done: list[int] = []
    health, _ = run(recognizer, scenario, done)
    assert health.counters["recognition_errors"] == 1
    assert "recognition failed on frame 1" in caplog.text
    assert len(done) == 2        # the failed frame is finished too: the simulated scene must not wait for it


def test_recognition_waits_for_the_decisions() -> None:
    """The results queue is bounded: with nobody deciding, recognition stops taking frames, and the frame queue
    drops the stale ones instead of piling them up."""
    recognizer = FakeRecognizer()

    async def scenario(_stage: RecognitionStage, frames: LatestQueue[Frame], results: asyncio.Queue) -> None:
        for seq in range(1, 6):                               # four results fill the queue; the fifth waits
            frames.put(frame(seq))
            while len(recognizer.seen) < seq:
                await asyncio.sleep(0.01)
        for seq in range(6, 12):
            frames.put(frame(seq))
        await asyncio.sleep(0.05)                             # a chance to take more frames, which it must not
        assert len(recognizer.seen) == 5 and results.qsize() == 4
        assert frames.qsize() == 2 and frames.dropped == 4

    run(recognizer, scenario)
