"""The kiosk's configuration: one TOML file, one table per section, validated at start.

Every key has a default and a description (shown by `kiosk config show --doc`). Unknown keys,
wrong types and out-of-range values raise `ConfigError` with a one-line message that names
the key, the bad value and what is allowed.

Tables with a `backend` ([camera], [thermal], [gate]) are discriminated unions: one class per
backend, holding only that backend's keys, so a key of another backend is refused by name.
"""
from __future__ import annotations

import json
import tomllib
import types
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, Union, get_args, get_origin

import tomli_w
from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from .access import AccessConfig
from .base import Section
from .camera import CameraConfig, OpenCVCameraConfig
from .device import DeviceConfig
from .face import FaceConfig
from .gate import AttendanceConfig, DisplayConfig, GateConfig, GpioGateConfig
from .mqtt import MqttConfig
from .recognition import RecognitionConfig
from .runtime import HealthConfig, SimConfig
from .store import StoreConfig
from .temperature import LivenessConfig, MaskConfig, TemperatureConfig
from .thermal import I2cThermalConfig, ThermalConfig
from .web import WebConfig

if TYPE_CHECKING:
    from drivers.thermal.base import ThermalGeometry

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")


class ConfigError(Exception):
    """A configuration problem, phrased as one line for the operator."""


class KioskConfig(Section):
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    camera: CameraConfig = Field(default_factory=OpenCVCameraConfig,
                                 description="opencv (a real camera) or mock (simulator).")
    thermal: ThermalConfig = Field(default_factory=I2cThermalConfig,
                                   description="i2c, uart, mock or none (no sensor: the sensors' keys may stay, unused).")
    face: FaceConfig = Field(default_factory=FaceConfig)
    recognition: RecognitionConfig = Field(default_factory=RecognitionConfig)
    temperature: TemperatureConfig = Field(default_factory=TemperatureConfig)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    mask: MaskConfig = Field(default_factory=MaskConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    gate: GateConfig = Field(default_factory=GpioGateConfig, description="gpio, serial or mock.")
    attendance: AttendanceConfig = Field(default_factory=AttendanceConfig)
    display: DisplayConfig = Field(default_factory=DisplayConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    @model_validator(mode="after")
    def _client_id_names_the_device(self) -> KioskConfig:
        """Two kiosks with one client id knock each other off the broker in turn (a copied configuration)."""
        client_id = self.mqtt.client_id
        if client_id is not None and self.device.id not in client_id:
            raise ValueError(f"mqtt.client_id = {client_id!r} must contain device.id {self.device.id!r} so that "
                             f"every kiosk has its own (unset: 'kiosk-{self.device.id}')")
        return self

    @property
    def thermal_geometry(self) -> ThermalGeometry:
        """What the configured thermal sensor's frames cover (resolution, field of view)."""
        return self.thermal.geometry(self.temperature.sensor_fov.value)

    # Paths derived from device.state_dir when not set explicitly.
    @property
    def state_dir(self) -> Path:
        return self.device.state_dir

    @property
    def models_dir(self) -> Path:
        return self.face.models_dir or self.state_dir / "models"

    @property
    def database_path(self) -> Path:
        return self.store.database or self.state_dir / "kiosk.db"

    @property
    def audit_head_path(self) -> Path:
        # The same default as kiosk.store.audit_head.default_head_path (not imported: config stays light).
        return self.store.audit_head or self.database_path.with_suffix(".audit-head.json")

    @property
    def keys_dir(self) -> Path:
        return self.store.keys_dir or self.state_dir / "keys"

    @property
    def calibration_path(self) -> Path:
        return self.temperature.calibration_file or self.state_dir / "calibration.json"

    @property
    def sim_assets_dir(self) -> Path:
        return self.sim.assets_dir or self.state_dir / "sim"

    @property
    def trusted_keys_dir(self) -> Path:
        return self.mqtt.trusted_keys_dir or self.keys_dir / "trusted"

    @property
    def device_keys_dir(self) -> Path:
        return self.mqtt.device_keys_dir or self.keys_dir / "devices"


def _tables(annotation: Any) -> list[type[Section]]:
    """The table classes a field holds: one for a plain table, one per backend for a union, none for a key."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [get_args(a)[0] if get_origin(a) is Annotated else a for a in get_args(annotation)]
        return [m for m in members if isinstance(m, type) and issubclass(m, Section)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, Section) else []


def _backend_of(model: type[Section]) -> str:
    return str(model.model_fields["backend"].get_default())


def _walk(loc: tuple) -> tuple[list[str], Optional[type[Section]], Optional[str]]:
    """The key path of an error's `loc` without pydantic's union tags, the table class holding its last
    key, and the backend chosen for that table (None for a table without backends)."""
    parts = [str(part) for part in loc]
    model: type[Section] = KioskConfig
    path: list[str] = []
    backend: Optional[str] = None
    while parts:
        path.append(parts.pop(0))
        if not parts:
            break
        field = model.model_fields.get(path[-1])
        tables = _tables(field.annotation) if field is not None else []
        if not tables:
            return path + parts, None, None
        backend = parts.pop(0) if len(tables) > 1 else None   # pydantic names the backend next
        chosen = next((t for t in tables if backend is None or _backend_of(t) == backend), None)
        if chosen is None:
            return path + parts, None, backend
        model = chosen
    return path, model, backend


def _describe(error: ErrorDetails, source: str) -> str:
    path, _, backend = _walk(error["loc"])
    key = ".".join(path) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        owners = _backends_with(path)
        if backend is not None and owners:
            return (f"{source}: {key} belongs to {'.'.join(path[:-1])}.backend = {' or '.join(owners)}, "
                    f"not to the configured '{backend}'")
        return f"{source}: unknown key '{key}'"
    if kind == "union_tag_invalid":
        tables = _tables(KioskConfig.model_fields[path[0]].annotation) if path[0] in KioskConfig.model_fields else []
        known = ", ".join(repr(_backend_of(t)) for t in tables)
        return f"{source}: {key}.backend = {error['ctx']['tag']!r}: must be one of {known}"
    value = error.get("input")
    message = error["msg"]
    if kind == "value_error" and _section_at(error["loc"]):   # a rule across keys: the message names them
        return f"{source}: {message.removeprefix('Value error, ')}"
    ctx = error.get("ctx") or {}
    if "expected" in ctx and kind == "enum":
        message = f"must be one of {ctx['expected']}"
    elif kind == "value_error" and "error" in ctx:
        message = str(ctx["error"])        # our validators' own words, without pydantic's "Value error, "
    return f"{source}: {key} = {value!r}: {message}"


def _backends_with(path: list[str]) -> list[str]:
    """The backends of the union table `path[:-1]` that have the key `path[-1]` ('gpio' for gate.gpio_line)."""
    if len(path) != 2 or path[0] not in KioskConfig.model_fields:
        return []
    tables = _tables(KioskConfig.model_fields[path[0]].annotation)
    return [repr(_backend_of(t)) for t in tables if path[1] in t.model_fields] if len(tables) > 1 else []


def _section_at(loc: tuple) -> bool:
    """Whether `loc` names a whole table (where a validator across its keys reports), not one key."""
    model: type[Section] = KioskConfig
    parts = list(loc)
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        tables = _tables(field.annotation) if field is not None else []
        if not tables:
            return False
        if len(tables) > 1:
            if not parts:
                return True
            tag = str(parts.pop(0))
            model = next((t for t in tables if _backend_of(t) == tag), tables[0])
        else:
            model = tables[0]
    return True


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys allowed in the table (of the backend chosen there) that holds the unknown key at `loc`."""
    _, model, _ = _walk(loc)
    return sorted(model.model_fields) if model is not None else []


def parse_config(data: dict[str, Any], source: str = "configuration") -> KioskConfig:
    """Validate a parsed TOML document; raise ConfigError naming the first bad key."""
    try:
        return KioskConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        line = _describe(first, source)
        if first["type"] == "extra_forbidden":
            allowed = _allowed_keys(first["loc"])
            if allowed:
                line += f" (allowed here: {', '.join(allowed)})"
        if len(errors) > 1:
            line += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise ConfigError(line) from None


def load_config(path: Optional[Path]) -> KioskConfig:
    """Load and validate a TOML file; no file at the default path means all defaults."""
    if path is None:
        if not DEFAULT_PATH.exists():
            return KioskConfig()
        path = DEFAULT_PATH
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))


def to_toml(config: KioskConfig) -> str:
    """The effective configuration as TOML (unset optional keys are left out)."""
    data = config.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(data)


def describe_keys(model: type[Section] = KioskConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, description) for every key, for the README and `config show --doc`."""
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        tables = _tables(field.annotation)
        if len(tables) == 1:
            rows.extend(describe_keys(tables[0], f"{prefix}{name}."))
        elif tables:
            rows.extend(_describe_backends(tables, field, f"{prefix}{name}."))
        else:
            rows.append((f"{prefix}{name}", _shown(field), field.description or ""))
    return rows


def _describe_backends(tables: list[type[Section]], field: Any, prefix: str) -> list[tuple[str, str, str]]:
    """A table with backends: `backend` first, then every key once; a key only some backends have says which."""
    default = field.get_default(call_default_factory=True).backend
    rows = [(f"{prefix}backend", json.dumps(default), field.description or "")]
    seen = {"backend"}
    # A switched-off backend (thermal "none") that tolerates the others' keys does not own them.
    owning = [t for t in tables if not getattr(t, "accepts_other_backends_keys", False)]
    for table in tables:
        for name, key in table.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            owners = [_backend_of(t) for t in owning if name in t.model_fields]
            only = "" if len(owners) == len(owning) else f"backend {', '.join(owners)}: "
            rows.append((f"{prefix}{name}", _shown(key), only + (key.description or "")))
    return rows


def _shown(field: Any) -> str:
    default = field.get_default(call_default_factory=True)
    shown = getattr(default, "value", default)
    return "unset" if shown is None else json.dumps(shown, default=str, ensure_ascii=False)


def reference_markdown() -> str:
    """The configuration reference of the README: one table per section."""
    lines: list[str] = []
    section = None
    for key, default, description in describe_keys():
        table = key.split(".")[0]
        if table != section:
            section = table
            lines += ["", f"**[{table}]**", "", "| key | default | meaning |", "|---|---|---|"]
        lines.append(f"| `{key}` | `{default.replace('|', '/')}` | {description.replace('|', '/')} |")
    return "\n".join(lines[1:]) + "\n"


__all__ = ["ConfigError", "KioskConfig", "DEFAULT_PATH", "load_config", "parse_config", "to_toml",
           "describe_keys", "reference_markdown"]
