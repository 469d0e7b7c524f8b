"""Fleet person records (docs/contracts.md section 2): validation, encoding and the ordering rule."""
from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .cipher import embedding_from_bytes, embedding_to_bytes
from .clock import normalise_iso
from .errors import RecordError

_HEX32 = r"^[0-9a-f]{32}$"
MAX_COUNTER = 2 ** 53 - 1   # exact in every JSON parser, signable (RFC 8785), far below SQLite's 2^63 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordVersion(_Strict):
    counter: int = Field(ge=0, le=MAX_COUNTER)
    device: str = Field(min_length=1, max_length=64)

    def key(self) -> tuple[int, str]:
        return (self.counter, self.device)


class RecordPerson(_Strict):
    employee_no: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Literal["staff", "visitor"]
    valid_from: Optional[str] = None
    valid_to: Optional[str] = None
    schedule: Optional[str] = Field(None, max_length=200)
    status: Literal["active", "suspended"]


class RecordTemplate(_Strict):
    model_id: str = Field(min_length=1, max_length=100)
    embedding_b64: str = Field(min_length=4, max_length=20_000)
    quality: Optional[float] = None
    created: str


class FleetRecord(_Strict):
    person_id: str = Field(pattern=_HEX32)
    version: RecordVersion
    deleted: bool
    person: Optional[RecordPerson]
    consent: Optional[dict[str, Any]]
    templates: list[RecordTemplate] = Field(max_length=64)

    @model_validator(mode="after")
    def _tombstone_is_empty(self) -> FleetRecord:
        if self.deleted and (self.person is not None or self.consent is not None or self.templates):
            raise ValueError("a tombstone (deleted = true) carries no person, consent or templates")
        if not self.deleted and (self.person is None or self.consent is None):
            raise ValueError("a live record needs its person and consent")
        return self


def parse_record(data: Any) -> FleetRecord:
    """A validated FleetRecord; RecordError names the first problem."""
    if not isinstance(data, dict):
        raise RecordError("fleet person record must be a JSON object")
    try:
        record = FleetRecord.model_validate(data)
        if record.person:
            for key in ("valid_from", "valid_to"):
                value = getattr(record.person, key)
                if value is not None:
                    setattr(record.person, key, normalise_iso(value))
        for template in record.templates:
            template.created = normalise_iso(template.created)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "record"
        raise RecordError(f"fleet record {key}: {first['msg'].removeprefix('Value error, ')}") from None
    except ValueError as exc:
        raise RecordError(f"fleet record: {exc}") from None
    return record


def encode_embedding(embedding: np.ndarray) -> str:
    return base64.b64encode(embedding_to_bytes(embedding)).decode("ascii")


def decode_embedding(text: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RecordError("embedding_b64 is not base64") from None
    if not raw or len(raw) % 4:
        raise RecordError(f"embedding_b64 holds {len(raw)} bytes, not a float32 vector")
    vector = embedding_from_bytes(raw)
    if not np.all(np.isfinite(vector)):
        raise RecordError("embedding holds NaN or infinite values")
    return vector
