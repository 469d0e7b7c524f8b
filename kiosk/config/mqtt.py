"""[mqtt]: the broker connection, topics, outbox and remote commands."""
from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import Section


class MqttProtocol(StrEnum):
    v311 = "3.1.1"
    v5 = "5"


class CommandAuth(StrEnum):
    signed = "signed"  # every command carries an Ed25519 signature by a trusted key
    acl = "acl"        # the broker's ACL alone decides who may publish commands


class AttendanceField(StrEnum):
    """Optional parts of attendance events (the HR feed); person_id, employee number and direction are always in."""
    name = "name"
    role = "role"
    temperature = "temperature"   # body temperature is health data: off by default
    mask = "mask"
    match = "match"
    decision = "decision"


class MqttConfig(Section):
    enabled: bool = Field(False, description="Publish events and accept commands over MQTT.")
    host: str = Field("localhost", description="Broker host.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 for TLS by convention).")
    protocol: MqttProtocol = Field(MqttProtocol.v5, description="'3.1.1' or '5'.")
    client_id: Optional[str] = Field(None, description="Client id, unique per kiosk (must contain device.id); "
                                                       "unset = 'kiosk-<device id>'.")
    username: Optional[str] = Field(None, description="Broker user name.")
    password_file: Optional[Path] = Field(None, description="File holding the broker password.")
    tls: bool = Field(False, description="Use TLS.")
    ca_file: Optional[Path] = Field(None, description="CA bundle for the broker's certificate.")
    cert_file: Optional[Path] = Field(None, description="Client certificate (mutual TLS).")
    key_file: Optional[Path] = Field(None, description="Client key (mutual TLS).")
    topic_prefix: str = Field("kiosk", pattern=r"^[^#+]+$", description="First level of every topic.")
    fleet_topic: str = Field("kiosk/fleet", pattern=r"^[^#+]+$", description="Topic root shared by all kiosks of a site.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive.")
    reconnect_min_s: float = Field(0.5, gt=0, le=60, description="First reconnect delay (doubles, with jitter).")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="Longest reconnect delay.")
    outbox_max_events: int = Field(1_000_000, ge=100, description="Outbox size that raises the 'outbox full' alarm.")
    inflight_max: int = Field(100, ge=1, le=65535, description="Unacknowledged QoS 1 messages in flight.")
    health_interval_s: float = Field(30.0, ge=1, description="Period of the health message.")
    accept_commands: bool = Field(True, description="Subscribe to <prefix>/<device>/cmd/+ and run remote commands "
                                                     "(open_gate, enroll, ...); false = publish only.")
    allow_insecure_commands: bool = Field(False, description="Accept commands although the broker connection lacks "
                                                             "TLS or a login (a warning at every start); without it "
                                                             "such a configuration is refused.")
    command_auth: CommandAuth = Field(CommandAuth.signed, description="signed or acl (acl needs a broker login).")
    command_max_age_s: float = Field(120.0, ge=5, le=86400,
                                     description="A command's issued_at must be this close to the device clock; its "
                                                 "nonce is remembered twice as long (replay protection).")
    trusted_keys_dir: Optional[Path] = Field(None, description="Ed25519 public keys (PEM) trusted to sign commands; "
                                                               "unset = <keys_dir>/trusted.")
    device_keys_dir: Optional[Path] = Field(None, description="Pinned public keys of kiosks (<device id>.pub) that "
                                                              "verify their command results, status and fleet "
                                                              "records; unset = <keys_dir>/devices.")
    fleet_sync: bool = Field(True, description="Share persons and templates with the other kiosks of the fleet.")
    ha_discovery: bool = Field(False, description="Publish Home Assistant MQTT discovery messages.")
    ha_prefix: str = Field("homeassistant", description="Home Assistant discovery prefix.")
    attendance_fields: list[AttendanceField] = Field(
        default_factory=list, description="What attendance events carry besides person_id, employee number and "
                                          "direction: any of name, role, temperature, mask, match, decision. "
                                          "Default none (names and body temperature stay off the HR feed).")

    @field_validator("password_file", "ca_file", "cert_file", "key_file")
    @classmethod
    def _readable_when_enabled(cls, value: Optional[Path], info: ValidationInfo) -> Optional[Path]:
        """Checked at load: a missing file would otherwise show up only as endless connection retries.
        (Readable by the user who loads the configuration: run `config check` as the daemon's user.)"""
        if value is None or not info.data.get("enabled"):
            return value
        if not value.is_file():
            raise ValueError("no such file" if not value.exists() else "not a file")
        if not os.access(value, os.R_OK):
            raise ValueError("file not readable (check its owner and mode)")
        return value

    @property
    def authenticated(self) -> bool:
        """The kiosk logs in: a user name with a password file, or a client certificate over TLS."""
        return bool((self.username and self.password_file) or (self.tls and self.cert_file and self.key_file))

    @property
    def secure(self) -> bool:
        """TLS and a login: nobody else can read the kiosk's traffic or act as it without credentials."""
        return self.tls and self.authenticated

    @model_validator(mode="after")
    def _commands_need_a_secure_broker(self) -> MqttConfig:
        if not (self.enabled and self.accept_commands):
            return self
        if self.command_auth == CommandAuth.acl and not self.authenticated:
            raise ValueError('mqtt.command_auth = "acl" needs a broker login (mqtt.username + mqtt.password_file, '
                             "or mqtt.tls with mqtt.cert_file + mqtt.key_file): on an anonymous broker anyone "
                             "could command the kiosk")
        if not self.secure and not self.allow_insecure_commands:
            missing = " and ".join(part for part, ok in (("mqtt.tls", self.tls), (
                "a login (mqtt.username + mqtt.password_file, or mqtt.cert_file + mqtt.key_file)",
                self.authenticated)) if not ok)
            raise ValueError(f"remote commands (mqtt.accept_commands) need {missing}; set mqtt.accept_commands = "
                             "false to publish only, or mqtt.allow_insecure_commands = true to accept the risk")
        return self
