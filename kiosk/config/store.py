"""[store]: the local database, encryption keys and retention."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field

from .base import Section


class StoreConfig(Section):
    database: Optional[Path] = Field(None, description="SQLite database; unset = <state_dir>/kiosk.db.")
    keys_dir: Optional[Path] = Field(None, description="Template and signing keys; unset = <state_dir>/keys.")
    audit_head: Optional[Path] = Field(None, description="Signed head of the audit ledger, a file outside the database; "
                                                         "unset = the database path with the suffix .audit-head.json "
                                                         "(<state_dir>/kiosk.audit-head.json).")
    keep_source_images: bool = Field(False, description="Keep enrollment photos (only with the person's consent), "
                                                        "so persons can be re-embedded after a model change.")
    event_retention_days: int = Field(365, ge=1, le=36500, description="Events older than this are purged.")
    image_retention_days: int = Field(30, ge=1, le=36500, description="Kept source images older than this are purged.")
    audit_retention_days: int = Field(1825, ge=1, le=36500,
                                      description="Audit records are kept at least this long (never purged earlier).")
    retention_interval_s: float = Field(3600.0, ge=10, description="How often the retention purge runs.")
    allow_duplicate_faces: bool = Field(False, description="Enroll a face within the matching threshold of someone "
                                                           "already enrolled (twins, one person under two employee "
                                                           "numbers); off = refused, naming that person.")
    notice_version: str = Field("v1", description="Version of the privacy notice shown before enrollment.")
