"""Structured logging: one line per record, key=value text or JSON, with extra fields.

Use `log.info("decision", extra={"fields": {...}})`; the fields appear on the same line.
Timestamps are ISO 8601 with the UTC offset. Warnings and errors that repeat (a missing camera
retried every second) are rate-limited per message. In the daemon, what native libraries write to
the standard error stream (LiteRT, OpenCV) is routed through logging too, so a JSON log stays JSON.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Optional, TextIO

REPEAT_WINDOW_S = 60.0   # } at most REPEAT_BURST lines of one warning or error
REPEAT_BURST = 5         # } per window; the next one passed says how many were dropped
NATIVE_LOGGER = "native"
_original_stderr: Optional[int] = None     # a descriptor on the standard error from before routing


def iso_time(created: float) -> str:
    """Local time with its UTC offset, milliseconds: 2026-12-03T10:59:24.123+01:00."""
    return datetime.fromtimestamp(created).astimezone().isoformat(timespec="milliseconds")


def _format_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if text == "" or any(c in text for c in ' ="'):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [iso_time(record.created), record.levelname.lower(), record.name, _format_value(record.getMessage())]
        for key, value in (getattr(record, "fields", None) or {}).items():
            parts.append(f"{key}={_format_value(value)}")
        if record.exc_info:
            parts.append("exc=" + _format_value(self.formatException(record.exc_info)))
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"time": iso_time(record.created), "ts": round(record.created, 3),
                                "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        data.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class RepeatFilter(logging.Filter):
    """Passes at most `burst` records of one warning or error (same logger and message template) per
    `window_s`; the first record passed after a drop carries `repeated` = how many were dropped.
    Info and debug records always pass (decisions and health lines are never dropped)."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S, burst: int = REPEAT_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s, self.burst, self.clock = window_s, burst, clock
        self._seen: dict[tuple[str, str], tuple[float, int, int]] = {}   # key -> (window start, passed, dropped)
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            start, passed, dropped = self._seen.get(key, (now, 0, 0))
            if now - start >= self.window_s:
                start, passed = now, 0
            if passed >= self.burst:
                self._seen[key] = (start, passed, dropped + 1)
                return False
            self._seen[key] = (start, passed + 1, 0)
        if dropped:
            record.fields = {**(getattr(record, "fields", None) or {}), "repeated": dropped}
        return True


_NATIVE_LEVELS = (
    (re.compile(r"^(?:ERROR|FATAL|F\d{4}|E\d{4})\b|^\[\s*(?:ERROR|FATAL)"), logging.ERROR),
    (re.compile(r"^(?:WARNING|W\d{4})\b|^\[\s*WARN"), logging.WARNING),
    (re.compile(r"^(?:INFO|I\d{4}|VERBOSE)\b|^\[\s*(?:INFO|DEBUG)"), logging.DEBUG),
)


def native_level(line: str) -> int:
    """Log level of one line a native library wrote: its own INFO chatter goes to DEBUG."""
    for pattern, level in _NATIVE_LEVELS:
        if pattern.search(line):
            return level
    return logging.WARNING


def route_native_stderr(logger: logging.Logger) -> TextIO:
    """Replaces file descriptor 2 by a pipe read by a thread that logs each line to `logger`, and
    returns a stream on the original standard error for Python's own output (sys.stderr is set to it,
    and faulthandler writes there, so a crash still prints)."""
    import faulthandler

    original = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as pipe:
            for line in pipe:
                text = line.rstrip()
                if text:
                    logger.log(native_level(text), text)

    threading.Thread(target=pump, name="native-stderr", daemon=True).start()
    global _original_stderr
    _original_stderr = original.fileno()
    sys.stderr = original
    faulthandler.enable(original)
    return original


def original_stderr_fd() -> int:
    """The standard error from before `route_native_stderr`, for child processes: their output must not
    pass through this process's reader thread, which dies or stalls with this process."""
    return _original_stderr if _original_stderr is not None else 2


def restore_native_stderr() -> None:
    """Puts the original standard error back on file descriptor 2 (before exec: the reader thread
    does not survive it)."""
    if _original_stderr is not None:
        os.dup2(_original_stderr, 2)


def quiet_opencv() -> None:
    """OpenCV logs to stderr on its own (every failed camera open); keep only its errors."""
    import cv2

    logging_module = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_module is not None:
        logging_module.setLogLevel(logging_module.LOG_LEVEL_ERROR)


def setup(level: str = "INFO", fmt: str = "text", *, native: bool = False,
          stream: Optional[TextIO] = None) -> logging.Handler:
    """One handler on the root logger. `native`: also route native libraries' stderr (the daemon)."""
    if native:
        stream = route_native_stderr(logging.getLogger(NATIVE_LOGGER))
        quiet_opencv()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return handler
