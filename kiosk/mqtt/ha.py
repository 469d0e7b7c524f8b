"""Home Assistant MQTT discovery (mqtt.ha_discovery, off by default).

Five entities under one HA device: door (binary_sensor; unknown until a door contact reports),
last person, last temperature and last event (sensors fed from the events this kiosk publishes),
and health (a diagnostic sensor whose state is the health status, with the whole health message
as attributes). Availability follows the retained status topic, so HA shows the kiosk unavailable
when its last will fires. Entity ids are suggested with `default_entity_id` (HA deprecated
`object_id`); `origin` names this software. When discovery is switched off after having been on,
the configs are removed (empty retained messages; `removal_messages`).
"""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from .. import __version__
from .topics import Topics

PERSON_EVENTS = frozenset({"attendance", "access_granted"})


def _node(device: str) -> str:
    return "kiosk_" + re.sub(r"[^A-Za-z0-9_-]", "_", device)


def discovery_messages(topics: Topics, ha_prefix: str) -> list[tuple[str, bytes]]:
    """(topic, retained payload) of every discovery config."""
    node = _node(topics.device)
    device = {"identifiers": [node], "name": f"Kiosk {topics.device}", "manufacturer": "kiosk",
              "model": "face + temperature kiosk", "sw_version": __version__}
    common = {"availability_topic": topics.status, "availability_template": "{{ value_json.state }}",
              "payload_available": "online", "payload_not_available": "offline", "device": device,
              "origin": {"name": "kiosk", "sw_version": __version__}}
    messages = []
    for component, object_id, config in _entities(topics):
        payload = {**common, **config, "unique_id": f"{node}_{object_id}",
                   "default_entity_id": f"{component}.{node}_{object_id}".replace("-", "_").lower()}
        messages.append((_config_topic(ha_prefix, component, node, object_id),
                         json.dumps(payload, ensure_ascii=False).encode("utf-8")))
    return messages


def removal_messages(topics: Topics, ha_prefix: str) -> list[tuple[str, bytes]]:
    """(topic, empty retained payload) that remove every discovery config from Home Assistant."""
    node = _node(topics.device)
    return [(_config_topic(ha_prefix, component, node, object_id), b"") for component, object_id, _ in _entities(topics)]


def _config_topic(ha_prefix: str, component: str, node: str, object_id: str) -> str:
    return f"{ha_prefix}/{component}/{node}/{object_id}/config"


def _entities(topics: Topics) -> list[tuple[str, str, dict[str, Any]]]:
    """(component, object id, config) of each entity."""
    state = topics.ha_state
    return [
        # "None" from the template is HA's way to say unknown: no door contact has reported.
        ("binary_sensor", "door", {"name": "Door", "device_class": "door", "state_topic": state,
                                   "value_template": "{% if value_json.door == 'open' %}ON{% elif value_json.door "
                                                     "== 'closed' %}OFF{% else %}None{% endif %}"}),
        ("sensor", "last_person", {"name": "Last person", "icon": "mdi:account", "state_topic": state,
                                   "value_template": "{{ value_json.last_person }}"}),
        ("sensor", "last_temperature", {"name": "Last temperature", "device_class": "temperature",
                                        "state_class": "measurement", "unit_of_measurement": "°C",
                                        "suggested_display_precision": 1, "state_topic": state,
                                        "value_template": "{{ value_json.last_temperature_c }}"}),
        ("sensor", "last_event", {"name": "Last event", "icon": "mdi:door-open", "state_topic": state,
                                  "value_template": "{{ value_json.last_event_type }}",
                                  "json_attributes_topic": state,
                                  "json_attributes_template": "{{ {'time': value_json.last_event_time} | tojson }}"}),
        ("sensor", "health", {"name": "Health", "icon": "mdi:heart-pulse", "entity_category": "diagnostic",
                              "state_topic": topics.health, "value_template": "{{ value_json.status }}",
                              "json_attributes_topic": topics.health}),
    ]


class HaState:
    """The small retained state document HA reads (ha-state.schema.json)."""

    def __init__(self) -> None:
        self.door: Optional[str] = None
        self.last_person: Optional[str] = None
        self.last_temperature_c: Optional[float] = None
        self.last_event_time: Optional[str] = None
        self.last_event_type: Optional[str] = None

    def note_event(self, event: dict[str, Any]) -> bool:
        """Update from a published event; True when the state changed."""
        before = self.document()
        person = event.get("person")
        if event.get("type") in PERSON_EVENTS and isinstance(person, dict) and person.get("name"):
            self.last_person = str(person["name"])
        temperature = event.get("temperature")
        if isinstance(temperature, dict) and isinstance(temperature.get("body_c"), int | float):
            self.last_temperature_c = round(float(temperature["body_c"]), 2)
        self.last_event_time = event.get("device_time")
        self.last_event_type = event.get("type")
        return self.document() != before

    def set_door(self, is_open: Optional[bool]) -> bool:
        door = None if is_open is None else ("open" if is_open else "closed")
        changed = door != self.door
        self.door = door
        return changed

    def document(self) -> dict[str, Any]:
        return {"door": self.door, "last_person": self.last_person, "last_temperature_c": self.last_temperature_c,
                "last_event_time": self.last_event_time, "last_event_type": self.last_event_type}
