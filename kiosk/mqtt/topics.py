"""Topic names: one place that builds and parses them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str
    device: str
    fleet: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def health(self) -> str:
        return f"{self.base}/health"

    @property
    def audit_head(self) -> str:
        return f"{self.base}/audit/head"

    def event(self, event_type: str) -> str:
        return f"{self.base}/events/{event_type}"

    @property
    def command_filter(self) -> str:
        return f"{self.base}/cmd/+"

    def command(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    def command_result(self, name: str) -> str:
        return f"{self.base}/cmd/{name}/result"

    def command_name(self, topic: str) -> str | None:
        """The <name> of a `<base>/cmd/<name>` topic, else None."""
        head = f"{self.base}/cmd/"
        if topic.startswith(head) and "/" not in topic[len(head):]:
            return topic[len(head):]
        return None

    @property
    def fleet_filter(self) -> str:
        return f"{self.fleet}/persons/+"

    def fleet_person(self, person_id: str) -> str:
        return f"{self.fleet}/persons/{person_id}"

    def fleet_person_id(self, topic: str) -> str | None:
        head = f"{self.fleet}/persons/"
        if topic.startswith(head) and "/" not in topic[len(head):]:
            return topic[len(head):]
        return None

    @property
    def fleet_tombstone_filter(self) -> str:
        return f"{self.fleet}/tombstones/+"

    def fleet_tombstone(self, person_id: str) -> str:
        """A second retained copy of each erasure, which a replayed record on the person's topic cannot replace."""
        return f"{self.fleet}/tombstones/{person_id}"

    def fleet_tombstone_id(self, topic: str) -> str | None:
        head = f"{self.fleet}/tombstones/"
        if topic.startswith(head) and "/" not in topic[len(head):]:
            return topic[len(head):]
        return None

    @property
    def ha_state(self) -> str:
        return f"{self.base}/ha/state"
