"""JSON Schemas of every MQTT payload (files in kiosk/mqtt/schemas/), loaded once and cached."""
from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

COMMANDS = ("open_gate", "enroll", "delete_person", "sync", "reload_config", "selftest", "events_since")


def schema_names() -> list[str]:
    """Names of all payload schemas (file names without '.schema.json')."""
    folder = resources.files("kiosk.mqtt") / "schemas"
    return sorted(p.name.removesuffix(".schema.json") for p in folder.iterdir() if p.name.endswith(".schema.json"))


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = (resources.files("kiosk.mqtt") / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name))


def first_error(name: str, document: Any) -> str | None:
    """None when `document` matches schema `name`, else one line naming the first problem and where it is."""
    error = next(iter(sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))), None)
    if error is None:
        return None
    where = "/".join(str(part) for part in error.path) or "(top level)"
    message = error.message
    if len(message) > 200:
        message = message[:200] + "..."
    return f"{where}: {message}"
