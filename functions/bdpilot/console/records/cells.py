"""One record as export columns and cells: headers from the models, values typed, text safe to open.

Columns come from the 申报书 models (`application.Application`): every section's fields in order, headed by the
field's Chinese title, or "section/field" where a title is used by more than one field. Nothing here lists the
form's fields by hand, so a new field appears in every export (and in `show`) by itself.

Cells are safe to open in a spreadsheet. In the CSV, text that starts like a formula (= + - @ in ASCII, full-width
or small form, or tab, CR, LF) gets a leading ' (Excel would otherwise run it). The XLSX keeps the submitted text
exactly: its strings are inline strings, which are never formulas. In both, invisible format characters that can
reorder or hide what a person reads (bidi overrides and isolates, zero-width characters, BOM) are shown as <U+202E>
and the like, characters XML cannot hold are dropped, and text over Excel's cell limit is cut with a note in the
cell and in the export's warnings (the CSV and the JSON keep the full text). Numbers (money, counts) are written as
numbers: "-1200.25" is a loss, not a formula.
"""

from __future__ import annotations

import json
import re
import types
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from bdpilot.domain import campaign, review, wording
from bdpilot.domain.application import Application

EXCEL_CELL_LIMIT = 32_767
MAX_WARNINGS = 1000
# Characters an XML 1.0 document (and so an .xlsx) cannot hold, plus C1 controls and DEL that only hide text.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Invisible format characters (Unicode Cf, Zl, Zp): bidi overrides and isolates, zero-width characters, BOM, line and
# paragraph separators. They reorder or hide what a person reads, so wherever a person reads they are shown by name.
INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]")
# What spreadsheets take as the start of a formula: = + - @, the minus sign, and tab, CR, LF (which some
# spreadsheets skip before one). A first character is compared after NFKC, which folds the full-width and small
# forms a Chinese IME types (Excel reads ＝1+1 as =1+1) into these.
FORMULA_START = frozenset("=+-@\t\r\n\u2212")


def starts_formula(text: str) -> bool:
    return unicodedata.normalize("NFKC", text[:1])[:1] in FORMULA_START
_NOT_SHOWN = re.compile(f"{_ILLEGAL.pattern}|{INVISIBLE.pattern}")
_NUMBER = re.compile(r"^-?[0-9]{1,15}(?:\.[0-9]{1,2})?$")
# A true/false answer in words; the pledge as the printed copy says it.
_BOOL_WORDS = {"pledge": ("common.pledge_given", "common.pledge_missing")}


@dataclass(frozen=True)
class Column:
    """One exported value: where it is in the record, its Chinese header and how it is typed in a cell."""

    path: tuple[str, ...]  # keys into the record, e.g. ("application", "applicant", "profit")
    header: str
    kind: str  # "text" | "int" | "money" | "date" | "bool" | "files"
    section: str = ""  # the section's title, for `show`

    def value(self, record: dict[str, Any]) -> Any:
        value: Any = record
        for key in self.path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def yes_no(self, value: Any) -> str:
        given, missing = _BOOL_WORDS.get(self.path[-1], ("common.yes", "common.no"))
        return wording.text(given if value is True else missing)


def _kind(annotation: Any) -> str:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else str
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is Decimal:
        return "money"
    if annotation is date:
        return "date"
    if get_origin(annotation) is list:
        return "files"
    return "text"


def _section_model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def form_columns(model: type[BaseModel] = Application) -> list[Column]:
    """The 申报书's fields in form order: (path, header, kind), headers from the models' titles."""
    found: list[tuple[tuple[str, ...], str, str, str]] = []  # path, title, kind, section title
    for name, info in model.model_fields.items():
        section = _section_model(info.annotation)
        title = info.title or (section.model_config.get("title") if section else None) or name
        if section is None:
            kind = _kind(info.annotation)
            # The attachments as stored (kind, title, file name, size, stored name), not the upload ids sent.
            found.append((("files",) if kind == "files" else ("application", name), title, kind, title))
            continue
        for sub, sub_info in section.model_fields.items():
            found.append((("application", name, sub), sub_info.title or sub, _kind(sub_info.annotation), title))
    titles = Counter(title for _, title, _, _ in found)
    return [Column(path, title if titles[title] == 1 else f"{section}/{title}", kind, section)
            for path, title, kind, section in found]


def meta_columns() -> tuple[Column, ...]:
    """The envelope around the form: what the system adds to a submission. Not form fields, so named here."""
    return (
        Column(("reference",), wording.text("common.reference"), "text"),
        Column(("received_at",), wording.text("common.received_at"), "text"),
        Column(("_index", "status"), wording.text("admin.column.status"), "text"),
        Column(("_direction_label",), wording.text("admin.column.direction_name"), "text"),
        Column(("_index", "digest"), digest_header(), "text"),
        Column(("_digest_check",), wording.text("admin.column.digest_check"), "text"),
        # A revised 申报书 (issue 14) is its version n; the first carries no version (it is 1).
        Column(("_version",), wording.text("common.version"), "int"),
        Column(("revised_at",), wording.text("common.revised_at"), "text"),
    )


def digest_header() -> str:
    return wording.text("admin.column.digest", digest=wording.text("common.digest"))


def columns() -> list[Column]:
    return [*meta_columns(), *form_columns()]


class Warnings:
    """What an export had to change or could not find, kept up to MAX_WARNINGS lines (then only counted)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0
        self.incomplete = False  # a record or attachment the index promises is missing
        self.altered = False  # a stored record that does not match its digest, or is not a record at all

    def add(self, line: str, *, missing: bool = False, altered: bool = False) -> None:
        self.count += 1
        self.incomplete |= missing
        self.altered |= altered
        if len(self.lines) < MAX_WARNINGS:
            self.lines.append(line)

    def summary(self) -> list[str]:
        more = self.count - len(self.lines)
        return self.lines + ([wording.text("admin.export.more_warnings", n=more)] if more > 0 else [])


def reveal(text: str) -> str:
    """Invisible format characters named where they are (U+202E as <U+202E>), so nothing reads differently than
    it is stored."""
    return INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    return "" if _ILLEGAL.match(char) else f"<U+{ord(char):04X}>"


def xlsx_text(value: str) -> str:
    """Text for an XLSX cell: exactly as submitted but for characters XML forbids (dropped) and invisible ones
    (named), in one pass over the text."""
    return _NOT_SHOWN.sub(_shown, value)


def csv_text(value: str) -> str:
    """Text for a CSV cell: as in the XLSX, plus a leading ' where a spreadsheet would see a formula."""
    return no_formula(xlsx_text(value))


def no_formula(shown: str) -> str:
    return "'" + shown if starts_formula(shown) else shown


def _fits(value: str) -> bool:
    return len(value) * 2 <= EXCEL_CELL_LIMIT or len(value.encode("utf-16-le")) // 2 <= EXCEL_CELL_LIMIT


def fit_cell(value: str, where: str, warnings: Warnings) -> str:
    """Excel holds at most 32,767 characters (UTF-16 units) in a cell: cut with a note, never silently."""
    if _fits(value):
        return value
    note = wording.text("admin.export.cut_note", limit=EXCEL_CELL_LIMIT)
    room, end = EXCEL_CELL_LIMIT - len(note), 0
    for i, char in enumerate(value):
        room -= 2 if ord(char) > 0xFFFF else 1
        if room < 0:
            break
        end = i + 1
    warnings.add(wording.text("admin.export.cut_warning", where=where, n=len(value)))
    return value[:end] + note


def _files_text(files: Any) -> str:
    if not isinstance(files, list):
        return ""
    return "\n".join(wording.text("admin.export.file_entry", title=f.get("title", f.get("kind", "")),
                                  filename=f.get("filename", ""), name=f.get("name", ""), size=f.get("size", ""))
                     for f in files if isinstance(f, dict))


def _money(value: Any) -> Decimal | None:
    text = str(value) if isinstance(value, str | int | Decimal) and not isinstance(value, bool) else ""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def typed(column: Column, value: Any) -> Any:
    """The value as the cell should hold it: int, Decimal, date, or text (not yet cleaned)."""
    if value is None:
        return None
    if column.kind == "files":
        return _files_text(value)
    if column.kind == "bool":
        return column.yes_no(value) if isinstance(value, bool) else str(value)
    if column.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if column.kind == "money":
        number = _money(value)
        if number is not None:
            return number
    if column.kind == "date" and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, int | date):
        return str(value) if isinstance(value, int) else value.isoformat()
    return csv_text(str(value))


def direction_label(value: Any) -> str:
    try:
        return campaign.DIRECTIONS_BY_NUMBER[int(value)].label
    except (KeyError, TypeError, ValueError):
        return ""


DIRECTION = Column(("application", "cover", "direction"), "", "int")


def record_direction(record: dict[str, Any]) -> int | None:
    value = DIRECTION.value(record)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def row_record(record: dict[str, Any], index: dict[str, Any], digest_check: str) -> dict[str, Any]:
    """The record with the index item and derived values beside it, for Column.value."""
    direction = DIRECTION.value(record)
    # The review's status (selection.select reads it from the units table): 待审核, 退回修改, 不予推荐, 拟推荐.
    return {**record, "_index": {**index, "status": review.status_label(str(index.get("status") or ""))},
            "_direction_label": direction_label(direction if direction is not None else index.get("direction")),
            "_digest_check": digest_check, "_version": record.get("version") or 1}
