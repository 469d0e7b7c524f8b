"""A thermal frame is used only while the face stands where it stood when the frame was measured."""
from __future__ import annotations

from kiosk.recognition.recognizer import ThermalAlignment

BOX = (200.0, 100.0, 340.0, 270.0)


def shifted(dx: float, grow: float = 0.0) -> tuple[float, float, float, float]:
    return (BOX[0] + dx - grow, BOX[1] - grow, BOX[2] + dx + grow, BOX[3] + grow)


def test_still_face_uses_the_thermal_frame():
    align = ThermalAlignment(refresh_hz=16)
    for i in range(10):
        align.seen(10.0 + i / 15, shifted(0.5 * i))
    assert align.matches(10.6, 10.55, shifted(4.5))


def test_face_that_moved_since_the_thermal_capture_skips_it():
    align = ThermalAlignment(refresh_hz=16)
    for i in range(10):                       # walking sideways, 6 px per frame
        align.seen(10.0 + i / 15, shifted(6.0 * i))
    assert not align.matches(10.6, 10.45, shifted(54.0))


def test_face_that_came_closer_skips_it():
    align = ThermalAlignment(refresh_hz=16)
    for i in range(10):                       # approaching: the box grows
        align.seen(10.0 + i / 15, shifted(0.0, grow=4.0 * i))
    assert not align.matches(10.6, 10.45, shifted(0.0, grow=36.0))


def test_stale_thermal_frame_or_no_history_is_not_used():
    align = ThermalAlignment(refresh_hz=16)
    assert not align.matches(10.0, 9.95, BOX)          # no camera history yet
    align.seen(11.0, BOX)
    assert not align.matches(11.0, 10.0, BOX)          # a second old, and the face not seen at or before it
    align.seen(10.0, BOX)
    align.seen(13.0, BOX)
    assert not align.matches(13.0, 10.5, BOX)          # too old, however still the face stood


def test_sparse_recognition_still_gets_readings_while_the_face_stands_still():
    """A busy device recognises a frame every 0.8 s: no sighting falls within 0.5 s of the measurement, but
    the face was seen before it and since, in the same place."""
    align = ThermalAlignment(refresh_hz=16)
    for i in range(4):
        align.seen(10.0 + 0.8 * i, shifted(0.5 * i))
    assert align.matches(12.4, 11.25, shifted(1.5))    # measured at 11.19; seen at 10.8 and 12.4


def test_sparse_recognition_does_not_bridge_a_move():
    align = ThermalAlignment(refresh_hz=16)
    align.seen(10.0, BOX)
    align.seen(10.8, shifted(60.0))                    # stepped aside
    align.seen(11.6, BOX)                              # and back
    assert not align.matches(11.6, 10.95, BOX)         # measured at 10.89: between the two moves
