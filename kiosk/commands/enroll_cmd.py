"""`kiosk enroll`: enroll faces from image files, a directory of per-person folders, or the camera.

Refused without consent: `--consent-given-by` and `--consent-method` (plus optional time, notice
version, guardian, scope), or `--consent-file` with a JSON record. In a batch, `--consent-given-by
self` stands for each person, and a `consent.json` inside a person's folder takes precedence.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

from .store_common import actor, one_line_errors

CONSENT_FILE = "consent.json"


def register(subparsers, common) -> None:
    enroll = subparsers.add_parser("enroll", parents=[common], help="enroll faces (needs a consent record)",
                                   description=__doc__.splitlines()[0])
    who = enroll.add_argument_group("who (one person)")
    who.add_argument("--person", help="an existing person id or employee number")
    who.add_argument("--employee-no", help="employee number (created when not enrolled yet)")
    who.add_argument("--name", help="full name (with --employee-no)")
    who.add_argument("--role", choices=["staff", "visitor"], default="staff")
    who.add_argument("--valid-to", help="ISO time with offset; visitors need it or --valid-days")
    who.add_argument("--valid-days", type=float, help="validity from now, in days")
    src = enroll.add_argument_group("source")
    src.add_argument("images", nargs="*", type=Path, help="image files of one person (3 to 5 views are best)")
    src.add_argument("--batch", type=Path, help="directory with one folder of images per person "
                                                "(folder name = employee number; '_' in it becomes a space in the name)")
    src.add_argument("--max-images", type=int, default=None,
                     help="read at most this many images per person (of the usable ones, the 5 with the best "
                          "detector score become templates; a person keeps at most 5, the newest)")
    src.add_argument("--camera", action="store_true", help="take quality-gated shots from the configured camera")
    src.add_argument("--shots", type=int, default=3,
                     help="camera shots to take, 1 to 5 (default 3); each becomes a template of the person")
    src.add_argument("--timeout", type=float, default=30.0, help="camera time limit in seconds (default 30)")
    con = enroll.add_argument_group("consent (required)")
    con.add_argument("--consent-file", type=Path, help="JSON consent record (batch: object keyed by folder name)")
    con.add_argument("--consent-given-by", help="who agreed (the person, or the guardian); 'self' in a batch")
    con.add_argument("--consent-method", help="how, e.g. 'signed paper form', 'kiosk screen'")
    con.add_argument("--consent-at", help="when (ISO time with offset; default now)")
    con.add_argument("--consent-notice-version", help="privacy notice version shown (default store.notice_version)")
    con.add_argument("--consent-guardian", help="guardian who consented for a minor")
    con.add_argument("--consent-minor", action="store_true", help="the person is a minor (needs --consent-guardian)")
    con.add_argument("--consent-scope", default="local",
                     help="comma list of local, fleet, keep_images (default local)")
    enroll.add_argument("--allow-duplicate", action="store_true",
                        help="enroll even when the face would be matched as someone already enrolled (refused by "
                             "default; also store.allow_duplicate_faces)")
    enroll.set_defaults(handler=_enroll)


def _consent_from_options(args: argparse.Namespace, notice_version: str) -> Optional[dict[str, Any]]:
    if not (args.consent_given_by or args.consent_method):
        return None
    from ..store.clock import to_utc_iso, utc_now

    return {"given_by": args.consent_given_by or "", "method": args.consent_method or "",
            "given_at": args.consent_at or to_utc_iso(utc_now()),
            "notice_version": args.consent_notice_version or notice_version,
            "guardian": args.consent_guardian, "minor": args.consent_minor,
            "scope": [s.strip() for s in args.consent_scope.split(",") if s.strip()]}


def _read_json(path: Path) -> Any:
    from ..store import ConsentError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConsentError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _consent_for(args: argparse.Namespace, notice_version: str, name: str, key: Optional[str],
                 folder: Optional[Path]) -> Optional[dict[str, Any]]:
    """The consent record of one person: folder consent.json > --consent-file > --consent-* options."""
    consent: Any = None
    if folder is not None and (folder / CONSENT_FILE).is_file():
        consent = _read_json(folder / CONSENT_FILE)
    elif args.consent_file is not None:
        data = _read_json(args.consent_file)
        if key is not None and isinstance(data, dict) and "given_by" not in data:
            consent = data.get(key)
        else:
            consent = data
    else:
        consent = _consent_from_options(args, notice_version)
    if isinstance(consent, dict):
        consent = {"notice_version": notice_version, **consent}
        if consent.get("given_by") == "self":
            consent["given_by"] = name
    return consent


def _images_in(folder: Path, limit: Optional[int]) -> list[Path]:
    from ..face.images import IMAGE_SUFFIXES

    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return images[:limit] if limit else images


def _describe(report: Any) -> str:
    person = report.person
    line = (f"enrolled {person.name} ({person.employee_no}): {len(report.result.template_ids)} template(s), "
            f"{report.result.images_kept} image(s) kept")
    skipped = [f"{s.source}: {s.reason}" for s in report.shots if s.reason]
    if skipped:
        line += f"; skipped {'; '.join(skipped)}"
    for dup in report.duplicates:
        line += (f"\n  WARNING: this face looks like {dup.name} ({dup.employee_no}, person {dup.person_id}), "
                 f"distance {dup.distance:.3f}")
    return line


@one_line_errors
def _enroll(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..cli import load
    from ..face.errors import PIPELINE_SETUP_ERRORS
    from ..face.pipeline import FacePipeline
    from ..recognition.enroll import Enroller, NewPerson
    from ..store import ConsentError, Store, StoreError, parse_consent
    from ..store.clock import to_utc_iso, utc_now

    sources = sum([bool(args.images), args.batch is not None, args.camera])
    if sources != 1:
        raise CommandError("give exactly one source: image files, --batch DIR or --camera")
    if args.batch is None and not (args.person or (args.employee_no and args.name)):
        raise CommandError("say who: --person REF, or --employee-no and --name")
    config = load(args)
    notice = config.store.notice_version
    single_consent = None
    if args.batch is None:      # consent is checked before any face is looked at
        name = args.name or ""
        if args.person:
            with Store.open(config) as store:
                name = store.person(args.person).name or ""
        single_consent = _consent_for(args, notice, name, None, None)
        if single_consent is None:
            raise ConsentError("enrollment refused: no consent record; give --consent-given-by and "
                               "--consent-method, or --consent-file")
        parse_consent(single_consent)
    try:
        pipeline = FacePipeline(config.face, config.models_dir)
        threshold = pipeline.threshold_for(config.recognition, 1)   # duplicates: one face against one person
    except PIPELINE_SETUP_ERRORS as exc:
        raise CommandError(str(exc)) from None
    valid_to = args.valid_to
    if args.valid_days is not None:
        from datetime import timedelta

        valid_to = to_utc_iso(utc_now() + timedelta(days=args.valid_days))

    with Store.open(config) as store:
        enroller = Enroller(store, pipeline, threshold=threshold, recognition=config.recognition,
                            allow_duplicates=args.allow_duplicate or config.store.allow_duplicate_faces,
                            masked_templates=config.mask.masked_templates, upper_face=config.mask.upper_face,
                            actor=actor())
        if args.batch is None:
            ref: Any = args.person or NewPerson(args.employee_no, args.name, args.role, valid_to=valid_to)
            if args.camera:
                report = _camera_enroll(enroller, ref, single_consent, config, args)
            else:
                images = args.images[: args.max_images] if args.max_images else args.images
                report = enroller.enroll_files(ref, images, single_consent)
            print(_describe(report))
            return 0
        return _batch(args, enroller, notice, valid_to, (ConsentError, StoreError))


def _camera_enroll(enroller: Any, ref: Any, consent: Optional[dict[str, Any]], config: Any, args: argparse.Namespace) -> Any:
    from drivers.camera.base import CameraError

    from ..actions.errors import CommandError
    from ..hardware import build_camera

    if config.camera.backend != "opencv":
        raise CommandError(f"camera enrollment needs camera.backend = opencv (configured: {config.camera.backend})")
    camera = build_camera(config, None)
    try:
        with camera:
            return enroller.enroll_camera(ref, camera, consent, shots=args.shots, timeout_s=args.timeout,
                                          feedback=lambda reason: print(f"  {reason}", file=sys.stderr))
    except CameraError as exc:
        raise CommandError(f"camera: {exc}") from None


def _batch(args: argparse.Namespace, enroller: Any, notice: str, valid_to: Optional[str],
           errors: tuple[type[Exception], ...]) -> int:
    from tqdm import tqdm

    from ..actions.errors import CommandError
    from ..recognition.enroll import NewPerson

    if not args.batch.is_dir():
        raise CommandError(f"{args.batch}: not a directory")
    folders = sorted(p for p in args.batch.iterdir() if p.is_dir())
    if not folders:
        raise CommandError(f"{args.batch}: no per-person folders inside")
    enrolled, failed = 0, []
    with tqdm(folders, unit="person", disable=None, file=sys.stderr) as bar:
        for folder in bar:
            name = folder.name.replace("_", " ")
            try:
                consent = _consent_for(args, notice, name, folder.name, folder)
                if consent is None:
                    raise errors[0]("enrollment refused: no consent record")
                images = _images_in(folder, args.max_images)
                report = enroller.enroll_files(NewPerson(folder.name, name, args.role, valid_to=valid_to), images,
                                               consent)
            except errors as exc:
                failed.append(folder.name)
                bar.write(f"{folder.name}: NOT enrolled: {exc}")
                continue
            enrolled += 1
            bar.write(_describe(report))
    print(f"{enrolled} enrolled, {len(failed)} not enrolled" + (f": {', '.join(failed)}" if failed else ""))
    return 0 if not failed else 1
