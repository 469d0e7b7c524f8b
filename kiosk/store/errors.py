"""Errors raised by the store, each phrased as one line for the operator."""
from __future__ import annotations


class StoreError(Exception):
    """Base class: a problem with the people database, its keys or its records."""


class KeyFileError(StoreError):
    """A key file is missing, unreadable, too permissive or malformed."""


class TemplateKeyError(StoreError):
    """The template key does not decrypt this database (wrong or missing key)."""


class ConsentError(StoreError):
    """Enrollment refused: no consent record, or an incomplete one."""


class PersonNotFound(StoreError):
    """No (live) person with that id or employee number."""


class RecordError(StoreError):
    """A fleet person record or an event is malformed."""
