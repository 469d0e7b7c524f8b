"""Worker threads share one Store: one connection per thread, writes serialised, chain intact."""
from __future__ import annotations

import threading
import uuid

from store_helpers import consent_record, unit

from kiosk.types import MatchResult


def test_concurrent_writers_keep_the_chain_and_lose_nothing(store, rng):
    vectors = unit(rng, 8)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            person = store.add_person(employee_no=f"T{index}", name=f"Thread {index}", role="staff")
            store.enroll(person.person_id, [vectors[index]], model_id="m1", consent=consent_record())
            for _ in range(10):
                store.record_match_attempt(MatchResult(person.person_id, 0.3, 0.2, 0.5), granted=True)
                store.record_event({"type": "attendance", "event_id": uuid.uuid4().hex, "device_id": "kiosk-1",
                                    "device_time": "2026-11-28T08:00:00+00:00", "person": None})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = store.verify_audit()
    assert verdict.ok and verdict.checked == 8 * (1 + 1 + 10)
    assert len(store.events()) == 80 and len(store.load_templates("m1")[0]) == 8
