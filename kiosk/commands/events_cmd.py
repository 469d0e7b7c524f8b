"""`kiosk events list/export/verify/replay`: the signed local event log."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..actions.reports import who
from .dates import DATE_HELP, time_range
from .store_common import actor, one_line_errors, open_store, print_json, write_output


def register(subparsers, common) -> None:
    events = subparsers.add_parser("events", help="list, export or verify signed events")
    actions = events.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (("list", "show stored events, newest last"), ("export", "write events as JSON lines")):
        sub = actions.add_parser(name, parents=[common], help=help_text)
        sub.add_argument("--from", dest="since", help=f"first time included ({DATE_HELP})")
        sub.add_argument("--to", dest="until", help=f"first time excluded ({DATE_HELP}; a date includes that day)")
        sub.add_argument("--type", action="append", dest="types", help="event type (repeatable)")
        sub.add_argument("--person", help="person id or employee number")
        if name == "list":
            sub.add_argument("--limit", type=int, default=50, help="newest N events (default 50, 0 = all)")
            sub.add_argument("--json", action="store_true")
            sub.set_defaults(handler=_list)
        else:
            sub.add_argument("--format", choices=["jsonl", "json"], default="jsonl")
            sub.add_argument("--out", type=Path, help="output file (default stdout)")
            sub.set_defaults(handler=_export)
    replay = actions.add_parser("replay", parents=[common],
                                help="re-publish events from sequence number SEQ on to the [mqtt] broker (HR gaps)")
    replay.add_argument("--since", type=int, required=True, metavar="SEQ", help="first sequence number (included)")
    replay.add_argument("--limit", type=int, default=0, help="at most N events (default 0 = all from SEQ on)")
    replay.add_argument("--print", action="store_true", dest="print_only",
                        help="write them as JSON lines to stdout instead of publishing")
    replay.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker (default 10)")
    replay.set_defaults(handler=_replay)
    verify = actions.add_parser("verify", parents=[common],
                                help="check the signatures of a file of events (exit 1 if any fails)")
    verify.add_argument("file", type=Path, help="JSON lines, or a JSON array, of signed events")
    verify.add_argument("--public-key", type=Path, action="append",
                        help="device public key PEM (repeatable; default <keys_dir>/signing.pub)")
    verify.set_defaults(handler=_verify)


def _select(args: argparse.Namespace, store: Any, limit: int | None) -> list[dict[str, Any]]:
    since, until = time_range(args)
    person_id = store.person(args.person).person_id if args.person else None
    return store.events(since=since, until=until, types=args.types, person_id=person_id, limit=limit)


@one_line_errors
def _list(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        events = _select(args, store, args.limit or None)
    if args.json:
        print_json(events)
        return 0
    for e in events:
        outcome = (e.get("decision") or {}).get("outcome", "")
        reasons = ", ".join((e.get("decision") or {}).get("reasons", []))
        print(f"{e.get('seq', '-'):>7}  {e['device_time']}  {e['type']:<16} {who(e):<32} {outcome:<8} {reasons}")
    print(f"{len(events)} event(s)")
    return 0


@one_line_errors
def _export(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        events = _select(args, store, None)
        store.audit("export", actor=actor(), detail={"what": "events", "events": len(events), "since": args.since,
                                                     "until": args.until})
    if args.format == "json":
        text = json.dumps(events, indent=2, ensure_ascii=False) + "\n"
    else:
        text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    write_output(text, args.out)
    return 0


REPLAY_PAGE = 500


@one_line_errors
def _replay(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..cli import load
    from ..mqtt.replay import ReplayError, publish_events
    from ..store import Store

    config = load(args)
    if args.since < 1 or args.limit < 0:
        raise CommandError("--since must be at least 1 and --limit not negative")
    if not args.print_only and not config.mqtt.enabled:
        raise CommandError("mqtt.enabled is false in the configuration: nothing to publish to (use --print)")
    with Store.open(config) as store:
        events: list[dict[str, Any]] = []
        seq = args.since
        while not args.limit or len(events) < args.limit:
            page = store.events_from(seq, min(REPLAY_PAGE, args.limit - len(events)) if args.limit else REPLAY_PAGE)
            events.extend(page["events"])
            seq = page["next_seq"]
            if not page["events"] or seq > page["last_seq"]:
                break
        store.audit("export", actor=actor(), detail={"what": "events replay", "since_seq": args.since,
                                                     "events": len(events), "publish": not args.print_only})
    if args.print_only:
        write_output("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), None)
        return 0
    try:
        published = publish_events(config, events, args.timeout)
    except ReplayError as exc:
        raise CommandError(f"replay stopped: {exc}") from None
    seqs = [e["seq"] for e in events if "seq" in e]
    span = f", seq {seqs[0]}..{seqs[-1]}" if seqs else ""
    print(f"replayed {published} event(s){span} to {config.mqtt.topic_prefix}/{config.device.id}/events/#")
    return 0


def parse_events_file(path: Path) -> list[Any]:
    """Events from a JSON array or JSON lines; ValueError naming the bad line."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        data = json.loads(text)
        return list(data)
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number}: not JSON ({exc.msg})") from None
    return events


@one_line_errors
def _verify(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..cli import load
    from ..store import load_public_key, verify_event
    from ..store.keys import SIGNING_PUB

    paths = args.public_key or [load(args).keys_dir / SIGNING_PUB]
    keys = [load_public_key(p) for p in paths]
    try:
        events = parse_events_file(args.file)
    except (ValueError, json.JSONDecodeError) as exc:
        raise CommandError(f"{args.file}: {exc}") from None
    bad = 0
    for index, event in enumerate(events, start=1):
        reason = verify_event(event, keys) if isinstance(event, dict) else "not a JSON object"
        if reason:
            bad += 1
            event_id = event.get("event_id", "?") if isinstance(event, dict) else "?"
            print(f"event {index} ({event_id}): INVALID: {reason}")
    print(f"{len(events)} event(s): {len(events) - bad} valid, {bad} invalid")
    return 1 if bad or not events else 0
