"""A table from a backend's name (`[gate] backend = "serial"`) to what builds it.

One registry per kind of backend (cameras, thermal sensors, relays, door inputs, face detectors,
embedders); the kiosk's are in kiosk/hardware.py and kiosk/face. A new backend registers its factory
with one line, and building never grows an if-chain:

    RELAYS: Registry[RelayFactory] = Registry("relay", key="gate.backend")

    @RELAYS.register("serial")
    def _serial_relay(gate, context): ...

    relay = RELAYS.get(config.gate.backend)(config.gate, context)

A name nobody registered is a one-line `UnknownBackend` naming the known ones.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownBackend(LookupError):
    """No backend of this kind is registered under the name asked for."""


class Registry(Generic[T]):
    """Named entries of one kind; `what` and `key` only phrase the errors ("no relay backend 'x' (gate.backend: ...)")."""

    def __init__(self, what: str, key: str = "backend") -> None:
        self.what = what
        self.key = key
        self._entries: dict[str, T] = {}

    def register(self, kind: str) -> Callable[[T], T]:
        """Decorator: `@REGISTRY.register("name")` above the factory."""
        def add(entry: T) -> T:
            self.add(kind, entry)
            return entry
        return add

    def add(self, kind: str, entry: T) -> None:
        if kind in self._entries:
            raise ValueError(f"{self.what} backend {kind!r} is registered twice")
        self._entries[kind] = entry

    def remove(self, kind: str) -> None:
        """Forget an entry (tests that register a backend of their own)."""
        self._entries.pop(kind, None)

    def get(self, kind: str) -> T:
        try:
            return self._entries[str(kind)]
        except KeyError:
            raise UnknownBackend(f"{self.key} = {str(kind)!r}: no {self.what} backend of that name "
                                 f"(known: {', '.join(self.kinds())})") from None

    def kinds(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, kind: object) -> bool:
        return str(kind) in self._entries
