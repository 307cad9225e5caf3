"""Standalone HTML pages the API answers browsers without JavaScript with: the form again (with the posted
values and what to fix), a plain message, or the receipt with the printable 申报书.

Each page is complete in itself (inline CSS, no script, no external asset), in Chinese, and accessible:
one h1, a main landmark, labelled controls, an error summary that links to each field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from bdpilot import settings
from bdpilot.domain import errors, wording
from bdpilot.domain.application import form_schema
from bdpilot.domain.formats import beijing_time, size_text
from bdpilot.intake.refusals import Refused, TooLarge, Unreadable
from bdpilot.intake.uploads import NoJsStep
from bdpilot.web.formhtml import UPLOAD_PAGE, markup, render_form
from bdpilot.web.printcopy import pair, render_next_steps, render_record

APPLY_PAGE = "/apply/"
RESEND_PAGE = "/api/receipt/resend"  # served by the applicant function (web.receiptpage)
REMOVE_ACTION = "/api/apply/remove"  # 移除 on the upload page posts here (a GET must never write)

CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
  line-height:1.6;color:#1f1f1f;background:#fff}
main{max-width:48rem;margin:0 auto;padding:1rem}
a{color:#1a4fa0}a:focus,button:focus,input:focus,select:focus,textarea:focus,[tabindex]:focus{
  outline:3px solid #f5a623;outline-offset:1px}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
fieldset{border:0;margin:0 0 2rem;padding:0;min-width:0}
legend{font-size:1.25rem;font-weight:700;width:100%;border-bottom:1px solid #ccc;margin-bottom:.6rem}
.apply-field{margin:0 0 1.2rem}.apply-field--error{border-left:4px solid #b3261e;padding-left:.6rem}
.apply-label{display:block;font-weight:700}.apply-req,.apply-field-error{color:#b3261e}
.apply-field-error{font-weight:700;margin:0 0 .3rem}
.apply-hint,.apply-count{color:#505050;margin:0 0 .3rem;font-size:.95em}
input[type=text],input[type=tel],input[type=email],input[type=number],input[type=date],select,textarea{
  width:100%;max-width:36rem;font:inherit;padding:.4rem;border:2px solid #505050;border-radius:0;background:#fff}
textarea{max-width:100%}[aria-invalid=true]{border-color:#b3261e}
.apply-unit{display:flex;gap:.4rem;align-items:center;max-width:20rem}
.apply-check{display:flex;gap:.6rem;align-items:flex-start}.apply-check input{width:1.3rem;height:1.3rem}
.apply-hp{position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden}
.apply-vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.apply-attachment{border:1px solid #ccc;padding:.6rem}
.apply-inline{display:inline;margin:0}.apply-inline button{padding:.1rem .6rem;font-weight:400}
.apply-error-summary,.apply-notice{border:4px solid #b3261e;padding:.8rem 1rem;margin:0 0 1.5rem}
.apply-notice{border-color:#1a4fa0}.apply-error-summary h2{margin:0 0 .5rem;font-size:1.2rem}
.apply-error-summary a{color:#b3261e;font-weight:700}
button{font:inherit;font-weight:700;color:#fff;background:#1a4fa0;border:0;padding:.6rem 1.2rem;cursor:pointer}
.apply-table{width:100%;border-collapse:collapse}.apply-table th,.apply-table td{border:1px solid #999;
  padding:.3rem .5rem;text-align:left;vertical-align:top}.apply-answers th{width:11em}
.apply-answers td{white-space:pre-wrap}.apply-print-frame,.apply-print-frame>*>tr>td{width:100%;border:0;
  padding:0;border-collapse:collapse}
.apply-cover-list{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}.apply-cover-list dd{margin:0}
.apply-print-cover h2{text-align:center}.apply-opinion-box{min-height:10em;border:1px solid #000;padding:.5rem}
.apply-sign{text-align:right;margin-top:2rem}.apply-print-footer{font-size:.85em;color:#505050;
  word-break:break-all;margin-top:1rem}.apply-reference strong{font-size:1.4em}
code{word-break:break-all}
@media print{
  @page{size:A4;margin:15mm 15mm 10mm}
  .apply-screen{display:none}main{max-width:none;padding:0}body{font-size:10.5pt;color:#000}
  .apply-print-cover{min-height:230mm;display:flex;flex-direction:column;justify-content:center;break-after:page}
  .apply-print-cover h2{font-size:20pt;margin-bottom:3em}.apply-table tr{break-inside:avoid}
  .apply-print-footer-space{height:12mm}
  .apply-print-footer{position:fixed;left:0;right:0;bottom:0;margin:0;font-size:8pt;color:#000;
    border-top:.5pt solid #000}
}
"""


def document(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_t("pages.title", title=title)}</title>'
            f'<style>{CSS}</style></head><body><main id="main">{body}</main></body></html>')


def _t(key: str, **params: Any) -> str:
    """A sentence of the catalogue's apply.* section, escaped for HTML."""
    return escape(wording.text(f"apply.{key}", **params))


def closed_page(message: str = "") -> str:
    """What every no-JavaScript page says once the window is closed: no form, no submit button."""
    return message_page(wording.text("apply.pages.closed_title"), message or wording.text("apply.pages.closed"))


def _upload_first(token: str) -> str:
    """The advice at the top of the form: the upload page opens in a new window for this form's token, whose
    upload slots the post of this page reads (bdpilot.intake.uploads), so nothing typed here is lost."""
    href = UPLOAD_PAGE + "?" + urlencode({"token": token, "w": "1"})
    link = f'<a href="{escape(href)}" target="_blank" rel="noopener">{_t("form.upload_page_link_window")}</a>'
    text = markup("apply.pages.upload_first", link=link, submit=_t("form.submit"))
    return (f'<div class="apply-notice apply-screen" id="upload-first"><h2>{_t("pages.upload_first_title")}</h2>'
            f"<p>{text}</p></div>")


def deadline_line(deadline: datetime | None = None) -> str:
    """The effective deadline (settings, i.e. BDPILOT_DEADLINE or the notice's) as the site's pages state it."""
    when = deadline or settings.load().deadline
    stated = (f'<strong><time datetime="{when.isoformat()}">{escape(beijing_time(when, seconds=False))}</time>'
              "</strong>")
    return f'<p class="apply-screen">{markup("apply.pages.deadline", deadline=stated)}</p>'


def form_page(values: Mapping[str, Any] | None, errors: Sequence[Mapping[str, str]], token: str,
              message: str = "", *, uploaded: int | None = None, deadline: datetime | None = None) -> str:
    """The form with the posted answers and what to fix, or (`uploaded`: how many files) fresh for a form token.
    `deadline` defaults to the settings' (the function has loaded them before it answers a post)."""
    schema = form_schema()
    form = render_form(schema, values, errors, token, message=message, static=False)
    if uploaded is not None:
        title = wording.text("apply.pages.form_title")
        heading = _t("pages.form_heading", count=uploaded)
    else:
        title, heading = wording.text("apply.pages.fix_title"), _t("pages.fix_heading")
    intro = f'<p class="apply-screen"><a href="{APPLY_PAGE}">{_t("pages.back")}</a></p>{deadline_line(deadline)}'
    return document(title, f"<h1>{heading}</h1>{intro}{_upload_first(token)}{form}")


def upload_page(step: NoJsStep, *, remove_action: str = REMOVE_ACTION, keep_fields: Mapping[str, str] | None = None,
                continue_link: bool = True) -> str:
    """The no-JavaScript upload step: the files so far (by their own names, each removable) and one plain form per
    attachment kind, posting the PDF straight to storage. A revision's page (web.revisefiles) posts its 移除 to its
    own route with its link (`keep_fields`), and has no 继续填写: its way on is the revise form in the other window."""
    spec = form_schema()["properties"]["attachments"]
    keep = {**(keep_fields or {}), "token": step.token, **({"w": "1"} if step.window else {})}
    blocks = []
    for i, kind in enumerate(spec["x-kinds"]):
        rows = []
        for f in (f for f in step.files if f.kind == kind["kind"]):
            fields = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">'
                             for k, v in {**keep, "remove": f.upload_id, "etag": f.etag}.items())
            label = _t("pages.upload_file", filename=f.filename, size=size_text(f.size))
            rows.append(f'<li>{label} <form class="apply-inline" method="post" action="{remove_action}">{fields}'
                        f'<button type="submit">{_t("pages.upload_remove")}<span class="apply-vh">'
                        f'{escape(f.filename)}</span></button></form></li>')
        listed = "".join(rows) or f'<li>{_t("pages.upload_none")}</li>'
        ticket = step.tickets.get(kind["kind"])
        need = wording.text("apply.attachment.required" if kind["required"] else "apply.attachment.optional")
        picker = f'<p>{_t("pages.upload_full")}</p>'
        if ticket is not None:
            hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(str(v))}">'
                             for k, v in ticket["fields"].items())
            picker = (f'<form method="post" action="{escape(ticket["url"])}" enctype="multipart/form-data">{hidden}'
                      f'<label class="apply-label" for="file-{i}">{_t("pages.upload_choose", title=kind["title"])}'
                      f'</label><input type="file" id="file-{i}" name="file" accept=".pdf,application/pdf" required> '
                      f'<button type="submit">{_t("pages.upload_button")}</button></form>')
        blocks.append(
            f'<section class="apply-attachment" aria-labelledby="kind-{i}"><h2 id="kind-{i}">'
            f'{_t("pages.upload_kind", title=kind["title"], need=need)}</h2><ul>{listed}</ul>{picker}</section>')
    status = ""
    if step.problem:
        status = (f'<div class="apply-error-summary" role="alert"><h2>{_t("pages.upload_failed")}</h2>'
                  f"<p>{escape(step.problem)}</p></div>")
    elif step.notice:
        status = f'<div class="apply-notice" role="status"><p>{escape(step.notice)}</p></div>'
    required = wording.text("apply.pages.and").join(k["title"] for k in spec["x-kinds"] if k["required"])
    intro = _t("pages.upload_intro", button=wording.text("apply.pages.upload_button"), required=required,
               continue_label=wording.text("apply.pages.continue"))
    if step.window:  # opened beside a filled form: going back there is the way on, not 继续填写
        intro = _t("pages.upload_window", button=wording.text("apply.pages.upload_button"), required=required,
                   submit=wording.text("apply.form.submit"))
    onward = (f'<p><a class="apply-continue" href="/api/apply/form?{escape(urlencode({"token": step.token}))}">'
              f'{_t("pages.continue")}</a></p>') if continue_link else ""
    body = f'<h1>{_t("pages.upload_title")}</h1>{status}<p>{intro}</p>{"".join(blocks)}{onward}'
    return document(wording.text("apply.pages.upload_title"), body)


def message_page(title: str, message: str) -> str:
    return document(title, f'<h1>{escape(title)}</h1><div class="apply-notice" role="alert"><p>{escape(message)}'
                           f'</p></div><p><a href="{APPLY_PAGE}">{_t("pages.back")}</a></p>')


def receipt_page(body: Mapping[str, Any]) -> str:
    """The receipt and the full 申报书 as stored; printing the page gives the A4 copy."""
    schema = form_schema()
    title = _t("receipt.title")
    received = beijing_time(body.get("received_at", ""))
    digest_label = wording.text("apply.sha256", label=wording.text("common.digest"))
    reference = f'<strong>{escape(str(body.get("reference", "")))}</strong>'
    panel = (
        f'<div class="apply-screen"><div class="apply-notice" role="status"><h2>{title}</h2>'
        f'<p class="apply-reference">{escape(pair(wording.text("common.reference"), ""))}{reference}</p>'
        f'<p>{escape(pair(wording.text("common.received_at"), received))}</p>'
        f'<p>{escape(pair(digest_label, ""))}<code>{escape(str(body.get("digest", "")))}</code></p>{_link(body)}</div>'
        f"{render_next_steps()}</div>")
    return document(wording.text("apply.receipt.title"),
                    f'<h1 class="apply-screen">{title}</h1>{panel}{render_record(schema, body)}')


def _link(body: Mapping[str, Any]) -> str:
    """The receipt page's signed link (also e-mailed): where this receipt can be found again."""
    url = str(body.get("receipt_url") or "")
    return (f'<p>{escape(wording.text("receipt.link_note"))}<br><a href="{escape(url)}">'
            f'{escape(wording.text("receipt.link_label"))}</a></p>') if url else ""


def _problems(values: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Every field error of the answers (cross-field rules included), for a post refused before validation."""
    from bdpilot.intake.submission import validate  # the JSON API's own validation, not a copy

    try:
        validate(values)
    except Refused as exc:
        return [f.as_dict() for f in exc.fields]
    return []


def _rule_message(model: type[BaseModel], err: PydanticCustomError) -> str:
    """A cross-field rule's error in the catalogue's words (the error itself carries only its kind), as
    errors.field_errors words it on a full validation."""
    context = dict(err.context or {})
    info = model.model_fields.get(str(context.get("field", "")))
    title = (info.title if info else None) or model.model_config.get("title") or ""
    template = errors.TEMPLATES.get(err.type, errors.TEMPLATES["invalid"])
    try:
        return wording.fill(template, **{"title": title, **context})
    except (KeyError, IndexError):
        return wording.fill(errors.TEMPLATES["invalid"], title=title)


def _cross_field(values: Mapping[str, Any] | None, known: set[str]) -> list[dict[str, str]]:
    """The sections' cross-field rules (研发人员数 ≤ 职工人数, 结束 after 开始) on the fields that are valid, which
    pydantic skips while another field of the same section fails: the first answer then lists them too."""
    from pydantic import TypeAdapter, ValidationError

    from bdpilot.domain.application import Application

    found: list[dict[str, str]] = []
    for name, info in Application.model_fields.items():
        model, raw = info.annotation, (values or {}).get(name)
        if not (isinstance(model, type) and hasattr(model, "__pydantic_decorators__") and isinstance(raw, Mapping)):
            continue
        good: dict[str, Any] = {}
        for key, sub in model.model_fields.items():
            try:
                good[key] = TypeAdapter(sub.rebuild_annotation()).validate_python(raw.get(key))
            except (ValidationError, TypeError, ValueError):
                continue
        built = model.model_construct(**good)
        for dec in model.__pydantic_decorators__.model_validators.values():
            if dec.info.mode != "after":
                continue
            try:
                dec.func(built)
            except PydanticCustomError as err:
                field = (err.context or {}).get("field")
                path = f"application.{name}.{field}" if field else f"application.{name}"
                if path not in known:
                    found.append({"path": path, "message": _rule_message(model, err)})
            except (AttributeError, TypeError, ValueError):
                continue  # a field the rule needs is missing or invalid: its own error says so
    return found


def rejected(exc: Refused, payload: Mapping[str, Any] | None, fresh_token: str, *,
             window_open: bool = True) -> str:
    """What a browser without JavaScript sees when a post is refused: how to fix it, with nothing retyped.
    A closed window is said first, whatever else is wrong: nothing posted then can be accepted."""
    if exc.code == "window_closed" or not window_open:
        return closed_page(exc.message if exc.code == "window_closed" else "")
    payload = payload or {}
    values = payload.get("application") if isinstance(payload.get("application"), dict) else None
    if exc.code == "duplicate_applicant":
        # The applicant has a receipt already: the way to get its link again, not the form to fill once more.
        again = wording.text("receipt.resend.title")
        return document(again, f'<h1>{escape(again)}</h1><div class="apply-notice" role="alert"><p>'
                               f'{escape(exc.message)}</p></div><p><a href="{RESEND_PAGE}">{escape(again)}</a></p>'
                               f'<p><a href="{APPLY_PAGE}">{_t("pages.back")}</a></p>')
    if values is None and isinstance(exc, (Unreadable, TooLarge)):  # unreadable, too large, not a form
        return message_page(wording.text("apply.pages.unprocessable"), exc.message)
    token = payload.get("form_token") or ""
    errors = [f.as_dict() for f in exc.fields]
    message = exc.message
    if exc.code in ("form_token_invalid", "form_token_used", "idempotency_key_reused") or not token:
        # A page that was open too long, or a form saved to disk: a fresh token; the answers stay.
        # The answers are checked now too, so the first post lists everything to fix, not only the token.
        token, message = fresh_token, wording.text("apply.pages.resubmit")
        errors = [e for e in errors if e["path"] != "form_token"] or _problems(values)
    if exc.code in ("validation_failed", "form_token_invalid") and values is not None:
        errors += _cross_field(values, {e["path"] for e in errors})
    return form_page(values, errors, str(token), message)
