"""GET /staff/submissions/{ref} and /staff/submissions/{ref}/files/{name}: one submission, checked, and its
attachments as short-lived presigned downloads with their original file names.

The record is drawn by the one renderer of a submitted record (`web.printcopy.render_record`), the digest check
is the one `bdpilot admin verify` makes (`records.verification.check_stored`). Both routes ask `visible` first:
another unit's reference gets the answer a reference that does not exist gets.
"""

from __future__ import annotations

from typing import Any

from bdpilot.console import review, views
from bdpilot.console.access import presigned, schema, t, visible
from bdpilot.console.app import Answer, Context, route
from bdpilot.console.records.verification import Checked, check_stored, parse_record, safe_attachment_name
from bdpilot.console.views import escape
from bdpilot.domain import formats, wording
from bdpilot.store.layout import attachment_key, version_of
from bdpilot.web.printcopy import render_record


def _check(checked: Checked) -> str:
    digest = wording.text("common.digest")
    check = checked.check
    if check.ok:
        return f'<div class="staff-notice"><p>{escape(t("detail.check_ok", digest=digest))}</p></div>'
    head = t("detail.check_altered") if check.altered else t("detail.check_missing")
    lines = "".join(f"<li>{escape(p)}</li>" for p in check.problems())
    return f'<div class="staff-error" role="alert"><p>{escape(head)}</p><ul>{lines}</ul></div>'


def _files(ref: str, checked: Checked) -> str:
    files = checked.check.files
    if not files:
        return f'<p>{escape(t("detail.no_files"))}</p>'
    heads = "".join(f'<th scope="col">{escape(t(f"detail.{k}"))}</th>'
                    for k in ("file_kind", "file_name", "file_size", "file_state"))
    rows = []
    for f in files:
        name, filename = str(f["name"]), str(f.get("filename") or f["name"])
        link = (f'<a href="/staff/submissions/{escape(ref)}/files/{escape(name)}" download '
                f'aria-label="{escape(t("detail.download_label", filename=filename))}">{escape(filename)}</a>')
        rows.append(f'<tr><td>{escape(str(f.get("title") or f.get("kind") or ""))}</td><td>{link}</td>'
                    f'<td>{escape(formats.size_text(int(f["size"])))}</td>'
                    f'<td>{escape(checked.states.get(name, ""))}</td></tr>')
    return (f'<table class="staff-table"><thead><tr>{heads}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


@route("GET", "/staff/submissions/{ref}")
def submission(ctx: Context) -> Answer:
    ref = ctx.request.params.get("ref", "")
    index = visible(ctx, ref)
    if index is None:
        return views.not_found(ctx)
    return show(ctx, ref, index)


def show(ctx: Context, ref: str, index: dict[str, Any], *, error: str = "", typed: dict[str, str] | None = None,
         status: int = 200) -> Answer:
    """The page of a visible submission; after a refused decision (`error`) the form keeps what was `typed`."""
    checked = check_stored(ctx.services.reader, ref, index)
    if not error:  # a refused decision is audited as such, not as a view
        ctx.audit("view", ref)
    record = checked.record or {}
    body = {"record": record, "reference": ref, "received_at": record.get("received_at", index.get("received_at")),
            "digest": index.get("digest", "")}
    digest = wording.text("common.digest")
    unit = review.unit_for(ctx.staff, index)
    html = (f'<p><a href="/staff/">{escape(t("detail.back"))}</a></p>'
            f'{review.panel(ctx, ref, unit, ctx.services.reviews.item(unit, ref), error=error, typed=typed)}'
            f'<h2>{escape(t("detail.check_title", digest=digest))}</h2>{_check(checked)}'
            f'<h2>{escape(t("detail.files_title"))}</h2>{_files(ref, checked)}'
            f'<h2>{escape(t("detail.record_title"))}</h2>'
            f'{render_record(schema(), body) if checked.record is not None else ""}')
    return views.page(ctx, t("detail.title", reference=ref), html, status=status)


def _entry(ctx: Context, ref: str, name: str) -> dict[str, Any] | None:
    """The record's entry for one attachment (its original file name), if the record lists it."""
    got = ctx.services.reader.get_record_object(ref)
    record = parse_record(got[0]) if got is not None else None
    files = record.get("files") if record is not None else None
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


@route("GET", "/staff/submissions/{ref}/files/{name}")
def attachment(ctx: Context) -> Answer:
    ref, name = ctx.request.params.get("ref", ""), ctx.request.params.get("name", "")
    index = visible(ctx, ref) if safe_attachment_name(name) is not None else None
    if index is None:
        return views.not_found(ctx)
    entry = _entry(ctx, ref, name)
    if entry is None:
        return views.not_found(ctx)
    ctx.audit("download", f"{ref}/{name}")
    filename = str(entry.get("filename") or name)
    # The current version's file: a revision's attachments live under its own v<n>/ folder.
    return presigned(ctx, attachment_key(ref, name, version_of(index)), filename, "application/pdf")
