"""The local run's outbox, in the browser: the e-mails the run "sent" (bdpilot.store.mailer in outbox mode writes
one RFC 5322 .eml file per message, named <UTC time>-<8 hex>.eml) listed at /outbox/, newest first, and each shown
at /outbox/<file> as plain text, so a newcomer reads the receipt e-mail without a mail server. Only the local run
serves this (infra/template.yaml routes nothing like it)."""

from __future__ import annotations

import email
import html
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from bdpilot.domain import formats, wording

PREFIX = "/outbox/"
# Only names the mailer writes: nothing else in (or outside) the folder can be asked for.
NAME = re.compile(r"[0-9]{8}T[0-9]{6,12}Z-[0-9a-f]{8}\.eml")
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}


def is_outbox(path: str) -> bool:
    return path == PREFIX.rstrip("/") or path.startswith(PREFIX)


def read(path: Path) -> EmailMessage:
    """A stored message, MIME decoded (encoded-word headers, base64 or quoted-printable bodies)."""
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    return message


def sent_at(message: EmailMessage, name: str) -> str:
    """When it was sent, for people (Beijing time), from its Date header; else from the file name."""
    try:
        return formats.beijing_time(parsedate_to_datetime(str(message["Date"])).isoformat())
    except (TypeError, ValueError):
        return name.partition("-")[0]


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else content.decode("utf-8", errors="replace")


def messages(folder: Path) -> list[Path]:
    """The stored messages, newest first (the names begin with the sending time)."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if NAME.fullmatch(p.name) and p.is_file()), reverse=True)


def listing(folder: Path) -> str:
    words = wording.section("ops.outbox")
    rows = []
    for path in messages(folder):
        message = read(path)
        rows.append(f'<tr><td>{html.escape(sent_at(message, path.name))}</td>'
                    f'<td>{html.escape(str(message["To"] or ""))}</td>'
                    f'<td><a href="{PREFIX}{path.name}">{html.escape(str(message["Subject"] or ""))}</a></td></tr>')
    table = (f'<table><thead><tr><th scope="col">{words["time"]}</th><th scope="col">{words["to"]}</th>'
             f'<th scope="col">{words["subject"]}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
             if rows else f"<p>{words['empty']}</p>")
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{words["title"]}</title>'
            '<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}'
            'table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ccc;padding:.4rem;'
            'text-align:left;vertical-align:top}</style></head>'
            f'<body><h1>{words["title"]}</h1><p>{html.escape(wording.text("ops.outbox.intro", folder=str(folder)))}'
            f'</p>{table}</body></html>')


def shown(path: Path) -> str:
    """The message as text: its headers by their Chinese labels, then its body."""
    words = wording.section("ops.outbox")
    message = read(path)
    fields = [(words["from"], message["From"]), (words["to"], message["To"]), (words["subject"], message["Subject"]),
              (words["time"], sent_at(message, path.name))]
    head = [wording.text("ops.outbox.header", label=label, value=str(value or "")) for label, value in fields]
    return "\n".join(head) + "\n\n" + body_text(message)


def answer(folder: Path, path: str) -> Answer:
    """GET /outbox/ (the list) or /outbox/<file> (one message)."""
    if path in (PREFIX, PREFIX.rstrip("/")):
        return Answer(200, HTML, listing(folder).encode())
    name = path.removeprefix(PREFIX)
    target = folder / name
    if not NAME.fullmatch(name) or not target.is_file():
        return Answer(404, TEXT, wording.text("ops.outbox.not_found").encode())
    return Answer(200, TEXT, shown(target).encode())
