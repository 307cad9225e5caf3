"""Writing an export: the XLSX workbook (streamed, one sheet per direction and a summary) and where files go.

An export writes, into a folder or a ZIP:
  submissions.xlsx   one sheet per direction (one row per submission) and a summary sheet (汇总) with the stats
  submissions.csv    every submission, UTF-8 with BOM so that Excel reads the Chinese
  <ref>/record.json  the stored bytes, exactly (their SHA-256 is the digest on the paper copy)
  <ref>/<kind>-<n>.pdf  the attachments
The workbook is written in openpyxl's write-only mode and the ZIP entry by entry, so memory stays flat as the
number of submissions grows.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from bdpilot.console.records.cells import Column, Warnings, fit_cell, xlsx_text
from bdpilot.console.records.selection import Stats
from bdpilot.domain import campaign, wording


def _w(key: str) -> str:
    return wording.text(f"admin.table.{key}")


def sheet_title(direction: int | None) -> str:
    """A sheet name (≤31 characters, none of []:*?/\\)."""
    if direction in campaign.DIRECTIONS_BY_NUMBER:
        d = campaign.DIRECTIONS_BY_NUMBER[direction]
        return re.sub(r"[\[\]:*?/\\]", "", wording.text("admin.sheet.direction", n=d.number, name=d.name))[:31]
    return wording.text("admin.sheet.unknown")


class XlsxWriter:
    """submissions.xlsx in write-only mode: each sheet streams its rows to a temporary file."""

    def __init__(self, path: Path, cols: list[Column], directions: Iterable[int]) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Font

        self.path, self.cols = path, cols
        self._cell, self._bold, self._wrap = WriteOnlyCell, Font(bold=True), Alignment(wrap_text=True,
                                                                                       vertical="top")
        self.book = Workbook(write_only=True)
        self.summary = self.book.create_sheet(wording.text("admin.sheet.summary"))  # first tab, filled in at the end
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
                where = wording.text("admin.export.cell", ref=ref, header=col.header)
                row.append(self._text(sheet, fit_cell(text, where, warnings)))
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
        ws.append([self._header(h) for h in (_w("direction"), _w("count"))])
        for label, n in stats.direction_rows():
            ws.append([label, n])
        ws.append([self._header(_w("total")), stats.total])
        ws.append([])
        ws.append([self._header(h) for h in (_w("recommender"), _w("count"), _w("quota"), _w("over"))])
        for use in stats.quota_rows():
            ws.append([self._text(ws, xlsx_text(use.recommender)), use.count, use.quota,
                       _w("over_yes") if use.over else ""])
        if warnings.count:
            ws.append([])
            ws.append([self._header(wording.text("admin.export.warnings_title"))])
            for line in warnings.summary():
                ws.append([self._text(ws, xlsx_text(line))])
        self.book.save(self.path)


class _LazyEntry:
    """A ZIP entry opened on the first write, so a file found missing before any byte leaves no entry."""

    def __init__(self, archive: zipfile.ZipFile, name: str) -> None:
        self.archive, self.name = archive, name
        self.handle: IO[bytes] | None = None

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
