"""Base class for every configuration section: unknown keys are errors, and so are strings for numbers."""
from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Discriminator, ValidationInfo, field_validator


class Section(BaseModel):
    """A configuration table. Every key has a default; unknown keys are refused.

    Numbers and booleans are strict: pydantic would turn `fever_threshold_c = "37.5"` into 37.5 and
    `enabled = "no"` into False; a quoted value is more likely a mistake than a wish, so it is refused.
    An integer is still accepted where a float is expected (TOML `37` for 37.0)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            _check_scalars(field.annotation, value)
        return value


def _check_scalars(annotation: Any, value: Any) -> None:
    """ValueError when `value` (or an item of it) is not of the exact scalar kind `annotation` asks for."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(annotation):
            return
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            _check_scalars(options[0], value)
        return
    if origin in (tuple, list) and isinstance(value, (list, tuple)):
        items = [a for a in get_args(annotation) if a is not Ellipsis]   # list[T], tuple[T, ...], tuple[A, B, C]
        for position, item in enumerate(value):
            _check_scalars(items[position] if position < len(items) else items[-1] if items else Any, item)
        return
    if origin is dict and isinstance(value, dict):
        for item in value.values():
            _check_scalars(get_args(annotation)[1], item)
        return
    if annotation is bool and not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_kind(value)}")
    if annotation is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"must be a whole number, not {_kind(value)}")
    if annotation is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"must be a number, not {_kind(value)}")


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "a string (write it without quotes)"
    return {bool: "a boolean", float: "a fraction", int: "a number"}.get(type(value), f"a {type(value).__name__}")


def by_backend(default: str) -> Discriminator:
    """The discriminator of a table with backends (`Annotated[Union[Annotated[A, Tag("a")], ...], by_backend("a")]`):
    its `backend` key picks the class, and a table that leaves `backend` out gets `default`."""
    def tag(value: Any) -> Any:
        if isinstance(value, dict):
            return str(value.get("backend", default))
        return str(getattr(value, "backend", default))
    return Discriminator(tag)
