"""What the broker connection leaves open, said at every start (the configuration refuses the worst)."""
from __future__ import annotations

from ..config.mqtt import MqttConfig


def insecure_warnings(config: MqttConfig) -> list[str]:
    """One line per weakness of the configured connection; empty for TLS with a login."""
    where = f"{config.host}:{config.port}"
    lines = []
    if not config.tls:
        lines.append(f"mqtt: plain TCP to {where} (mqtt.tls = false): events with names and employee numbers "
                     "can be read on the network")
    if not config.authenticated:
        lines.append(f"mqtt: no login at {where} (mqtt.username + mqtt.password_file, or a client certificate): "
                     "the broker cannot tell this kiosk from anyone else")
    if lines and config.accept_commands:
        lines.append("mqtt: remote commands (open_gate, enroll, ...) are accepted over this connection because "
                     "mqtt.allow_insecure_commands = true")
    return lines
