"""Log lines: ISO timestamps with offset, repeated warnings rate-limited, native stderr routed through logging."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from kiosk.logs import JsonFormatter, RepeatFilter, TextFormatter, iso_time, native_level


def _record(msg: str, level: int = logging.WARNING, *args) -> logging.LogRecord:
    return logging.LogRecord("kiosk.camera", level, __file__, 1, msg, args, None)


def test_timestamps_carry_the_utc_offset():
    stamp = iso_time(1_700_000_000.25)
    assert stamp[10] == "T" and stamp[-6] in "+-" and stamp[-3] == ":" and ".250" in stamp, stamp
    text = TextFormatter().format(_record("hello"))
    assert text.split(" ")[0][-6] in "+-"
    data = json.loads(JsonFormatter().format(_record("hello")))
    assert data["time"][-6] in "+-" and data["msg"] == "hello" and isinstance(data["ts"], float)


def test_repeated_warnings_are_rate_limited_per_message_and_counted():
    now = [0.0]
    repeat = RepeatFilter(window_s=60.0, burst=3, clock=lambda: now[0])
    passed = [repeat.filter(_record("camera read failed: %s", logging.WARNING, i)) for i in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert repeat.filter(_record("another problem"))           # another message has its own budget
    info = [repeat.filter(_record("decision", logging.INFO)) for _ in range(20)]
    assert all(info)                                           # decisions are never dropped
    now[0] = 61.0
    record = _record("camera read failed: %s", logging.WARNING, 11)
    assert repeat.filter(record) and record.fields == {"repeated": 7}
    again = _record("camera read failed: %s", logging.WARNING, 12)
    assert repeat.filter(again) and not getattr(again, "fields", None)


def test_native_levels():
    assert native_level("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") == logging.DEBUG
    assert native_level("[ WARN:0@1.234] global cap_v4l.cpp:999 open VIDEOIO(V4L2:/dev/video0): can't open") \
        == logging.WARNING
    assert native_level("[ERROR:0@0.1] global something") == logging.ERROR
    assert native_level("something unexpected") == logging.WARNING


def test_native_library_output_becomes_json_log_lines(tmp_path: Path, models_dir: Path):
    """A real LiteRT interpreter prints "INFO: Created TensorFlow Lite XNNPACK delegate" on fd 2: with
    the daemon's logging it is a debug record, and every line on stderr is JSON."""
    child = textwrap.dedent(f"""
        import logging, os, threading
        from kiosk import logs
        logs.setup("INFO", "json", native=True)
        from ai_edge_litert.interpreter import Interpreter
        Interpreter(model_path={str(models_dir / "face_detection_short_range.tflite")!r}).allocate_tensors()
        os.write(2, b"[ WARN:0@0.5] global cap_v4l.cpp:1000 can't open camera by index\\n")
        logging.getLogger("kiosk.test").warning("python warning")
        os.close(2)
        for thread in threading.enumerate():   # the reader ends at the pipe's end of file
            if thread.name == "native-stderr":
                thread.join(10)
    """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]    # every line is JSON
    assert not any("XNNPACK" in line["msg"] for line in lines)           # LiteRT's INFO chatter: debug
    native = [line for line in lines if line["logger"] == "native"]
    assert [line["level"] for line in native] == ["warning"] and "can't open camera" in native[0]["msg"]
    assert any(line["msg"] == "python warning" for line in lines)
