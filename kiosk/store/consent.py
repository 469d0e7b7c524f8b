"""Consent records: enrollment of face data is refused without one.

A record says who agreed (the person, or a guardian for a minor), when, to which version of
the privacy notice, how (paper form, kiosk screen, ...), and to what: `local` (matching on
this kiosk, always required), `fleet` (shared with the site's other kiosks) and `keep_images`
(the source photos are kept, encrypted, for re-embedding after a model change).
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .clock import normalise_iso, parse_iso, utc_now
from .errors import ConsentError

SCOPES = ("local", "fleet", "keep_images")


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    consent_id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=64)
    given_by: str = Field(min_length=1, max_length=200)
    given_at: str
    notice_version: str = Field(min_length=1, max_length=64)
    method: str = Field(min_length=1, max_length=200)
    guardian: Optional[str] = Field(None, max_length=200)
    minor: bool = False
    scope: tuple[str, ...] = ("local",)

    @field_validator("given_by", "method", "notice_version", "guardian")
    @classmethod
    def _not_blank(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None

    @field_validator("given_at")
    @classmethod
    def _past_time(cls, value: str) -> str:
        if parse_iso(value) > utc_now() + timedelta(minutes=5):
            raise ValueError(f"'{value}' is in the future")
        return normalise_iso(value)

    @field_validator("scope")
    @classmethod
    def _known_scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scope {unknown[0]!r} (allowed: {', '.join(SCOPES)})")
        if "local" not in value:
            raise ValueError("must include 'local' (matching on this kiosk)")
        return tuple(s for s in SCOPES if s in value)

    @model_validator(mode="after")
    def _guardian_for_minor(self) -> Consent:
        if self.minor and not self.guardian:
            raise ValueError("a minor's consent needs the guardian who gave it")
        return self

    @property
    def allows_fleet(self) -> bool:
        return "fleet" in self.scope

    @property
    def allows_keep_images(self) -> bool:
        return "keep_images" in self.scope

    def record(self) -> dict[str, Any]:
        """The consent as in a fleet person record (docs/contracts.md section 2)."""
        return {"consent_id": self.consent_id, "given_by": self.given_by, "given_at": self.given_at,
                "notice_version": self.notice_version, "method": self.method, "guardian": self.guardian,
                "scope": list(self.scope)}


def parse_consent(data: Any) -> Consent:
    """A Consent from a dict (JSON file, MQTT command, fleet record); ConsentError names the first problem."""
    if isinstance(data, Consent):
        return data
    if not isinstance(data, dict):
        raise ConsentError("consent record must be a JSON object")
    data = dict(data)
    if data.get("guardian") and "minor" not in data:
        data["minor"] = True   # a fleet record carries the guardian only
    try:
        return Consent.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "is required"
        raise ConsentError(f"consent {key}: {message}" if key else f"consent: {message}") from None
