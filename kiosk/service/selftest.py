"""`kiosk selftest`: check every configured part once and say what works and what does not.

Each check returns a one-line detail or raises; a failed required check makes the command exit 1.
Run it with the daemon stopped: the camera, the I2C bus and the relay are then free to open.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from ..config import KioskConfig

if TYPE_CHECKING:
    from ..face.pipeline import FacePipeline
    from ..sim.world import SimWorld

CHECK_TIMEOUT_S = 10.0


class SecurityLevelWarning(Exception):
    """The configured security level cannot be met at today's number enrolled (reported as `warn`)."""


class ClockWarning(Exception):
    """The system clock is not synchronised (reported as `warn`)."""


@dataclass
class CheckResult:
    name: str
    ok: bool
    required: bool
    detail: str


class SelfTest:
    def __init__(self, config: KioskConfig) -> None:
        self.config = config
        self.pipeline: Optional[FacePipeline] = None
        self.world: Optional[SimWorld] = None

    def checks(self) -> list[tuple[str, bool, Callable[[], str]]]:
        """(name, required, check) in the order they run; later checks reuse what earlier ones loaded."""
        cfg = self.config
        items = [("models", True, self.models), ("store", True, self.store), ("security", False, self.security),
                 ("calibration", True, self.calibration), ("clock", False, self.clock)]
        if cfg.camera.backend == "mock" or cfg.thermal.backend == "mock":
            items.append(("simulator", True, self.simulator))
        items.append(("camera", True, self.camera))
        if cfg.thermal.backend != "none":
            items.append(("thermal", True, self.thermal))
        items.append(("gate", True, self.gate))
        if cfg.mqtt.enabled:
            items.append(("broker", True, self.broker))
        return items

    def run(self) -> list[CheckResult]:
        results = []
        for name, required, check in self.checks():
            try:
                detail = check()
                results.append(CheckResult(name, True, required, detail))
            except Exception as exc:   # every failure is reported, none stops the other checks
                results.append(CheckResult(name, False, required, f"{type(exc).__name__}: {exc}"))
        return results

    # ---- checks --------------------------------------------------------------------------------
    def models(self) -> str:
        from ..face.pipeline import FacePipeline

        self.pipeline = FacePipeline(self.config.face, self.config.models_dir)
        self.pipeline.operating_point(self.config.recognition, 1)   # the daemon refuses to start without a threshold
        return (f"{self.pipeline.model_id} ({self.pipeline.metric_description}); detector {self.config.face.detector}; "
                f"mask {self.pipeline.mask.model_id}")

    def store(self) -> str:
        from ..store import Store

        """Opening checks the key pair, the state marker and `quick_check`; then the full integrity check
        and the audit ledger."""
        with Store.open(self.config) as store:
            store.check_integrity()
            verdict = store.verify_audit()
            if not verdict.ok:
                raise RuntimeError(verdict.line())
            persons = len(store.persons())
        return f"{self.config.database_path}: integrity ok, {persons} persons, key {store.signer.key_id}; {verdict.line()}"

    def security(self) -> str:
        """The threshold in force at today's number of templates, with the expected FPIR and FNIR; a level the
        model cannot meet is a warning, not a failure."""
        from ..store import Store

        if self.pipeline is None:
            raise RuntimeError("needs the face models (see the models check)")
        with Store.open(self.config) as store:
            templates = len(store.load_templates(self.pipeline.model_id)[0])
        point = self.pipeline.operating_point(self.config.recognition, templates)
        if point.warning:
            raise SecurityLevelWarning(point.line())
        return point.line()

    def calibration(self) -> str:
        from ..thermal import describe_calibration

        return describe_calibration(self.config)

    def clock(self) -> str:
        """A warning, not a failure: a kiosk without network must still open for staff."""
        from .timesync import clock_state, describe

        state = clock_state()
        if state.synchronised is False:
            raise ClockWarning(describe(state))
        return describe(state)

    def simulator(self) -> str:
        from ..sim.world import SimWorld

        if self.pipeline is None:
            raise RuntimeError("needs the face models (see the models check) to place the demo faces")
        self.world = SimWorld.from_config(self.config, self.pipeline.detector)
        return f"{len(self.world.script.walkups)} walk-ups, photos in {self.config.sim_assets_dir}"

    def camera(self) -> str:
        from ..hardware import build_camera

        camera = build_camera(self.config, self.world)
        with camera:
            frame = camera.read(CHECK_TIMEOUT_S)
        height, width = frame.image.shape[:2]
        device = getattr(self.config.camera, "device", None)     # the mock camera has none
        return f"{self.config.camera.backend}{'' if device is None else f' {device!r}'}: {width}x{height} frame"

    def thermal(self) -> str:
        from ..hardware import build_thermal

        sensor = build_thermal(self.config, self.world)
        assert sensor is not None
        with sensor:
            frame = sensor.read(max(CHECK_TIMEOUT_S, 4.0 / (self.config.thermal.subpage_hz or 1.0)))
        (rows, cols), (h_fov, v_fov) = frame.resolution, frame.fov_deg
        return (f"{self.config.thermal.backend}: {rows}x{cols} frame over {h_fov:g}x{v_fov:g} degrees, "
                f"{frame.temperatures.min():.1f}..{frame.temperatures.max():.1f} C, "
                f"sensor Ta {frame.ambient_c:.1f} C, health {sensor.health.state}")

    def gate(self) -> str:
        from ..access.gate import lock_gate

        return f"{lock_gate(self.config)} (opened and left locked)"

    def broker(self) -> str:
        return asyncio.run(_check_broker(self.config))


async def _check_broker(config: KioskConfig) -> str:
    from ..mqtt.connection import Connection

    mqtt = config.mqtt
    connection = await asyncio.wait_for(
        Connection.open(mqtt, f"{config.device.id}-selftest", None, lambda *_: None), CHECK_TIMEOUT_S)
    try:
        return (f"{mqtt.host}:{mqtt.port} accepted the connection (MQTT {mqtt.protocol}, "
                f"{'TLS' if mqtt.tls else 'plain TCP'}, {'login' if mqtt.authenticated else 'anonymous'})")
    finally:
        await connection.close()


def format_results(results: list[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = []
    for r in results:
        status = "ok  " if r.ok else ("FAIL" if r.required else "warn")
        lines.append(f"{status} {r.name:<{width}}  {r.detail}")
    return "\n".join(lines)


def failed(results: list[CheckResult]) -> Optional[list[str]]:
    names = [r.name for r in results if r.required and not r.ok]
    return names or None
