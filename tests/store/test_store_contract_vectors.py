"""The signature test vectors in docs/contracts.md section 1 are what the code produces and accepts."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.store import verify_event
from kiosk.store.canon import jcs, legacy
from kiosk.store.keys import key_id
from kiosk.store.signing import EventSigner

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"   # RFC 8032 test 1


def doc_blocks() -> dict[str, str]:
    """Fenced blocks whose info string names them (```json jcs-event), by name."""
    text = CONTRACTS.read_text(encoding="utf-8")
    return {name: body for name, body in re.findall(r"^```\w+ ([\w-]+)\n(.*?)^```$", text, re.M | re.S)}


def test_the_key_is_the_documented_one() -> None:
    public = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED)).public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert doc_blocks()["public-key"] == pem.decode()
    assert key_id(public) == "21fe31dfa154a261"


def test_the_rfc8785_vector_is_what_the_signer_writes() -> None:
    blocks = doc_blocks()
    event = json.loads(blocks["jcs-event"])
    body = {k: v for k, v in event.items() if k != "signature"}
    assert jcs(body).decode("utf-8") + "\n" == blocks["jcs-canonical"]
    signer = EventSigner(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED)))
    assert signer.sign(body) == event                      # Ed25519 is deterministic: the same bytes every time
    assert verify_event(event, [signer.public_key]) is None


def test_the_legacy_vector_still_verifies() -> None:
    blocks = doc_blocks()
    body = {k: v for k, v in json.loads(blocks["jcs-event"]).items() if k != "signature"}
    assert legacy(body).decode("utf-8") + "\n" == blocks["legacy-canonical"]
    signature = json.loads(blocks["legacy-signature"])
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED))
    assert base64.b64decode(signature["value"]) == private.sign(legacy(body))
    assert "canon" not in signature and verify_event({**body, "signature": signature}, [private.public_key()]) is None
