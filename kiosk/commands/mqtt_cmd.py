"""`kiosk cmd keygen|sign|send|status`: operator tools for signed MQTT commands.

    kiosk cmd keygen --out ~/.kiosk                      # operator.key (0600) + operator.pub
    cp ~/.kiosk/operator.pub /var/lib/kiosk/keys/trusted/  # on every kiosk that should obey it
    kiosk cmd send open_gate --device kiosk-1 --key ~/.kiosk/operator.key --params '{"reason": "delivery"}'
    kiosk cmd sign delete_person --device kiosk-1 --key ~/.kiosk/operator.key --params '{"person_id": "..."}'
    kiosk cmd status --device kiosk-1

`send` and `status` believe only what the device signed with its key pinned in the operator's
configuration (<keys_dir>/devices/<device>.pub; see kiosk/mqtt/device_signing.py).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

COMMAND_NAMES = ("open_gate", "enroll", "delete_person", "sync", "reload_config", "selftest", "events_since")


def register(subparsers, common) -> None:
    cmd = subparsers.add_parser("cmd", help="create, sign and send remote MQTT commands")
    actions = cmd.add_subparsers(dest="action", metavar="ACTION", required=True)

    keygen = actions.add_parser("keygen", help="make an operator Ed25519 key pair for signing commands")
    keygen.add_argument("--out", type=Path, required=True, help="directory for NAME.key and NAME.pub")
    keygen.add_argument("--name", default="operator", help="file name stem (default operator)")
    keygen.set_defaults(handler=_keygen)

    def request_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", choices=COMMAND_NAMES, help="the command")
        p.add_argument("--device", required=True, help="target device id")
        p.add_argument("--params", default="{}", help="command parameters as a JSON object")
        p.add_argument("--params-file", type=Path, help="command parameters from a JSON file")
        p.add_argument("--image", type=Path, help="enroll: a JPEG/PNG face photo (becomes params.image_b64)")
        p.add_argument("--request-id", help="request id (default: random)")

    sign = actions.add_parser("sign", help="print a signed command envelope (JSON) for any MQTT client")
    request_args(sign)
    sign.add_argument("--key", type=Path, required=True, help="operator private key (PEM)")
    sign.set_defaults(handler=_sign)

    send = actions.add_parser("send", parents=[common],
                              help="sign, publish to the [mqtt] broker of --config and print the result the device signed")
    request_args(send)
    send.add_argument("--key", type=Path, help="operator private key (PEM); required unless --unsigned")
    send.add_argument("--unsigned", action="store_true", help="send without a signature (command_auth = acl)")
    send.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the result (default 10)")
    send.set_defaults(handler=_send)

    status = actions.add_parser("status", parents=[common],
                                help="print a device's retained status once it verifies under its pinned key")
    status.add_argument("--device", required=True, help="device id")
    status.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default 5)")
    status.set_defaults(handler=_status)


def _fail(message: str):
    from ..actions.errors import CommandError

    return CommandError(message)


def _keygen(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..store.keys import key_id

    key_path, pub_path = args.out / f"{args.name}.key", args.out / f"{args.name}.pub"
    for path in (key_path, pub_path):
        if path.exists():
            raise _fail(f"{path} exists; refusing to overwrite a key")
    args.out.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = Ed25519PrivateKey.generate()
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pub_path.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo))
    print(f"key id {key_id(private.public_key())}: private {key_path}, public {pub_path}")
    print(f"copy {pub_path.name} into <keys_dir>/trusted/ on every kiosk that should accept its commands")
    return 0


def _load_private(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise _fail(f"--key {path}: not found") from None
    except (ValueError, TypeError):
        raise _fail(f"--key {path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _fail(f"--key {path}: not an Ed25519 key")
    return key


def _params(args: argparse.Namespace) -> dict[str, Any]:
    text = args.params
    if args.params_file is not None:
        try:
            text = args.params_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise _fail(f"--params-file {args.params_file}: {exc.strerror or exc}") from None
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"--params is not JSON: {exc}") from None
    if not isinstance(params, dict):
        raise _fail("--params must be a JSON object")
    if args.image is not None:
        try:
            params["image_b64"] = base64.b64encode(args.image.read_bytes()).decode("ascii")
        except OSError as exc:
            raise _fail(f"--image {args.image}: {exc.strerror or exc}") from None
    return params


def _envelope(args: argparse.Namespace, key_path: Optional[Path]) -> dict[str, Any]:
    from ..mqtt.schemas import first_error
    from ..mqtt.signing import new_envelope, sign_envelope

    params = _params(args)
    problem = first_error(f"cmd-{args.name}", params)
    if problem:
        raise _fail(f"{args.name} params: {problem}")
    envelope = new_envelope(args.name, args.device, params, request_id=args.request_id)
    problem = first_error("command", envelope)
    if problem:
        raise _fail(f"command: {problem}")
    if key_path is None:
        return envelope
    try:
        return sign_envelope(envelope, _load_private(key_path))
    except ValueError as exc:   # NaN, an integer beyond 2**53 ...: RFC 8785 JSON cannot carry it exactly
        raise _fail(f"--params cannot be signed: {exc}") from None


def _sign(args: argparse.Namespace) -> int:
    print(json.dumps(_envelope(args, args.key)))
    return 0


def _send(args: argparse.Namespace) -> int:
    from ..cli import load
    from ..mqtt.signing import SignatureError
    from ..mqtt.topics import Topics
    from .mqtt_session import DeviceAnswer, SessionError

    if args.key is None and not args.unsigned:
        raise _fail("--key is required (or --unsigned for a broker that authorises by ACL)")
    config = load(args)
    envelope = _envelope(args, None if args.unsigned else args.key)
    topics = Topics(config.mqtt.topic_prefix, args.device, config.mqtt.fleet_topic)

    def wanted(data: dict[str, Any]) -> bool:
        return data.get("request_id") == envelope["request_id"] and data.get("command") == args.name
    try:
        with DeviceAnswer(config, args.device, topics.command_result(args.name), wanted) as session:
            session.wait_subscribed(args.timeout)
            session.publish(topics.command(args.name), json.dumps(envelope), args.timeout)
            result = session.wait(args.timeout, "signed result")
    except (SessionError, SignatureError) as exc:
        raise _fail(str(exc)) from None
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0 if result.get("ok") else 1


def _status(args: argparse.Namespace) -> int:
    from ..cli import load
    from ..mqtt.signing import SignatureError
    from ..mqtt.topics import Topics
    from .mqtt_session import DeviceAnswer, SessionError

    config = load(args)
    topics = Topics(config.mqtt.topic_prefix, args.device, config.mqtt.fleet_topic)
    try:
        with DeviceAnswer(config, args.device, topics.status, lambda data: True) as session:
            session.wait_subscribed(args.timeout)
            status = session.wait(args.timeout, "signed status")
    except (SessionError, SignatureError) as exc:
        raise _fail(str(exc)) from None
    json.dump(status, sys.stdout, indent=2)
    print()
    return 0
