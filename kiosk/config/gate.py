"""[gate]: the door relay and optional door inputs. `backend` picks the relay driver; each takes only its own keys."""
from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Optional, Union

from pydantic import Field, Tag

from .base import Section, by_backend


class _Gate(Section):
    """Keys of every relay: pulse timing, the supervisor, and the door inputs (GPIO lines whatever the relay)."""

    backend: str
    gpio_chip: str = Field("/dev/gpiochip0", description="GPIO chip of the relay line (backend gpio) and of the "
                                                         "door inputs.")
    pulse_s: float = Field(3.0, gt=0, le=60, description="How long the gate stays unlocked after a grant.")
    record_wait_s: float = Field(1.0, gt=0, le=10, description="A grant opens the gate once its event is "
                                                               "committed to the local event log; not committed "
                                                               "within this long (failing or slow storage) and the "
                                                               "gate stays locked (alarm event_log).")
    open_before_recorded: bool = Field(False, description="UNSAFE: open the gate at once for a grant, before its "
                                                          "event is committed (a crash or a failing disk can then "
                                                          "leave a grant unrecorded); a warning at every start.")
    supervisor: bool = Field(True, description="A separate watchdog process locks the gate when the daemon "
                                               "dies or stalls while the gate is unlocked.")
    lease_s: float = Field(2.0, ge=0.2, le=30, description="Supervisor: while the gate is unlocked the relay "
                                                           "thread renews its lease; no renewal for this long "
                                                           "and the daemon is killed and the gate locked.")
    inputs_backend: Literal["gpio"] = Field("gpio", description="Driver of the door contact and exit button: gpio "
                                                                 "(libgpiod lines with the kernel's debouncer).")
    door_contact_line: Optional[int] = Field(None, ge=0, le=1023,
                                             description="GPIO line of a door contact (closed = door shut).")
    exit_button_line: Optional[int] = Field(None, ge=0, le=1023,
                                            description="GPIO line of a request-to-exit button.")
    held_open_s: float = Field(30.0, gt=0, le=3600, description="Door open this long raises door_held_open.")
    inputs_active_low: bool = Field(True, description="Door contact and exit button switch their line to ground "
                                                      "(internal pull-up); false = to 3.3 V (pull-down).")
    input_debounce_ms: float = Field(20.0, ge=0, le=1000, description="Debounce period of the door inputs.")
    exit_button_unlocks: bool = Field(True, description="A press of the exit button unlocks the gate for a pulse.")
    exit_grace_s: float = Field(10.0, ge=0, le=300, description="The door may open this long after an exit-button "
                                                                "press without raising door_forced_open.")


class GpioGateConfig(_Gate):
    backend: Literal["gpio"] = "gpio"       # libgpiod v2 line
    gpio_line: int = Field(17, ge=0, le=1023, description="Line offset driving the relay.")
    active_low: bool = Field(False, description="Relay energises when the line is low.")


class SerialGateConfig(_Gate):
    backend: Literal["serial"] = "serial"   # LCUS-type USB relay board
    serial_port: str = Field("/dev/ttyUSB1", description="Serial port of an LCUS-type relay board.")
    serial_baud: int = Field(9600, description="Baud of the relay board.")
    relay_channel: int = Field(1, ge=1, le=8, description="Channel on a multi-relay board.")


class MockGateConfig(_Gate):
    backend: Literal["mock"] = "mock"       # in-memory relay (simulation, tests)


GateConfig = Annotated[Union[Annotated[GpioGateConfig, Tag("gpio")], Annotated[SerialGateConfig, Tag("serial")],
                             Annotated[MockGateConfig, Tag("mock")]], by_backend("gpio")]


class AttendanceMode(StrEnum):
    device_role = "device_role"  # entry devices clock in, exit devices clock out
    first_last = "first_last"    # first recognition of the day is in, later ones are out


class AttendanceConfig(Section):
    mode: AttendanceMode = Field(AttendanceMode.device_role, description="device_role or first_last.")
    day_starts_at: str = Field("04:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                               description="Local time at which an attendance day begins (HH:MM).")
    cooldown_s: float = Field(300.0, ge=0, le=86400, description="At most one attendance event per person "
                                                                  "within this.")
    roles: list[str] = Field(default_factory=lambda: ["staff"], description="Roles whose grants are attendance.")


class DisplayBackend(StrEnum):
    headless = "headless"  # messages go to the log
    opencv = "opencv"      # a window on a local screen


class Language(StrEnum):
    en = "en"              # English
    zh_Hans = "zh-Hans"    # Simplified Chinese


class DisplayConfig(Section):
    backend: DisplayBackend = Field(DisplayBackend.headless, description="headless or opencv.")
    buzzer_line: Optional[int] = Field(None, ge=0, le=1023, description="GPIO line of a buzzer.")
    led_green_line: Optional[int] = Field(None, ge=0, le=1023, description="GPIO line of a green LED.")
    led_red_line: Optional[int] = Field(None, ge=0, le=1023, description="GPIO line of a red LED.")
    hold_s: float = Field(3.0, ge=0, le=60, description="A verdict stays on screen (and LED) this long.")
    fullscreen: bool = Field(True, description="opencv: show the message window full screen.")
    language: Language = Field(Language.en, description="Language of the web kiosk screen: en or zh-Hans (the "
                                                        "OpenCV window, logs and events stay in English).")
