"""Face pipeline benchmark for `make bench`: stage latencies on one thread and all cores, and, when
the optional `dlib-bin` package is installed, the speed ratio against dlib's own HOG + ResNet."""
from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.commands.bench_cmd import default_images
from kiosk.config import load_config
from kiosk.face.benchmark import format_table, run

# The bars, on one thread of this class of machine; compared with the median, which other
# processes on a shared 2-core machine disturb less than the mean.
BARS_MS = {"detect": 2.0, "embed": 5.0}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="bench_face")
    parser.add_argument("--models", type=Path, default=Path("var/models"))
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    config = load_config(None)
    images = args.images or default_images(config.sim_assets_dir if config.sim_assets_dir.is_dir() else Path("var/sim"))
    if images is None:
        raise SystemExit("bench_face: no photos (run `make install` for the demo photos, or pass --images)")
    results = run(args.models, images, config.face, repeat=args.repeat, with_dlib=True)
    one = results["one_thread"]
    results["bars"] = {stage: {"bar_ms": bar, "median_ms": one[stage]["median_ms"], "mean_ms": one[stage]["mean_ms"],
                               "met": one[stage]["median_ms"] <= bar} for stage, bar in BARS_MS.items()}
    print(format_table(results))
    for stage, bar in results["bars"].items():
        print(f"bar {stage} <= {bar['bar_ms']} ms on one thread: {'met' if bar['met'] else 'NOT met'} "
              f"(median {bar['median_ms']:.2f} ms, mean {bar['mean_ms']:.2f} ms)")
    if "dlib" not in results:
        print("dlib-bin not installed: no speed ratio against dlib (pip install 'kiosk[bench]')")
    return results


if __name__ == "__main__":
    main()
