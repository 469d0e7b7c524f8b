"""The kiosk's configuration: one TOML file, one table per section, validated at start.

Every key has a default and a description (shown by `kiosk config show --doc`). Unknown keys,
wrong types and out-of-range values raise `ConfigError` with a one-line message that names
the key, the bad value and what is allowed.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Optional

import tomli_w
from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from .access import AccessConfig
from .base import Section
from .camera import CameraConfig
from .device import DeviceConfig
from .face import FaceConfig
from .gate import AttendanceConfig, DisplayConfig, GateConfig
from .mqtt import MqttConfig
from .recognition import RecognitionConfig
from .runtime import HealthConfig, SimConfig
from .store import StoreConfig
from .temperature import LivenessConfig, MaskConfig, TemperatureConfig
from .thermal import ThermalConfig
from .web import WebConfig

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")


class ConfigError(Exception):
    """A configuration problem, phrased as one line for the operator."""


class KioskConfig(Section):
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)
    thermal: ThermalConfig = Field(default_factory=ThermalConfig)
    face: FaceConfig = Field(default_factory=FaceConfig)
    recognition: RecognitionConfig = Field(default_factory=RecognitionConfig)
    temperature: TemperatureConfig = Field(default_factory=TemperatureConfig)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    mask: MaskConfig = Field(default_factory=MaskConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
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


def _describe(error: ErrorDetails, source: str) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
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


def _section_at(loc: tuple) -> bool:
    """Whether `loc` names a whole table (where a validator across its keys reports), not one key."""
    model: type[Section] = KioskConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, Section)):
            return False
        model = field.annotation
    return True


def _allowed_keys(model: type[Section], loc: tuple) -> list[str]:
    """The keys allowed in the table that holds the unknown key at `loc`."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, Section)):
            return []
        model = field.annotation
    return sorted(model.model_fields)


def parse_config(data: dict[str, Any], source: str = "configuration") -> KioskConfig:
    """Validate a parsed TOML document; raise ConfigError naming the first bad key."""
    try:
        return KioskConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        line = _describe(first, source)
        if first["type"] == "extra_forbidden":
            allowed = _allowed_keys(KioskConfig, first["loc"])
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
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            rows.extend(describe_keys(annotation, f"{prefix}{name}."))
            continue
        default = field.get_default(call_default_factory=True)
        shown = getattr(default, "value", default)
        text = "unset" if shown is None else json.dumps(shown, default=str, ensure_ascii=False)
        rows.append((f"{prefix}{name}", text, field.description or ""))
    return rows


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
