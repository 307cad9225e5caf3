"""`admin export` and `admin download`: submissions written to local files, checked as they are written."""

from __future__ import annotations

import argparse
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bdpilot.console.records import exporting, selection
from bdpilot.domain import campaign, wording
from bdpilot.ops.admin.exits import INCOMPLETE, LOCAL_FILE, MISMATCH, OK, USAGE, AdminError
from bdpilot.ops.admin.inspecting import index_of, normalize_reference
from bdpilot.ops.admin.listing import filters_from
from bdpilot.ops.admin.target import Target
from bdpilot.ops.admin.terminal import Progress, plain


def _w(key: str, /, **params: Any) -> str:
    return wording.text(f"admin.{key}", **params)


def _fail_local(action: str, path: Path, exc: OSError) -> NoReturn:
    raise AdminError(LOCAL_FILE, _w("local.failed", action=_w(f"local.{action}"), path=path,
                                    reason=exc.strerror or exc))


@dataclass(frozen=True)
class ExportPlan:
    filters: selection.Filters
    dest: Path
    as_zip: bool
    stamp: str


def plan_export(args: argparse.Namespace) -> ExportPlan:
    """Every export argument checked before anything is read or written."""
    filters = filters_from(args)
    stamp = datetime.now(campaign.TZ).strftime("%Y%m%d-%H%M%S")
    dest = Path(args.output) if args.output else Path(f"bdpilot-export-{stamp}.zip")
    as_zip = args.zip or dest.suffix.lower() == ".zip"
    if args.upload and not as_zip:
        raise AdminError(USAGE, _w("export.upload_needs_zip"))
    try:
        problem = exporting.check_destination(dest, as_zip=as_zip, replace=args.force)
    except OSError as exc:
        _fail_local("read", dest, exc)
    if problem:
        raise AdminError(LOCAL_FILE, problem)
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise AdminError(USAGE, _w("export.needs_openpyxl")) from exc
    return ExportPlan(filters, dest, as_zip, stamp)


def cmd_export(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    plan: ExportPlan = args.plan
    filters, dest = plan.filters, plan.dest
    show = not args.quiet and (args.progress or err.isatty())
    total = None
    if show:
        with target.aws(_w("reading.index")):
            total = selection.count(target.store, filters)
    bar = Progress(total, _w("progress.label"), err, show)
    try:
        with target.aws(_w("reading.records")):
            report = exporting.export(target.store, filters, dest, as_zip=plan.as_zip,
                                      attachments=not args.no_attachments, progress=bar)
    except OSError as exc:
        _fail_local("write", dest, exc)
    finally:
        bar.finish()
    uploaded = None
    if args.upload:
        # A key of its own (time and a random part), so no upload ever replaces an earlier one.
        with target.aws(_w("reading.upload")):
            uploaded = target.store.put_export(f"{plan.stamp}-{secrets.token_hex(8)}/{dest.name}", str(dest))
    print(_w("export.done", submissions=report.submissions, attachments=report.attachments, dest=dest), file=out)
    if uploaded:
        print(_w("export.uploaded", bucket=target.store.bucket, key=uploaded), file=out)
    for line in report.warnings.summary():
        print(_w("export.warning", line=plain(line)), file=err)
    if report.warnings.altered:
        print(_w("export.altered"), file=err)
        return MISMATCH
    return INCOMPLETE if report.warnings.incomplete else OK


def cmd_download(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ref = normalize_reference(args.reference)
    index = index_of(target, ref)
    dest = Path(args.output or ".")
    try:
        with target.aws(_w("reading.records")):
            folder, written, check = exporting.download(target.store, ref, dest, index)
    except LookupError as exc:
        raise AdminError(INCOMPLETE, _w("reference.no_record", ref=ref)) from exc
    except FileExistsError as exc:
        raise AdminError(LOCAL_FILE, _w("download.exists", path=exc.filename, reason=exc.strerror)) from exc
    except OSError as exc:
        _fail_local("write", dest, exc)
    if check.altered:
        print(_w("download.altered", ref=ref, folder=folder, problems_file=exporting.PROBLEMS_FILE), file=err)
        for problem in check.problems():
            print(_w("problem", problem=plain(problem)), file=err)
        return MISMATCH
    print(_w("download.done", folder=folder, files=_w("download.joiner").join(written)), file=out)
    for problem in check.missing:
        print(_w("export.warning", line=plain(problem)), file=err)
    return INCOMPLETE if check.missing else OK
