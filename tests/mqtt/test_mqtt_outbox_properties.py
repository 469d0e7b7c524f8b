"""Properties of the outbox file (hypothesis, stateful): under any mix of adds, acknowledgements,
rejections and reopenings (a restart), what is left comes out in the order it was committed, seqs
only grow and are never reused, and nothing acknowledged comes back."""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kiosk.mqtt.outbox import Message, Outbox


def message(n: int) -> Message:
    return Message(f"kiosk/k1/events/e{n % 3}", f"payload {n}".encode(), 1, False, "event", f"ref-{n}", float(n))


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.path = Path(self.folder.name) / "outbox.db"
        self.outbox = Outbox(self.path)
        self.model: list[tuple[int, bytes]] = []     # (seq, payload) still in the outbox, in commit order
        self.highest = 0
        self.next_n = 0

    @rule(count=st.integers(1, 5))
    def add(self, count: int) -> None:
        batch = [message(self.next_n + i) for i in range(count)]
        self.next_n += count
        seqs = self.outbox.add(batch)
        assert seqs == sorted(seqs) and seqs[0] > self.highest      # only grow, never reused
        self.highest = seqs[-1]
        self.model.extend(zip(seqs, (m.payload for m in batch), strict=True))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        chosen = data.draw(st.lists(st.sampled_from([seq for seq, _ in self.model]), min_size=1, unique=True))
        self.outbox.delete(chosen)
        self.model = [(seq, payload) for seq, payload in self.model if seq not in chosen]

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from([seq for seq, _ in self.model]))
        assert self.outbox.reject(seq, "Not authorized")
        self.model = [(s, payload) for s, payload in self.model if s != seq]

    @rule()
    def restart(self) -> None:
        self.outbox.close()
        self.outbox = Outbox(self.path)

    @rule(start=st.integers(0, 40), limit=st.integers(1, 10))
    def page(self, start: int, limit: int) -> None:
        rows = self.outbox.after(start, limit)
        assert [(r.seq, r.payload) for r in rows] == [(s, p) for s, p in self.model if s > start][:limit]

    @invariant()
    def what_is_left_comes_out_in_commit_order(self) -> None:
        rows = self.outbox.after(0, 10_000)
        assert [(r.seq, r.payload) for r in rows] == self.model
        assert self.outbox.depth() == len(self.model)

    def teardown(self) -> None:
        self.outbox.close()
        self.folder.cleanup()


OutboxMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_outbox_order_survives_any_history = OutboxMachine.TestCase
