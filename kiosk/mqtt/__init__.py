"""MQTT: durable events, device status and health, remote commands, fleet person sync, HA discovery.

The daemon uses `MqttService` (see kiosk/mqtt/service.py for the calls it makes).
"""
from .commands import CommandFailed, CommandRegistry
from .connection import probe
from .outbox import OutboxError
from .service import MqttService, audit_to_store

__all__ = ["CommandFailed", "CommandRegistry", "MqttService", "OutboxError", "audit_to_store", "probe"]
