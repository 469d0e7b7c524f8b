"""`kiosk eval PAIRS` (verification accuracy, EER, TAR at FAR) and `kiosk eval mask LABELS.tsv` (the mask
classifier behind the detector). Two-word forms are sub-commands of their own (`eval-mask`; kiosk.cli
joins `eval mask` into it), beside `kiosk eval strangers` and `kiosk eval open-set`."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config.face import MaskModel


def _output_options(parser: argparse.ArgumentParser, out_help: str) -> None:
    parser.add_argument("--models", type=Path, default=None, help="models directory (default: from the configuration)")
    parser.add_argument("--out", type=Path, default=Path("eval-report"), help=out_help)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("eval", parents=[common],
                                   help="measure verification accuracy on a pairs file (LFW pairs.txt or TSV); "
                                        "also `kiosk eval mask|strangers|open-set`")
    parser.add_argument("pairs", type=Path, help="pairs file: LFW pairs.txt or TSV (img_a, img_b, same[, kind][, fold])")
    parser.add_argument("--images", type=Path, default=None,
                        help="image root for LFW pairs.txt (default: the pairs file's folder)")
    parser.add_argument("--all-impostors", action="store_true",
                        help="use every cross-identity image pair as an impostor pair (identity = folder name), "
                             "to estimate small FARs")
    parser.add_argument("--masked-templates", action="store_true",
                        help="also report matching with synthetic-mask templates (on by default when "
                             "mask.masked_templates is set)")
    parser.add_argument("--upper-face", action="store_true",
                        help="also report the upper-face rule as a section of its own, with the figures when the "
                             "pairs' kind labels say which face is masked (the headline already compares masked "
                             "pairs by the upper face when mask.upper_face is on, as the kiosk does)")
    _output_options(parser, "folder for <name>.json and <name>_roc.png (default ./eval-report)")
    parser.set_defaults(handler=_eval)

    mask = subparsers.add_parser("eval-mask", parents=[common], prog="kiosk eval mask",
                                 help="mask classifier behind the detector on labelled images (kiosk eval mask)")
    mask.add_argument("labels", type=Path, help="TSV with columns image (relative to the file's folder) and masked (0/1)")
    mask.add_argument("--mask-model", choices=[m.value for m in MaskModel], default=None,
                      help="mask score to evaluate (default: the configuration's face.mask_model, \"auto\")")
    _output_options(mask, "folder for <name>_mask.json (default ./eval-report)")
    mask.set_defaults(handler=_eval_mask)


def _eval(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..cli import load
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
                                  progress=not args.no_progress,
                                  masked_templates=args.masked_templates or config.mask.masked_templates,
                                  upper_face=args.upper_face,
                                  mask_threshold=config.mask.threshold, as_kiosk=config.mask.upper_face)
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
    from ..actions.errors import CommandError
    from ..cli import load
    from ..face.errors import PIPELINE_SETUP_ERRORS
    from ..face.mask_eval import LabelsError, evaluate_mask, format_mask_report, read_labels
    from ..face.pipeline import FacePipeline

    config = load(args)
    try:
        rows = read_labels(args.labels)
    except LabelsError as exc:
        raise CommandError(str(exc)) from None
    if not rows:
        raise CommandError(f"{args.labels}: no images")
    face = config.face if args.mask_model is None else config.face.model_copy(update={"mask_model": MaskModel(args.mask_model)})
    try:
        pipeline = FacePipeline(face, args.models or config.models_dir)   # the kiosk's keypoints and mask scorer
    except PIPELINE_SETUP_ERRORS as exc:
        raise CommandError(str(exc)) from None
    report = evaluate_mask(pipeline, pipeline.mask, rows, config.mask.threshold, pipeline.detector.name,
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
    if "comparison" in report:
        lines.append(f"comparison: {report['comparison']}; {report.get('images_masked', 0)} images masked")
    lines += _row("all", report)
    for kind, sub in report.get("by_kind", {}).items():
        lines += _row(kind, sub)
    for key, name in (("bare", "whole face"), ("masked_templates", "masked templates"), ("upper_face", "upper face")):
        if key in report:
            section = report[key]
            lines.append(f"-- {name}: {section['rule']}")
            lines += _row("all", section)
            for kind, sub in section.get("by_kind", {}).items():
                lines += _row(kind, sub)
    for point in report.get("upper_face_at_level") or []:
        lines.append(f"masked pairs at the kiosk's upper-face threshold with {point['n_enrolled']} enrolled "
                     f"({point['threshold']:.4f}): TAR {100 * point['tar']:.1f}% of {point['genuine']}, "
                     f"FAR {100 * point['far']:.1f}% of {point['impostor']}")
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
