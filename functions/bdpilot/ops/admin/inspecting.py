"""`admin show` and `admin verify`: one submission read back and checked, for a person to read."""

from __future__ import annotations

import argparse
import hashlib
import re
import unicodedata
from functools import cache
from typing import Any, TextIO

from bdpilot.console.records import cells, verification
from bdpilot.domain import reference, review, wording
from bdpilot.domain.application import form_schema
from bdpilot.domain.formats import beijing_time
from bdpilot.ops.admin.exits import INCOMPLETE, MISMATCH, NOT_FOUND, OK, AdminError, exit_code, verdict
from bdpilot.ops.admin.target import Target
from bdpilot.ops.admin.terminal import plain, size, write_raw
from bdpilot.store.units import UnitIndex
from bdpilot.web.printcopy import display
from bdpilot.web.schemawalk import Field, all_fields


def _w(key: str, /, **params: Any) -> str:
    return wording.text(f"admin.{key}", **params)


def normalize_reference(raw: str) -> str:
    """What a person types (lower case, spaces, full-width characters) as a checked reference."""
    text = unicodedata.normalize("NFKC", raw).strip().upper().replace(" ", "")
    code = text.replace("-", "").removeprefix(reference.PREFIX)
    if len(code) == 16:  # typed without dashes or without the prefix
        text = reference.format_code(code)
    if not reference.is_valid(text):
        raise AdminError(NOT_FOUND, _w("reference.invalid", raw=plain(raw), label=wording.text("common.reference"),
                                       example=reference.EXAMPLE))
    return text


def index_of(target: Target, ref: str) -> dict[str, Any]:
    with target.aws(_w("reading.index")):
        index = target.store.get_index(ref)
    if index is None:
        raise AdminError(NOT_FOUND, _w("reference.unknown", label=wording.text("common.reference"), ref=ref,
                                       where=target.where))
    return index


def _checked(target: Target, ref: str) -> tuple[dict[str, Any], verification.Checked]:
    """The index item and the submission checked against it: record, every attachment (read and hashed once)."""
    index = index_of(target, ref)
    with target.aws(_w("reading.record_and_files")):
        checked = verification.check_stored(target.store, ref, index)
    if checked.data is None:
        raise AdminError(INCOMPLETE, _w("reference.no_record", ref=ref))
    return index, checked


def _review_status(target: Target, index: dict[str, Any]) -> str:
    """The submission's review status, from its unit's item (the index keeps the status it was stored with)."""
    with target.aws(_w("reading.index")):
        (item,) = UnitIndex(target.store.dynamodb, target.store.units_table).current([index])
    return str(item.get("status") or "")


@cache
def _fields() -> dict[str, Field]:
    """The form's fields by dotted path, as the printed copy walks them."""
    return {f.path: f for f in all_fields(form_schema())}


def _value(col: cells.Column, value: Any) -> str:
    """An answer worded as on the printed copy (choices by label, the pledge, the unfilled mark): the columns and
    the form are drawn from the same models, so every column is a field of the form."""
    return plain(display(_fields()[".".join(col.path)], value))


def _label(key: str, value: Any) -> str:
    return _w("show.line", label=wording.text(key), value=value)


def cmd_show(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ref = normalize_reference(args.reference)
    index, checked = _checked(target, ref)
    check, record = checked.check, checked.record
    if args.json:
        write_raw(checked.data or b"", out)
        if not check.ok:
            print(_w("show.json_failed", ref=ref, verdict=verdict(check)), file=err)
            for problem in check.problems():
                print(_w("problem", problem=plain(problem)), file=err)
        return exit_code(check)
    if record is None:
        raise AdminError(MISMATCH, _w("show.not_a_record", ref=ref))
    if not check.ok:
        # First, so that nobody reads what follows as the submission.
        print(_w("show.failed", what=_w("show.altered" if check.altered else "show.missing")), file=out)
        for problem in check.problems():
            print(_w("problem", problem=plain(problem)), file=out)
        print(file=out)
    status = _review_status(target, index)
    shown = review.status_label(status)
    print(_label("common.reference", ref), file=out)
    print(_label("common.received_at", plain(beijing_time(record.get("received_at")))), file=out)
    print(_label("admin.column.status", shown if shown != status else plain(status)), file=out)
    print(_w("show.line", label=cells.digest_header(), value=plain(index.get("digest"))), file=out)
    section = None
    for col in cells.form_columns():
        value = col.value(record)
        if col.kind == "files":
            continue
        if col.section != section:
            section = col.section
            print(_w("show.section", section=section), file=out)
        header = col.header.split("/")[-1]
        if col.path[-1] == "direction":
            text = _w("show.direction", value=plain(value), label=cells.direction_label(value))
        else:
            text = _value(col, value)
        lines = text.split("\n")
        print(_w("show.field", header=header, value=lines[0]), file=out)
        for line in lines[1:]:
            print(f"    {line}", file=out)
    files = [f for f in record.get("files") or [] if isinstance(f, dict)] if isinstance(record.get("files"), list) \
        else []
    print(_w("show.files", n=len(files)), file=out)
    for f in files:
        name = f.get("name")
        state = checked.states.get(name, _w("show.file_unchecked")) if isinstance(name, str) else \
            _w("show.file_unchecked")
        print(_w("show.file", title=plain(f.get("title")), filename=plain(f.get("filename")), name=plain(name),
                 size=size(f.get("size")), state=state), file=out)
    for name in checked.extra:
        print(_w("show.file_extra", name=plain(name)), file=out)
    print(_w("show.verdict", verdict=verdict(check)), file=out)
    return exit_code(check)


def cmd_verify(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ref = normalize_reference(args.reference)
    index, checked = _checked(target, ref)
    check = checked.check
    actual = hashlib.sha256(checked.data or b"").hexdigest()
    problems = list(check.altered)
    print(_label("common.reference", ref), file=out)
    print(_w("verify.registered", digest=plain(index.get("digest"))), file=out)
    print(_w("verify.computed", digest=actual), file=out)
    if args.digest:
        given = re.sub(r"[\s:-]", "", args.digest).lower()
        print(_w("verify.paper", digest=plain(given)), file=out)
        if given != actual:
            problems.append(_w("verify.paper_differs"))
    for problem in problems + check.missing:
        print(_w("verify.problem", problem=plain(problem)), file=out)
    if problems:
        print(_w("verify.result", verdict=_w("verdict.altered")), file=out)
        return MISMATCH
    if check.missing:
        print(_w("verify.result", verdict=verdict(check)), file=out)
        return INCOMPLETE
    print(_w("verify.ok", n=len(check.files), paper=_w("verify.paper_ok") if args.digest else ""), file=out)
    print(_w("verify.result", verdict=verdict(check)), file=out)
    return OK
