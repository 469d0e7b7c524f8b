"""Demo staff for the simulator: the cast's enrolled people, enrolled once with a demo consent record."""
from __future__ import annotations

import logging
from pathlib import Path

from ..recognition.enroll import Enroller, NewPerson
from ..store.clock import utc_now
from ..store.consent import Consent
from ..store.errors import PersonNotFound
from .world import cast

log = logging.getLogger("kiosk.sim")


def enroll_demo_staff(enroller: Enroller, assets_dir: Path) -> list[str]:
    """Enroll every cast member with an enrollment photo who is not enrolled yet; returns their names."""
    enrolled = []
    for member in cast(assets_dir):
        if not member["enroll_photo"]:
            continue
        try:
            person = enroller.store.person(member["employee_no"])
            if enroller.store.templates(person.person_id):
                continue
        except PersonNotFound:
            pass
        consent = Consent(given_by=member["name"], given_at=utc_now().isoformat(), notice_version="demo",
                          method="simulated demo person (no real consent needed: public photos, local demo only)")
        enroller.enroll_files(NewPerson(member["employee_no"], member["name"], member["role"]),
                              [assets_dir / member["enroll_photo"]], consent)
        enrolled.append(member["name"])
        log.info("sim: enrolled demo person", extra={"fields": {"name": member["name"],
                                                                 "employee_no": member["employee_no"]}})
    return enrolled
