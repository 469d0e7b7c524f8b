"""`kiosk audit verify` and `kiosk audit export`: the signed, hash-chained ledger of every use of face data."""
from __future__ import annotations

import argparse
from pathlib import Path

from .dates import DATE_HELP, time_range
from .store_common import actor, one_line_errors, open_store, write_output


def register(subparsers, common) -> None:
    audit = subparsers.add_parser("audit", help="verify or export the audit ledger")
    actions = audit.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", parents=[common],
                                help="check the hash chain, the signatures and the signed head; names the first "
                                     "bad record (exit 1 when broken)")
    verify.add_argument("--file", type=Path, help="verify an export (CSV or JSON) instead of the database")
    verify.add_argument("--public-key", type=Path,
                        help="the device's public key PEM (default <keys_dir>/signing.pub)")
    verify.add_argument("--expect-head", metavar="HASH",
                        help="also require this head hash (kept off-device earlier) to be in the chain")
    verify.set_defaults(handler=_verify)
    export = actions.add_parser("export", parents=[common], help="write the records of a time range as CSV or JSON")
    export.add_argument("--from", dest="since", help=f"first time included ({DATE_HELP})")
    export.add_argument("--to", dest="until", help=f"first time excluded ({DATE_HELP}; a date includes that day)")
    export.add_argument("--format", choices=["csv", "json"], default="json")
    export.add_argument("--out", type=Path, help="output file (default stdout)")
    export.set_defaults(handler=_export)


@one_line_errors
def _verify(args: argparse.Namespace) -> int:
    from ..actions.errors import CommandError
    from ..cli import load
    from ..store import audit as ledger
    from ..store import load_public_key
    from ..store.audit_verify import verify_records
    from ..store.keys import SIGNING_PUB

    public = load_public_key(args.public_key or load(args).keys_dir / SIGNING_PUB)
    if args.file is not None:
        try:
            records = ledger.parse_export(args.file.read_text(encoding="utf-8"))
            if not records:
                raise ValueError("no records")
            first = records[0]
            start = (int(first["seq"]) - 1, str(first["prev_hash"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{args.file}: {exc}") from None
        verdict = verify_records(records, *start, public)
        head_found = not args.expect_head or any(r.get("hash") == args.expect_head for r in records)
    else:
        with open_store(args) as store:
            verdict = store.verify_audit(public)
            head_found = store.audit_has_hash(args.expect_head) if args.expect_head else True
    print(verdict.line())
    if not verdict.ok:
        return 1
    if args.expect_head and not head_found:
        print(f"audit ledger BROKEN: the expected head {args.expect_head} is not in the chain (records were cut off)")
        return 1
    return 0


@one_line_errors
def _export(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        since, until = time_range(args)
        text = store.export_audit(since=since, until=until, fmt=args.format, actor=actor())
    write_output(text, args.out)
    return 0
