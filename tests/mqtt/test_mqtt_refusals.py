"""The refusal window (one audit summary per window) and the per-client reply budget, on a fake clock."""
from __future__ import annotations

from fake_clock import FakeClock

from kiosk.mqtt.ratelimit import ReplyLimiter
from kiosk.mqtt.refusals import MAX_CLIENTS, SAMPLES, RefusalWindow, client_of


def test_a_window_counts_per_client_and_code_and_keeps_the_first_few_in_full() -> None:
    clock = FakeClock()
    window = RefusalWindow(60.0, clock)
    assert window.take() is None and not window.due
    kept = [window.add("unsigned", "unauthorised", n < 3, {"request_id": f"r{n}"}) for n in range(10)]
    window.add("claims:00112233aabbccdd", "unauthorised", True, {"request_id": "x"})
    assert kept == [True] * SAMPLES + [False] * (10 - SAMPLES)
    clock.now += 59.9
    assert not window.due
    clock.now += 0.1
    assert window.due
    summary = window.take()
    assert summary is not None and summary["refused"] == 11 and summary["answered"] == 4
    assert summary["counts"] == [{"client": "unsigned", "code": "unauthorised", "count": 10},
                                 {"client": "claims:00112233aabbccdd", "code": "unauthorised", "count": 1}]
    assert [s["request_id"] for s in summary["samples"]] == [f"r{n}" for n in range(SAMPLES)]
    assert window.take() is None and not window.due      # a fresh window opens at the next refusal


def test_clients_beyond_the_bound_are_counted_as_other() -> None:
    window = RefusalWindow(60.0, FakeClock())
    for n in range(MAX_CLIENTS + 10):
        window.add(f"claims:{n:016x}", "unauthorised", False, {})
    summary = window.take()
    assert summary is not None and len(summary["counts"]) == MAX_CLIENTS + 1
    assert {"client": "other", "code": "unauthorised", "count": 10} in summary["counts"]
    assert sum(c["count"] for c in summary["counts"]) == MAX_CLIENTS + 10


def test_client_of_names_the_verified_key_then_the_claimed_one_then_unsigned() -> None:
    claimed = {"signature": {"key_id": "0123456789abcdef"}}
    assert client_of(claimed, "fedcba9876543210") == "key:fedcba9876543210"
    assert client_of(claimed, None) == "claims:0123456789abcdef"
    assert client_of({"signature": {"key_id": "x" * 500}}, None) == "unsigned"
    assert client_of([1, 2], None) == client_of({}, None) == "unsigned"


def test_the_reply_budget_is_per_client_refills_and_bounds_the_clients_it_keeps() -> None:
    clock = FakeClock()
    limiter = ReplyLimiter(rate_per_s=2.0, burst=5, max_clients=3, clock=clock)
    assert [limiter.allow("a") for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.allow("b")                     # another client has its own budget
    clock.now += 1.0
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    many = [limiter.allow(f"claims:{n:016x}") for n in range(100)]   # rotating claimed identities
    assert sum(many) <= 3 + 5               # at most a bucket per free place, then one shared bucket
    clock.now += 60.0                       # refilled buckets are forgotten, making room again
    assert all(limiter.allow(name) for name in ("x", "y", "z"))
