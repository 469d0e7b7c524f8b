"""docs/adding-a-backend.md, run: its relay (one driver file, its configuration class, one registry line)
driven through the daemon's gate path (`GateController.from_config`, as `build_services` builds it). The page's
code blocks are executed as they stand."""
from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Annotated, Union, get_args

import pytest
from gate_helpers import Transitions
from pydantic import Field, Tag, ValidationError

import kiosk.config.gate as gate_config
import kiosk.hardware as hardware
from kiosk.access.gate import GateController, lock_gate
from kiosk.config import KioskConfig, describe_keys
from kiosk.config.base import by_backend
from kiosk.config.gate import GateConfig, GpioGateConfig
from kiosk.hardware import RELAYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-backend.md"


def _blocks() -> dict[str, str]:
    """The page's code blocks marked `<!-- file: PATH -->`, by PATH."""
    found = re.finditer(r"<!-- file: (\S+) -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    return {match.group(1): match.group(2) for match in found}


def _run(block: str, path: str, namespace: dict) -> None:
    exec(compile(block, f"{DOC.name}: {path}", "exec", dont_inherit=True), namespace)


@pytest.fixture
def sysfs(monkeypatch):
    """The page's three pieces, each run where the page puts it; yields (config class, driver class)."""
    blocks = _blocks()
    assert sorted(blocks) == ["drivers/relay/sysfs.py", "kiosk/config/gate.py", "kiosk/hardware.py"]
    driver = types.ModuleType("drivers.relay.sysfs")
    _run(blocks["drivers/relay/sysfs.py"], "drivers/relay/sysfs.py", driver.__dict__)
    monkeypatch.setitem(sys.modules, "drivers.relay.sysfs", driver)        # the new driver file
    config_module = {**vars(gate_config), "Path": Path}
    _run(blocks["kiosk/config/gate.py"], "kiosk/config/gate.py", config_module)
    table = config_module["SysfsGateConfig"]
    _run(blocks["kiosk/hardware.py"], "kiosk/hardware.py", {**vars(hardware), "SysfsGateConfig": table})
    try:
        yield _with_backend(table), driver.SysfsRelay
    finally:
        RELAYS.remove("sysfs")


def _with_backend(table: type) -> type[KioskConfig]:
    """KioskConfig with the new class listed in the [gate] union, as the page's diff does."""
    members = get_args(get_args(GateConfig)[0])
    union = Union[(*members, Annotated[table, Tag("sysfs")])]  # noqa: UP007 (a union built at run time)

    class WithSysfsRelay(KioskConfig):
        gate: Annotated[union, by_backend("gpio")] = Field(default_factory=GpioGateConfig,  # type: ignore[valid-type]
                                                           description="gpio, serial, mock or sysfs.")
    return WithSysfsRelay


def test_the_new_relay_pulses_and_locks_through_the_gate_path(tmp_path, sysfs) -> None:
    config_class, relay_class = sysfs
    switch = tmp_path / "brightness"
    config = config_class.model_validate({"gate": {"backend": "sysfs", "sysfs_path": str(switch), "pulse_s": 0.05,
                                                   "supervisor": False},
                                          "device": {"state_dir": str(tmp_path)}})
    heard = Transitions()
    seen_in_file: list[str] = []
    gate = GateController.from_config(config, on_change=lambda unlocked, at: (seen_in_file.append(switch.read_text()),
                                                                              heard(unlocked, at)))
    assert isinstance(gate.relay, relay_class)
    gate.start_sync()
    try:
        assert switch.read_text() == "0"                  # opened locked
        gate.grant()
        assert [unlocked for unlocked, _ in heard.wait_for(2)] == [True, False]   # one bounded pulse
    finally:
        gate.stop_sync()
    assert seen_in_file[:2] == ["1", "0"] and switch.read_text() == "0"
    assert gate.relay.health.counters["switches"] >= 3

    switch.write_text("1")                                # left energised: `kiosk gate lock` releases it
    assert lock_gate(config) == f"sysfs relay {switch}" and switch.read_text() == "0"


def test_its_keys_belong_to_it_alone(sysfs) -> None:
    config_class, _ = sysfs
    with pytest.raises(ValidationError) as raised:
        config_class.model_validate({"gate": {"backend": "sysfs", "gpio_line": 17}})
    assert raised.value.errors()[0]["loc"] == ("gate", "sysfs", "gpio_line")
    with pytest.raises(ValidationError) as raised:
        config_class.model_validate({"gate": {"sysfs_path": "/sys/x"}})                 # default backend: gpio
    assert raised.value.errors()[0]["loc"] == ("gate", "gpio", "sysfs_path")
    rows = {key: (default, meaning) for key, default, meaning in describe_keys(config_class)}
    assert rows["gate.sysfs_path"] == ('"/sys/class/leds/relay0/brightness"',
                                       "backend sysfs: File that switches the relay: 1 = energised (unlocked), "
                                       "0 = released.")
    assert rows["gate.pulse_s"][1] == "How long the gate stays unlocked after a grant."   # shared keys: no prefix
