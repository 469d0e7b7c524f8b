"""Feedback for the person at the kiosk: a message per state on a display, plus LEDs and a buzzer.

Display backends ([display] backend):
- `headless`: one log line per change of message (logger "kiosk.access.feedback");
- `opencv`: a window on the local screen (cv2.imshow), drawn by its own thread; needs an
  OpenCV build with GUI support (`opencv-python`, not the default `opencv-python-headless`).
Outputs (optional GPIO lines on gate.gpio_chip): a green LED lit on a welcome, a red LED on a
denial, and a buzzer (one short beep on a welcome, three on a denial).

A verdict stays up for `display.hold_s`; prompts ("please come closer") arriving meanwhile do
not replace it. `show()` never blocks: drawing and the LED/buzzer patterns run in threads.
Listeners (the web kiosk screen, kiosk.web) get every change of screen, with the same hold.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

import numpy as np

from ..config import KioskConfig
from ..config.gate import DisplayBackend
from . import catalogue
from .policy import NO_MASK, Decision, Notice, Observation
from .signal_patterns import PATTERNS, PatternPlayer
from .tracker import Step

log = logging.getLogger("kiosk.feedback")

IDLE_TEXT = catalogue.text("idle")


class FeedbackError(Exception):
    """The display or an output could not be opened."""


@dataclass(frozen=True)
class Screen:
    notice: Optional[Notice]   # None = idle
    text: str                  # in English (the log, the OpenCV window); the web screen renders its own language
    verdict: bool = False      # a final decision (held for hold_s)
    name: Optional[str] = None            # a welcome: the person's name as enrolled
    body_c: Optional[float] = None        # a verdict's measured temperature
    mask_reminder: bool = False           # a welcome that asks to wear a mask (mask.policy = "warn")
    decided_at: Optional[datetime] = None  # a verdict's decision time: a new verdict is a new screen


ScreenListener = Callable[[Screen], None]


# BGR colours per state: green welcome, amber prompts, red denials.
COLOURS: dict[Optional[Notice], tuple[int, int, int]] = {
    None: (60, 60, 60),
    Notice.welcome: (60, 160, 40),
    Notice.come_closer: (0, 160, 230),
    Notice.stand_still: (0, 160, 230),
    Notice.look_at_camera: (0, 160, 230),
    Notice.wear_mask: (0, 160, 230),
    Notice.remove_mask: (0, 160, 230),
    Notice.denied: (40, 40, 200),
    Notice.fever: (40, 40, 200),
    Notice.see_staff: (40, 40, 200),
}

class Feedback:
    def __init__(self, config: KioskConfig, *, request_lines: Optional[Callable[..., Any]] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.hold_s = config.display.hold_s
        self.current = Screen(None, IDLE_TEXT)
        self._held_until = 0.0
        self._display: Optional[_OpenCvWindow] = None
        self._outputs: Optional[SignalOutputs] = None
        self._request_lines = request_lines
        self._listeners: list[ScreenListener] = []

    def subscribe(self, listener: ScreenListener) -> None:
        """Call `listener` with every new screen (on the thread that presents: the daemon's loop)."""
        self._listeners.append(listener)
        listener(self.current)

    def start(self) -> None:
        """Open the display and outputs; raises FeedbackError with the reason. Blocking: an OpenCV window
        may take up to 10 s to appear, so the daemon calls this in an executor."""
        if self.config.display.backend == DisplayBackend.opencv:
            self._display = _OpenCvWindow(self.config.device.id, self.config.display.fullscreen)
            self._display.start()
        lines = {name: line for name, line in (("green", self.config.display.led_green_line),
                                               ("red", self.config.display.led_red_line),
                                               ("buzzer", self.config.display.buzzer_line)) if line is not None}
        if lines:
            self._outputs = SignalOutputs(self.config.gate.gpio_chip, lines, request_lines=self._request_lines)
            self._outputs.start()
        self._render(self.current)

    def close(self) -> None:
        if self._outputs is not None:
            self._outputs.close()
        if self._display is not None:
            self._display.close()

    # What to show ------------------------------------------------------------------------------
    def present(self, step: Step) -> None:
        """Show what a tracker step calls for: its verdict, its prompt, or idle when nobody is there."""
        if step.verdict is not None:
            self.show_decision(step.verdict.decision, step.verdict.observation)
        elif step.prompt is not None:
            self.show_decision(step.prompt)
        elif step.track_id is None:
            self.show(Screen(None, IDLE_TEXT))

    def show_decision(self, decision: Decision, observation: Optional[Observation] = None) -> None:
        """A prompt, or a verdict with what the person is shown of it (`observation`: who, when)."""
        if not decision.final:
            self.show(Screen(decision.notice, decision.message))
            return
        reading = decision.temperature
        person = observation.person if observation is not None and decision.granted else None
        self.show(Screen(decision.notice, decision.message, verdict=True, name=person.name if person else None,
                         body_c=reading.body_c if reading is not None else None,
                         mask_reminder=decision.granted and NO_MASK in decision.reasons,
                         decided_at=observation.at if observation is not None else None))

    def show(self, screen: Screen) -> None:
        now = self.clock()
        if not screen.verdict and now < self._held_until:
            return                      # a fresh verdict stays up for hold_s
        if screen == self.current:
            return
        if screen.verdict:
            self._held_until = now + self.hold_s
            if self._outputs is not None:
                self._outputs.play("welcome" if screen.notice == Notice.welcome else "denied")
        self.current = screen
        self._render(screen)

    def _render(self, screen: Screen) -> None:
        log.info("display: [%s] %s", screen.notice.value if screen.notice else "idle", screen.text)
        if self._display is not None:
            self._display.show(screen)
        for listener in self._listeners:
            try:
                listener(screen)
            except Exception:   # a broken screen must not stop the decisions
                log.exception("screen listener failed")


def render(screen: Screen, size: tuple[int, int] = (480, 800)) -> np.ndarray:
    """The screen as a BGR image: a full-colour panel with the message centred."""
    import cv2

    height, width = size
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = COLOURS.get(screen.notice, COLOURS[None])
    # Hershey fonts are ASCII only.
    text = screen.text.replace("°C", " C").encode("ascii", "replace").decode("ascii")
    lines = _wrap(text, 24)
    scale, thickness = 1.4, 3
    line_h = int(50 * scale)
    top = (height - line_h * len(lines)) // 2 + line_h // 2
    for i, line in enumerate(lines):
        (w, h), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.putText(image, line, ((width - w) // 2, top + i * line_h + h // 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return image


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for part in text.split(" - "):
        words, line = part.split(), ""
        for word in words:
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        if line:
            lines.append(line)
    return lines or [""]


class _OpenCvWindow:
    """A window owned by one thread (HighGUI is not thread-safe); show() just hands it a screen."""

    def __init__(self, title: str, fullscreen: bool) -> None:
        self.title = f"kiosk {title}"
        self.fullscreen = fullscreen
        self._screens: queue.Queue[Optional[Screen]] = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._error: Optional[str] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="display", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error:
            raise FeedbackError(self._error)

    def show(self, screen: Screen) -> None:
        self._screens.put(screen)

    def close(self) -> None:
        if self._thread is not None:
            self._screens.put(None)
            self._thread.join(2)

    def _run(self) -> None:
        import cv2

        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
            if self.fullscreen:
                cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        except cv2.error as exc:
            reason = (getattr(exc, "err", "") or str(exc) or "cv2 error").strip().split(". ")[0]
            self._error = (f"display.backend = opencv: cannot open a window ({reason}); install opencv-python "
                           "(with GUI support) instead of opencv-python-headless, and run on a local screen")
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                try:
                    screen = self._screens.get(timeout=0.03)
                except queue.Empty:
                    cv2.waitKey(1)     # keeps the window responsive
                    continue
                if screen is None:
                    return
                cv2.imshow(self.title, render(screen))
                cv2.waitKey(1)
        finally:
            cv2.destroyWindow(self.title)


class SignalOutputs:
    """Green/red LEDs and a buzzer on GPIO output lines, driven by patterns in a thread.

    The thread writes what its `PatternPlayer` says is on and sleeps until the next step."""

    def __init__(self, chip: str, lines: dict[str, int], *, request_lines: Optional[Callable[..., Any]] = None) -> None:
        self.chip = chip
        self.lines = lines
        self._request_lines = request_lines
        self._request: Any = None
        self._value: Any = None
        self._cond = threading.Condition()       # guards _player and _closing
        self._player = PatternPlayer(PATTERNS)
        self._closing = False
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        import gpiod
        from gpiod.line import Value

        from drivers.relay.gpio import output_settings

        self._value = Value
        request_lines = self._request_lines or gpiod.request_lines
        try:
            self._request = request_lines(self.chip, config={tuple(self.lines.values()): output_settings(False)},
                                          consumer="kiosk-feedback")
        except (OSError, ValueError) as exc:
            raise FeedbackError(f"cannot request display LED/buzzer lines {self.lines} on {self.chip}: "
                                f"{getattr(exc, 'strerror', None) or exc}") from None
        self._thread = threading.Thread(target=self._run, name="feedback-outputs", daemon=True)
        self._thread.start()

    def play(self, name: str) -> None:
        """Start a pattern, cutting short the one playing."""
        with self._cond:
            self._player.play(time.monotonic(), name)
            self._cond.notify_all()

    def close(self) -> None:
        if self._thread is not None:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        shown: frozenset[str] = frozenset()      # the lines were requested inactive
        try:
            while (outputs := self._next_outputs(shown)) is not None:
                self._set(outputs)
                shown = outputs
        finally:
            self._set(frozenset())
            self._request.release()

    def _next_outputs(self, shown: frozenset[str]) -> Optional[frozenset[str]]:
        """Block until the player's outputs differ from `shown`; return them (None: closing)."""
        with self._cond:
            while not self._closing:
                now = time.monotonic()
                outputs = self._player.outputs(now)
                if outputs != shown:
                    return outputs
                due = self._player.next_change(now)
                self._cond.wait(None if due is None else due - now)
            return None

    def _set(self, on: frozenset[str]) -> None:
        try:
            for name, line in self.lines.items():
                self._request.set_value(line, self._value.ACTIVE if name in on else self._value.INACTIVE)
        except OSError as exc:
            log.error("display outputs: %s", exc)
