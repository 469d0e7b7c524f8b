"""Command checks, one refusal reason at a time, without a broker (the fuzz and flood tests run them through one)."""
from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.config.mqtt import CommandAuth
from kiosk.mqtt.commands import CommandFailed, CommandProcessor, CommandRegistry, Request
from kiosk.mqtt.signing import TrustedKeys, new_envelope, sign_envelope
from kiosk.store.canon import legacy


def write_public(key: Ed25519PrivateKey, path: Path) -> None:
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))


class Harness:
    def __init__(self, trusted_dir: Path, mode: CommandAuth = CommandAuth.signed) -> None:
        self.replies: list[tuple[str, dict[str, Any]]] = []
        self.audits: list[tuple[str, dict[str, Any]]] = []
        self.calls: list[dict[str, Any]] = []
        self.nonces: set[str] = set()
        self.registry = CommandRegistry()
        self.registry.register("open_gate", self.open_gate)
        self.processor = CommandProcessor("kiosk-1", mode, TrustedKeys(trusted_dir), 60.0, self.registry,
                                          self.use_nonce, lambda name, payload: self.replies.append((name, payload)),
                                          self.audit)

    async def open_gate(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(params)
        if params.get("reason") == "fail":
            raise CommandFailed("the gate relay does not answer")
        if params.get("reason") == "crash":
            raise ZeroDivisionError("boom")
        return {"opened_s": params.get("duration_s", 3)}

    async def use_nonce(self, key: str, expires: float) -> bool:
        fresh = key not in self.nonces
        self.nonces.add(key)
        return fresh

    async def audit(self, action: str, detail: dict[str, Any]) -> None:
        self.audits.append((action, detail))

    def send(self, name: str, payload: Any, retained: bool = False) -> dict[str, Any]:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        asyncio.run(self.processor.handle(Request(name, data, retained)))
        return self.replies[-1][1]

    def summary(self) -> dict[str, Any]:
        """The refusal summary the processor writes when its window closes (or it stops)."""
        before = len(self.audits)
        asyncio.run(self.processor.flush_refusals())
        assert len(self.audits) == before + 1
        action, detail = self.audits[-1]
        assert action == "command" and detail["outcome"] == "refused_summary"
        return detail


@pytest.fixture
def operator(tmp_path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "trusted").mkdir()
    write_public(key, tmp_path / "trusted" / "operator.pem")
    return key


def signed(key: Ed25519PrivateKey, name: str = "open_gate", params: Any = None, **changes: Any) -> dict[str, Any]:
    envelope = new_envelope(name, "kiosk-1", {"reason": "test"} if params is None else params)
    envelope.update(changes)
    return sign_envelope(envelope, key)


def test_a_signed_command_runs_its_handler_and_is_audited(tmp_path: Path, operator) -> None:
    h = Harness(tmp_path / "trusted")
    reply = h.send("open_gate", signed(operator, params={"duration_s": 2}))
    assert reply["ok"] and reply["result"] == {"opened_s": 2} and reply["error"] is None
    assert h.calls == [{"duration_s": 2}]
    action, detail = h.audits[-1]
    assert action == "command" and detail["outcome"] == "executed" and detail["key_id"] == operator_id(operator)


def operator_id(key: Ed25519PrivateKey) -> str:
    from kiosk.store.keys import key_id
    return key_id(key.public_key())


@pytest.mark.parametrize("case, code", [
    ("unsigned", "unauthorised"), ("untrusted key", "unauthorised"), ("tampered", "unauthorised"),
    ("stale", "stale"), ("future", "stale"), ("wrong device", "wrong_device"), ("topic mismatch", "bad_request"),
    ("bad params", "bad_request"), ("retained", "retained"), ("not json", "bad_json"), ("not an object", "bad_request"),
    ("unknown command", "unknown_command"), ("no handler", "unsupported"), ("handler fails", "failed"),
    ("handler crashes", "internal"),
])
def test_each_refusal_has_its_code_and_is_audited(tmp_path: Path, operator, case: str, code: str) -> None:
    """Refused by the checks: answered, counted in the window's summary record. Past the checks (a
    signed, fresh command with no handler or whose handler fails): a record of its own at once."""
    h = Harness(tmp_path / "trusted")
    name, retained = "open_gate", False
    payload: Any = signed(operator)
    if case == "unsigned":
        payload = {k: v for k, v in payload.items() if k != "signature"}
    elif case == "untrusted key":
        payload = signed(Ed25519PrivateKey.generate())
    elif case == "tampered":
        payload["params"] = {"duration_s": 60}
    elif case == "stale":
        payload = signed(operator, issued_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat())
    elif case == "future":
        payload = signed(operator, issued_at=(datetime.now(UTC) + timedelta(minutes=5)).isoformat())
    elif case == "wrong device":
        payload = signed(operator, device_id="kiosk-2")
    elif case == "topic mismatch":
        name = "selftest"
    elif case == "bad params":
        payload = signed(operator, params={"duration_s": "long"})
    elif case == "retained":
        retained = True
    elif case == "not json":
        payload = b"\xff{open"
    elif case == "not an object":
        payload = [1, 2, 3]
    elif case == "unknown command":
        name = "format_disk"
    elif case == "no handler":
        name, payload = "selftest", signed(operator, "selftest", {})
    elif case == "handler fails":
        payload = signed(operator, params={"reason": "fail"})
    elif case == "handler crashes":
        payload = signed(operator, params={"reason": "crash"})
    reply = h.send(name, payload, retained)
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    assert h.replies[-1][0] == name
    if code in ("unsupported", "failed", "internal"):
        assert len(h.audits) == 1 and h.audits[0][1]["code"] == code
    else:
        assert h.audits == []
        summary = h.summary()
        assert summary["refused"] == 1 and summary["answered"] == 1 and summary["counts"][0]["code"] == code
        assert summary["samples"][0]["code"] == code and summary["samples"][0]["request_id"] == reply["request_id"]
    if code not in ("failed", "internal"):
        assert h.calls == []
    if isinstance(payload, dict) and case not in ("unknown command", "retained"):
        assert reply["request_id"] == payload["request_id"]


def test_commands_signed_over_either_canonical_form_are_accepted(tmp_path: Path, operator) -> None:
    """New envelopes are signed over RFC 8785 ("canon": "jcs"); ones signed before keep working."""
    h = Harness(tmp_path / "trusted")
    envelope = signed(operator, params={"duration_s": 2.0, "reason": "Zoë"})
    assert envelope["signature"]["canon"] == "jcs" and h.send("open_gate", envelope)["ok"]
    body = new_envelope("open_gate", "kiosk-1", {"duration_s": 2.0, "reason": "Zoë"})
    value = base64.b64encode(operator.sign(legacy(body))).decode()
    old = {**body, "signature": {"alg": "Ed25519", "key_id": operator_id(operator), "value": value}}
    assert h.send("open_gate", old)["ok"] and len(h.calls) == 2
    relabelled = signed(operator, params={"duration_s": 2.0})
    del relabelled["signature"]["canon"]   # "2.0" in the legacy form, "2" in the signed bytes
    assert h.send("open_gate", relabelled)["error"]["code"] == "unauthorised"


def test_a_replayed_command_is_refused(tmp_path: Path, operator) -> None:
    h = Harness(tmp_path / "trusted")
    envelope = signed(operator)
    assert h.send("open_gate", envelope)["ok"]
    again = h.send("open_gate", envelope)
    assert again["error"]["code"] == "replay" and len(h.calls) == 1


def test_acl_mode_accepts_unsigned_but_still_checks_signatures_that_are_present(tmp_path: Path, operator) -> None:
    h = Harness(tmp_path / "trusted", CommandAuth.acl)
    unsigned = new_envelope("open_gate", "kiosk-1", {})
    assert h.send("open_gate", unsigned)["ok"]
    assert h.audits[-1][1]["key_id"] is None and h.audits[-1][1]["auth"] == "acl"
    forged = signed(Ed25519PrivateKey.generate())
    assert h.send("open_gate", forged)["error"]["code"] == "unauthorised"
    assert h.send("open_gate", unsigned)["error"]["code"] == "replay"


def test_a_key_added_to_trusted_is_picked_up_without_restart(tmp_path: Path, operator) -> None:
    h = Harness(tmp_path / "trusted")
    newcomer = Ed25519PrivateKey.generate()
    assert h.send("open_gate", signed(newcomer))["error"]["code"] == "unauthorised"
    write_public(newcomer, tmp_path / "trusted" / "newcomer.pub")
    assert h.send("open_gate", signed(newcomer))["ok"]


def test_registry_refuses_unknown_names() -> None:
    registry = CommandRegistry()
    with pytest.raises(ValueError, match="unknown command 'reboot'"):
        registry.register("reboot", lambda params: None)  # type: ignore[arg-type,return-value]


def test_a_broken_key_file_does_not_disable_the_other_trusted_keys(tmp_path: Path) -> None:
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    (trusted / "broken.pem").write_text("not a key")
    good = Ed25519PrivateKey.generate()
    write_public(good, trusted / "good.pem")
    assert list(TrustedKeys(trusted).keys()) == [operator_id(good)]


def test_cmd_sign_writes_an_rfc8785_signature_or_one_line_why_not(tmp_path: Path, capsys) -> None:
    from kiosk.cli import main
    assert main(["cmd", "keygen", "--out", str(tmp_path / "op")]) == 0
    base = ["cmd", "sign", "open_gate", "--device", "kiosk-1", "--key", str(tmp_path / "op" / "operator.key")]
    capsys.readouterr()
    assert main([*base, "--params", '{"duration_s": 2.0}']) == 0
    assert json.loads(capsys.readouterr().out)["signature"]["canon"] == "jcs"
    assert main([*base, "--params", '{"reason": "\\ud800"}']) == 1   # a lone surrogate: not valid Unicode text
    assert "--params cannot be signed" in capsys.readouterr().err


def test_commands_issued_before_an_outbox_rebuild_are_refused(tmp_path: Path, operator) -> None:
    """The rebuilt outbox has lost the used nonces: a command from before could be a replay."""
    h = Harness(tmp_path / "trusted")
    h.processor.issued_after = datetime.now(UTC)
    before = signed(operator, issued_at=(h.processor.issued_after - timedelta(seconds=5)).isoformat())
    reply = h.send("open_gate", before)
    assert not reply["ok"] and reply["error"]["code"] == "stale" and "rebuilt" in reply["error"]["message"]
    assert h.send("open_gate", signed(operator))["ok"]


def strict_json(value: Any) -> bytes:
    """What a strict peer (or a signature over RFC 8785) needs: UTF-8 encodable text, no escaped surrogates."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("payload", [
    b'{"command": "open_gate", "request_id": "r-1", "params": {"reason": "\\ud800"}}',      # an escaped lone surrogate
    b'{"command": "open_gate", "request_id": "r-1", "params": {"reason": "\xed\xa0\x80"}}',  # one encoded as UTF-8
    b'{"command": "open_gate", "request_id": "r-1", "params": {"\\udfff": 1}}',            # in a key
    b'{"command": "open_gate", "request_id": "r-1", "params": {"reason": "\xff"}}',          # not UTF-8 at all
])
def test_a_command_that_is_not_valid_unicode_text_is_answered_and_audited(tmp_path: Path, operator,
                                                                           payload: bytes) -> None:
    h = Harness(tmp_path / "trusted", CommandAuth.acl)    # acl: nothing else would refuse it
    reply = h.send("open_gate", payload)
    assert reply["error"]["code"] == "bad_json" and "not valid" in reply["error"]["message"]
    readable = b"\xff" not in payload
    assert reply["request_id"] == ("r-1" if readable else None) and h.calls == [] and strict_json(reply)
    summary = h.summary()
    assert summary["counts"] == [{"client": "unsigned" if readable else "unread", "code": "bad_json", "count": 1}]
    assert summary["samples"][0]["request_id"] == reply["request_id"] and strict_json(summary)


def test_a_topic_name_with_a_lone_surrogate_is_answered_with_valid_text(tmp_path: Path, operator) -> None:
    h = Harness(tmp_path / "trusted")
    reply = h.send("open\udc80gate", signed(operator))
    assert reply["error"]["code"] == "unknown_command" and reply["command"] == "open\ufffdgate" and strict_json(reply)
    assert h.summary()["samples"][0]["command"] == "open\ufffdgate"


def test_refusals_are_answered_within_a_budget_per_client_and_all_counted(tmp_path: Path, operator) -> None:
    from kiosk.mqtt.ratelimit import BURST

    h = Harness(tmp_path / "trusted")
    stranger = Ed25519PrivateKey.generate()

    async def flood() -> None:
        for _ in range(3 * BURST):
            envelope = new_envelope("open_gate", "kiosk-1", {})
            await h.processor.handle(Request("open_gate", json.dumps(envelope).encode(), False))
        for _ in range(BURST):
            await h.processor.handle(Request("open_gate", json.dumps(signed(stranger)).encode(), False))
        await h.processor.handle(Request("open_gate", json.dumps(signed(operator)).encode(), False))
    asyncio.run(flood())
    refused = [p for _, p in h.replies if not p["ok"]]
    assert len(refused) < 3 * BURST + BURST and h.replies[-1][1]["ok"]       # the signed one: always answered
    assert len(h.audits) == 1 and h.audits[0][1]["outcome"] == "executed"     # no record per refusal
    summary = h.summary()
    assert summary["refused"] == 4 * BURST == h.processor.refused and summary["answered"] == len(refused)
    assert {(c["client"], c["count"]) for c in summary["counts"]} == {
        ("unsigned", 3 * BURST), (f"claims:{operator_id(stranger)}", BURST)}
    assert len(summary["samples"]) == 5


def test_a_window_is_audited_when_it_ends_and_the_open_one_when_the_processor_stops(tmp_path: Path) -> None:
    from kiosk.mqtt.refusals import RefusalWindow

    h = Harness(tmp_path / "trusted")
    h.processor.refusals = RefusalWindow(window_s=0.2)

    async def main() -> None:
        runner = asyncio.create_task(h.processor.run())
        h.processor.submit("open_gate", b"not json", False)
        for _ in range(500):                      # a guard, not a timing assertion
            if h.audits:
                break
            await asyncio.sleep(0.01)
        h.processor.submit("open_gate", b"[]", False)
        await asyncio.sleep(0.01)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    asyncio.run(main())
    assert [(d["outcome"], d["refused"], d["counts"][0]["code"]) for _, d in h.audits] == [
        ("refused_summary", 1, "bad_json"), ("refused_summary", 1, "bad_request")]
