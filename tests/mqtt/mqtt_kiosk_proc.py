"""A kiosk for the fleet test: the real Store, a live Matcher that follows it, and MqttService with enroll and
delete_person handlers, as the daemon wires them.

    python mqtt_kiosk_proc.py --state DIR --port PORT --device ID

Prints "ready" once started and "gallery <persons in the live matcher>" after every change (local or from
the fleet), so the test can see what this kiosk would recognise. Runs until SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mqtt_support import kiosk_config  # noqa: E402

from kiosk.mqtt import CommandFailed, MqttService, audit_to_store  # noqa: E402
from kiosk.recognition.enroll import NewPerson, enroll_remote  # noqa: E402
from kiosk.recognition.matching import Matcher  # noqa: E402
from kiosk.store.errors import StoreError  # noqa: E402
from kiosk.store.store import Store  # noqa: E402

MODEL_ID = "test-model-128"
THRESHOLD = 0.6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--device", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"{args.device} %(levelname)s %(name)s: %(message)s")
    config = kiosk_config(args.state, args.port, args.device)
    store = Store.open(config)
    matcher = Matcher.from_store(store, MODEL_ID)
    matcher.follow(store)
    store.subscribe(lambda person_id: print(f"gallery {matcher.person_count}", flush=True), include_remote=True)
    store_thread = ThreadPoolExecutor(1, thread_name_prefix="store")
    loop = asyncio.get_running_loop()

    async def in_store(fn: Any) -> Any:
        try:
            return await loop.run_in_executor(store_thread, fn)
        except StoreError as exc:
            raise CommandFailed(str(exc)) from None

    async def enroll(params: dict[str, Any]) -> dict[str, Any]:
        if "embedding" not in params:
            raise CommandFailed("this kiosk enrolls embeddings only")
        embedding = np.frombuffer(base64.b64decode(params["embedding"]["embedding_b64"]), "<f4")
        person = NewPerson(**{k: v for k, v in params["person"].items() if k != "person_id"})
        report = await in_store(lambda: enroll_remote(
            store, person, [embedding], model_id=params["embedding"]["model_id"], consent=params["consent"],
            active_model_id=MODEL_ID, matcher=matcher, threshold=THRESHOLD))
        return {"person_id": report.person.person_id, "duplicates": len(report.duplicates)}

    async def delete_person(params: dict[str, Any]) -> dict[str, Any]:
        ref = params.get("person_id") or params["employee_no"]
        person = await in_store(lambda: store.delete_person(ref, actor="mqtt", reason=params.get("reason", "request")))
        return {"person_id": person.person_id, "erased": True}

    service = MqttService(config, store, audit=audit_to_store(store), store_executor=store_thread)
    service.commands.register("enroll", enroll)
    service.commands.register("delete_person", delete_person)
    await service.start()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await service.stop()
    store_thread.shutdown()
    store.close()


if __name__ == "__main__":
    asyncio.run(main())
