"""Getting submissions out: selecting them from the index, their columns, and streaming exports.

Columns come from the 申报书 models (`application.Application`): every section's fields in order, headed by the
field's Chinese title, or "section/field" where a title is used by more than one field. Nothing here lists the
form's fields by hand, so a new field appears in every export by itself.

An export writes, into a folder or a ZIP:
  submissions.xlsx   one sheet per direction (one row per submission) and a summary sheet (汇总) with the stats
  submissions.csv    every submission, UTF-8 with BOM so that Excel reads the Chinese
  <ref>/record.json  the stored bytes, exactly (their SHA-256 is the digest on the paper copy)
  <ref>/<kind>-<n>.pdf  the attachments
It streams: index pages are read one at a time, one record is in memory at a time, the workbook is written in
openpyxl's write-only mode and the ZIP entry by entry, so memory stays flat as the number of submissions grows.

Cells are safe to open in a spreadsheet. In the CSV, text that starts like a formula (= + - @ in ASCII, full-width
or small form, or tab, CR, LF) gets a leading ' (Excel would otherwise run it). The XLSX keeps the submitted text
exactly: its strings are inline strings, which are never formulas. In both, invisible format characters that can
reorder or hide what a person reads (bidi overrides and isolates, zero-width characters, BOM) are shown as <U+202E>
and the like, characters XML cannot hold are dropped, and text over Excel's cell limit is cut with a note in the
cell and in the export's warnings (the CSV and the JSON keep the full text). Numbers (money, counts) are written as
numbers: "-1200.25" is a loss, not a formula.

Every submission is checked as it is exported (`check_record`, `check_attachment`): the record's SHA-256 against the
index's digest and the digest stored beside it, the index's summary fields against the record, and each attachment's
size and SHA-256 (hashed as it streams, read once) against the record's `files`, which the digest covers. What does
not match is reported, never passed as genuine.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import types
import zipfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bdpilot.domain import campaign, reference, rules
from bdpilot.domain.application import Application, AttachmentKind
from bdpilot.store import Store

EXCEL_CELL_LIMIT = 32_767
MAX_WARNINGS = 1000
STATUS_LABELS = {"received": "已受理"}
ATTACHMENT_NAME = re.compile(rf"^(?:{'|'.join(re.escape(k.value) for k in AttachmentKind)})-[1-9][0-9]{{0,2}}\.pdf$")
# Characters an XML 1.0 document (and so an .xlsx) cannot hold, plus C1 controls and DEL that only hide text.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Invisible format characters (Unicode Cf, Zl, Zp): bidi overrides and isolates, zero-width characters, BOM, line and
# paragraph separators. They reorder or hide what a person reads, so wherever a person reads they are shown by name.
INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]")
# What spreadsheets take as the start of a formula: ASCII, and the full-width and small forms a Chinese IME types
# (Excel reads ＝1+1 as =1+1), the minus sign, and tab, CR, LF (which some spreadsheets skip before one).
FORMULA_START = frozenset("=+-@\t\r\n" "\uff1d\uff0b\uff0d\uff20" "\ufe66\ufe62\ufe63\ufe6b" "\u2212")
_NOT_SHOWN = re.compile(f"{_ILLEGAL.pattern}|{INVISIBLE.pattern}")
_NUMBER = re.compile(r"^-?[0-9]{1,15}(?:\.[0-9]{1,2})?$")


# ---------------------------------------------------------------------------------------------- columns


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


# The envelope around the form: what the system adds to a submission. Not form fields, so named here.
META_COLUMNS: tuple[Column, ...] = (
    Column(("reference",), "受理编号", "text"),
    Column(("received_at",), "提交时间", "text"),
    Column(("_index", "status"), "状态", "text"),
    Column(("_direction_label",), "方向名称", "text"),
    Column(("_index", "digest"), "数字摘要（SHA-256）", "text"),
    Column(("_digest_check",), "摘要核验", "text"),
)


def columns() -> list[Column]:
    return [*META_COLUMNS, *form_columns()]


# ---------------------------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Filters:
    """Which submissions: each filter that has an index is a key condition, the rest filter the pages read."""

    direction: int | None = None
    recommender: str | None = None
    since: str | None = None  # inclusive bounds on received_at, compared as ISO strings in Beijing time
    until: str | None = None
    status: str | None = None
    newest_first: bool = False

    def index(self) -> tuple[str, str | None]:
        """The GSI to query: a 推荐单位 has the fewest items, then a direction, else everything by time."""
        if self.recommender:
            return "recommender", self.recommender
        if self.direction is not None:
            return "direction", str(self.direction)
        return "time", None

    def residual(self) -> dict[str, str]:
        """Equality conditions the chosen index does not apply."""
        index, _ = self.index()
        rest: dict[str, str] = {}
        if self.direction is not None and index != "direction":
            rest["direction"] = str(self.direction)
        if self.status:
            rest["status"] = self.status
        return rest

    def describe(self) -> str:
        parts = []
        if self.direction is not None:
            parts.append(f"方向{self.direction}")
        if self.recommender:
            parts.append(f"推荐单位={self.recommender}")
        if self.since:
            parts.append(f"提交时间≥{self.since}")
        if self.until:
            parts.append(f"提交时间≤{self.until}")
        if self.status:
            parts.append(f"状态={STATUS_LABELS.get(self.status, self.status)}")
        return "，".join(parts) or "全部"


def day_bound(text: str, *, end: bool) -> str:
    """A --since/--until value as a received_at bound: a date covers the whole day (Beijing time); a date and
    time without offset is Beijing time."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return f"{day.isoformat()}T24" if end else day.isoformat()
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"无法识别的日期：{text}（应为 2019-11-15 或 2019-11-15T10:00）") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=campaign.TZ)
    return moment.astimezone(campaign.TZ).isoformat(timespec="milliseconds")


def select(store: Store, filters: Filters, *, page_size: int = 200) -> Iterator[dict[str, Any]]:
    """Index items in received order, page by page from one GSI (never a Scan)."""
    index, key = filters.index()
    rest = filters.residual()
    for item in store.query(index, key, since=filters.since, until=filters.until,
                            newest_first=filters.newest_first, page_size=page_size):
        if all(str(item.get(k)) == v for k, v in rest.items()):
            yield item


def count(store: Store, filters: Filters) -> int:
    index, key = filters.index()
    return store.count(index, key, since=filters.since, until=filters.until, equals=filters.residual())


# ---------------------------------------------------------------------------------------------- stats


@dataclass
class Stats:
    """Counts per direction and per 推荐单位, each 推荐单位 beside its quota (10 / 5 / 3)."""

    directions: Counter[int] = field(default_factory=Counter)
    recommenders: Counter[str] = field(default_factory=Counter)
    total: int = 0

    def add(self, item: dict[str, Any]) -> None:
        self.total += 1
        try:
            self.directions[int(item.get("direction") or 0)] += 1
        except ValueError:
            self.directions[0] += 1
        self.recommenders[str(item.get("recommender") or "")] += 1

    def direction_rows(self) -> list[tuple[str, int]]:
        rows = [(d.label, self.directions.get(d.number, 0)) for d in campaign.DIRECTIONS]
        unknown = sum(n for k, n in self.directions.items() if k not in campaign.DIRECTIONS_BY_NUMBER)
        if unknown:
            rows.append(("（方向不明）", unknown))
        return rows

    def quota_rows(self, *, every_listed: bool = False) -> list[rules.QuotaUse]:
        counts = dict(self.recommenders)
        if every_listed:
            for r in campaign.RECOMMENDERS:
                counts.setdefault(r.name, 0)
        return rules.quota_use(counts)


def stats(store: Store, filters: Filters) -> Stats:
    result = Stats()
    for item in select(store, filters):
        result.add(item)
    return result


# ---------------------------------------------------------------------------------------------- cells


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
        return self.lines + ([f"……另有{more}条提示未列出"] if more > 0 else [])


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
    return _no_formula(xlsx_text(value))


def _no_formula(shown: str) -> str:
    return "'" + shown if shown[:1] in FORMULA_START else shown


def _fits(value: str) -> bool:
    return len(value) * 2 <= EXCEL_CELL_LIMIT or len(value.encode("utf-16-le")) // 2 <= EXCEL_CELL_LIMIT


def _fit_cell(value: str, where: str, warnings: Warnings) -> str:
    """Excel holds at most 32,767 characters (UTF-16 units) in a cell: cut with a note, never silently."""
    if _fits(value):
        return value
    note = f"……【超过Excel单元格{EXCEL_CELL_LIMIT}字符上限，已截断；全文见CSV或record.json】"
    room, end = EXCEL_CELL_LIMIT - len(note), 0
    for i, char in enumerate(value):
        room -= 2 if ord(char) > 0xFFFF else 1
        if room < 0:
            break
        end = i + 1
    warnings.add(f"{where}超过Excel单元格上限（{len(value)}字），在XLSX中已截断，CSV和record.json中为全文")
    return value[:end] + note


def _files_text(files: Any) -> str:
    if not isinstance(files, list):
        return ""
    parts = []
    for f in files:
        if isinstance(f, dict):
            parts.append(f"{f.get('title', f.get('kind', ''))}：{f.get('filename', '')}"
                         f"（{f.get('name', '')}，{f.get('size', '')}字节）")
    return "\n".join(parts)


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
        return "是" if value is True else "否" if value is False else str(value)
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


_DIRECTION = Column(("application", "cover", "direction"), "", "int")


def row_record(record: dict[str, Any], index: dict[str, Any], digest_check: str) -> dict[str, Any]:
    """The record with the index item and derived values beside it, for Column.value."""
    status = str(index.get("status") or "")
    direction = _DIRECTION.value(record)
    return {**record, "_index": {**index, "status": STATUS_LABELS.get(status, status)},
            "_direction_label": direction_label(direction if direction is not None else index.get("direction")),
            "_digest_check": digest_check}


# ---------------------------------------------------------------------------------------------- writers


def sheet_title(direction: int | None) -> str:
    """A sheet name (≤31 characters, none of []:*?/\\)."""
    if direction in campaign.DIRECTIONS_BY_NUMBER:
        d = campaign.DIRECTIONS_BY_NUMBER[direction]
        return re.sub(r"[\[\]:*?/\\]", "", f"方向{d.number} {d.name}")[:31]
    return "方向不明"


class XlsxWriter:
    """submissions.xlsx in write-only mode: each sheet streams its rows to a temporary file."""

    SUMMARY = "汇总"

    def __init__(self, path: Path, cols: list[Column], directions: Iterable[int]) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Font

        self.path, self.cols = path, cols
        self._cell, self._bold, self._wrap = WriteOnlyCell, Font(bold=True), Alignment(wrap_text=True,
                                                                                       vertical="top")
        self.book = Workbook(write_only=True)
        self.summary = self.book.create_sheet(self.SUMMARY)  # first tab, filled in at the end
        self.sheets: dict[int | None, Any] = {}
        self._templates: dict[tuple[int, int], Any] = {}
        for number in directions:
            self._sheet(number)

    def _sheet(self, direction: int | None) -> Any:
        key = direction if direction in campaign.DIRECTIONS_BY_NUMBER else None
        sheet = self.sheets.get(key)
        if sheet is None:
            from openpyxl.utils import get_column_letter

            sheet = self.book.create_sheet(sheet_title(key))
            for i, col in enumerate(self.cols, 1):
                sheet.column_dimensions[get_column_letter(i)].width = 40 if col.kind in ("text", "files") else 14
            sheet.freeze_panes = "B2"
            sheet.append([self._header(col.header) for col in self.cols])
            self.sheets[key] = sheet
        return sheet

    def _header(self, text: str) -> Any:
        cell = self._cell(self.summary, value=text)
        cell.font = self._bold
        return cell

    def _styled(self, sheet: Any, column: int, number_format: str) -> Any:
        """One formatted cell per sheet and column, reused row after row: a write-only sheet serializes each row
        as it is appended, and making a styled cell per value costs more than writing it."""
        key = (id(sheet), column)
        cell = self._templates.get(key)
        if cell is None:
            cell = self._templates[key] = self._cell(sheet)
            cell.number_format = number_format
        return cell

    def add(self, direction: int | None, values: list[Any], ref: str, warnings: Warnings, *,
            shown: bool = False) -> None:
        """One row; `shown` when its strings have been through xlsx_text already."""
        sheet = self._sheet(direction)
        row: list[Any] = []
        for i, (col, value) in enumerate(zip(self.cols, values, strict=True)):
            if isinstance(value, str):
                text = value if shown else xlsx_text(value)
                row.append(self._text(sheet, _fit_cell(text, f"{ref}的“{col.header}”", warnings)))
            elif isinstance(value, Decimal | date):
                cell = self._styled(sheet, i, "0.00" if isinstance(value, Decimal) else "yyyy-mm-dd")
                cell.value = value
                row.append(cell)
            else:
                row.append(value)
        sheet.append(row)

    def _text(self, sheet: Any, text: str) -> Any:
        """A string cell holding exactly `text`. openpyxl takes a str starting with "=" for a formula; as a string
        cell it is written as an inline string, which Excel never evaluates."""
        if not text.startswith("="):
            return text
        cell = self._cell(sheet, value=text)
        cell.data_type = "s"
        return cell

    def discard(self) -> None:
        """Close every sheet's stream and remove its temporary file (an export that failed half way)."""
        for sheet in [self.summary, *self.sheets.values()]:
            try:
                sheet.close()
                Path(sheet._writer.out).unlink(missing_ok=True)
            except Exception:  # best effort: the export has already failed
                pass

    def close(self, stats: Stats, notes: list[tuple[str, str]], warnings: Warnings) -> None:
        ws = self.summary
        ws.column_dimensions["A"].width = 44
        ws.column_dimensions["B"].width = 12
        ws.column_dimensions["C"].width = 12
        ws.column_dimensions["D"].width = 10
        for label, value in notes:
            ws.append([self._header(label), self._text(ws, xlsx_text(value))])
        ws.append([])
        ws.append([self._header(h) for h in ("申报方向", "申报数")])
        for label, n in stats.direction_rows():
            ws.append([label, n])
        ws.append([self._header("合计"), stats.total])
        ws.append([])
        ws.append([self._header(h) for h in ("推荐单位", "申报数", "推荐限额", "是否超限")])
        for use in stats.quota_rows():
            ws.append([self._text(ws, xlsx_text(use.recommender)), use.count, use.quota,
                       "超出限额" if use.over else ""])
        if warnings.count:
            ws.append([])
            ws.append([self._header("导出提示")])
            for line in warnings.summary():
                ws.append([self._text(ws, xlsx_text(line))])
        self.book.save(self.path)


class _LazyEntry:
    """A ZIP entry opened on the first write, so a file found missing before any byte leaves no entry."""

    def __init__(self, archive: zipfile.ZipFile, name: str) -> None:
        self.archive, self.name, self.handle = archive, name, None

    def write(self, data: bytes) -> int:
        if self.handle is None:
            info = zipfile.ZipInfo(self.name, date_time=datetime.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED  # PDFs are compressed already
            self.handle = self.archive.open(info, "w", force_zip64=True)
        return self.handle.write(data)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


class Sink:
    """Where an export's files go: a folder, or entries of a ZIP written one after another.

    Everything is written into a new hidden sibling of `dest` (`.name.xxxx.part`) and moved into place only by
    `close`, so a failed or interrupted export leaves any previous one untouched, and a forced export replaces the
    previous one whole: two exports are never mixed in one folder."""

    def __init__(self, dest: Path, *, as_zip: bool) -> None:
        self.dest, self.as_zip = dest, as_zip
        dest.parent.mkdir(parents=True, exist_ok=True)
        if as_zip:
            handle, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            os.close(handle)
            self.work = Path(name)
            self._tmp = tempfile.TemporaryDirectory(prefix="bdpilot-export-")
            self.tables = Path(self._tmp.name)
            self.zip = zipfile.ZipFile(self.work, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        else:
            self.work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
            self.tables = self.work

    def write(self, name: str, data: bytes) -> None:
        if self.as_zip:
            self.zip.writestr(name, data)
        else:
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def stream(self, name: str, fill: Callable[[Any], int | None]) -> int | None:
        """Write one entry from a function that writes into a binary file; drop the entry if it returns None."""
        if self.as_zip:
            entry = _LazyEntry(self.zip, name)
            try:
                size = fill(entry)
                if size is not None:
                    entry.write(b"")  # an empty file is still an entry
                return size
            finally:
                entry.close()
        path = self.work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            size = fill(handle)
        if size is None:
            path.unlink()
        return size

    def close(self, to: Path | None = None) -> Path:
        """Move what was written into place (at `to` instead of `dest` when given), replacing what was there."""
        final = to or self.dest
        if self.as_zip:
            for table in sorted(self.tables.iterdir()):
                self.zip.write(table, table.name)
            self.zip.close()
            self._tmp.cleanup()
            os.replace(self.work, final)
        else:
            _swap_folder(self.work, final)
        return final

    def abort(self) -> None:
        if self.as_zip:
            self.zip.close()
            self._tmp.cleanup()
            self.work.unlink(missing_ok=True)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def _swap_folder(work: Path, final: Path) -> None:
    """Put the folder `work` at `final`; a folder already there is moved aside first and then removed."""
    if final.is_dir() and not final.is_symlink() and not any(final.iterdir()):
        final.rmdir()
    if not final.exists() and not final.is_symlink():
        work.rename(final)
        return
    old = final.with_name(f".{final.name}.{secrets.token_hex(4)}.old")
    final.rename(old)
    work.rename(final)
    shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()


TABLES = ("submissions.xlsx", "submissions.csv")
PROBLEMS_FILE = "核验问题.txt"
ALTERED_SUFFIX = "-未通过核验"


def _download_file(name: str) -> bool:
    return name in ("record.json", PROBLEMS_FILE) or ATTACHMENT_NAME.fullmatch(name) is not None


def previous_download(folder: Path) -> bool:
    """Whether a folder holds only what `download` writes (record.json, attachments, the problems file), so that
    downloading again may replace it."""
    return all(e.is_file() and not e.is_symlink() and _download_file(e.name) for e in folder.iterdir())


def previous_export(folder: Path) -> bool:
    """Whether a folder holds only what an export writes (the two tables and one folder per reference), so that
    `export --force` may replace it without deleting anything else."""
    for entry in folder.iterdir():
        if entry.is_symlink():
            return False
        if entry.is_file() and entry.name in TABLES:
            continue
        if entry.is_dir() and safe_reference(entry.name) and previous_download(entry):
            continue
        return False
    return True


def check_destination(dest: Path, *, as_zip: bool, replace: bool) -> str | None:
    """Why an export cannot be written at `dest` (in Chinese), or None. Checked before any work is done."""
    if as_zip:
        if dest.is_dir():
            return f"“{dest}”是一个目录；ZIP导出请给出文件名（如 {dest / 'export.zip'}）"
        if dest.exists() and not replace:
            return f"“{dest}”已存在；换一个位置，或加 --force 覆盖"
        return None
    if dest.exists() and not dest.is_dir():
        return f"“{dest}”已存在且不是目录；换一个位置"
    if dest.is_dir() and any(dest.iterdir()):
        if not replace:
            return f"“{dest}”已存在且不为空；换一个位置，或加 --force 用新的导出替换之前的导出"
        if not previous_export(dest):
            return (f"“{dest}”中有导出以外的文件，--force 不会删除它们；请换一个空目录或新目录")
    return None


# ---------------------------------------------------------------------------------------------- integrity


INDEX_FIELDS = {"reference": "受理编号", "received_at": "提交时间", "direction": "申报方向", "recommender": "推荐单位",
                "unit_name": "申报单位", "uscc": "统一社会信用代码", "project_name": "项目名称",
                "attachments": "附件数"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Check:
    """What checking one stored submission found: alterations (exit code 1) and missing objects (exit code 7)."""

    def __init__(self) -> None:
        self.altered: list[str] = []
        self.missing: list[str] = []
        self.digest_ok = False  # the record's bytes are the ones the index registered
        self.view: dict[str, str] | None = None  # the index fields as the record says them (when it parses)
        self.files: list[dict[str, Any]] = []  # the record's attachments whose entries are well formed

    @property
    def ok(self) -> bool:
        return not self.altered and not self.missing

    @property
    def verdict(self) -> str:
        return "不一致" if self.altered else "缺失" if self.missing else "一致"

    def problems(self) -> list[str]:
        return self.altered + self.missing

    def report(self, ref: str, warnings: Warnings) -> None:
        for line in self.altered:
            warnings.add(f"{ref}：{line}", altered=True)
        for line in self.missing:
            warnings.add(f"{ref}：{line}", missing=True)


class Hashing:
    """A binary file object that hashes and counts what passes through it (to `inner`, or nowhere): an attachment
    is read once, whether it is saved or only checked."""

    def __init__(self, inner: Any = None) -> None:
        self.inner, self.sha, self.size = inner, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.inner.write(data) if self.inner is not None else len(data)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


_COVER: type[BaseModel] = Application.model_fields["cover"].annotation  # type: ignore[assignment]


def index_view(record: dict[str, Any]) -> dict[str, str]:
    """The summary fields the index item must hold, derived from the record as the submission derived them.

    The stored answers are already the models' output, so they are read as stored; only the 推荐单位 as counted
    needs the cover's own rule (`recommender_name`), taken from the model so that the two cannot drift."""
    application = record.get("application")
    cover = _get(application, "cover")
    try:
        recommender = _COVER.model_validate(cover).recommender_name  # type: ignore[attr-defined]
    except (ValidationError, ValueError, TypeError):
        # A cover the current model no longer accepts (or an altered one): read it as stored.
        recommender = _get(cover, "recommender")
        if recommender == campaign.OTHER_RECOMMENDER:
            group = _get(cover, "recommender_group")
            unlisted = getattr(campaign, "UNLISTED_RECOMMENDER", None)
            recommender = group if group and group != unlisted else _get(cover, "recommender_other")
    files = record.get("files")
    values = {"reference": record.get("reference"), "received_at": record.get("received_at"),
              "direction": _get(cover, "direction"), "recommender": recommender,
              "unit_name": _get(application, "applicant", "name"), "uscc": _get(application, "applicant", "uscc"),
              "project_name": _get(cover, "project_name"),
              "attachments": len(files) if isinstance(files, list) else None}
    return {k: "" if v is None else str(v) for k, v in values.items()}


def _record_files(record: dict[str, Any], check: Check) -> list[dict[str, Any]]:
    """The record's attachment entries that can be checked; each malformed one is reported."""
    files = record.get("files")
    if not isinstance(files, list):
        check.altered.append("record.json 中没有附件清单（files）")
        return []
    good, names = [], set()
    for i, f in enumerate(files, 1):
        name = f.get("name") if isinstance(f, dict) else None
        if not isinstance(f, dict) or safe_attachment_name(name) is None or name in names:
            check.altered.append(f"record.json 中第{i}个附件的文件名{name!r}不符合规范，未读取")
        elif not isinstance(f.get("size"), int) or isinstance(f.get("size"), bool) or \
                not isinstance(f.get("sha256"), str) or not _SHA256.fullmatch(f["sha256"]):
            check.altered.append(f"record.json 中附件 {name} 没有登记大小或SHA-256，无法核验其内容")
            names.add(name)
        else:
            good.append(f)
            names.add(name)
    return good


def check_record(ref: str, index: dict[str, Any], data: bytes | None, stored_sha256: str | None
                 ) -> tuple[dict[str, Any] | None, Check]:
    """The stored record against its index item and the digest written beside it: (the record if it parses,
    what was found)."""
    check = Check()
    if data is None:
        check.missing.append("索引中有该申报书，但存储中没有 record.json")
        return None, check
    actual = hashlib.sha256(data).hexdigest()
    check.digest_ok = actual == index.get("digest")
    if not check.digest_ok:
        check.altered.append("存储的申报书与提交时登记的摘要不一致，记录可能已被改动")
    if stored_sha256 != actual:
        check.altered.append("record.json 附带的摘要与其内容不一致" if stored_sha256 else
                             "record.json 缺少写入时附带的摘要")
    record = parse_record(data)
    if record is None:
        check.altered.append("record.json 不是有效的申报书JSON")
        check.digest_ok = False
        return None, check
    if record.get("reference") != ref:
        check.altered.append(f"record.json 中的受理编号（{record.get('reference')}）与查询的编号不一致")
    view = check.view = index_view(record)
    for name, label in INDEX_FIELDS.items():
        held = "" if index.get(name) is None else str(index.get(name))
        if held != view[name]:
            check.altered.append(f"索引中的{label}（{held}）与申报书（{view[name]}）不一致，索引可能已被改动")
    check.files = _record_files(record, check)
    return record, check


def check_attachment(check: Check, entry: dict[str, Any], got: Hashing | None) -> str:
    """One attachment as read against the record's entry; its state in words (for `show`)."""
    name = entry["name"]
    if got is None:
        check.missing.append(f"存储中缺少附件 {name}")
        return "缺失"
    if got.size != entry["size"]:
        check.altered.append(f"附件 {name} 的大小（{got.size:,}字节）与记录（{entry['size']:,}字节）不符，"
                             "文件可能已被改动")
        return f"大小不符（存储为{got.size:,}字节）"
    if got.sha.hexdigest() != entry["sha256"]:
        check.altered.append(f"附件 {name} 的内容与记录中的SHA-256不符，文件可能已被替换")
        return "内容与记录中的SHA-256不符"
    return "已存储，SHA-256一致"


def check_extra(check: Check, record: dict[str, Any] | None, stored: dict[str, int]) -> list[str]:
    """Attachments in storage that the record does not list (nothing to compare with when it did not parse)."""
    if record is None:
        return []
    listed = set(attachment_names(record))
    extra = sorted(name for name in stored if name not in listed)
    for name in extra:
        check.altered.append(f"存储中多出记录中没有的附件 {name}")
    return extra


def read_attachment(store: Store, ref: str, name: str, sink: Any = None) -> Hashing | None:
    """Stream one attachment (into `sink`, or only through the hash); None when it is missing."""
    hashing = Hashing(sink)
    return None if store.read_attachment(ref, name, hashing) is None else hashing


@dataclass
class Checked:
    """One submission checked without saving anything (verify, show)."""

    data: bytes | None
    record: dict[str, Any] | None
    check: Check
    states: dict[str, str]  # attachment name → its state in words
    extra: list[str]


def check_stored(store: Store, ref: str, index: dict[str, Any]) -> Checked:
    """The record against its index item, then each attachment read once and hashed, then what else is stored."""
    got = store.get_record_object(ref)
    data, stored_sha = got if got is not None else (None, None)
    record, check = check_record(ref, index, data, stored_sha)
    states = {f["name"]: check_attachment(check, f, read_attachment(store, ref, f["name"])) for f in check.files}
    extra = check_extra(check, record, store.attachment_sizes(ref)) if data is not None else []
    return Checked(data, record, check, states, extra)


# ---------------------------------------------------------------------------------------------- export


@dataclass
class Report:
    dest: Path
    submissions: int
    attachments: int
    stats: Stats
    warnings: Warnings
    uploaded_key: str | None = None


def safe_reference(value: Any) -> str | None:
    """A reference usable as a folder name: only a valid reference (its own alphabet and check character)."""
    return value if isinstance(value, str) and reference.is_valid(value) else None


def safe_attachment_name(value: Any) -> str | None:
    return value if isinstance(value, str) and ATTACHMENT_NAME.fullmatch(value) else None


def attachment_names(record: dict[str, Any]) -> list[str]:
    files = record.get("files")
    return [str(f.get("name")) for f in files if isinstance(f, dict)] if isinstance(files, list) else []


@dataclass
class Stored:
    """One submission's objects as read for an export: record.json, the digest stored beside it, and the names
    and sizes of its attachments (None when attachments are not exported)."""

    data: bytes | None
    sha256: str | None
    attachments: dict[str, int] | None


def fetch_stored(store: Store, ref: str, *, attachments: bool) -> Stored:
    got = store.get_record_object(ref)
    data, sha = got if got is not None else (None, None)
    return Stored(data, sha, store.attachment_sizes(ref) if attachments and data is not None else None)


def admits(filters: Filters, view: dict[str, str]) -> bool:
    """Whether the record itself (not its index item) is one the filters select."""
    if filters.direction is not None and view["direction"] != str(filters.direction):
        return False
    if filters.recommender and view["recommender"] != filters.recommender:
        return False
    if filters.since and view["received_at"] < filters.since:
        return False
    return not (filters.until and view["received_at"] > filters.until)


def export(store: Store, filters: Filters, dest: Path, *, as_zip: bool, attachments: bool = True,
           progress: Callable[[int], None] | None = None, page_size: int = 200, workers: int = 8) -> Report:
    """Write every selected submission to `dest` (a folder, or a ZIP when `as_zip`), streaming, and check each.

    Records are fetched `workers` at a time ahead of the writer (S3 latency overlaps the writing); at most
    2 × workers records are held at once, so memory stays flat. `dest` is replaced whole when it exists (the
    caller decides whether it may be: `check_destination`)."""
    cols = columns()
    warnings, totals = Warnings(), Stats()
    sink = Sink(dest, as_zip=as_zip)
    directions = [filters.direction] if filters.direction is not None else [d.number for d in campaign.DIRECTIONS]
    done = files = 0
    xlsx = None

    def fetch(ref: str) -> Stored:
        return fetch_stored(store, ref, attachments=attachments)

    try:
        xlsx = XlsxWriter(sink.tables / "submissions.xlsx", cols, directions)
        with (sink.tables / "submissions.csv").open("w", encoding="utf-8-sig", newline="") as csv_file:
            out = csv.writer(csv_file)
            out.writerow([c.header for c in cols])
            for item, ref, stored in prefetch(store, select(store, filters, page_size=page_size), workers, fetch):
                if ref is None:
                    warnings.add(f"索引中有无效的受理编号{item.get('reference')!r}，已跳过")
                    continue
                record, check = check_record(ref, item, stored.data, stored.sha256)
                view = check.view if check.digest_ok else None
                if view is not None and not admits(filters, view):
                    # The index put a genuine record under filters it does not meet (e.g. its 推荐单位 changed in
                    # the table): it is not this selection's, and the index is reported.
                    check.report(ref, warnings)
                    warnings.add(f"{ref}：申报书本身不符合筛选条件（{filters.describe()}），只是索引被改成符合，"
                                 "未导出", altered=True)
                    continue
                totals.add({**item, **view} if view is not None else item)
                if stored.data is not None:
                    sink.write(f"{ref}/record.json", stored.data)
                if attachments:
                    files += _attachments(store, sink, ref, check, f"{ref}/")
                    if stored.attachments is not None:
                        check_extra(check, record, stored.attachments)
                if record is None:
                    record = {"reference": ref, "received_at": item.get("received_at")}
                check.report(ref, warnings)
                verdict = check.verdict if attachments or not check.ok else "一致（未核验附件）"
                row = row_record(record, item, verdict)
                # Each text is made readable once, for both tables; the CSV then also neutralises formulas.
                values = [xlsx_text(v) if isinstance(v, str) else v for v in (typed(c, c.value(row)) for c in cols)]
                out.writerow([_no_formula(v) if isinstance(v, str) else csv_cell(v) for v in values])
                direction = form_columns_direction(record)
                xlsx.add(direction if direction is not None else _int(item.get("direction")), values, ref, warnings,
                         shown=True)
                done += 1
                if progress:
                    progress(done)
        xlsx.close(totals, [("导出时间", datetime.now(campaign.TZ).isoformat(timespec="seconds")),
                            ("筛选条件", filters.describe()), ("申报书数", str(done)),
                            ("附件", "已包含，逐个核验了SHA-256" if attachments else "未包含，未核验")], warnings)
    except BaseException:
        if xlsx is not None:
            xlsx.discard()
        sink.abort()
        raise
    sink.close()
    return Report(dest, done, files, totals, warnings)


def parse_record(data: bytes) -> dict[str, Any] | None:
    """A stored record.json as a dict, or None when it is not one (damaged or altered in storage)."""
    try:
        record = json.loads(data)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def form_columns_direction(record: dict[str, Any]) -> int | None:
    value = _DIRECTION.value(record)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def prefetch(store: Store, items: Iterable[dict[str, Any]], workers: int,
             fetch: Callable[[str], Any] | None = None) -> Iterator[tuple[dict[str, Any], str | None, Any]]:
    """(index item, its reference if valid, fetch(reference)) in index order, reading ahead in threads; `fetch`
    is the record's bytes unless given."""
    fetch = fetch or store.get_record
    if workers <= 1:
        for item in items:
            ref = safe_reference(item.get("reference"))
            yield item, ref, fetch(ref) if ref else None
        return
    from concurrent.futures import ThreadPoolExecutor

    store.s3  # noqa: B018  (create the client here: creating clients is not thread-safe, using them is)
    window: deque[tuple[dict[str, Any], str | None, Any]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bdpilot-export") as pool:
        try:
            for item in items:
                ref = safe_reference(item.get("reference"))
                window.append((item, ref, pool.submit(fetch, ref) if ref else None))
                if len(window) >= 2 * workers:
                    first, first_ref, future = window.popleft()
                    yield first, first_ref, future.result() if future else None
            while window:
                first, first_ref, future = window.popleft()
                yield first, first_ref, future.result() if future else None
        finally:
            for _, _, future in window:
                if future:
                    future.cancel()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _attachments(store: Store, sink: Sink, ref: str, check: Check, prefix: str) -> int:
    """Stream the record's well-formed attachments into the sink, hashing each as it passes; returns how many
    were written."""
    written = 0
    for entry in check.files:
        name = entry["name"]
        got: list[Hashing] = []

        def fill(handle: Any, name: str = name, got: list[Hashing] = got) -> int | None:
            hashing = read_attachment(store, ref, name, handle)
            if hashing is not None:
                got.append(hashing)
            return hashing.size if hashing is not None else None

        sink.stream(prefix + name, fill)
        check_attachment(check, entry, got[0] if got else None)
        written += bool(got)
    return written


def download(store: Store, ref: str, dest: Path, index: dict[str, Any]) -> tuple[Path, list[str], Check]:
    """One submission, checked as it is saved: dest/<ref>/record.json and dest/<ref>/<kind>-<n>.pdf.

    Saved into a new folder first; only a submission that passes every check (or lacks a file) goes to
    dest/<ref>. An altered one goes to dest/<ref>-未通过核验/ with 核验问题.txt beside it, never under its own
    name. Raises LookupError without saving anything when there is no record.json."""
    safe = safe_reference(ref)
    if safe is None:
        raise ValueError(ref)
    for folder in (dest / safe, dest / f"{safe}{ALTERED_SUFFIX}"):
        if folder.exists() and not (folder.is_dir() and previous_download(folder)):
            raise FileExistsError(errno.EEXIST, "已存在，且其中有下载以外的文件", str(folder))
    got = store.get_record_object(safe)
    if got is None:
        raise LookupError(safe)
    data, stored_sha = got
    record, check = check_record(safe, index, data, stored_sha)
    stored = store.attachment_sizes(safe)
    sink = Sink(dest / safe, as_zip=False)
    try:
        sink.write("record.json", data)
        _attachments(store, sink, safe, check, "")
        check_extra(check, record, stored)
        written = ["record.json", *(f["name"] for f in check.files if (sink.work / f["name"]).exists())]
        if check.altered:
            sink.write(PROBLEMS_FILE, ("受理编号：" + safe + "\n本文件夹中的内容未通过核验，不能作为申报书原件：\n" +
                                       "".join(f"- {p}\n" for p in check.problems())).encode("utf-8-sig"))
            written.append(PROBLEMS_FILE)
    except BaseException:
        sink.abort()
        raise
    folder = sink.close(to=dest / f"{safe}{ALTERED_SUFFIX}" if check.altered else None)
    return folder, written, check
