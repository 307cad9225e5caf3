"""`bdpilot staff migrate`: units items for submissions stored before the units table, written once."""

from __future__ import annotations

import argparse
import io
import os

import pytest

from bdpilot.domain import campaign
from bdpilot.ops.staff.migrate import add_migrate_parser, migrate
from bdpilot.store.layout import marshal
from bdpilot.store.reader import Reader
from bdpilot.store.units import UnitIndex


def _old(aws, ref: str, recommender: str, when: str) -> None:
    """A SUB# index item as an earlier version stored it (no units item)."""
    aws.dynamodb.put_item(TableName=aws.table, Item=marshal({
        "pk": f"SUB#{ref}", "reference": ref, "entity": "SUB", "received_at": when, "digest": "d" * 64,
        "status": "received", "direction": "2", "recommender": recommender, "unit_name": f"{ref}公司",
        "uscc": "91350100M000100Y43", "project_name": "项目", "attachments": 2}))


@pytest.fixture
def units(aws) -> UnitIndex:
    return UnitIndex(aws.dynamodb, os.environ["BDPILOT_UNITS_TABLE"])


def _stored(units: UnitIndex, unit: str) -> list[str]:
    return sorted(i["reference"] for i in units.list(unit, None, 200)[0])


def test_migration_writes_what_is_missing_and_runs_twice_the_same(aws, applicant, units):
    fresh = applicant.submit().body["reference"]  # stored with its units item already
    _old(aws, "OLD1", "河北省", "2019-11-16T10:00:00.000+08:00")
    _old(aws, "OLD2", "南光(集团)有限公司", "2019-11-16T11:00:00.000+08:00")  # NFKC spelling of a listed name
    _old(aws, "OLD3", "某某\u200b　行业协会", "2019-11-16T12:00:00.000+08:00")  # free text, never cleaned
    _old(aws, "OLD4", "河北省工业和信息化厅", "2019-11-16T13:00:00.000+08:00")  # poses as a listed unit
    reader = Reader(aws.table, aws.bucket)

    first = migrate(reader, units)
    assert (first.seen, first.written, first.present) == (5, 4, 1)
    assert _stored(units, "河北省") == sorted([fresh, "OLD1"])
    assert _stored(units, "南光（集团）有限公司") == ["OLD2"]
    assert _stored(units, campaign.UNLISTED_RECOMMENDER) == ["OLD3", "OLD4"]
    old1 = units.get("河北省", "OLD1")
    assert old1 == {"unit": "河北省", "reference": "OLD1", "received_at": "2019-11-16T10:00:00.000+08:00",
                    "direction": "2", "applicant": "OLD1公司", "uscc": "91350100M000100Y43", "project": "项目",
                    "status": "received", "digest": "d" * 64, "recommender": "河北省"}

    again = migrate(reader, units)
    assert (again.seen, again.written, again.present) == (5, 0, 5)
    assert again.units == first.units
    assert units.count("河北省") == 2 and units.count(campaign.UNLISTED_RECOMMENDER) == 2


def _run(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="bdpilot staff")
    add_migrate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    return args.run(args, out, err), out.getvalue(), err.getvalue()


def test_the_command_finds_the_units_table_by_stack_or_name(aws, units, monkeypatch):
    _old(aws, "OLD1", "河北省", "2019-11-16T10:00:00.000+08:00")
    table = os.environ["BDPILOT_UNITS_TABLE"]
    monkeypatch.delenv("BDPILOT_UNITS_TABLE")
    code, out, err = _run(["migrate", "--stack", "bdpilot-test"])
    assert (code, err) == (0, "")
    assert "1 份申报" in out and "补写 1 条" in out and "河北省：1 份" in out
    code, out, _ = _run(["migrate", "--units-table", table])
    assert code == 0 and "补写 0 条" in out and "1 条原已存在" in out
    code, _, err = _run(["migrate"])  # BDPILOT_TABLE/BUCKET name the data, nothing names the units table
    assert code == 5 and "BDPILOT_UNITS_TABLE" in err
    code, _, err = _run(["migrate", "--units-table", "no-such-table"])
    assert code == 5 and err
