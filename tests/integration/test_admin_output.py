"""What people read from `bdpilot admin`, and where exports go (issue 11, finding 9).

The terminal, the CSV and the XLSX show what was submitted and nothing else: formula starters of both widths are
neutralised in the CSV only (the XLSX keeps the exact text), bidi and zero-width controls are named, a tab cannot
break a table, and a console that cannot show a character does not crash. `export --force` replaces a previous
export whole, `--upload` never overwrites, and export arguments are checked before any work is done.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

import openpyxl
import pytest

from bdpilot.console.records import writers
from bdpilot.ops.admin import command, exits, terminal
from tests.conftest import Applicant
from tests.factories import attachments, uscc
from tests.integration.test_admin import api_calls, run  # noqa: F401  (api_calls is a fixture)

TRICKY = {
    "cover": {"direction": 2, "recommender": "河北省", "project_name": "\u202e目项据数大\t二期"},
    "applicant": {"uscc": uscc(9301), "name": "示例\u200b科技😀有限公司", "main_business": "＝HYPERLINK(\"http://x\")",
                  "legal_representative": "﹦1+1"},
    "project": {"summary": "=1+1 项目说明"},
}


def _submit(aws: Any, now: Any, sections: dict[str, Any]) -> str:
    person = Applicant(aws, now)
    reply = person.submit(person.body(attachments=attachments(person.upload(), person.upload()), **sections))
    assert reply.status == 201, reply.body
    return reply.body["reference"]


@pytest.fixture
def refs(aws, now) -> dict[str, str]:
    return {"tricky": _submit(aws, now, TRICKY),
            "plain": _submit(aws, now, {"cover": {"direction": 5, "recommender": "北京市"},
                                        "applicant": {"uscc": uscc(9302)}})}


# ---------------------------------------------------------------------------------------------- the terminal


def test_list_names_invisible_controls_and_a_tab_cannot_break_its_columns(refs):
    code, out, _ = run("list")
    assert code == 0
    assert not set(out) & {"\t", "\u202e", "\u200b"}
    assert "<U+202E>目项据数大 二期" in out and "示例<U+200B>科技" in out
    # Every row's 状态 column starts at the same display column as the header's.
    lines = out.splitlines()
    starts = [terminal.width(line[:line.index(word)]) for line, word in
              [(lines[0], "状态"), *((x, "待审核") for x in lines[2:4])]]
    assert len(set(starts)) == 1, out


def test_show_names_invisible_controls(refs):
    code, out, _ = run("show", refs["tricky"])
    assert code == 0
    assert not set(out) & {"\u202e", "\u200b"}
    assert "项目名称：<U+202E>目项据数大\t二期" in out and "单位名称：示例<U+200B>科技😀有限公司" in out


def test_json_output_escapes_controls_and_keeps_the_value(refs, aws):
    code, out, _ = run("list", "--format", "json")
    assert code == 0 and not set(out) & {"\u202e", "\u200b"}
    items = {i["reference"]: i for i in map(json.loads, out.splitlines())}
    assert items[refs["tricky"]]["project_name"] == TRICKY["cover"]["project_name"]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    assert command.main(["show", refs["tricky"], "--json"], out=screen, err=io.StringIO()) == 0
    assert not set(screen.getvalue()) & {"\u202e", "\u200b"}
    stored = aws.s3.get_object(Bucket=aws.bucket, Key=f"submissions/{refs['tricky']}/record.json")["Body"].read()
    assert json.loads(screen.getvalue()) == json.loads(stored)  # the same JSON, escaped only on a terminal


def _console(monkeypatch: pytest.MonkeyPatch, encoding: str) -> io.BytesIO:
    """sys.stdout as Python sets it up under PYTHONIOENCODING=gbk (a Chinese Windows console): strict errors."""
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding=encoding, newline="\n"))
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="backslashreplace"))
    return raw


def test_a_gbk_console_gets_no_traceback(refs, monkeypatch):
    for argv in (["list"], ["show", refs["tricky"]], ["stats"], ["list", "--format", "csv"]):
        raw = _console(monkeypatch, "gbk")
        assert command.main(argv) == 0, argv
        sys.stdout.flush()
        text = raw.getvalue().decode("gbk")
        assert refs["tricky"] in text or argv == ["stats"]
        if argv[0] != "stats":
            assert "示例<U+200B>科技?" in text  # 😀 is not in GBK: replaced, not a crash
    # JSON loses nothing: what GBK cannot hold is a \u escape.
    raw = _console(monkeypatch, "gbk")
    assert command.main(["list", "--format", "json"]) == 0
    sys.stdout.flush()
    items = {i["reference"]: i for i in map(json.loads, raw.getvalue().decode("gbk").splitlines())}
    assert items[refs["tricky"]]["unit_name"] == TRICKY["applicant"]["name"]


# ---------------------------------------------------------------------------------------------- exports


def test_csv_neutralises_formulas_of_both_widths_and_xlsx_keeps_the_exact_text(refs, tmp_path):
    code, _, err = run("export", "-o", str(tmp_path / "x"), "--no-attachments")
    assert code == 0, err
    rows = {r["申报编号"]: r for r in csv.DictReader(io.StringIO(
        (tmp_path / "x" / "submissions.csv").read_text("utf-8-sig")))}
    row = rows[refs["tricky"]]
    assert row["主营业务"] == "'＝HYPERLINK(\"http://x\")" and row["法定代表人"] == "'﹦1+1"
    assert row["项目简介"] == "'=1+1 项目说明"
    assert row["项目名称"] == "<U+202E>目项据数大\t二期" and row["单位名称"] == "示例<U+200B>科技😀有限公司"

    book = openpyxl.load_workbook(tmp_path / "x" / "submissions.xlsx")
    sheet = book[writers.sheet_title(2)]
    headers = [c.value for c in next(sheet.iter_rows())]
    cells = next(dict(zip(headers, r, strict=True)) for r in sheet.iter_rows(min_row=2)
                 if r[0].value == refs["tricky"])
    assert cells["主营业务"].value == "＝HYPERLINK(\"http://x\")" and cells["法定代表人"].value == "﹦1+1"
    assert cells["项目简介"].value == "=1+1 项目说明"
    assert cells["项目简介"].data_type == "s"  # exactly the text, and a string, never a formula
    assert cells["项目名称"].value == "<U+202E>目项据数大\t二期"


def test_force_replaces_a_previous_export_whole(refs, tmp_path):
    dest = tmp_path / "导出"
    assert run("export", "-o", str(dest), "-r", "河北省")[0] == 0
    assert (dest / refs["tricky"]).is_dir()
    code, _, err = run("export", "-o", str(dest), "-r", "北京市", "--force")
    assert code == 0, err
    assert sorted(p.name for p in dest.iterdir()) == sorted([refs["plain"], "submissions.csv", "submissions.xlsx"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left beside it
    # A folder holding anything else is never replaced, even with --force.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = run("export", "-o", str(mine), "--force")
    assert code == exits.LOCAL_FILE and "--force 不会删除" in err
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(mine.iterdir())) == 1


def test_a_failed_forced_export_leaves_the_previous_one(refs, tmp_path, monkeypatch):
    dest = tmp_path / "x.zip"
    assert run("export", "-o", str(dest))[0] == 0
    before = dest.read_bytes()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.XlsxWriter, "close", broken)
    code, _, _ = run("export", "-o", str(dest), "--force")
    assert code == exits.LOCAL_FILE
    assert dest.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["x.zip"]


def test_each_upload_has_a_key_of_its_own(refs, aws, tmp_path):
    for n in range(2):
        code, out, err = run("export", "-o", str(tmp_path / str(n) / "all.zip"), "--upload", "--no-attachments")
        assert code == 0, err
        assert "已上传到 s3://" in out
    keys = aws.keys("exports/")
    assert len(keys) == 2 and all(k.endswith("/all.zip") for k in keys)
    uploaded = sorted(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read() for key in keys)
    assert uploaded == sorted((tmp_path / str(n) / "all.zip").read_bytes() for n in range(2))


def test_export_arguments_are_checked_before_any_work(refs, tmp_path, api_calls):  # noqa: F811
    api_calls.clear()
    code, _, err = run("export", "-o", str(tmp_path / "folder"), "--upload")
    assert code == exits.USAGE and "--upload 只能用于ZIP导出" in err
    assert not (tmp_path / "folder").exists() and api_calls == []
    (tmp_path / "taken.zip").write_bytes(b"an earlier export")
    code, _, err = run("export", "-o", str(tmp_path / "taken.zip"), "--upload")
    assert code == exits.LOCAL_FILE and api_calls == []
    assert (tmp_path / "taken.zip").read_bytes() == b"an earlier export"
