"""build_services in process on simulated hardware: everything the stages use, the pipeline built on the inference
thread, the gate started locked; a start-up error is one line and leaves no thread of its own behind."""
from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from e2e_support import sim_kiosk

from kiosk.config import load_config
from kiosk.service.services import StartupError, build_services


def _config(tmp_path: Path, models_dir: Path, sim_dir: Path):
    # No gate supervisor: it would watch the test process itself.
    return load_config(sim_kiosk(tmp_path / "state", models_dir, sim_dir, gate={"supervisor": False}))


def _own_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("infer", "store"))]


def test_services_are_built_and_closed(tmp_path, models_dir, sim_dir) -> None:
    config = _config(tmp_path, models_dir, sim_dir)

    async def scenario() -> None:
        services = await build_services(config, tmp_path / "state" / "kiosk.toml")
        try:
            assert services.world is not None and services.mqtt is None and services.web is None
            assert services.matcher.person_count == 2                          # the simulator's demo staff
            report = services.health.report()
            assert services.gate.unlocked is False and report["gate"]["unlocked"] is False
            assert {"security", "security_upper_face", "clock"} <= report.keys()
            # One inference thread: the pipeline was built on it (build_services) and runs on it (the stages).
            thread = await asyncio.get_running_loop().run_in_executor(services.infer, threading.current_thread)
            assert thread.name.startswith("infer")
        finally:
            await services.close()
            await services.gate.stop()

    asyncio.run(scenario())
    for thread in _own_threads():
        thread.join(5)
    assert _own_threads() == []


def test_a_garbage_signing_key_is_one_line_and_closes_what_was_opened(tmp_path, models_dir, sim_dir) -> None:
    config = _config(tmp_path, models_dir, sim_dir)
    (tmp_path / "state" / "keys" / "signing.key").write_bytes(os.urandom(64))
    with pytest.raises(StartupError, match="signing.key is not an unencrypted PEM private key") as failed:
        asyncio.run(build_services(config))
    assert "\n" not in str(failed.value)
    for thread in _own_threads():
        thread.join(5)
    assert _own_threads() == []
