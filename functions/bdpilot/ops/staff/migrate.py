"""`bdpilot staff migrate`: the units table's items for submissions stored before the table existed.

Reads every SUB# index item (the main table's by-time GSI, the same Query `bdpilot admin list` makes) and writes
the 推荐单位's item each lacks, by the same function the commit uses, with the unit named as the intake names it
(rules.unit_of: a free-text name is cleaned, and one on no list goes to the unlisted units). Each write is
conditional on the key being free, so a second run writes nothing and reports the same totals.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bdpilot.domain import rules, wording
from bdpilot.store.layout import unit_item
from bdpilot.store.reader import Reader
from bdpilot.store.units import UnitIndex, stack_units_table


@dataclass
class Migration:
    seen: int = 0
    written: int = 0
    present: int = 0
    units: Counter[str] = field(default_factory=Counter)  # submissions per unit, written or present


def migrate(reader: Reader, units: UnitIndex) -> Migration:
    """Write the missing unit items; idempotent (a unit item already stored is left as it is)."""
    result = Migration()
    for index in reader.query("time"):
        unit = rules.unit_of(str(index.get("recommender") or ""))
        result.seen += 1
        result.units[unit] += 1
        if units.add(unit_item(index, unit)):
            result.written += 1
        else:
            result.present += 1
    return result


def report(result: Migration, out: TextIO) -> None:
    print(wording.text("migration.done", seen=result.seen, written=result.written, present=result.present), file=out)
    for unit, count in sorted(result.units.items(), key=lambda u: (-u[1], u[0])):
        print(wording.text("migration.unit_line", unit=unit, count=count), file=out)


def add_migrate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`migrate` under `bdpilot staff`, with the admin commands' target options; runs through args.run(args)."""
    from bdpilot.ops.admin.command import _target_options

    parser = subparsers.add_parser("migrate", help=wording.text("migration.help"),
                                   description=wording.text("migration.help"))
    _target_options(parser, nested=False)
    parser.add_argument("--units-table", metavar=wording.text("migration.table_name"),
                        help=wording.text("migration.units_table"))
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The command: find the deployment as `bdpilot admin` does, then migrate; an exit code of ops.admin.exits."""
    from bdpilot.ops.admin.exits import NO_TARGET, USAGE, AdminError
    from bdpilot.ops.admin.target import target_from

    out, err = out or sys.stdout, err or sys.stderr
    try:
        if (args.local or args.local_dir) and args.stack:
            raise AdminError(USAGE, wording.text("admin.cli.local_and_stack"))
        target = target_from(args)
        store = target.store
        with target.aws(wording.text("migration.reading")):
            table = args.units_table or _units_table(args, store)
        if not table:
            raise AdminError(NO_TARGET, wording.text("migration.no_units_table"))
        with target.aws(wording.text("migration.writing")):
            result = migrate(store, UnitIndex(store.dynamodb, table))
    except AdminError as exc:
        print(wording.text("admin.error", message=exc.message), file=err)
        return exc.code
    report(result, out)
    return 0


def _units_table(args: argparse.Namespace, store: Reader) -> str | None:
    if os.environ.get("BDPILOT_UNITS_TABLE"):
        return os.environ["BDPILOT_UNITS_TABLE"]
    if args.local or args.local_dir:
        folder = Path(args.local_dir or os.environ.get("BDPILOT_LOCAL_DIR") or ".local")
        try:
            return str(json.loads((folder / "endpoint.json").read_text())["units_table"])
        except (OSError, ValueError, KeyError):
            return None
    if args.stack:
        return stack_units_table(store._session, args.stack, store._endpoint)
    return None
