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

Cells are safe to open in Excel: text that starts with = + - @, tab, CR or LF gets a leading ' (it would otherwise
run as a formula), characters XML cannot hold are dropped, and text over Excel's cell limit is cut with a note in
the cell and in the export's warnings (the CSV and the JSON keep the full text). Numbers (money, counts) are written
as numbers: "-1200.25" is a loss, not a formula.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
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

from pydantic import BaseModel

from bdpilot import campaign, reference, rules
from bdpilot.application import Application, AttachmentKind
from bdpilot.store import Store

EXCEL_CELL_LIMIT = 32_767
MAX_WARNINGS = 1000
STATUS_LABELS = {"received": "已受理"}
ATTACHMENT_NAME = re.compile(rf"^(?:{'|'.join(re.escape(k.value) for k in AttachmentKind)})-[1-9][0-9]{{0,2}}\.pdf$")
# Characters an XML 1.0 document (and so an .xlsx) cannot hold, plus C1 controls and DEL that only hide text.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
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


def clean_text(value: str) -> str:
    """Text safe for a spreadsheet cell: no characters XML forbids, and a leading ' where Excel would see a
    formula."""
    value = _ILLEGAL.sub("", value)
    return "'" + value if value.startswith(_FORMULA_START) else value


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
    return clean_text(str(value))


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

    def add(self, direction: int | None, values: list[Any], ref: str, warnings: Warnings) -> None:
        sheet = self._sheet(direction)
        row: list[Any] = []
        for i, (col, value) in enumerate(zip(self.cols, values, strict=True)):
            if isinstance(value, str):
                row.append(_fit_cell(clean_text(value), f"{ref}的“{col.header}”", warnings))
            elif isinstance(value, Decimal | date):
                cell = self._styled(sheet, i, "0.00" if isinstance(value, Decimal) else "yyyy-mm-dd")
                cell.value = value
                row.append(cell)
            else:
                row.append(value)
        sheet.append(row)

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
            ws.append([self._header(label), clean_text(value)])
        ws.append([])
        ws.append([self._header(h) for h in ("申报方向", "申报数")])
        for label, n in stats.direction_rows():
            ws.append([label, n])
        ws.append([self._header("合计"), stats.total])
        ws.append([])
        ws.append([self._header(h) for h in ("推荐单位", "申报数", "推荐限额", "是否超限")])
        for use in stats.quota_rows():
            ws.append([clean_text(use.recommender), use.count, use.quota, "超出限额" if use.over else ""])
        if warnings.count:
            ws.append([])
            ws.append([self._header("导出提示")])
            for line in warnings.summary():
                ws.append([clean_text(line)])
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
    """Where an export's files go: a folder, or entries of a ZIP written one after another."""

    def __init__(self, dest: Path, *, as_zip: bool) -> None:
        self.dest, self.as_zip = dest, as_zip
        if as_zip:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = tempfile.TemporaryDirectory(prefix="bdpilot-export-")
            self.tables = Path(self._tmp.name)
            self.zip = zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            self.tables = dest

    def write(self, name: str, data: bytes) -> None:
        if self.as_zip:
            self.zip.writestr(name, data)
        else:
            path = self.dest / name
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
        path = self.dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        with part.open("wb") as handle:
            size = fill(handle)
        if size is None:
            part.unlink()
        else:
            part.replace(path)
        return size

    def close(self) -> None:
        if self.as_zip:
            for table in sorted(self.tables.iterdir()):
                self.zip.write(table, table.name)
            self.zip.close()
            self._tmp.cleanup()

    def abort(self) -> None:
        if self.as_zip:
            self.zip.close()
            self._tmp.cleanup()
            self.dest.unlink(missing_ok=True)


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


def export(store: Store, filters: Filters, dest: Path, *, as_zip: bool, attachments: bool = True,
           progress: Callable[[int], None] | None = None, page_size: int = 200, workers: int = 8) -> Report:
    """Write every selected submission to `dest` (a folder, or a ZIP when `as_zip`), streaming.

    Records are fetched `workers` at a time ahead of the writer (S3 latency overlaps the writing); at most
    2 × workers records are held at once, so memory stays flat."""
    cols = columns()
    warnings, totals = Warnings(), Stats()
    sink = Sink(dest, as_zip=as_zip)
    directions = [filters.direction] if filters.direction is not None else [d.number for d in campaign.DIRECTIONS]
    done = files = 0
    xlsx = None
    try:
        xlsx = XlsxWriter(sink.tables / "submissions.xlsx", cols, directions)
        with (sink.tables / "submissions.csv").open("w", encoding="utf-8-sig", newline="") as csv_file:
            out = csv.writer(csv_file)
            out.writerow([c.header for c in cols])
            for item, ref, data in prefetch(store, select(store, filters, page_size=page_size), workers):
                if ref is None:
                    warnings.add(f"索引中有无效的受理编号{item.get('reference')!r}，已跳过")
                    continue
                totals.add(item)
                if data is None:
                    warnings.add(f"{ref}：索引中有该申报书，但存储中没有 record.json", missing=True)
                    record: dict[str, Any] = {"reference": ref, "received_at": item.get("received_at")}
                    check = "缺少记录"
                else:
                    sink.write(f"{ref}/record.json", data)
                    record = parse_record(data)
                    if record is None:
                        warnings.add(f"{ref}：record.json 不是有效的申报书JSON，表格中只有索引信息", altered=True)
                        record = {"reference": ref, "received_at": item.get("received_at")}
                    same = hashlib.sha256(data).hexdigest() == item.get("digest")
                    check = "一致" if same else "不一致"
                    if not same:
                        warnings.add(f"{ref}：record.json 的摘要与索引不一致，存储的申报书可能被改动", altered=True)
                row = row_record(record, item, check)
                values = [typed(c, c.value(row)) for c in cols]
                out.writerow([csv_cell(v) for v in values])
                direction = form_columns_direction(record)
                xlsx.add(direction if direction is not None else _int(item.get("direction")), values, ref, warnings)
                if attachments:
                    files += _attachments(store, sink, ref, record, warnings)
                done += 1
                if progress:
                    progress(done)
        xlsx.close(totals, [("导出时间", datetime.now(campaign.TZ).isoformat(timespec="seconds")),
                            ("筛选条件", filters.describe()), ("申报书数", str(done)),
                            ("附件", "已包含" if attachments else "未包含")], warnings)
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


def prefetch(store: Store, items: Iterable[dict[str, Any]], workers: int
             ) -> Iterator[tuple[dict[str, Any], str | None, bytes | None]]:
    """(index item, its reference if valid, its record.json bytes) in index order, reading ahead in threads."""
    if workers <= 1:
        for item in items:
            ref = safe_reference(item.get("reference"))
            yield item, ref, store.get_record(ref) if ref else None
        return
    from concurrent.futures import ThreadPoolExecutor

    store.s3  # noqa: B018  (create the client here: creating clients is not thread-safe, using them is)
    window: deque[tuple[dict[str, Any], str | None, Any]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bdpilot-export") as pool:
        try:
            for item in items:
                ref = safe_reference(item.get("reference"))
                window.append((item, ref, pool.submit(store.get_record, ref) if ref else None))
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


def _attachments(store: Store, sink: Sink, ref: str, record: dict[str, Any], warnings: Warnings) -> int:
    written = 0
    for name in attachment_names(record):
        safe = safe_attachment_name(name)
        if safe is None:
            warnings.add(f"{ref}：附件名{name!r}不符合规范，未导出")
            continue
        size = sink.stream(f"{ref}/{safe}", lambda handle, safe=safe: store.read_attachment(ref, safe, handle))
        if size is None:
            warnings.add(f"{ref}：存储中缺少附件 {safe}", missing=True)
        else:
            written += 1
    return written


def download(store: Store, ref: str, dest: Path) -> tuple[Path, list[str], Warnings]:
    """One submission's folder: dest/<ref>/record.json and dest/<ref>/<kind>-<n>.pdf."""
    safe = safe_reference(ref)
    if safe is None:
        raise ValueError(ref)
    warnings = Warnings()
    data = store.get_record(safe)
    if data is None:
        raise LookupError(safe)
    folder = dest / safe
    sink = Sink(folder, as_zip=False)
    sink.write("record.json", data)
    written = ["record.json"]
    record = parse_record(data) or {}
    for name in attachment_names(record):
        good = safe_attachment_name(name)
        if good is None:
            warnings.add(f"附件名{name!r}不符合规范，未下载")
            continue
        if sink.stream(good, lambda handle, good=good: store.read_attachment(safe, good, handle)) is None:
            warnings.add(f"存储中缺少附件 {good}", missing=True)
        else:
            written.append(good)
    return folder, written, warnings

