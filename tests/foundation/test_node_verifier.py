"""Anyone can verify the kiosk's events: docs/examples/verify-events.mjs, Node.js without packages, checks
the documented vector, events the store signed, and the events a simulated run leaves in the log."""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from e2e_support import kiosk, sim_kiosk

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.store import Store
from kiosk.store.canon import jcs, legacy
from kiosk.store.keys import SIGNING_PUB

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "docs" / "examples" / "verify-events.mjs"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node not found (apt install nodejs; .ci/run installs it)")


def node_verify(public_key: Path, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([NODE, str(VERIFIER), "--public-key", str(public_key), *map(str, files)],
                          capture_output=True, text=True, timeout=60)


def doc_block(name: str) -> str:
    text = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    return re.search(rf"^```\w+ {name}\n(.*?)^```$", text, re.M | re.S).group(1)


def whole_floats(value: Any) -> list[float]:
    """The floats with no fraction (36.0) anywhere in `value`: Python writes them 36.0, JavaScript 36."""
    if isinstance(value, dict):
        return [f for v in value.values() for f in whole_floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in whole_floats(v)]
    return [value] if isinstance(value, float) and value.is_integer() else []


def test_the_documented_vector_verifies_and_the_legacy_one_is_named(tmp_path: Path) -> None:
    key = tmp_path / "vector.pub"
    key.write_text(doc_block("public-key"))
    event = json.loads(doc_block("jcs-event"))
    (tmp_path / "jcs.json").write_text(json.dumps([event], ensure_ascii=False))
    result = node_verify(key, tmp_path / "jcs.json")
    assert result.returncode == 0 and "1 event(s): 1 verified, 0 not verified" in result.stdout, result
    old = {**event, "signature": json.loads(doc_block("legacy-signature"))}
    (tmp_path / "legacy.jsonl").write_text(json.dumps(old) + "\n")
    result = node_verify(key, tmp_path / "legacy.jsonl")
    assert result.returncode == 1 and "legacy canonical form" in result.stdout, result


def test_exported_events_verify_and_any_change_is_caught(tmp_path: Path, capsys) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[device]\nid = "door-1"\nstate_dir = "{tmp_path / "state"}"\n')
    assert main(["keys", "init", "--config", str(config)]) == 0
    person = {"person_id": "ab" * 16, "employee_no": "E7", "name": "Zoë Ünal-Şahin 李", "role": "staff"}
    with Store.open(load_config(config)) as store:
        for body_c, detail in ((36.0, None), (37.5, {"\U0001F600": 1e-07, "\ufb01": 2.5e21, "note": 'Tür "B"\n'})):
            store.record_event({"type": "access_granted", "event_id": uuid.uuid4().hex, "device_id": "door-1",
                                "device_time": "2026-11-28T08:00:00+01:00", "person": person,
                                "temperature": {"body_c": body_c, "skin_c": 34.0, "quality": 1.0, "fever": False},
                                "liveness": {"live": True, "score": 1.0, "reason": "warm skin"}, "detail": detail})
    public = tmp_path / "state" / "keys" / SIGNING_PUB
    for form in ("jsonl", "json"):
        exported = tmp_path / f"events.{form}"
        assert main(["events", "export", "--config", str(config), "--format", form, "--out", str(exported)]) == 0
        result = node_verify(public, exported)
        assert result.returncode == 0 and "2 event(s): 2 verified" in result.stdout, result
    text = (tmp_path / "events.jsonl").read_text(encoding="utf-8")
    assert '"body_c": 36.0' in text and "Zoë" in text                  # as Python wrote them
    (tmp_path / "changed.jsonl").write_text(text.replace('"body_c": 36.0', '"body_c": 36.5'), encoding="utf-8")
    result = node_verify(public, tmp_path / "changed.jsonl")
    assert result.returncode == 1 and "1 not verified" in result.stdout and "does not match" in result.stdout
    capsys.readouterr()


@pytest.mark.slow
def test_events_of_a_simulated_run_all_verify_in_node(tmp_path: Path, models_dir: Path, sim_dir: Path) -> None:
    state = tmp_path / "state"
    config = sim_kiosk(state, models_dir, sim_dir, device={"id": "node-kiosk", "role": "entry"}, gate={"pulse_s": 1.0},
                       recognition={"cooldown_s": 5, "retry_timeout_s": 4.0},   # the photo is Obama again
                       sim={"walkups": ["staff", "fever", "photo"], "loop": False, "speed": 1.5, "dwell_s": 9.0})
    name = "Barack Obamá 歐巴馬"   # enrolled before the run, so the simulator's demo staff keep this name
    enrolled = kiosk("enroll", "--config", str(config), "--employee-no", "E1001", "--name", name, "--role", "staff",
                     "--consent-given-by", name, "--consent-method", "test", str(sim_dir / "obama_enroll.jpg"))
    assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log_file:
        daemon = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                                  stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 150
            while log_path.read_text().count("kiosk.decision decision") < 3 and time.monotonic() < deadline:
                assert daemon.poll() is None, log_path.read_text()[-3000:]
                time.sleep(0.5)
            time.sleep(1.0)   # the alerts follow their access event
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)
    exported = tmp_path / "events.jsonl"
    result = kiosk("events", "export", "--config", str(config), "--out", str(exported))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert len(events) >= 4, log_path.read_text()[-3000:]
    assert {"access_granted", "access_denied"} <= {e["type"] for e in events}   # which alerts follow depends on load
    assert any((e.get("person") or {}).get("name") == name for e in events)
    bodies = [{k: v for k, v in e.items() if k != "signature"} for e in events]
    assert any(whole_floats(body) for body in bodies)                  # e.g. a liveness score of 1.0
    assert any(legacy(body) != jcs(body) for body in bodies)           # the old form would have failed in Node
    result = node_verify(state / "keys" / SIGNING_PUB, exported)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(events)} event(s): {len(events)} verified, 0 not verified" in result.stdout
