"""kiosk.access.gate_timing.PulseTimer: the gate's pulse rules with made-up times (no threads, no sleeping)."""
from __future__ import annotations

from kiosk.access.gate_timing import MAX_PULSE_S, RETRY_LOCK_S, Change, PulseTimer


def switch(timer: PulseTimer, now: float, *, ok: bool = True) -> bool:
    """Do what the worker does at `now` when a change is due: switch (at once) and report."""
    change = timer.next_change(now)
    assert change is not None and change.at <= now, f"no change due at {now}: {change}"
    timer.switching(change.unlocked)
    if ok:
        timer.switched(now, change.unlocked)
    else:
        timer.failed(now, change.unlocked)
    return change.unlocked


def test_idle_timer_waits_for_a_command() -> None:
    timer = PulseTimer()
    assert timer.next_change(5.0) is None and not timer.unlocked and timer.locked_at is None


def test_grant_unlocks_at_once_and_locks_pulse_s_after_the_switch() -> None:
    timer = PulseTimer()
    timer.grant(10.0, 3.0)
    assert timer.next_change(10.0) == Change(10.0, True)
    timer.switching(True)
    assert timer.next_change(10.2) is None, "nothing while the switch is in flight"
    timer.switched(10.25, True)          # the command went out at 10.25: the pulse is timed from there
    assert timer.unlocked
    assert timer.next_change(11.0) == Change(13.25, False)
    assert switch(timer, 13.25) is False
    assert not timer.unlocked and timer.locked_at == 13.25 and timer.next_change(14.0) is None


def test_grant_while_unlocked_extends_from_now_and_never_shortens() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 3.0)
    switch(timer, 0.0)
    timer.grant(2.0, 3.0)
    assert timer.next_change(2.0) == Change(5.0, False)
    timer.grant(2.5, 1.0)                # ends before the current pulse: no change
    assert timer.next_change(2.5) == Change(5.0, False)
    timer.grant(5.0, 3.0)                # exactly at the end, before the worker locked: extended
    assert timer.next_change(5.0) == Change(8.0, False)


def test_pulse_is_capped() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 600.0)
    switch(timer, 0.0)
    assert timer.next_change(0.0) == Change(MAX_PULSE_S, False)


def test_longest_grant_before_the_switch_wins() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 1.0)
    timer.grant(0.1, 4.0)
    timer.grant(0.2, 2.0)
    switch(timer, 1.0)
    assert timer.next_change(1.0) == Change(5.0, False)


def test_grant_during_the_unlock_switch_counts_from_the_switch() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 1.0)
    timer.switching(True)
    timer.grant(0.01, 2.0)
    timer.switched(0.0, True)
    assert timer.next_change(0.05) == Change(2.0, False)


def test_lock_ends_the_pulse_now() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 30.0)
    switch(timer, 0.0)
    timer.lock(4.0)
    assert timer.next_change(4.0) == Change(4.0, False)
    switch(timer, 4.0)
    assert timer.locked_at == 4.0 and timer.next_change(4.0) is None


def test_lock_drops_a_grant_not_yet_applied() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 3.0)
    timer.lock(0.0)
    assert timer.next_change(0.0) is None


def test_lock_during_the_unlock_switch_locks_right_after_it() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 30.0)
    timer.switching(True)
    timer.lock(0.001)
    timer.switched(0.0, True)
    assert timer.next_change(0.002) == Change(0.0, False)


def test_grant_after_lock_keeps_the_gate_unlocked() -> None:
    """A lock and then a grant before the worker acted: the gate stays unlocked, no extra switching."""
    timer = PulseTimer()
    timer.grant(0.0, 3.0)
    switch(timer, 0.0)
    timer.lock(1.0)
    timer.grant(1.0, 3.0)
    assert timer.next_change(1.0) == Change(4.0, False)


def test_grant_during_the_lock_switch_unlocks_again() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 1.0)
    switch(timer, 0.0)
    timer.switching(False)
    timer.grant(1.0, 2.0)                # arrives while the release is being sent
    timer.switched(1.0, False)
    assert timer.locked_at == 1.0 and timer.next_change(1.0) == Change(1.0, True)
    switch(timer, 1.1)
    assert timer.next_change(1.1) == Change(3.1, False)


def test_failed_unlock_is_not_retried_but_a_later_grant_is_tried() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 3.0)
    assert switch(timer, 0.0, ok=False) is True
    assert not timer.unlocked and timer.next_change(0.0) is None
    timer.grant(1.0, 3.0)
    assert timer.next_change(1.0) == Change(1.0, True)


def test_grant_during_a_failing_unlock_is_tried_once_more() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 3.0)
    timer.switching(True)
    timer.grant(0.01, 2.0)
    timer.failed(0.02, True)
    assert timer.next_change(0.02) == Change(0.02, True)
    switch(timer, 0.02)
    assert timer.next_change(0.02) == Change(2.02, False), "the later grant's own pulse"


def test_failed_release_is_retried_every_retry_lock_s() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 1.0)
    switch(timer, 0.0)
    assert switch(timer, 1.0, ok=False) is False
    assert timer.unlocked and timer.next_change(1.0) == Change(1.0 + RETRY_LOCK_S, False)
    switch(timer, 1.0 + RETRY_LOCK_S, ok=False)
    assert timer.next_change(1.6) == Change(1.0 + 2 * RETRY_LOCK_S, False)
    switch(timer, 1.0 + 2 * RETRY_LOCK_S)
    assert not timer.unlocked and timer.locked_at == 1.0 + 2 * RETRY_LOCK_S and timer.next_change(3.0) is None


def test_lock_retries_a_failing_release_at_once() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 1.0)
    switch(timer, 0.0)
    switch(timer, 1.0, ok=False)
    timer.lock(1.1)
    assert timer.next_change(1.1) == Change(1.1, False)


def test_grant_during_a_failing_release_keeps_the_gate_unlocked() -> None:
    timer = PulseTimer()
    timer.grant(0.0, 1.0)
    switch(timer, 0.0)
    timer.switching(False)
    timer.grant(1.0, 3.0)
    timer.failed(1.01, False)            # the relay stayed unlocked, and a grant wants it so
    assert timer.next_change(1.01) == Change(4.01, False)


def test_grant_while_a_release_waits_for_its_retry() -> None:
    timer = PulseTimer(retry_lock_s=2.0)
    timer.grant(0.0, 1.0)
    switch(timer, 0.0)
    switch(timer, 1.0, ok=False)         # retry at 3.0
    timer.grant(1.5, 1.0)                # ends at 2.5, before the retry: the retry time holds
    assert timer.next_change(1.5) == Change(3.0, False)
    timer.grant(2.0, 3.0)                # ends after it: the pulse goes on
    assert timer.next_change(2.0) == Change(5.0, False)
