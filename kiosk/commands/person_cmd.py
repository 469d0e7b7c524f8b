"""`kiosk person add/list/show/delete/reembed` (edit, suspend, reactivate, extend: person_change_cmd)."""
from __future__ import annotations

import argparse

from ..actions.person_options import EXAMPLE
from ..actions.persons import add_person, erase_person
from . import person_change_cmd
from .store_common import actor, one_line_errors, open_store, print_json


def register(subparsers, common) -> None:
    person = subparsers.add_parser("person", help="manage enrolled persons")
    actions = person.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", parents=[common], help="add a person (no face data; see `kiosk enroll`)")
    add.add_argument("--employee-no", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=["staff", "visitor"], default="staff")
    add.add_argument("--valid-from", help=f"a date (device time zone) or ISO time, {EXAMPLE}")
    add.add_argument("--valid-to", help="end of validity, exclusive (a date: to the end of that day); "
                                        "visitors need it (or --valid-days)")
    add.add_argument("--valid-days", type=float, help="validity from now, in days (visitors)")
    add.add_argument("--schedule", help="access schedule name (default: the role's schedule)")
    add.set_defaults(handler=_add)

    lst = actions.add_parser("list", parents=[common], help="list persons (audited as a view)")
    lst.add_argument("--role", choices=["staff", "visitor"])
    lst.add_argument("--needs-reenrollment", action="store_true", help="only persons to enroll again")
    lst.add_argument("--deleted", action="store_true", help="include erased persons (tombstones)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)

    show = actions.add_parser("show", parents=[common], help="one person, consent and templates (audited)")
    show.add_argument("person", help="person id or employee number")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)

    delete = actions.add_parser("delete", parents=[common],
                                help="erase a person: templates, kept images, consent (and fleet-wide)")
    delete.add_argument("person", help="person id or employee number")
    delete.add_argument("--yes", action="store_true", help="confirm the erasure")
    delete.add_argument("--reason", default="request", help="recorded in the audit ledger")
    delete.set_defaults(handler=_delete)

    reembed = actions.add_parser("reembed", parents=[common],
                                 help="after a model change: re-embed from kept images or mark for re-enrollment")
    reembed.add_argument("--prune-other-models", action="store_true",
                         help="delete templates of other models once a person has the active model's")
    reembed.set_defaults(handler=_reembed)

    person_change_cmd.add_actions(actions, common)


@one_line_errors
def _add(args: argparse.Namespace) -> int:
    from ..cli import load
    from ..store import Store

    config = load(args)
    with Store.open(config) as store:
        person = add_person(store, config, employee_no=args.employee_no, name=args.name, role=args.role,
                            valid_from=args.valid_from, valid_to=args.valid_to, valid_days=args.valid_days,
                            schedule=args.schedule, actor=actor())
    print(f"added {person.name} ({person.employee_no}, {person.role}) as {person.person_id}")
    return 0


@one_line_errors
def _list(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        persons = store.persons(role=args.role, include_deleted=args.deleted,
                                needs_reenrollment=True if args.needs_reenrollment else None)
        store.audit("view", actor=actor(), detail={"what": "person list", "persons": len(persons)})
        counts = {p.person_id: len(store.templates(p.person_id)) for p in persons}
    if args.json:
        print_json([{**p.as_dict(), "templates": counts[p.person_id]} for p in persons])
        return 0
    print(f"{'employee_no':<14} {'name':<28} {'role':<8} {'status':<10} {'tmpl':>4}  {'valid_to':<32} person_id")
    for p in persons:
        status = "ERASED" if p.deleted else ("REENROLL" if p.needs_reenrollment else p.status)
        print(f"{p.employee_no or '-':<14} {(p.name or '-')[:28]:<28} {p.role or '-':<8} {status:<10} "
              f"{counts[p.person_id]:>4}  {p.valid_to or '-':<32} {p.person_id}")
    print(f"{len(persons)} person(s)")
    return 0


@one_line_errors
def _show(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        view = store.view_person(args.person, actor=actor())
    if args.json:
        print_json(view)
        return 0
    person, consent = view["person"], view["consent"]
    for key in ("person_id", "employee_no", "name", "role", "status", "valid_from", "valid_to", "schedule",
                "needs_reenrollment", "created", "updated"):
        print(f"{key:<19} {person[key] if person[key] is not None else '-'}")
    print(f"{'version':<19} {person['version_counter']}@{person['version_device']}")
    if consent:
        guardian = f", guardian {consent['guardian']}" if consent["guardian"] else ""
        print(f"{'consent':<19} by {consent['given_by']} at {consent['given_at']}, notice {consent['notice_version']}, "
              f"{consent['method']}{guardian}; scope {', '.join(consent['scope'])}")
    else:
        print(f"{'consent':<19} none")
    print(f"{'images kept':<19} {view['images_kept']}")
    for t in view["templates"]:
        print(f"{'template':<19} {t['template_id']}  {t['model_id']}  quality {t['quality']}  {t['created']}")
    return 0


@one_line_errors
def _delete(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError

    if not args.yes:
        raise CommandError(f"erasing '{args.person}' cannot be undone; add --yes to confirm")
    with open_store(args) as store:
        print(erase_person(store, store.person(args.person), args.reason, actor=actor()))
    return 0


@one_line_errors
def _reembed(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..actions.errors import CommandError
    from ..cli import load
    from ..face.errors import PIPELINE_SETUP_ERRORS
    from ..face.pipeline import FacePipeline
    from ..recognition.enroll import reembed
    from ..store import Store

    config = load(args)
    try:
        pipeline = FacePipeline(config.face, config.models_dir)
    except PIPELINE_SETUP_ERRORS as exc:
        raise CommandError(str(exc)) from None
    with Store.open(config) as store:
        bar = tqdm(total=len(store.persons()), unit="person", disable=None)
        report = reembed(store, pipeline, prune_other_models=args.prune_other_models,
                         masked_templates=config.mask.masked_templates, upper_face=config.mask.upper_face,
                         actor=actor(),
                         progress=lambda _p: bar.update())
        bar.close()
    print(f"model {pipeline.model_id}: {len(report.reembedded)} re-embedded from kept images, "
          f"{len(report.needs_reenrollment)} need re-enrollment, {len(report.up_to_date)} already up to date")
    if report.without_upper:
        print(f"{len(report.without_upper)} without upper-face templates (no kept image to make them from): masked, "
              "they are matched by the whole face until enrolled again")
    return 0
