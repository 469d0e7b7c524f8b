"""A short operator connection to the broker for `kiosk cmd send|status`: subscribe, maybe publish,
and wait for a message from the device that verifies under its pinned key.

Messages that do not verify are set aside with the reason (anyone who can publish on the topic
could have sent them) and the wait goes on for a genuine one.
"""
from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any, Optional

from ..config import KioskConfig
from ..mqtt.connection import ConnectError, build_client
from ..mqtt.device_signing import PinnedDeviceKeys, verify_message
from ..mqtt.signing import SignatureError
from ..store.keys import SIGNING_PUB

Wanted = Callable[[dict[str, Any]], bool]


class SessionError(Exception):
    """One line for the operator."""


def pinned_keys(config: KioskConfig) -> PinnedDeviceKeys:
    """`<device_keys_dir>/<device>.pub`, and this configuration's own signing.pub for its own device id."""
    return PinnedDeviceKeys(config.device_keys_dir, own=(config.device.id, config.keys_dir / SIGNING_PUB))


class DeviceAnswer:
    """Waits on `topic` for a JSON message that `wanted` selects and that `device` signed."""

    def __init__(self, config: KioskConfig, device: str, topic: str, wanted: Wanted) -> None:
        self._config = config
        self._device = device
        self._topic = topic
        self._wanted = wanted
        self._pinned = pinned_keys(config)
        self._pinned.key_for(device)          # SignatureError before anything is sent: nothing to verify with
        self._subscribed, self._answered = threading.Event(), threading.Event()
        self.answer: Optional[dict[str, Any]] = None
        self.refused: list[str] = []
        self._connect_error: Optional[str] = None
        try:
            self._client = build_client(config.mqtt, f"kiosk-cmd-{uuid.uuid4().hex[:12]}")
        except ConnectError as exc:
            raise SessionError(str(exc)) from None
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.on_message = self._on_message

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._connect_error = str(reason)
            self._subscribed.set()
            return
        client.subscribe(self._topic, qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            data = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return
        if not isinstance(data, dict) or not self._wanted(data) or self._answered.is_set():
            return
        try:
            verify_message(data, self._device, self._pinned)
        except SignatureError as exc:
            self.refused.append(str(exc))
            return
        self.answer = data
        self._answered.set()

    def __enter__(self) -> DeviceAnswer:
        mqtt = self._config.mqtt
        try:
            self._client.connect(mqtt.host, mqtt.port, keepalive=mqtt.keepalive_s)
        except OSError as exc:
            raise SessionError(f"cannot connect to {mqtt.host}:{mqtt.port}: {exc}") from None
        self._client.loop_start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def wait_subscribed(self, timeout: float) -> None:
        mqtt = self._config.mqtt
        if not self._subscribed.wait(timeout) or self._connect_error:
            raise SessionError(f"broker {mqtt.host}:{mqtt.port}: {self._connect_error or 'no answer'}")

    def publish(self, topic: str, payload: str, timeout: float) -> None:
        self._client.publish(topic, payload, qos=1).wait_for_publish(timeout)

    def wait(self, timeout: float, what: str) -> dict[str, Any]:
        """The verified answer; SessionError naming why the refused ones were refused otherwise."""
        if self._answered.wait(timeout) and self.answer is not None:
            return self.answer
        if self.refused:
            raise SessionError(f"no {what} from {self._device} within {timeout:.0f} s that verifies; "
                               f"{len(self.refused)} refused, the last: {self.refused[-1]}")
        raise SessionError(f"no {what} from {self._device} within {timeout:.0f} s")
