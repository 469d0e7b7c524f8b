"""Base class for every configuration section: unknown keys are errors."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A configuration table. Every key has a default; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
