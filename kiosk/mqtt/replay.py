"""Re-publish signed events from the local log (`kiosk events replay`): HR fills a gap after an outage.

A one-shot client of the configured broker (its own client id, beside the daemon's) publishes each
event as the daemon does: `<prefix>/<device>/events/<type>`, QoS 1, not retained, the signed JSON as
it is stored, and waits for every acknowledgement. Subscribers de-duplicate by event_id.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from typing import Any

from ..config import KioskConfig
from .connection import ConnectError, build_client
from .outbox_rebuild import event_message
from .topics import Topics


class ReplayError(Exception):
    """The broker could not be reached or did not acknowledge (one line)."""


def publish_events(config: KioskConfig, events: Iterable[dict[str, Any]], timeout_s: float = 10.0) -> int:
    """Publish `events` (signed dicts) in order; returns how many the broker acknowledged."""
    mqtt = config.mqtt
    topics = Topics(mqtt.topic_prefix, config.device.id, mqtt.fleet_topic)
    where = f"broker {mqtt.host}:{mqtt.port}"
    try:
        client = build_client(mqtt, f"kiosk-{config.device.id}-replay-{uuid.uuid4().hex[:8]}")
    except ConnectError as exc:
        raise ReplayError(str(exc)) from None
    connected, outcome = threading.Event(), {}

    def on_connect(c, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            outcome["error"] = str(reason)
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(mqtt.host, mqtt.port, keepalive=mqtt.keepalive_s)
    except OSError as exc:
        raise ReplayError(f"cannot connect to {where}: {exc}") from None
    client.loop_start()
    published = 0
    try:
        if not connected.wait(timeout_s) or "error" in outcome:
            raise ReplayError(f"{where}: {outcome.get('error', 'no answer')}")
        for event in events:
            message = event_message(topics, event)        # topic and bytes as the daemon's outbox sends them
            info = client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            try:
                info.wait_for_publish(timeout_s)
            except RuntimeError as exc:
                raise ReplayError(f"{where}: {exc}") from None
            if not info.is_published():
                raise ReplayError(f"{where}: event {event.get('seq', event['event_id'])} not acknowledged "
                                  f"within {timeout_s:.0f} s")
            published += 1
    finally:
        client.disconnect()
        client.loop_stop()
    return published
