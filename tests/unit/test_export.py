"""Export pieces without AWS: columns from the models, safe cells, Excel's cell limit, date bounds."""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from bdpilot.console.records import cells as admin_cells
from bdpilot.console.records import selection, verification, writers
from bdpilot.domain import campaign
from bdpilot.domain.application import Application


def _leaf_paths(model: type[BaseModel], prefix: tuple[str, ...] = ("application",)) -> list[tuple[str, ...]]:
    paths = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths += _leaf_paths(annotation, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


def test_every_form_field_is_a_column_headed_by_its_title():
    cols = admin_cells.form_columns()
    expected = [("files",) if p == ("application", "attachments") else p for p in _leaf_paths(Application)]
    assert [c.path for c in cols] == expected
    headers = [c.header for c in admin_cells.columns()]
    assert len(headers) == len(set(headers))
    by_path = {c.path: c for c in cols}
    assert by_path[("application", "cover", "project_name")].header == "项目名称"
    assert by_path[("application", "applicant", "profit")].kind == "money"
    assert by_path[("application", "applicant", "employees")].kind == "int"
    assert by_path[("application", "applicant", "founded")].kind == "date"
    assert by_path[("application", "pledge")].kind == "bool"
    assert by_path[("application", "contact", "name")].header == "姓名"


def test_a_title_used_twice_gets_its_section():
    class A(BaseModel):
        model_config = ConfigDict(title="甲")
        name: str = Field("", title="名称")
        only_here: int = Field(0, title="仅此一处")

    class B(BaseModel):
        model_config = ConfigDict(title="乙")
        name: str = Field("", title="名称")

    class Form(BaseModel):
        a: A
        b: B

    assert [c.header for c in admin_cells.form_columns(Form)] == ["甲/名称", "仅此一处", "乙/名称"]


@pytest.mark.parametrize("value, expected", [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("\n=1", "'\n=1"),
    # Full-width and small forms, as a Chinese IME types them: Excel reads ＝1+1 as a formula too.
    ("＝1+1", "'＝1+1"), ("＋1", "'＋1"), ("－1", "'－1"), ("＠SUM(A1)", "'＠SUM(A1)"),
    ("﹦1+1", "'﹦1+1"), ("﹢1", "'﹢1"), ("﹣1", "'﹣1"), ("﹫x", "'﹫x"), ("−1", "'−1"),
    ("正常文本", "正常文本"), ("a=b", "a=b"), ("", ""),
    ("\x00\x07=1", "'=1"), ("文本\x1b[31m", "文本[31m"), ("\ufffe甲\ud800", "甲"),
    # Invisible controls are named, so 河北省 written backwards or split cannot pass for 河北省.
    ("\u202e河北省", "<U+202E>河北省"), ("河\u200b北省", "河<U+200B>北省"), ("\ufeff=1", "<U+FEFF>=1"),
    ("\u2066x\u2069\u061c", "<U+2066>x<U+2069><U+061C>"),
])
def test_csv_text(value, expected):
    assert admin_cells.csv_text(value) == expected


INVISIBLE = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010), 0xFEFF, 0x061C]


def test_every_bidi_and_zero_width_control_is_named():
    for code in INVISIBLE:
        assert admin_cells.reveal(f"a{chr(code)}b") == f"a<U+{code:04X}>b"
    # And every other format or separator character of the Basic Multilingual Plane.
    for code in range(0x10000):
        if unicodedata.category(chr(code)) in ("Cf", "Zl", "Zp"):
            assert admin_cells.reveal(chr(code)) == f"<U+{code:04X}>", hex(code)
    assert admin_cells.reveal("申报书 ⟨x⟩ 😀") == "申报书 ⟨x⟩ 😀"


@given(st.text())
def test_csv_text_never_starts_like_a_formula_and_is_xml_safe(value):
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for cleaned in (admin_cells.csv_text(value), admin_cells.xlsx_text(value)):
        assert not ILLEGAL_CHARACTERS_RE.search(cleaned)
        assert not admin_cells.INVISIBLE.search(cleaned)
    assert not admin_cells.starts_formula(admin_cells.csv_text(value))
    assert unicodedata.normalize("NFKC", admin_cells.csv_text(value)[:1]) not in ("=", "+", "-", "@")


def test_xlsx_keeps_the_exact_text_and_never_a_formula(tmp_path):
    """Inline strings are never formulas in XLSX: the submitted text goes in unchanged, no ' added."""
    cols = [admin_cells.Column((str(i),), f"c{i}", "text") for i in range(7)]
    texts = ["=1+1", "=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@A1", "＝1+1", "\u202e=1"]
    writer = writers.XlsxWriter(tmp_path / "x.xlsx", cols, [1])
    writer.add(1, texts, "BD2020-TEST-TEST", admin_cells.Warnings())
    writer.close(selection.Stats(), [("筛选条件", "=HYPERLINK(1)")], admin_cells.Warnings())
    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    cells = list(book[writers.sheet_title(1)].iter_rows())[1]
    assert [c.value for c in cells] == [*texts[:6], "<U+202E>=1"]
    assert all(c.data_type == "s" for c in cells)
    with zipfile.ZipFile(tmp_path / "x.xlsx") as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any(b"<f>" in x or b"<f " in x for x in sheets)
    assert [c for c in next(book["汇总"].iter_rows(values_only=True)) if c] == ["筛选条件", "=HYPERLINK(1)"]


def test_money_and_counts_are_numbers_not_text():
    profit = next(c for c in admin_cells.form_columns() if c.path[-1] == "profit")
    assert admin_cells.typed(profit, "-1200.25") == Decimal("-1200.25")
    assert admin_cells.csv_cell(admin_cells.typed(profit, "-1200.25")) == "-1200.25"
    assert admin_cells.typed(profit, "=1+1") == "=1+1"  # not a number: text, and cleaned as text
    assert admin_cells.csv_cell(admin_cells.typed(profit, "=1+1")) == "'=1+1"
    assert admin_cells.csv_cell(admin_cells.typed(profit, "＝1+1")) == "'＝1+1"
    founded = next(c for c in admin_cells.form_columns() if c.path[-1] == "founded")
    assert admin_cells.typed(founded, "2001-06-18") == date(2001, 6, 18)


def test_long_text_is_cut_with_a_note_never_silently(tmp_path):
    cols = [admin_cells.Column(("a",), "长文本", "text"), admin_cells.Column(("b",), "表情", "text")]
    warnings = admin_cells.Warnings()
    writer = writers.XlsxWriter(tmp_path / "x.xlsx", cols, [1])
    long = "甲" * 40_000
    emoji = "😀" * 20_000  # two UTF-16 units each, as Excel counts
    writer.add(1, [long, emoji], "BD2020-TEST-TEST", warnings)
    writer.close(selection.Stats(), [], warnings)
    assert warnings.count == 2 and "已截断" in warnings.lines[0] and "长文本" in warnings.lines[0]
    row = list(openpyxl.load_workbook(tmp_path / "x.xlsx")[writers.sheet_title(1)].iter_rows(values_only=True))[1]
    for cell in row:
        assert len(cell.encode("utf-16-le")) // 2 <= admin_cells.EXCEL_CELL_LIMIT
        assert cell.endswith("全文见CSV或record.json】")
    assert row[0].startswith("甲" * 30_000)
    summary = [r[0] for r in openpyxl.load_workbook(tmp_path / "x.xlsx")["汇总"].iter_rows(values_only=True)]
    assert "导出提示" in summary


def test_csv_keeps_the_full_text():
    buffer = io.StringIO()
    csv.writer(buffer).writerow([admin_cells.csv_cell("乙" * 40_000)])
    assert next(csv.reader(io.StringIO(buffer.getvalue())))[0] == "乙" * 40_000


def test_day_bounds_are_beijing_time():
    assert selection.day_bound("2019-11-15", end=False) == "2019-11-15"
    end = selection.day_bound("2019-11-15", end=True)
    assert "2019-11-15T23:59:59.999+08:00" < end < "2019-11-16"
    assert selection.day_bound("2019-11-15T10:00", end=False) == "2019-11-15T10:00:00.000+08:00"
    assert selection.day_bound("2019-11-15T02:00+00:00", end=False) == "2019-11-15T10:00:00.000+08:00"
    with pytest.raises(ValueError, match="无法识别的日期"):
        selection.day_bound("15/11/2019", end=False)


def test_filters_use_the_narrowest_index():
    assert selection.Filters().index() == ("time", None)
    assert selection.Filters(direction=3).index() == ("direction", "3")
    both = selection.Filters(direction=3, recommender="河北省", status="received")
    assert both.index() == ("recommender", "河北省")
    assert both.residual() == {"direction": "3", "status": "received"}


def test_sheet_titles_fit_excel():
    titles = [writers.sheet_title(d.number) for d in campaign.DIRECTIONS]
    assert len(set(titles)) == len(titles)
    assert all(len(t) <= 31 and not set(t) & set("[]:*?/\\") for t in titles)
    assert writers.sheet_title(99) == "方向不明"


def test_names_on_disk_are_only_valid_references_and_attachment_names():
    assert verification.safe_attachment_name("license-1.pdf") == "license-1.pdf"
    for bad in ("../license-1.pdf", "license-1.pdf/..", "x-1.pdf", "license-0.pdf", "license-1.PDF", None, 3):
        assert verification.safe_attachment_name(bad) is None
    assert verification.safe_reference("BD2020-2345-6789") is None  # check character wrong
    assert verification.safe_reference("../BD2020") is None
