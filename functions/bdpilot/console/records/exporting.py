"""Getting submissions out: the streaming export of a selection, and the download of one submission.

It streams: index pages are read one at a time, records are fetched a few ahead in threads, one record is written
at a time. Every submission is checked as it is written (`verification`), and what does not match is reported.
"""

from __future__ import annotations

import csv
import errno
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bdpilot.console.records import cells, verification
from bdpilot.console.records.cells import Warnings
from bdpilot.console.records.selection import Filters, Stats, select
from bdpilot.console.records.verification import (
    ATTACHMENT_NAME,
    Check,
    Hashing,
    check_attachment,
    check_extra,
    check_record,
)
from bdpilot.console.records.writers import Sink, XlsxWriter
from bdpilot.domain import campaign, wording
from bdpilot.store.reader import Reader

TABLES = ("submissions.xlsx", "submissions.csv")
PROBLEMS_FILE = wording.text("admin.download.problems_file")
ALTERED_SUFFIX = wording.text("admin.download.altered_suffix")


@dataclass
class Report:
    dest: Path
    submissions: int
    attachments: int
    stats: Stats
    warnings: Warnings


@dataclass
class Stored:
    """One submission's objects as read for an export: record.json, the digest stored beside it, and the names
    and sizes of its attachments (None when attachments are not exported)."""

    data: bytes | None
    sha256: str | None
    attachments: dict[str, int] | None


def fetch_stored(store: Reader, ref: str, *, attachments: bool) -> Stored:
    got = store.get_record_object(ref)
    data, sha = got if got is not None else (None, None)
    return Stored(data, sha, store.attachment_sizes(ref) if attachments and data is not None else None)


def export(store: Reader, filters: Filters, dest: Path, *, as_zip: bool, attachments: bool = True,
           progress: Callable[[int], None] | None = None, page_size: int = 200, workers: int = 8,
           items: Iterable[dict[str, Any]] | None = None, records: bool = True,
           tables: tuple[str, ...] = TABLES, scope: str | None = None) -> Report:
    """Write every selected submission to `dest` (a folder, or a ZIP when `as_zip`), streaming, and check each.

    Records are fetched `workers` at a time ahead of the writer (S3 latency overlaps the writing); at most
    2 × workers records are held at once, so memory stays flat. `dest` is replaced whole when it exists (the
    caller decides whether it may be: `check_destination`).

    The console passes `items` (index items it selected by its own key), `records=False` (the tables only),
    one of TABLES and `scope` (what the summary says was exported, instead of the filters)."""
    cols = cells.columns()
    warnings, totals = Warnings(), Stats()
    sink = Sink(dest, as_zip=as_zip)
    directions = [filters.direction] if filters.direction is not None else [d.number for d in campaign.DIRECTIONS]
    done = files = 0
    xlsx = None

    def fetch(ref: str) -> Stored:
        return fetch_stored(store, ref, attachments=attachments)

    selected = items if items is not None else select(store, filters, page_size=page_size)
    try:
        if "submissions.xlsx" in tables:
            xlsx = XlsxWriter(sink.tables / "submissions.xlsx", cols, directions)
        with ExitStack() as files_open:
            out = None
            if "submissions.csv" in tables:
                out = csv.writer(files_open.enter_context(
                    (sink.tables / "submissions.csv").open("w", encoding="utf-8-sig", newline="")))
                out.writerow([c.header for c in cols])
            for item, ref, stored in prefetch(store, selected, workers, fetch):
                if ref is None:
                    warnings.add(wording.text("admin.export.bad_reference", reference=wording.text("common.reference"),
                                              found=repr(item.get("reference"))))
                    continue
                record, check = check_record(ref, item, stored.data, stored.sha256)
                view = check.view if check.digest_ok else None
                if view is not None and not filters.admits(view):
                    # The index put a genuine record under filters it does not meet (e.g. its 推荐单位 changed in
                    # the table): it is not this selection's, and the index is reported.
                    check.report(ref, warnings)
                    warnings.add(wording.text("admin.export.not_selected", ref=ref, filters=filters.describe()),
                                 altered=True)
                    continue
                totals.add({**item, **view} if view is not None else item)
                if stored.data is not None and records:
                    sink.write(f"{ref}/record.json", stored.data)
                if attachments:
                    files += _attachments(store, sink, ref, check, f"{ref}/")
                    if stored.attachments is not None:
                        check_extra(check, record, stored.attachments)
                if record is None:
                    record = {"reference": ref, "received_at": item.get("received_at")}
                check.report(ref, warnings)
                verdict = check.verdict if attachments or not check.ok else wording.text("admin.export.unchecked")
                row = cells.row_record(record, item, verdict)
                # Each text is made readable once, for both tables; the CSV then also neutralises formulas.
                values = [cells.xlsx_text(v) if isinstance(v, str) else v
                          for v in (cells.typed(c, c.value(row)) for c in cols)]
                if out is not None:
                    out.writerow([cells.no_formula(v) if isinstance(v, str) else cells.csv_cell(v) for v in values])
                direction = cells.record_direction(record)
                if xlsx is not None:
                    xlsx.add(direction if direction is not None else _int(item.get("direction")), values, ref,
                             warnings, shown=True)
                done += 1
                if progress:
                    progress(done)
        w = wording.section("admin.summary")
        if xlsx is not None:
            xlsx.close(totals, [(w["exported_at"], datetime.now(campaign.TZ).isoformat(timespec="seconds")),
                                (w["filters"], scope or filters.describe()), (w["submissions"], str(done)),
                                (w["attachments"],
                                 w["attachments_checked"] if attachments else w["attachments_none"])], warnings)
    except BaseException:
        if xlsx is not None:
            xlsx.discard()
        sink.abort()
        raise
    sink.close()
    return Report(dest, done, files, totals, warnings)


def prefetch(store: Reader, items: Iterable[dict[str, Any]], workers: int,
             fetch: Callable[[str], Any] | None = None) -> Iterator[tuple[dict[str, Any], str | None, Any]]:
    """(index item, its reference if valid, fetch(reference)) in index order, reading ahead in threads; `fetch`
    is the record's bytes unless given."""
    fetch = fetch or store.get_record
    if workers <= 1:
        for item in items:
            ref = verification.safe_reference(item.get("reference"))
            yield item, ref, fetch(ref) if ref else None
        return
    from concurrent.futures import ThreadPoolExecutor

    store.s3  # noqa: B018  (create the client here: creating clients is not thread-safe, using them is)
    window: deque[tuple[dict[str, Any], str | None, Any]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bdpilot-export") as pool:
        try:
            for item in items:
                ref = verification.safe_reference(item.get("reference"))
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


def _attachments(store: Reader, sink: Sink, ref: str, check: Check, prefix: str) -> int:
    """Stream the record's well-formed attachments into the sink, hashing each as it passes; returns how many
    were written."""
    written = 0
    for entry in check.files:
        name = entry["name"]
        got: list[Hashing] = []

        def fill(handle: Any, name: str = name, got: list[Hashing] = got) -> int | None:
            hashing = verification.read_attachment(store, ref, name, handle)
            if hashing is not None:
                got.append(hashing)
            return hashing.size if hashing is not None else None

        sink.stream(prefix + name, fill)
        check_attachment(check, entry, got[0] if got else None)
        written += bool(got)
    return written


def download(store: Reader, ref: str, dest: Path, index: dict[str, Any]) -> tuple[Path, list[str], Check]:
    """One submission, checked as it is saved: dest/<ref>/record.json and dest/<ref>/<kind>-<n>.pdf.

    Saved into a new folder first; only a submission that passes every check (or lacks a file) goes to
    dest/<ref>. An altered one goes to dest/<ref>-未通过核验/ with 核验问题.txt beside it, never under its own
    name. Raises LookupError without saving anything when there is no record.json."""
    safe = verification.safe_reference(ref)
    if safe is None:
        raise ValueError(ref)
    for folder in (dest / safe, dest / f"{safe}{ALTERED_SUFFIX}"):
        if folder.exists() and not (folder.is_dir() and previous_download(folder)):
            raise FileExistsError(errno.EEXIST, wording.text("admin.download.folder_taken"), str(folder))
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
            note = wording.text("admin.download.problems", label=wording.text("common.reference"), ref=safe,
                                problems="".join(f"- {p}\n" for p in check.problems()))
            sink.write(PROBLEMS_FILE, note.encode("utf-8-sig"))
            written.append(PROBLEMS_FILE)
    except BaseException:
        sink.abort()
        raise
    folder = sink.close(to=dest / f"{safe}{ALTERED_SUFFIX}" if check.altered else None)
    return folder, written, check


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
        if entry.is_dir() and verification.safe_reference(entry.name) and previous_download(entry):
            continue
        return False
    return True


def check_destination(dest: Path, *, as_zip: bool, replace: bool) -> str | None:
    """Why an export cannot be written at `dest` (in Chinese), or None. Checked before any work is done."""
    def w(key: str, /, **params: Any) -> str:
        return wording.text(f"admin.destination.{key}", dest=dest, **params)

    if as_zip:
        if dest.is_dir():
            return w("zip_is_folder", example=dest / "export.zip")
        if dest.exists() and not replace:
            return w("zip_exists")
        return None
    if dest.exists() and not dest.is_dir():
        return w("not_folder")
    if dest.is_dir() and any(dest.iterdir()):
        if not replace:
            return w("not_empty")
        if not previous_export(dest):
            return w("foreign_files")
    return None
