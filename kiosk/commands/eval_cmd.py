"""`kiosk eval`: measure the face models on labelled data.

Forms (the first word after `eval` chooses; anything else is a pairs file, as before):
  kiosk eval PAIRS.tsv [--images DIR] [--all-impostors] ...   verification accuracy, EER, TAR at FAR
  kiosk eval mask LABELS.tsv ...                               mask classifier (image, masked columns)
Each form is a parser of its own; `register` adds one `eval` command whose arguments are handed to
the form named by the first word (SUBCOMMANDS), or to the pairs form.
"""
from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from pathlib import Path


def _shared_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--models", type=Path, default=None,
                         help="models directory (default: from the configuration)")
    options.add_argument("--out", type=Path, default=Path("eval-report"),
                         help="folder for the report files (default ./eval-report)")
    options.add_argument("--no-progress", action="store_true", help="no progress bar")
    return options


def _pairs_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False, parents=[_shared_options()])
    options.add_argument("--images", type=Path, default=None,
                         help="image root for LFW pairs.txt (default: the pairs file's folder)")
    options.add_argument("--all-impostors", action="store_true",
                         help="use every cross-identity image pair as an impostor pair (identity = folder name), "
                              "to estimate small FARs")
    return options


def _pairs_form(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk eval", parents=[common, _pairs_options()],
                                     description="Verification accuracy on a pairs file; writes <name>.json and "
                                                 "<name>_roc.png to --out.")
    parser.add_argument("pairs", type=Path, help="pairs file: LFW pairs.txt or TSV (img_a, img_b, same[, kind])")
    parser.set_defaults(form_handler=_eval)
    return parser


def _mask_form(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk eval mask", parents=[common, _shared_options()],
                                     description="Mask classifier behind the detector on labelled images; writes "
                                                 "<name>_mask.json to --out.")
    parser.add_argument("labels", type=Path,
                        help="TSV with columns image (relative to the file's folder) and masked (0/1)")
    parser.set_defaults(form_handler=_eval_mask)
    return parser


# First word after `kiosk eval` -> the builder of that form's parser (given the common options).
SUBCOMMANDS: dict[str, Callable[[argparse.ArgumentParser], argparse.ArgumentParser]] = {"mask": _mask_form}


def register(subparsers, common) -> None:
    forms = {word: build(common) for word, build in SUBCOMMANDS.items()}
    words = ", ".join(forms)
    parser = subparsers.add_parser(
        "eval", parents=[common, _pairs_options()], usage=f"kiosk eval {{PAIRS.tsv | {' | '.join(forms)}}} ...",
        help=f"measure the models on labelled data: verification on a pairs file, or {words}",
        description="kiosk eval PAIRS.tsv: verification accuracy on a pairs file (LFW pairs.txt or TSV). "
                    + " ".join(f"kiosk eval {w}: see `kiosk eval {w} --help`." for w in forms))
    parser.add_argument("arguments", nargs=argparse.REMAINDER,
                        help=f"PAIRS.tsv and its options, or a form word ({words}) and its arguments")
    parser.set_defaults(handler=functools.partial(_dispatch, forms, _pairs_form(common)))


def _dispatch(forms: dict[str, argparse.ArgumentParser], pairs_form: argparse.ArgumentParser,
              args: argparse.Namespace) -> int:
    """Parses the rest of the command line with the chosen form; options given before it are kept."""
    words = args.arguments
    if words and words[0] in forms:
        parsed = forms[words[0]].parse_args(words[1:], namespace=args)
    else:
        parsed = pairs_form.parse_args(words, namespace=args)
    return parsed.form_handler(parsed)


def _eval(args: argparse.Namespace) -> int:
    from ..cli import CommandError, load
    from ..face.errors import PIPELINE_SETUP_ERRORS
    from ..face.evaluation import evaluate, plot_roc
    from ..face.pairs import PairsError, read_pairs
    from ..face.pipeline import FacePipeline

    config = load(args)
    try:
        pairs = read_pairs(args.pairs, args.images)
    except PairsError as exc:
        raise CommandError(str(exc)) from None
    if not pairs:
        raise CommandError(f"{args.pairs}: no pairs")
    try:
        pipeline = FacePipeline(config.face, args.models or config.models_dir)
    except PIPELINE_SETUP_ERRORS as exc:
        raise CommandError(str(exc)) from None
    try:
        report, curves = evaluate(pipeline, pairs, config.recognition.security_level, args.all_impostors,
                                  progress=not args.no_progress)
    except ValueError as exc:
        raise CommandError(f"{args.pairs}: {exc}") from None
    report["pairs_file"] = str(args.pairs)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.pairs.parent.name}_{args.pairs.stem}" + ("_all_impostors" if args.all_impostors else "")
    json_path, png_path = args.out / f"{stem}.json", args.out / f"{stem}_roc.png"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    plot_roc(curves, f"{args.pairs.name}: {pipeline.model_id}, {pipeline.detector.name}", png_path)
    print(format_report(report))
    print(f"report: {json_path}\nROC:    {png_path}")
    return 0


def _eval_mask(args: argparse.Namespace) -> int:
    from ..cli import CommandError, load
    from ..face.errors import PIPELINE_SETUP_ERRORS
    from ..face.mask import load_classifier
    from ..face.mask_eval import LabelsError, evaluate_mask, format_mask_report, read_labels
    from ..face.pipeline import FacePipeline

    config = load(args)
    try:
        rows = read_labels(args.labels)
    except LabelsError as exc:
        raise CommandError(str(exc)) from None
    if not rows:
        raise CommandError(f"{args.labels}: no images")
    try:
        pipeline = FacePipeline(config.face, args.models or config.models_dir)   # the kiosk's keypoints
        load_classifier()
    except PIPELINE_SETUP_ERRORS as exc:
        raise CommandError(str(exc)) from None
    report = evaluate_mask(pipeline, rows, config.mask.threshold, pipeline.detector.name,
                           progress=not args.no_progress)
    report["labels_file"] = str(args.labels)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{args.labels.parent.name}_{args.labels.stem}_mask.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(format_mask_report(report))
    print(f"report: {json_path}")
    return 0


def _row(name: str, r: dict) -> list[str]:
    acc = r["accuracy_kfold"]
    lines = [f"{name}: {r['pairs']} pairs ({r['genuine']} genuine, {r['impostor']} impostor)",
             f"  accuracy {100 * acc['mean']:.2f}% +- {100 * acc['std']:.2f} ({acc['folds']}-fold, "
             f"{'folds from the file' if acc['folds_from_file'] else 'stratified folds'}); "
             f"EER {100 * r['eer']['eer']:.2f}% at {r['eer']['threshold']:.4f}"]
    for p in r["tar_at_far"]:
        note = "" if p["estimable"] else f"  (not estimable: needs >= {p['impostors_needed']} impostor pairs)"
        lines.append(f"  TAR {100 * p['tar']:6.2f}% at FAR {p['far_target']:g} (measured {p['far']:.4g}), "
                     f"threshold {p['threshold']:.4f}{note}")
    return lines


def format_report(report: dict) -> str:
    lines = [f"model {report['model_id']} ({report['metric']}), detector {report['detector']}; "
             f"{report['images']} images, {report['images_without_face']} without a face, "
             f"{report['pairs_failed']} pairs left out; impostors: {report['impostors']}"]
    lines += _row("all", report)
    for kind, sub in report.get("by_kind", {}).items():
        lines += _row(kind, sub)
    level = report["security_level"]
    line = (f"security level {level['level']} (FAR {level['far_target']:g}): threshold "
            f"{level['threshold_meeting_target']:.4f} meets it on this data (TAR {100 * level['tar_at_that_threshold']:.2f}%)")
    if "configured_threshold" in level:
        m = level["configured_threshold_measured"]
        line += (f"; the model's configured {level['configured_threshold']:.3f} gives TAR {100 * m['tar']:.2f}%, "
                 f"FAR {m['far']:.4g}")
    lines.append(line)
    if "note" in level:
        lines.append(f"  note: {level['note']}")
    return "\n".join(lines)
