"""The running daemon answers signed MQTT commands: open_gate, events_since, reload_config, selftest; unsigned ones
are refused."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w
from e2e_support import kiosk, sim_kiosk, wait_online


def send(config: Path, operator: Path, command: str, params: dict | None = None,
         signed: bool = True) -> subprocess.CompletedProcess:
    args = ["cmd", "send", command, "--config", str(config), "--device", "cmd-kiosk",
            "--params", json.dumps(params or {}), "--timeout", "15"]
    args += ["--key", str(operator / "operator.key")] if signed else ["--unsigned"]
    return kiosk(*args)


def relay_state(state: Path) -> bool:
    return json.loads((state / "relay-mock.json").read_text())["unlocked"]


def until(condition, guard_s: float = 15.0) -> bool:
    """Waits for `condition` (a guard, not a timing assertion)."""
    deadline = time.monotonic() + guard_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.slow
def test_remote_commands_reach_the_daemon(tmp_path, models_dir, sim_dir, broker, operator):
    state = tmp_path / "state"
    # Only an unknown visitor walks up, so nothing but the commands opens the gate.
    config = sim_kiosk(state, models_dir, sim_dir, device={"id": "cmd-kiosk"}, gate={"pulse_s": 1.0},
                       sim={"walkups": ["visitor"]},
                       mqtt={"enabled": True, "host": "127.0.0.1", "port": broker.port,
                             "allow_insecure_commands": True})
    shutil.copy(operator / "operator.pub", state / "keys" / "trusted" / "operator.pub")
    daemon = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "daemon.log", "w"))
    try:
        assert wait_online(broker.port, "cmd-kiosk"), (tmp_path / "daemon.log").read_text()[-2000:]
        result = send(config, operator, "selftest")
        assert result.returncode == 0, result.stdout + result.stderr + (tmp_path / "daemon.log").read_text()[-2000:]
        assert json.loads(result.stdout)["result"]["ok"] is True, result.stdout

        assert send(config, operator, "open_gate", {"duration_s": 1.0, "reason": "delivery"}).returncode == 0
        # The relay worker switches it; the 1 s pulse may be over before `send` returns, so the log is the witness.
        assert until(lambda: "gate unlocked" in (tmp_path / "daemon.log").read_text())
        assert until(lambda: relay_state(state) is False)     # the pulse ended by itself

        def pulled() -> list[dict]:
            answer = send(config, operator, "events_since", {"seq": 1, "limit": 500})
            return json.loads(answer.stdout)["result"]["events"] if answer.returncode == 0 else []
        assert until(lambda: any(e["type"] == "gate_opened" for e in pulled())), "events_since: no gate_opened"
        page = pulled()
        assert [e["seq"] for e in page] == list(range(1, len(page) + 1))   # HR's gap pull, straight from the log

        data = tomllib.loads(config.read_text())
        data["recognition"] = {"security_level": "high"}
        data["camera"]["fps"] = 10
        config.write_text(tomli_w.dumps(data))
        reloaded = send(config, operator, "reload_config")
        assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
        answer = json.loads(reloaded.stdout)["result"]
        assert answer == {"applied": ["recognition"], "needs_restart": ["camera"]}

        client = shutil.copy(config, tmp_path / "client.toml")   # the operator's own copy stays valid
        config.write_text(config.read_text() + "\n[nonsense]\nkey = 1\n")
        refused = send(client, operator, "reload_config")
        assert refused.returncode != 0 and "nonsense" in refused.stdout + refused.stderr

        unsigned = send(client, operator, "open_gate", signed=False)
        assert unsigned.returncode != 0 and relay_state(state) is False
        assert daemon.poll() is None   # nothing above stopped the daemon
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)
    audit = kiosk("audit", "export", "--config", str(client), "--format", "json")
    actions = [record["action"] for record in json.loads(audit.stdout)["records"]]
    assert "config_change" in actions and actions.count("command") >= 6
    exported = kiosk("events", "export", "--config", str(client), "--type", "gate_opened", "--format", "json")
    opened = json.loads(exported.stdout)
    assert [event["detail"] for event in opened] == [{"source": "remote_command", "reason": "delivery",
                                                       "duration_s": 1.0}]          # the refused one opened nothing
