"""TLS with a CA and a client certificate (mutual TLS), certificates made here with `cryptography`."""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import ssl
from pathlib import Path
from typing import Optional

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mqtt_support import Mosquitto, Recorder, event_signer, kiosk_config, make_event, make_keys, mosquitto_available

from kiosk.mqtt import MqttService

pytestmark = pytest.mark.broker


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: Optional[tuple[x509.Certificate, ec.EllipticCurvePrivateKey]],
          *, ca: bool = False, server: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer[0].subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1, a client certificate and an unrelated CA."""
    out = tmp_path / "pki"
    out.mkdir()
    files: dict[str, Path] = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("kiosk test CA", ca_key, None, ca=True)
    for name, subject, server in (("server", "broker", True), ("client", "kiosk-1", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(subject, key, (ca, ca_key), server=server)
        files[f"{name}_cert"], files[f"{name}_key"] = out / f"{name}.pem", out / f"{name}.key"
        files[f"{name}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, files[f"{name}_key"])
    files["ca"] = out / "ca.pem"
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    other_key = ec.generate_private_key(ec.SECP256R1())
    files["other_ca"] = out / "other-ca.pem"
    files["other_ca"].write_bytes(_cert("someone else", other_key, None, ca=True).public_bytes(serialization.Encoding.PEM))
    return files


@pytest.fixture
def tls_broker(tmp_path: Path, pki: dict[str, Path]):
    if not mosquitto_available():
        pytest.skip("mosquitto not installed")
    broker = Mosquitto(tmp_path / "broker", extra="\n".join([
        f"cafile {pki['ca']}", f"certfile {pki['server_cert']}", f"keyfile {pki['server_key']}",
        "require_certificate true", "use_identity_as_username true"]))
    broker.start()
    yield broker
    broker.stop()


def _connects(tmp_path: Path, port: int, wait_s: float = 3.0, **tls: str) -> tuple[bool, Optional[MqttService]]:
    signer = event_signer(make_keys(tmp_path))

    async def main() -> tuple[bool, MqttService]:
        service = MqttService(kiosk_config(tmp_path, port, tls=True, **tls))
        await service.start()
        for _ in range(int(wait_s / 0.05)):
            if service.connected:
                break
            await asyncio.sleep(0.05)
        connected = service.connected
        if connected:
            await service.publish_event(make_event(signer, "kiosk-1", 42))
            while service.queue is not None and service.queue.depth:
                await asyncio.sleep(0.02)
        await service.stop()
        return connected, service
    return asyncio.run(asyncio.wait_for(main(), 30))


def test_mutual_tls_connects_and_delivers(tmp_path: Path, tls_broker: Mosquitto, pki: dict[str, Path]) -> None:
    recorder = Recorder(tls_broker.port, ["kiosk/#"], tls={"ca_certs": str(pki["ca"]), "certfile": str(pki["client_cert"]),
                                                          "keyfile": str(pki["client_key"])})
    connected, _ = _connects(tmp_path, tls_broker.port, ca_file=str(pki["ca"]), cert_file=str(pki["client_cert"]),
                             key_file=str(pki["client_key"]))
    assert connected
    assert recorder.wait_for(lambda ms: any("/events/" in m.topic for m in ms), 10)
    event = next(json.loads(m.payload) for m in recorder.messages if "/events/" in m.topic)
    recorder.close()
    assert event["detail"]["n"] == 42


def test_without_a_client_certificate_the_broker_refuses(tmp_path: Path, tls_broker: Mosquitto,
                                                         pki: dict[str, Path]) -> None:
    connected, service = _connects(tmp_path, tls_broker.port, 1.5, ca_file=str(pki["ca"]))
    assert not connected and service is not None and service.queue is not None
    assert service.queue.depth == 0 and not service.alarms    # nothing was published, nothing went wrong locally


def test_a_broker_signed_by_another_ca_is_not_trusted(tmp_path: Path, tls_broker: Mosquitto,
                                                      pki: dict[str, Path]) -> None:
    connected, _ = _connects(tmp_path, tls_broker.port, 1.5, ca_file=str(pki["other_ca"]),
                             cert_file=str(pki["client_cert"]), key_file=str(pki["client_key"]))
    assert not connected
    ctx = ssl.create_default_context(cafile=str(pki["other_ca"]))
    with pytest.raises(ssl.SSLCertVerificationError), socket.create_connection(("127.0.0.1", tls_broker.port)) as raw:
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
