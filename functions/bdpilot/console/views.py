"""The console's HTML: the page shell (site stylesheet, header with the signed-in person and a sign-out button),
forms that carry the CSRF field, and the one "not found" answer.

Pages hold no script and no inline style (the CSP allows neither): the look comes from the site's stylesheet and
the console's own (`STYLESHEET`, served by the function at CSS_PATH).
"""

from __future__ import annotations

from html import escape

from bdpilot.console.app import Answer, Context
from bdpilot.domain import wording

__all__ = ["CSS_PATH", "STYLESHEET", "Answer", "escape", "field", "form", "message", "not_found", "page",
           "redirect"]

CSS_PATH = "/staff/console.css"
HOME = "/staff/"
SIGNIN = "/staff/signin"
SIGNOUT = "/staff/signout"

STYLESHEET = """
*{box-sizing:border-box}
body{margin:0;font-family:"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
  line-height:1.6;color:#1f1f1f;background:#fff}
.staff-header{background:#1a4fa0;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;
  align-items:center;justify-content:space-between}
.staff-header a{color:#fff}.staff-header form{margin:0}
.staff-who{margin:0}.staff-nav{display:flex;gap:1rem;flex-wrap:wrap;margin:0;padding:0;list-style:none}
main{max-width:64rem;margin:0 auto;padding:1rem}
a{color:#1a4fa0}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f5a623;outline-offset:1px}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
.staff-field{margin:0 0 1.2rem}.staff-field label{display:block;font-weight:700}
.staff-hint{color:#505050;margin:0 0 .3rem;font-size:.95em}
input[type=text],input[type=email],input[type=password],select{width:100%;max-width:30rem;font:inherit;
  padding:.4rem;border:2px solid #505050;border-radius:0;background:#fff}
button{font:inherit;font-weight:700;color:#fff;background:#1a4fa0;border:2px solid #1a4fa0;padding:.5rem 1.1rem;
  cursor:pointer}
.staff-header button{background:#fff;color:#1a4fa0;border-color:#fff;padding:.2rem .8rem}
.staff-error{border:4px solid #b3261e;padding:.8rem 1rem;margin:0 0 1.5rem}
.staff-notice{border:4px solid #1a4fa0;padding:.8rem 1rem;margin:0 0 1.5rem}
.staff-table{width:100%;border-collapse:collapse}.staff-table th,.staff-table td{border:1px solid #999;
  padding:.3rem .5rem;text-align:left;vertical-align:top}
.staff-table form{margin:0}
.staff-codes{font-family:monospace;font-size:1.2em;columns:2;max-width:24rem}
.staff-secret,.staff-link{font-family:monospace;word-break:break-all;font-size:1.1em}
textarea{width:100%;max-width:40rem;font:inherit;padding:.4rem;border:2px solid #505050;border-radius:0}
.staff-digest{font-family:monospace;word-break:break-all}
.staff-stamp{border:2px solid #1f1f1f;width:18rem;min-height:9rem;margin:2rem 0 0 auto;padding:.5rem 1rem;
  display:flex;flex-direction:column;justify-content:space-between}
.staff-flag{font-weight:700;color:#b3261e}
@page{size:A4;margin:15mm}
@page summary{size:A4 landscape;margin:15mm}
@media print{.staff-header,.staff-noprint{display:none}main{max-width:none;padding:0}body{font-size:10.5pt}
  .staff-summary{page:summary}.staff-table tr,.staff-stamp{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""


def _header(ctx: Context) -> str:
    staff = ctx.staff
    if staff is None:
        return (f'<header class="staff-header"><p class="staff-who">{escape(wording.text("console.brand"))}</p>'
                f"</header>")
    unit = staff.unit if staff.role == "unit" and staff.unit else wording.text("console.role_miit")
    who = wording.text("console.signed_in_as", name=staff.name, unit=unit)
    nav = f'<li><a href="{HOME}">{escape(wording.text("console.home"))}</a></li>'
    links = (("/staff/progress", "staff.nav.progress"), ("/staff/recommended", "staff.nav.recommended"),
             ("/staff/accounts", "console.accounts_title")) if staff.role == "miit" else (
        ("/staff/recommend", "staff.nav.recommend"),)
    nav += "".join(f'<li><a href="{href}">{escape(wording.text(key))}</a></li>' for href, key in links)
    signout = form(ctx, SIGNOUT, f'<button type="submit">{escape(wording.text("console.signout"))}</button>')
    return (f'<header class="staff-header"><p class="staff-who">{escape(who)}</p>'
            f'<nav aria-label="{escape(wording.text("console.nav"))}"><ul class="staff-nav">{nav}</ul></nav>'
            f"{signout}</header>")


def document(ctx: Context, title: str, body: str) -> str:
    full = wording.text("console.title", title=title)
    return ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="robots" content="noindex, nofollow">'
            f"<title>{escape(full)}</title>"
            f'<link rel="stylesheet" href="/assets/site.css"><link rel="stylesheet" href="{CSS_PATH}">'
            f'</head><body>{_header(ctx)}<main id="main"><h1>{escape(title)}</h1>{body}</main></body></html>')


def page(ctx: Context, title: str, body: str, *, status: int = 200) -> Answer:
    """A full HTML page; `title` is text (escaped here), `body` is HTML."""
    return Answer(status, document(ctx, title, body))


def form(ctx: Context, action: str, inner: str, *, method: str = "post") -> str:
    """A <form> posting to `action`; a POST form carries the session's CSRF token, which the handler checks."""
    hidden = f'<input type="hidden" name="csrf" value="{escape(ctx.csrf)}">' if method == "post" else ""
    return f'<form method="{method}" action="{escape(action)}">{hidden}{inner}</form>'


def field(name: str, label: str, *, kind: str = "text", value: str = "", hint: str = "",
          autocomplete: str = "off", required: bool = True, extra: str = "") -> str:
    """A labelled input (the hint tied to it with aria-describedby)."""
    described = f' aria-describedby="{name}-hint"' if hint else ""
    hint_html = f'<p class="staff-hint" id="{name}-hint">{escape(hint)}</p>' if hint else ""
    value_attr = f' value="{escape(value)}"' if value else ""
    return (f'<div class="staff-field"><label for="{name}">{escape(label)}</label>{hint_html}'
            f'<input type="{kind}" id="{name}" name="{name}"{value_attr} autocomplete="{autocomplete}"'
            f'{" required" if required else ""}{described}{extra}></div>')


def message(text: str, *, error: bool = False) -> str:
    """A notice above a form; an error is announced to screen readers (role=alert)."""
    if error:
        return f'<div class="staff-error" role="alert"><p>{escape(text)}</p></div>'
    return f'<div class="staff-notice"><p>{escape(text)}</p></div>'


def not_found(ctx: Context) -> Answer:
    """The one answer for a page that does not exist, another unit's reference and a role that may not see a
    page: same status, same body, so none of them tells the caller anything."""
    return page(ctx, wording.text("console.not_found_title"), f'<p>{escape(wording.text("console.not_found"))}</p>'
                f'<p><a href="{HOME}">{escape(wording.text("console.home"))}</a></p>', status=404)


def redirect(location: str) -> Answer:
    """303 See Other: after a POST the browser GETs the next page (no re-post on reload)."""
    return Answer(303, "", headers={"Location": location})


def pager(first: str | None, following: str | None) -> str:
    """Links back to the first page (when not on it) and on to the next (when there is one), or nothing."""
    first_label, next_label = wording.text("staff.pager.first"), wording.text("staff.pager.next")
    links = []
    if first:
        links.append(f'<a href="{escape(first)}">{escape(first_label)}</a>')
    if following:
        links.append(f'<a href="{escape(following)}" rel="next">{escape(next_label)}</a>')
    return f'<nav aria-label="{escape(next_label)}"><p>{" ".join(links)}</p></nav>' if links else ""
