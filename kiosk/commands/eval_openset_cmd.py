"""`kiosk eval strangers` (a model's stranger scores, for its spec) and `kiosk eval open-set` (FPIR/FNIR with a gallery).

Both are two-word commands beside `kiosk eval PAIRS` (kiosk.cli joins `eval open-set` into `eval-open-set`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config.recognition import SECURITY_LEVEL_FPIR, SecurityLevel


def register(subparsers, common) -> None:
    strangers = subparsers.add_parser(
        "eval-strangers", parents=[common], prog="kiosk eval strangers",
        help="`kiosk eval strangers DIR`: measure the model's stranger (impostor) scores for the open-set levels")
    strangers.add_argument("strangers", type=Path, help="folder of <identity>/<images>, people never enrolled")
    strangers.add_argument("--genuine", type=Path, required=True,
                           help="pairs file whose genuine pairs give the expected FNIR (e.g. lfw_dev/pairs_dev.tsv)")
    strangers.add_argument("--half", choices=("fit", "all"), default="fit",
                           help="fit: only the identities whose name's sha256 starts with an even byte, so the other "
                                "half can test the levels (`kiosk eval open-set --fillers`); all: every identity "
                                "(default: fit)")
    strangers.add_argument("--models", type=Path, default=None, help="models directory (default: from the configuration)")
    strangers.add_argument("--out", type=Path, default=None, help="also write <model>_stranger_scores.json here")
    strangers.add_argument("--write-spec", action="store_true",
                           help="store the result as `stranger_scores` in the model's spec in the models directory")
    strangers.add_argument("--upper-face", action="store_true",
                           help="measure the upper-face space (lower face greyed out, used for masked faces) instead; "
                                "writes <model>+upper_stranger_scores.json with --out (pin it as "
                                "kiosk/data/stranger_scores/<model>+upper.json); not with --write-spec")
    strangers.add_argument("--no-progress", action="store_true", help="no progress bar")
    strangers.set_defaults(handler=_strangers)

    openset = subparsers.add_parser(
        "eval-open-set", parents=[common], prog="kiosk eval open-set",
        help="`kiosk eval open-set`: strangers accepted (FPIR) and enrolled people missed (FNIR) with a gallery")
    openset.add_argument("--enrolled", type=Path, required=True,
                         help="folder of <identity>/<images>: the first image by name is enrolled, the rest are probes")
    openset.add_argument("--strangers", type=Path, action="append", default=[], required=True,
                         help="folder of <identity>/<images>, every image a stranger probe (may be repeated)")
    openset.add_argument("--fillers", type=Path, default=None,
                         help="folder of <identity>/<images> to enlarge the gallery: its fit half first (never used as "
                              "strangers), then the other half; those not enrolled become strangers")
    openset.add_argument("--n-fillers", type=int, default=0, help="identities taken from --fillers (default 0)")
    openset.add_argument("--level", choices=[level.value for level in SecurityLevel], default=None,
                         help="security level to report (default: the configuration's, with its fpir/threshold "
                              "overrides; --level ignores those)")
    openset.add_argument("--models", type=Path, default=None, help="models directory (default: from the configuration)")
    openset.add_argument("--out", type=Path, default=Path("eval-report"),
                         help="folder for open_set_<model>.json and open_set_<model>_det.png (default ./eval-report)")
    openset.add_argument("--no-progress", action="store_true", help="no progress bar")
    openset.set_defaults(handler=_open_set)


def _pipeline(args: argparse.Namespace):
    from ..actions.errors import CommandError
    from ..cli import load
    from ..face.errors import PIPELINE_SETUP_ERRORS
    from ..face.pipeline import FacePipeline

    config = load(args)
    try:
        return config, FacePipeline(config.face, args.models or config.models_dir)
    except PIPELINE_SETUP_ERRORS as exc:
        raise CommandError(str(exc)) from None


def _strangers(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..face.masked import upper_space_id
    from ..face.openset import open_set_point
    from ..face.openset_eval import measure_stranger_scores
    from ..face.pairs import PairsError
    from ..face.spec import save_spec

    if args.upper_face and args.write_spec:
        raise CommandError("--upper-face scores are pinned in kiosk/data/stranger_scores, not written to the spec; "
                           "use --out")
    config, pipeline = _pipeline(args)
    try:
        scores = measure_stranger_scores(pipeline, args.strangers, args.genuine, args.half, not args.no_progress,
                                         upper_face=args.upper_face)
    except (ValueError, PairsError) as exc:
        raise CommandError(str(exc)) from None
    text = json.dumps(scores.model_dump(mode="json"), indent=2)
    print(text)
    for level in SecurityLevel:
        for n in (1, 10, 100, 1000):
            print(open_set_point(scores, SECURITY_LEVEL_FPIR[level], n, level.value).line())
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        space = upper_space_id(pipeline.spec.id) if args.upper_face else pipeline.spec.id
        path = args.out / f"{space}_stranger_scores.json"
        path.write_text(text + "\n", encoding="utf-8")
        print(f"stranger scores: {path}")
    if args.write_spec:
        models_dir = args.models or config.models_dir
        print(f"spec: {save_spec(models_dir, pipeline.spec.model_copy(update={'stranger_scores': scores}))}")
    return 0


def _open_set(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..face.openset_eval import evaluate_open_set, plot_det, split_open_set

    config, pipeline = _pipeline(args)
    recognition = config.recognition
    if args.level is not None:
        recognition = recognition.model_copy(update={"security_level": SecurityLevel(args.level), "fpir": None,
                                                     "threshold": None})
    try:
        split = split_open_set(args.enrolled, args.strangers, args.fillers, args.n_fillers)
        report, trials = evaluate_open_set(pipeline, split, recognition, progress=not args.no_progress)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"open_set_{pipeline.spec.id}"
    json_path, png_path = args.out / f"{stem}.json", args.out / f"{stem}_det.png"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_det(trials, report, png_path)
    print(format_open_set(report))
    print(f"report: {json_path}\nDET:    {png_path}")
    return 0


def format_open_set(report: dict) -> str:
    split, level = report["split"], report["at_security_level"]
    lines = [f"model {report['model_id']} ({report['metric']}), detector {report['detector']}; {split['enrolled']} "
             f"enrolled, {split['genuine_probes']} genuine probes, {split['stranger_probes']} stranger probes",
             f"at security level {level['level']} ({_target(level['fpir_target'])}), N={level['n_enrolled']}: "
             f"threshold {level['threshold']:.4f}: FPIR {100 * level['fpir']:.2f}% ({level['strangers_accepted']} "
             f"strangers accepted), FNIR {100 * level['fnir']:.2f}%"
             + (f"; expected FPIR {level['expected_fpir']:.2g}, FNIR {100 * level['expected_fnir']:.1f}%"
                if level["expected_fnir"] is not None else "")]
    if level["warning"]:
        lines.append(f"  warning: {level['warning']}")
    for row in report["fnir_at_fpir"]:
        note = "" if row["estimable"] else f"  (not estimable: needs >= {row['strangers_needed']} strangers)"
        lines.append(f"  N={row['n_enrolled']:>4} ({row['galleries']} galleries): FNIR {100 * row['fnir']:6.2f}% at FPIR "
                     f"{row['fpir_target']:g} (measured {row['fpir']:.4f}), threshold {row['threshold']:.4f}{note}")
    for row in report["not_evaluated"]:
        lines.append(f"  N={row['n_enrolled']}: not evaluated, {row['reason']}")
    return "\n".join(lines)


def _target(fpir: float | None) -> str:
    return "fixed threshold" if fpir is None else f"FPIR target {fpir:g}"
