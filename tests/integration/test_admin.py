"""`bdpilot admin` under moto: submissions go in through the real handler, then come out through the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import openpyxl
import pytest
import requests

from bdpilot import store
from bdpilot.console.records import cells as admin_cells
from bdpilot.console.records import writers
from bdpilot.domain import campaign, review
from bdpilot.domain.review import Decision
from bdpilot.ops.admin import command, exits
from bdpilot.store import reader
from bdpilot.store.review import Reviews
from tests.conftest import Applicant
from tests.factories import PDF, attachments, uscc
from tests.live import submit_over_http

HOSTILE = {
    "project_name": "=cmd|' /C calc'!A0",
    "name": "+SUM(1,2)有限公司",
    "legal_representative": "-2+3",
    "main_business": "@SUM(A1:A9) 主营业务",
    "summary": "=HYPERLINK(\"http://example.com\",\"点击\")",
}
OTHER_UNIT = "中国示例电子信息集团有限公司"
OTHER_COVER = {"recommender": campaign.OTHER_RECOMMENDER, "recommender_group": campaign.UNLISTED_RECOMMENDER,
               "recommender_other": OTHER_UNIT}


@dataclass
class Seeded:
    refs: list[str]
    receipts: dict[str, dict[str, Any]]  # reference → the 201 body (digest, record)

    def where(self, **match: Any) -> list[str]:
        """References whose stored cover matches, in received order."""
        return [r for r in self.refs
                if all(self.receipts[r]["record"]["application"]["cover"][k] == v for k, v in match.items())]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = command.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def seeded(aws, now) -> Seeded:
    """Nine submissions over three days, four directions, three listed 推荐单位 and one unit named in free text
    (其他有关单位, over its quota of 3), one of them full of formula-looking text."""
    plan: list[dict[str, Any]] = [
        {"cover": {"direction": 3, "recommender": "河北省"}},
        {"cover": {"direction": 1, "recommender": "河北省"}},
        {"cover": {"direction": 1, "recommender": "北京市"}, "_day": 2},
        {"cover": {"direction": 4, "recommender": "深圳市"}},
        {"cover": {"direction": 6, **OTHER_COVER}},
        {"cover": {"direction": 6, **OTHER_COVER},
         "_day": 2},
        {"cover": {"direction": 7, **OTHER_COVER}},
        {"cover": {"direction": 6, **OTHER_COVER}},
        {"cover": {"direction": 3, "recommender": "河北省", "project_name": HOSTILE["project_name"]},
         "applicant": {k: HOSTILE[k] for k in ("name", "legal_representative", "main_business")},
         "project": {"summary": HOSTILE["summary"]}, "_extra_file": True},
    ]
    refs, receipts = [], {}
    for i, step in enumerate(plan):
        if step.pop("_day", None):
            now.advance(days=2)
        applicant = Applicant(aws, now)  # a form token admits one submission: one person (page) each
        files = attachments(applicant.upload(), applicant.upload())
        if step.pop("_extra_file", False):
            files.append({"kind": "other", "upload_id": applicant.upload(PDF + b"% extra\n"), "filename": "补充.pdf"})
        sections = {k: v for k, v in step.items()}
        sections["applicant"] = {"uscc": uscc(500 + i), **sections.get("applicant", {})}
        reply = applicant.submit(applicant.body(attachments=files, **sections))
        assert reply.status == 201, reply.body
        refs.append(reply.body["reference"])
        receipts[reply.body["reference"]] = reply.body
    return Seeded(refs, receipts)


@pytest.fixture
def api_calls(monkeypatch) -> list[str]:
    """Every AWS operation made, by name (to prove listing never scans)."""
    from botocore.client import BaseClient

    made: list[str] = []
    original = BaseClient._make_api_call

    def spy(self, operation, params):  # type: ignore[no-untyped-def]
        made.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    return made


def listed(*argv: str) -> list[dict[str, Any]]:
    code, out, err = run("list", "--format", "json", *argv)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


# ---------------------------------------------------------------------------------------------- list


def test_list_filters_and_order(seeded, api_calls):
    everything = listed()
    assert [i["reference"] for i in everything] == seeded.refs  # received order
    assert [i["reference"] for i in listed("--desc")] == seeded.refs[::-1]
    assert [i["reference"] for i in listed("--direction", "1")] == seeded.where(direction=1)
    assert [i["reference"] for i in listed("-d", "方向6")] == seeded.where(direction=6)
    assert [i["reference"] for i in listed("--recommender", "河北省")] == seeded.where(recommender="河北省")
    assert [i["reference"] for i in listed("-r", OTHER_UNIT)] == seeded.where(recommender_other=OTHER_UNIT)
    assert [i["reference"] for i in listed("-r", "河北省", "-d", "3")] == seeded.where(recommender="河北省",
                                                                                       direction=3)
    assert listed("-r", "河北省", "-d", "4") == []
    # Days: two on 11-15 (from 10:00), three two days later, four two days after that.
    days = [seeded.receipts[r]["received_at"][:10] for r in seeded.refs]
    assert days == ["2019-11-15"] * 2 + ["2019-11-17"] * 3 + ["2019-11-19"] * 4
    on_17 = [r for r, d in zip(seeded.refs, days, strict=True) if d == "2019-11-17"]
    assert [i["reference"] for i in listed("--since", "2019-11-17", "--until", "2019-11-17")] == on_17
    assert [i["reference"] for i in listed("--since", "2019-11-18")] == seeded.refs[5:]
    assert [i["reference"] for i in listed("--until", "2019-11-15")] == seeded.refs[:2]
    first = seeded.receipts[seeded.refs[1]]["received_at"]
    assert [i["reference"] for i in listed("--until", first[:16])] == seeded.refs[:2]
    assert [i["reference"] for i in listed("-d", "6", "--since", "2019-11-18")] == [seeded.refs[5], seeded.refs[7]]
    assert len(listed("--status", "received")) == len(seeded.refs)
    assert listed("--status", "rejected") == []  # the review's statuses only (a typo is a usage error)
    assert "Scan" not in api_calls and api_calls.count("Query") >= 10


def test_list_table_csv_and_limit(seeded):
    code, out, _ = run("list")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["申报编号", "提交时间", "方向"]
    assert all(ref in out for ref in seeded.refs)
    assert f"共{len(seeded.refs)}份（全部）" in out
    code, out, _ = run("list", "--limit", "3", "--desc")
    assert sum(ref in out for ref in seeded.refs) == 3 and "已按 --limit 截断" in out
    code, out, _ = run("list", "--format", "csv", "-r", "河北省")
    rows = list(csv.DictReader(io.StringIO(out)))
    hostile = next(r for r in rows if r["申报编号"] == seeded.refs[-1])
    assert hostile["项目名称"] == "'" + HOSTILE["project_name"] and hostile["申报单位"] == "'" + HOSTILE["name"]


def test_list_pages_through_the_index(seeded, monkeypatch):
    # Pages of two: nine items need five queries; every item comes back once, in order.
    real = reader.Reader.query

    def small_pages(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return real(self, *args, **{**kwargs, "page_size": 2})

    monkeypatch.setattr(reader.Reader, "query", small_pages)
    assert [i["reference"] for i in listed()] == seeded.refs


# ---------------------------------------------------------------------------------------------- stats


def test_stats_against_quotas(seeded, aws):
    code, out, _ = run("stats", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["total"] == 9
    assert {d["direction"]: d["count"] for d in report["directions"]} == {1: 2, 2: 0, 3: 2, 4: 1, 5: 0, 6: 3, 7: 1}
    by_name = {r["recommender"]: r for r in report["recommenders"]}
    assert by_name["河北省"] | {} == {"recommender": "河北省", "kind": "province", "count": 3, "quota": 10,
                                    "over": False, "proposed": 0, "submitted": False}
    assert (by_name["深圳市"]["quota"], by_name["深圳市"]["count"]) == (5, 1)
    assert by_name[OTHER_UNIT] == {"recommender": OTHER_UNIT, "kind": "other", "count": 4, "quota": 3, "over": True}
    assert set(by_name) == {"河北省", "北京市", "深圳市", OTHER_UNIT}

    code, out, _ = run("stats")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith(OTHER_UNIT))
    assert line.split() == [OTHER_UNIT, "4", "3", "超出限额"]
    assert "1个推荐单位超出限额" in out
    hebei = next(x for x in out.splitlines() if x.startswith("河北省"))
    assert hebei.split() == ["河北省", "3", "0", "10"]  # received, 拟推荐, quota
    assert "0个推荐单位已提交推荐，3个尚未提交" in out

    # 拟推荐 and 提交推荐 beside the received count, from the units table's #UNIT items.
    reviews = Reviews(aws.dynamodb, os.environ["BDPILOT_UNITS_TABLE"])
    hebei_refs = seeded.where(recommender="河北省")
    for rank, ref in enumerate(hebei_refs[:2], 1):
        reviews.decide("河北省", ref, 0, Decision("proposed", opinion="推荐", rank=rank), "li@example.cn",
                       datetime(2019, 11, 25, tzinfo=campaign.TZ), 10)
    items = reviews.proposed("河北省")
    summary = review.summary("河北省", items, {})
    reviews.submit("河北省", review.summary_json(summary), review.summary_digest(summary), items, "li@example.cn",
                   datetime(2019, 11, 26, tzinfo=campaign.TZ))
    code, out, _ = run("stats")
    hebei = next(x for x in out.splitlines() if x.startswith("河北省"))
    assert hebei.split() == ["河北省", "3", "2", "10", "已提交"]
    assert "1个推荐单位已提交推荐，2个尚未提交" in out
    code, out, _ = run("stats", "--format", "json")
    by_name = {r["recommender"]: r for r in json.loads(out)["recommenders"]}
    assert (by_name["河北省"]["proposed"], by_name["河北省"]["submitted"]) == (2, True)
    assert "proposed" not in by_name[OTHER_UNIT]  # a name typed by applicants is no unit's list

    code, out, _ = run("stats", "--all", "--format", "json")
    names = {r["recommender"] for r in json.loads(out)["recommenders"]}
    assert {r.name for r in campaign.RECOMMENDERS} <= names
    code, out, _ = run("stats", "--since", "2019-11-18", "--format", "json")
    assert json.loads(out)["total"] == 4


def test_list_show_and_export_say_the_review_status_and_filter_on_it(seeded, aws, tmp_path, capsys):
    """The index keeps the status a submission was stored with; the review writes the units table. Every view
    says the review's status, and --status selects on it."""
    reviews = Reviews(aws.dynamodb, os.environ["BDPILOT_UNITS_TABLE"])
    proposed, returned = seeded.where(recommender="河北省")[:2]
    reviews.decide("河北省", proposed, 0, Decision("proposed", opinion="推荐", rank=1), "li@example.cn",
                   datetime(2019, 11, 25, tzinfo=campaign.TZ), 10)
    reviews.decide("河北省", returned, 0, Decision("returned", reason="补充材料"), "li@example.cn",
                   datetime(2019, 11, 25, tzinfo=campaign.TZ), 10)

    code, out, _ = run("list", "--format", "csv")
    assert code == 0
    shown = {row["申报编号"]: row["状态"] for row in csv.DictReader(io.StringIO(out))}
    assert shown == {ref: {proposed: "拟推荐", returned: "退回修改"}.get(ref, "待审核") for ref in seeded.refs}

    for status, expected in (("proposed", [proposed]), ("returned", [returned]),
                             ("received", [r for r in seeded.refs if r not in (proposed, returned)]),
                             ("rejected", [])):
        code, out, _ = run("list", "--status", status, "--format", "csv")
        assert code == 0
        assert [row["申报编号"] for row in csv.DictReader(io.StringIO(out))] == expected, status
    capsys.readouterr()
    code, _, _ = run("list", "--status", "已受理")  # argparse's refusal, in Chinese, names the statuses
    assert code == exits.USAGE and "proposed" in capsys.readouterr().err

    code, out, _ = run("show", proposed)
    assert code == 0 and "状态：拟推荐" in out

    dest = tmp_path / "export"
    code, _, err = run("export", "-o", str(dest), "--status", "proposed", "--no-attachments")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO((dest / "submissions.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["申报编号"], r["状态"]) for r in rows] == [(proposed, "拟推荐")]


# ---------------------------------------------------------------------------------------------- show / verify


def test_show_every_field_attachments_and_digest(seeded, aws):
    ref = seeded.refs[0]
    receipt = seeded.receipts[ref]
    code, out, err = run("show", ref)
    assert code == 0, err
    assert f"申报编号：{ref}" in out and f"数字摘要（SHA-256）：{receipt['digest']}" in out
    record = receipt["record"]
    for col in admin_cells.form_columns():
        if col.kind == "files":
            continue
        value = col.value(record)
        shown = "已承诺" if value is True else str(value)  # the only true/false field is the pledge
        assert f"{col.header.split('/')[-1]}：{shown}" in out, col.header
    assert "申报方向：3（方向3 工业大数据融合应用—重点行业方向）" in out
    assert "营业执照（或法人证书）：营业执照.pdf → license-1.pdf" in out and "ip-1.pdf" in out
    assert out.count("已存储") == 2
    # Lower case and spaces are what people type from a paper copy.
    code, again, _ = run("show", " " + ref.lower() + " ")
    assert code == 0 and again == out
    code, raw, _ = run("show", ref, "--json")
    assert raw.encode().rstrip(b"\n") == aws.s3.get_object(Bucket=aws.bucket, Key=store.record_key(ref))["Body"].read()


def test_show_reports_a_missing_attachment(seeded, aws):
    ref = seeded.refs[0]
    aws.s3.delete_object(Bucket=aws.bucket, Key=store.attachment_key(ref, "ip-1.pdf"))
    code, out, _ = run("show", ref)
    assert code == exits.INCOMPLETE and "ip-1.pdf，" in out and "缺失" in out


def test_verify_matches_then_fails_after_the_record_is_altered(seeded, aws):
    ref = seeded.refs[2]
    digest = seeded.receipts[ref]["digest"]
    code, out, _ = run("verify", ref)
    assert code == 0 and "核验结果：一致" in out and digest in out
    code, out, _ = run("verify", ref, "--digest", digest.upper())
    assert code == 0 and "与纸质版摘要相符" in out
    code, out, _ = run("verify", ref, "--digest", "0" * 64)
    assert code == exits.MISMATCH and "纸质版上的摘要与网上存储的申报书不一致" in out

    key = store.record_key(ref)
    record = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
    record["application"]["applicant"]["revenue"] = "999999.00"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(record, ensure_ascii=False).encode())
    code, out, _ = run("verify", ref)
    assert code == exits.MISMATCH and "核验结果：不一致" in out
    assert "存储的申报书与提交时登记的摘要不一致" in out
    # The others are untouched.
    assert run("verify", seeded.refs[3])[0] == 0


def test_verify_notices_a_missing_attachment(seeded, aws):
    ref = seeded.refs[1]
    aws.s3.delete_object(Bucket=aws.bucket, Key=store.attachment_key(ref, "license-1.pdf"))
    code, out, _ = run("verify", ref)
    assert code == exits.INCOMPLETE and "存储中缺少附件 license-1.pdf" in out and "核验结果：不完整" in out


def test_unknown_and_malformed_references(seeded):
    code, _, err = run("show", "BD2020-2345-6789-ABCD-EFGH")  # well formed but fails its check character
    assert code == exits.NOT_FOUND and "不是有效的申报编号" in err
    ref = seeded.refs[0]
    other = _valid_unused(seeded.refs)
    for name in ("show", "verify", "download"):
        code, _, err = run(name, other)
        assert code == exits.NOT_FOUND, name
        assert f"没有申报编号为 {other} 的申报书" in err
    code, _, err = run("show", "../../etc/passwd")
    assert code == exits.NOT_FOUND
    assert run("show", ref)[0] == 0
    # As a person types it: lower case, no dashes, without the prefix.
    assert run("show", ref.lower().replace("-", ""))[0] == 0
    assert run("show", ref.replace("-", "").removeprefix("BD2020"))[0] == 0


def _valid_unused(taken: list[str]) -> str:
    from bdpilot.domain.reference import reference_for

    for n in range(100):
        candidate = reference_for(b"unused", str(n))
        if candidate not in taken:
            return candidate
    raise AssertionError


# ---------------------------------------------------------------------------------------------- export


# Stated here apart from bdpilot.ops.export, so a test can catch the export getting the rule wrong.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫", "−")


def _visible(value: str) -> str:
    """Invisible format characters (bidi controls, zero-width characters, BOM) named, as a person must see them."""
    return "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in ("Cf", "Zl", "Zp") else c for c in value)


def _expected_csv(value: str) -> str:
    shown = _visible(value)
    return "'" + shown if shown.startswith(FORMULA_STARTS) else shown


def _check_cell(col: admin_cells.Column, cell: Any, value: Any) -> None:
    """An XLSX cell against the stored value: numbers as numbers, dates as dates, text safe."""
    if col.kind == "money":
        assert cell.data_type == "n" and Decimal(str(cell.value)) == Decimal(value), col.header
    elif col.kind == "int":
        assert cell.data_type == "n" and cell.value == value, col.header
    elif col.kind == "date":
        assert isinstance(cell.value, datetime) and cell.value.date().isoformat() == value, col.header
    elif col.kind == "bool":
        assert cell.value == ("已承诺" if value else "未承诺")
    elif col.kind == "files":
        for f in value:
            assert f["filename"] in cell.value and f["name"] in cell.value
    else:
        if not value:
            assert cell.value is None and cell.data_type != "f", col.header
            return
        assert cell.data_type == "s", col.header  # never a formula
        assert cell.value == _visible(value), col.header  # the submitted text, no ' added


def _check_csv_value(col: admin_cells.Column, text: str, value: Any) -> None:
    if col.kind in ("money", "int", "date"):
        assert text == str(value), col.header
    elif col.kind == "bool":
        assert text == ("已承诺" if value else "未承诺")
    elif col.kind == "files":
        assert all(f["filename"] in text for f in value)
    else:
        assert text == _expected_csv(value or ""), col.header


def _check_export(root: Path | zipfile.Path, seeded: Seeded, aws: Any) -> None:
    cols = admin_cells.columns()
    headers = [c.header for c in cols]
    stored = {ref: aws.s3.get_object(Bucket=aws.bucket, Key=store.record_key(ref))["Body"].read()
              for ref in seeded.refs}

    # Each record's JSON: the stored bytes, so the digest can be recomputed from the export.
    for ref in seeded.refs:
        data = (root / ref / "record.json").read_bytes()
        assert data == stored[ref]
        assert hashlib.sha256(data).hexdigest() == seeded.receipts[ref]["digest"]
        for f in json.loads(data)["files"]:
            expected = aws.s3.get_object(Bucket=aws.bucket, Key=store.attachment_key(ref, f["name"]))["Body"].read()
            assert (root / ref / f["name"]).read_bytes() == expected

    # CSV: UTF-8 with BOM, one row per submission, every field equal to the stored record.
    raw = (root / "submissions.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == headers and len(rows) == len(seeded.refs) + 1
    by_ref = {r[0]: dict(zip(headers, r, strict=True)) for r in rows[1:]}
    assert list(by_ref) == seeded.refs
    for ref in seeded.refs:
        record, row = json.loads(stored[ref]), by_ref[ref]
        assert row["提交时间"] == record["received_at"] and row["数字摘要（SHA-256）"] == seeded.receipts[ref]["digest"]
        assert row["状态"] == "待审核" and row["摘要核验"] == "一致"
        for col in admin_cells.form_columns():
            _check_csv_value(col, row[col.header], col.value(record))

    # XLSX: a summary sheet, then one sheet per direction; every field of every submission in its sheet.
    with (root / "submissions.xlsx").open("rb") as handle:
        book = openpyxl.load_workbook(io.BytesIO(handle.read()))
    assert book.sheetnames == ["汇总", *(writers.sheet_title(d.number) for d in campaign.DIRECTIONS)]
    seen = []
    for direction in campaign.DIRECTIONS:
        sheet = book[writers.sheet_title(direction.number)]
        rows_ = list(sheet.iter_rows())
        assert [c.value for c in rows_[0]] == headers
        for row_cells in rows_[1:]:
            cells = dict(zip(headers, row_cells, strict=True))
            ref = cells["申报编号"].value
            record = json.loads(stored[ref])
            assert record["application"]["cover"]["direction"] == direction.number
            assert cells["方向名称"].value == direction.label
            for col in admin_cells.form_columns():
                _check_cell(col, cells[col.header], col.value(record))
            seen.append(ref)
    assert sorted(seen) == sorted(seeded.refs)
    summary = [[c for c in row if c is not None] for row in book["汇总"].iter_rows(values_only=True)]
    assert [OTHER_UNIT, 4, 3, "超出限额"] in summary and ["河北省", 3, 10] in summary
    assert ["合计", 9] in summary
    assert [campaign.DIRECTIONS_BY_NUMBER[6].label, 3] in summary


def test_export_to_a_folder(seeded, aws, tmp_path):
    dest = tmp_path / "导出"
    code, out, err = run("export", "-o", str(dest))
    assert code == 0, err
    assert f"已导出{len(seeded.refs)}份申报书、{2 * len(seeded.refs) + 1}个附件" in out
    _check_export(dest, seeded, aws)
    assert not list(dest.rglob("*.part"))
    # The hostile record: text that looks like a formula is text, the loss is a number.
    book = openpyxl.load_workbook(dest / "submissions.xlsx")
    rows = list(book[writers.sheet_title(3)].iter_rows())
    headers = [c.value for c in rows[0]]
    hostile = next(dict(zip(headers, r, strict=True)) for r in rows[1:] if r[0].value == seeded.refs[-1])
    assert hostile["项目名称"].value == "=cmd|' /C calc'!A0" and hostile["项目名称"].data_type == "s"
    assert hostile["单位名称"].value == "+SUM(1,2)有限公司"
    assert hostile["法定代表人"].value == "-2+3"
    assert hostile["主营业务"].value == "@SUM(A1:A9) 主营业务"
    assert hostile["上年度利润（万元）"].value == pytest.approx(-1200.25)
    assert hostile["上年度利润（万元）"].data_type == "n"
    assert not any(c.data_type == "f" for r in rows for c in r)
    # Refuses to write over a previous export.
    code, _, err = run("export", "-o", str(dest))
    assert code == exits.LOCAL_FILE and "已存在" in err


def test_export_to_a_zip_with_filters_and_upload(seeded, aws, tmp_path):
    dest = tmp_path / "all.zip"
    code, _, err = run("export", "-o", str(dest), "--upload")
    assert code == 0, err
    with zipfile.ZipFile(dest) as archive:
        assert archive.testzip() is None
        _check_export(zipfile.Path(archive), seeded, aws)
    [key] = aws.keys("exports/")
    assert re.fullmatch(r"exports/\d{8}-\d{6}-[0-9a-f]{16}/all\.zip", key)

    part = tmp_path / "hebei.zip"
    code, _, err = run("export", "-o", str(part), "-r", "河北省", "--no-attachments")
    assert code == 0, err
    with zipfile.ZipFile(part) as archive:
        names = archive.namelist()
        assert not [n for n in names if n.endswith(".pdf")]
        assert sorted(n.split("/")[0] for n in names if n.endswith("record.json")) == sorted(
            seeded.where(recommender="河北省"))
        rows = list(csv.reader(io.StringIO(archive.read("submissions.csv").decode("utf-8-sig"))))
        assert [r[0] for r in rows[1:]] == seeded.where(recommender="河北省")


def test_export_one_direction_has_one_sheet(seeded, tmp_path):
    code, _, _ = run("export", "-o", str(tmp_path / "d6"), "-d", "6", "--no-attachments")
    assert code == 0
    book = openpyxl.load_workbook(tmp_path / "d6" / "submissions.xlsx")
    assert book.sheetnames == ["汇总", writers.sheet_title(6)]
    assert book[writers.sheet_title(6)].max_row == 4


def test_export_reports_missing_files_and_altered_records(seeded, aws, tmp_path):
    first, second = seeded.refs[0], seeded.refs[1]
    aws.s3.delete_object(Bucket=aws.bucket, Key=store.attachment_key(first, "ip-1.pdf"))
    key = store.record_key(second)
    aws.s3.put_object(Bucket=aws.bucket, Key=key,
                      Body=aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read() + b" ")
    code, _, err = run("export", "-o", str(tmp_path / "x.zip"))
    assert code == exits.MISMATCH  # an altered record outranks a missing file
    assert f"{first}：存储中缺少附件 ip-1.pdf" in err
    assert f"{second}：存储的申报书与提交时登记的摘要不一致" in err
    with zipfile.ZipFile(tmp_path / "x.zip") as archive:
        assert f"{first}/ip-1.pdf" not in archive.namelist()
        rows = {r[0]: r for r in csv.reader(io.StringIO(archive.read("submissions.csv").decode("utf-8-sig")))}
        assert rows[second][5] == "不一致"


def test_export_progress_bar_on_stderr(seeded, tmp_path):
    code, _, err = run("export", "-o", str(tmp_path / "p"), "--progress", "--no-attachments")
    assert code == 0
    assert f"{len(seeded.refs)}/{len(seeded.refs)} 100%" in err and "█" in err
    code, _, err = run("export", "-o", str(tmp_path / "q"), "--no-attachments")
    assert "█" not in err  # not a terminal: no bar unless asked


# ---------------------------------------------------------------------------------------------- download


def test_download_one_submission(seeded, aws, tmp_path):
    ref = seeded.refs[-1]
    code, out, err = run("download", ref.lower(), "-o", str(tmp_path))
    assert code == 0, err
    folder = tmp_path / ref
    assert sorted(p.name for p in folder.iterdir()) == ["ip-1.pdf", "license-1.pdf", "other-1.pdf", "record.json"]
    assert hashlib.sha256((folder / "record.json").read_bytes()).hexdigest() == seeded.receipts[ref]["digest"]
    assert (folder / "other-1.pdf").read_bytes() == PDF + b"% extra\n"
    assert str(folder) in out


def test_download_never_takes_names_from_the_stored_record(seeded, aws, tmp_path):
    ref = seeded.refs[0]
    key = store.record_key(ref)
    record = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
    record["files"][0]["name"] = "../../escaped.pdf"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(record).encode())
    code, _, err = run("download", ref, "-o", str(tmp_path / "out"))
    assert code == exits.MISMATCH and "不符合规范" in err  # an edited record: saved apart, never as genuine
    assert not (tmp_path / "escaped.pdf").exists() and not list(tmp_path.rglob("escaped.pdf"))
    assert not (tmp_path / "out" / ref).exists()
    assert sorted(p.name for p in (tmp_path / "out" / f"{ref}-未通过核验").iterdir()) == [
        "ip-1.pdf", "record.json", "核验问题.txt"]


# ---------------------------------------------------------------------------------------------- targets and errors


def test_wrong_table_or_bucket(seeded, monkeypatch, tmp_path):
    table = os.environ["BDPILOT_TABLE"]
    monkeypatch.setenv("BDPILOT_TABLE", "no-such-table")
    code, _, err = run("list")
    assert code == exits.NO_TARGET and "数据表“no-such-table”不存在" in err
    monkeypatch.setenv("BDPILOT_TABLE", table)
    monkeypatch.setenv("BDPILOT_BUCKET", "no-such-bucket")
    code, _, err = run("show", seeded.refs[0])
    assert code == exits.NO_TARGET and "存储桶“no-such-bucket”不存在" in err
    code, _, err = run("export", "-o", str(tmp_path / "unused.zip"))
    assert code == exits.NO_TARGET
    assert not (tmp_path / "unused.zip").exists()


def test_target_from_the_stack_outputs(seeded, monkeypatch):
    monkeypatch.delenv("BDPILOT_TABLE")
    monkeypatch.delenv("BDPILOT_BUCKET")
    code, _, err = run("list")
    assert code == exits.NO_TARGET and "--stack" in err
    assert [i["reference"] for i in listed("--stack", "bdpilot-test")] == seeded.refs
    code, _, err = run("--stack", "no-such-stack", "list")
    assert code == exits.NO_TARGET and "堆栈" in err


def test_no_credentials(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "cn-north-1")
    monkeypatch.setenv("BDPILOT_TABLE", "t")
    monkeypatch.setenv("BDPILOT_BUCKET", "b")
    code, _, err = run("list")
    assert code == exits.NO_ACCESS and "找不到可用的AWS凭证" in err
    code, _, err = run("--profile", "nobody", "list")
    assert code == exits.NO_ACCESS and "nobody" in err


def test_local_without_a_running_local_run(tmp_path, monkeypatch):
    monkeypatch.setenv("BDPILOT_LOCAL_DIR", str(tmp_path))
    code, _, err = run("--local", "list")
    assert code == exits.NO_TARGET and "bdpilot serve" in err
    (tmp_path / "endpoint.json").write_text(json.dumps({"aws_endpoint": "http://127.0.0.1:9", "table": "t",
                                                       "bucket": "b", "audit_table": "a"}))
    code, _, err = run("list", "--local")
    assert code == exits.NO_TARGET and "无法连接本地运行" in err


# ---------------------------------------------------------------------------------------------- the local run


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BDPILOT_", "MOTO_"))}
    return subprocess.run([sys.executable, "-m", "bdpilot.ops.cli", "admin", *argv], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


@pytest.mark.slow
def test_admin_against_the_local_run(live, tmp_path):
    receipt = submit_over_http(live.url, requests.Session(), 71_001, cover={"direction": 2})
    ref = receipt["reference"]
    local = ["--local-dir", str(live.data_dir)]

    got = _cli("list", *local, "-d", "2", "--format", "json", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert ref in [json.loads(line)["reference"] for line in got.stdout.splitlines()]

    got = _cli("verify", ref, "--digest", receipt["digest"], *local, cwd=tmp_path)
    assert got.returncode == 0 and "核验结果：一致" in got.stdout, got.stdout + got.stderr

    got = _cli("export", *local, "-d", "2", "-o", "out.zip", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert archive.read(f"{ref}/record.json") == live.store().get_record(ref)
        assert archive.read(f"{ref}/license-1.pdf") == PDF

    env_dir = {"BDPILOT_LOCAL_DIR": str(live.data_dir)}
    got = subprocess.run([sys.executable, "-m", "bdpilot.ops.cli", "admin", "--local", "download", ref],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BDPILOT_"))},
                              **env_dir})
    assert got.returncode == 0, got.stderr
    assert (tmp_path / ref / "record.json").read_bytes() == live.store().get_record(ref)


def test_a_missing_attachment_alone_exits_incomplete(seeded, aws, tmp_path):
    aws.s3.delete_object(Bucket=aws.bucket, Key=store.attachment_key(seeded.refs[2], "license-1.pdf"))
    code, _, err = run("export", "-o", str(tmp_path / "y"))
    assert code == exits.INCOMPLETE and "缺少附件 license-1.pdf" in err
    assert not (tmp_path / "y" / seeded.refs[2] / "license-1.pdf").exists()
    assert (tmp_path / "y" / seeded.refs[2] / "ip-1.pdf").exists()


def test_a_damaged_record(seeded, aws, tmp_path):
    ref = seeded.refs[3]
    aws.s3.put_object(Bucket=aws.bucket, Key=store.record_key(ref), Body=b"\x00not json")
    code, _, err = run("show", ref)
    assert code == exits.MISMATCH and "不是有效的申报书JSON" in err
    code, out, _ = run("verify", ref)
    assert code == exits.MISMATCH and "record.json 不是有效的申报书JSON" in out
    code, _, err = run("export", "-o", str(tmp_path / "z"), "--no-attachments")
    assert code == exits.MISMATCH and f"{ref}：record.json 不是有效的申报书JSON" in err
    rows = list(csv.reader(io.StringIO((tmp_path / "z" / "submissions.csv").read_text("utf-8-sig"))))
    assert len(rows) == len(seeded.refs) + 1
    damaged = next(r for r in rows if r[0] == ref)
    assert damaged[5] == "不一致" and damaged[4] == seeded.receipts[ref]["digest"]


# ---------------------------------------------------------------------------------------------- the audit trail


def test_every_admin_command_is_audited_before_it_reads(seeded):
    """`bdpilot admin` appends who ran what to the audit table before reading; without one it reads nothing."""
    from bdpilot.store.audit import Audit

    ref = seeded.refs[0]
    assert run("show", ref)[0] == exits.OK
    assert run("list", "-r", "河北省")[0] == exits.OK
    audit = Audit(boto3.client("dynamodb"), os.environ["BDPILOT_AUDIT_TABLE"])
    events, _ = audit.recent(days=1)
    mine = [(e["action"], e["target"], e["role"]) for e in events if e["actor"].startswith("admin:")]
    assert ("admin.show", f"reference={ref}", "admin") in mine
    assert ("admin.list", "recommender=河北省", "admin") in mine
    assert all(e["actor"].startswith("admin:arn:") for e in events if e["role"] == "admin")  # the STS caller


def test_without_an_audit_table_admin_reads_nothing(seeded, monkeypatch):
    monkeypatch.delenv("BDPILOT_AUDIT_TABLE")
    code, out, err = run("show", seeded.refs[0])
    assert code == exits.NO_TARGET and "审计日志" in err and out == ""
