"""The relay interface. Mechanism only: when to unlock is decided elsewhere."""
from __future__ import annotations

from abc import ABC, abstractmethod

from ..health import DeviceHealth


class RelayError(Exception):
    """The relay could not be opened, switched or released (one line naming the device and the cause)."""


def error_reason(exc: BaseException) -> str:
    """The short reason of an OS or driver error ("Device or resource busy"), for one-line RelayErrors."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class Relay(ABC):
    """A fail-secure gate relay: energised = unlocked, released = locked."""

    health: DeviceHealth

    @abstractmethod
    def open(self) -> None:
        """Acquire the device and leave the gate locked."""

    @abstractmethod
    def set_unlocked(self, unlocked: bool) -> None:
        """Energise (True) or release (False) the relay; quick and blocking."""

    @abstractmethod
    def close(self) -> None:
        """Release the relay (lock) and free the device; safe to call twice."""
