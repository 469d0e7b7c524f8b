"""Run every benchmark and write one JSON file per benchmark to --out.

Each module in BENCHMARKS exposes `main(argv: list[str] | None) -> dict`: it prints a table
for people and returns the figures, which land in `<out>/<name>.json`.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from pathlib import Path

BENCHMARKS: list[str] = ["bench_face", "bench_gate", "bench_matching", "bench_thermal", "bench_mqtt", "bench_flood",
                         "bench_mlx90640", "bench_web_cpu"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("var/models"), help="installed models directory")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="where the JSON results go")
    parser.add_argument("--only", action="append", default=[], help="run only these benchmarks (repeatable)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        print(f"\n== {name} ==", flush=True)
        started = time.time()
        module = importlib.import_module(f"bench.{name}")
        result = module.main(["--models", str(args.models)])
        result["_meta"] = {"seconds": round(time.time() - started, 1), "machine": platform.machine(),
                           "python": platform.python_version(), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
