"""What the kiosk screen costs the daemon: CPU of the `kiosk run` process (all its threads) on simulated
hardware, in alternating phases without and with a Chromium showing the kiosk screen (`/`: the
Server-Sent Events feed and the camera preview at `web.preview_fps`, default here 15).

    python -m bench.bench_web_cpu --models var/test-models [--phase-s 15] [--cycles 3] [--fps 15]

The figure is the difference between the phases, in percent of one core (bar: at most 10%). One
simulated staff member stands at the kiosk for the whole run (`sim.dwell_s` 600), so recognition does
the same work in every phase (a face in view, its box on the preview); phases alternate so that drift
in the machine's load falls on both.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tomli_w

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (every thread), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start_daemon(tmp: Path, models: Path, sim_assets: Path, fps: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    state = tmp / "state"
    subprocess.run([sys.executable, "-m", "kiosk", "keys", "init", "--dir", str(state / "keys")], check=True,
                   capture_output=True)
    config = {"device": {"id": "bench-web", "state_dir": str(state)}, "camera": {"backend": "mock", "fps": 15},
              "thermal": {"backend": "mock", "refresh_hz": 16}, "gate": {"backend": "mock"},
              "face": {"models_dir": str(models)}, "mqtt": {"enabled": False},
              "sim": {"assets_dir": str(sim_assets), "walkups": ["staff"], "dwell_s": 600, "loop": True},
              "web": {"enabled": True, "listen": "127.0.0.1:0", "preview_fps": fps}}
    path = tmp / "kiosk.toml"
    path.write_text(tomli_w.dumps(config))
    log = tmp / "daemon.log"
    daemon = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(path)],
                              stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = re.search(r"kiosk screen served\" url=(\S+)", log.read_text(errors="replace"))
        if found:
            return daemon, found.group(1), log
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    daemon.kill()
    raise RuntimeError("the daemon did not start serving within 180 s")


class Streams:
    """The page's two streams (screen events, preview) read by curl: the daemon's side of a screen without
    a browser competing for the same cores."""

    def __init__(self, url: str) -> None:
        self.readers = [subprocess.Popen(["curl", "--silent", "--no-buffer", "--output", "/dev/null", url + path])
                        for path in ("events/screen", "preview.mjpg")]

    def terminate(self) -> None:
        for reader in self.readers:
            reader.terminate()

    def wait(self, timeout: float) -> None:
        for reader in self.readers:
            reader.wait(timeout)


def screen(url: str, profile: Path, client: str) -> subprocess.Popen[bytes] | Streams:
    """Headless Chromium showing the kiosk screen, as on the device (no test driver attached); or curl."""
    if client == "curl":
        return Streams(url)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise RuntimeError("chromium is not installed (apt install chromium)")
    return subprocess.Popen([browser, "--headless=new", "--no-sandbox", f"--user-data-dir={profile}",
                             "--window-size=800,480", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(pid: int, seconds: float) -> float:
    """CPU of `pid` over `seconds`, in percent of one core."""
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)


def run(models: Path, sim_assets: Path, phase_s: float, cycles: int, fps: int, client: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp_name:
        tmp = Path(tmp_name)
        daemon, url, log = start_daemon(tmp, models, sim_assets, fps)
        without: list[float] = []
        with_screen: list[float] = []
        try:
            time.sleep(8)                          # past start-up and the walk-up: the person now stands still
            for cycle in range(cycles):
                without.append(measure(daemon.pid, phase_s))
                browser = screen(url, tmp / f"profile-{cycle}", client)
                try:
                    time.sleep(3)                  # page loaded, streams open
                    with_screen.append(measure(daemon.pid, phase_s))
                finally:
                    browser.terminate()
                    browser.wait(10)
                time.sleep(2)                      # the streams notice the closed connections
        finally:
            daemon.terminate()
            daemon.wait(15)
        deltas = [w - o for w, o in zip(with_screen, without, strict=True)]
        return {"client": client, "preview_fps": fps, "phase_s": phase_s, "cycles": cycles,
                "daemon_cpu_without_screen_pct": [round(v, 1) for v in without],
                "daemon_cpu_with_screen_pct": [round(v, 1) for v in with_screen],
                "screen_cost_pct_of_one_core_median": round(statistics.median(deltas), 1),
                "screen_cost_pct_per_cycle": [round(d, 1) for d in deltas],
                "load_average": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench_web_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=REPO / "var" / "models")
    parser.add_argument("--sim-assets", type=Path, default=REPO / "var" / "sim")
    parser.add_argument("--phase-s", type=float, default=15.0)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--fps", type=int, default=15, help="web.preview_fps")
    parser.add_argument("--client", choices=("chromium", "curl"), default="chromium",
                        help="what watches the screen: headless Chromium, or curl reading its two streams")
    args = parser.parse_args(argv)
    result = run(args.models.resolve(), args.sim_assets.resolve(), args.phase_s, args.cycles, args.fps, args.client)
    for key, value in result.items():
        print(f"{key:>36}  {value}")
    return result


if __name__ == "__main__":
    main()
