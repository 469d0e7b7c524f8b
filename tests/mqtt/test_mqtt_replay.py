"""`kiosk events replay --since SEQ`: the signed events of the local log re-published to the broker."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from mqtt_support import Recorder, free_port

from kiosk.cli import main
from kiosk.config import load_config
from kiosk.store import Store, verify_event
from kiosk.store.clock import utc_now


def _event(n: int) -> dict:
    return {"type": "gate_opened", "event_id": uuid.uuid4().hex, "device_id": "door-1",
            "device_time": utc_now().isoformat(timespec="milliseconds"), "person": None, "detail": {"n": n}}


def _config(tmp_path: Path, port: int, enabled: bool = True) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[device]\nid = "door-1"\nstate_dir = "{tmp_path / "state"}"\n'
                    f'[mqtt]\nenabled = {"true" if enabled else "false"}\nhost = "127.0.0.1"\nport = {port}\n'
                    'accept_commands = false\n')          # the test broker is plain: publish only
    return path


def test_replay_publishes_from_seq_on(broker, tmp_path, capsys) -> None:
    config = _config(tmp_path, broker.port)
    assert main(["keys", "init", "--config", str(config)]) == 0
    with Store.open(load_config(config)) as store:
        for n in range(5):
            store.record_event(_event(n))
        public = store.signer.public_key
    recorder = Recorder(broker.port, ["kiosk/door-1/events/#"])
    try:
        capsys.readouterr()
        assert main(["events", "replay", "--config", str(config), "--since", "3"]) == 0
        assert "replayed 3 event(s), seq 3..5 to kiosk/door-1/events/#" in capsys.readouterr().out
        assert recorder.wait_for(lambda messages: len(messages) >= 3, 10)
        got = recorder.json_on("kiosk/door-1/events/gate_opened")
        assert [e["seq"] for e in got] == [3, 4, 5]
        assert all(verify_event(e, [public]) is None for e in got)
        assert main(["events", "replay", "--config", str(config), "--since", "2", "--limit", "1", "--print"]) == 0
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [e["seq"] for e in printed] == [2]
    finally:
        recorder.close()
    with Store.open(load_config(config)) as store:
        replays = [r for r in store.audit_records() if r["action"] == "export"]
        assert len(replays) == 2 and "events replay" in replays[0]["detail"]


def test_replay_errors_are_one_line(tmp_path, capsys) -> None:
    config = _config(tmp_path, 1, enabled=False)
    assert main(["keys", "init", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["events", "replay", "--config", str(config), "--since", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mqtt.enabled is false" in err
    assert main(["events", "replay", "--config", str(config), "--since", "0", "--print"]) == 1
    assert "--since must be at least 1" in capsys.readouterr().err


def test_replay_to_an_unreachable_broker_fails_in_one_line(tmp_path, capsys) -> None:
    config = _config(tmp_path, free_port())
    assert main(["keys", "init", "--config", str(config)]) == 0
    with Store.open(load_config(config)) as store:
        store.record_event(_event(1))
    capsys.readouterr()
    assert main(["events", "replay", "--config", str(config), "--since", "1", "--timeout", "3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "replay stopped: cannot connect to broker 127.0.0.1:" in err
