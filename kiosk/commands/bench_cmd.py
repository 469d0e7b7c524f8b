"""`kiosk bench`: per-stage latency and frames per second of the face pipeline on real photos."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def default_images(sim_assets: Path) -> Path | None:
    """The demo photos (`kiosk sim assets`), else ../shared/models/testdata beside the checkout."""
    for candidate in (sim_assets, REPO.parent / "shared" / "models" / "testdata"):
        if candidate.is_dir() and any(p.suffix.lower() in (".jpg", ".png") for p in candidate.iterdir()):
            return candidate
    return None


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("bench", parents=[common], help="time the face pipeline stage by stage")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder of face photos (default: the demo photos, else ../shared/models/testdata)")
    parser.add_argument("--models", type=Path, default=None, help="models directory (default: from the configuration)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per photo and stage (default 5)")
    parser.add_argument("--gallery", type=int, default=10000, help="synthetic gallery size for 1:N matching")
    parser.add_argument("--dlib", action="store_true", help="also time dlib's own pipeline (needs dlib-bin)")
    parser.add_argument("--walkup", action="store_true",
                        help="also time the walk-up frame: kiosk-sized faces, process + fusion + 1:N match, one core")
    parser.add_argument("--people", type=int, default=1000, help="enrolled persons for --walkup (default 1000)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON here")
    parser.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..cli import load
    from ..face.choice import choose_embedder
    from ..face.errors import PIPELINE_SETUP_ERRORS
    from ..recognition.benchmark import format_table, run
    from ..recognition.walkup_bench import format_walkup, run_walkup

    config = load(args)
    images = args.images or default_images(config.sim_assets_dir)
    if images is None or not images.is_dir():
        raise CommandError("no photos to time: pass --images DIR (or run `kiosk sim assets`)")
    models = args.models or config.models_dir
    try:
        results = run(models, images, config.face, args.repeat, args.gallery, args.dlib)
        if args.walkup:
            in_force = choose_embedder(config.face.embedder, models).model_id     # "auto" resolved
            results["walkup"] = run_walkup(models, images, config.face, [in_force], people=args.people,
                                           repeat=args.repeat, with_dlib=args.dlib)
    except PIPELINE_SETUP_ERRORS as exc:
        raise CommandError(str(exc)) from None
    print(format_table(results))
    if args.walkup:
        print(format_walkup(results["walkup"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures: {args.json}")
    return 0
