"""The e-mails an applicant gets, as plain-text Messages (no I/O: bdpilot.store.mailer sends them).

  receipt(body, link, deadline)            after a submission (and after a revision: the record's version > 1)
  returned(record, ..., link, deadline)    the 推荐单位 returned the application for revision (退回修改)
  resend(record, reference, link)          the receipt link again, asked for on the site

`body` is the intake's answer ({reference, digest, received_at, record}); `record` the stored record.json
(parsed). The address is always the record's contact e-mail: the one on file, never one a request names.
Every sentence is the wording catalogue's `mail` section; the labels are common.toml's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bdpilot.domain import receipts, wording
from bdpilot.domain.formats import beijing_time


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    reference: str = ""  # for logs and the outbox listing: never the address


def _pair(label: str, value: str) -> str:
    return wording.text("apply.pair", label=label, value=value)


def _application(record: Mapping[str, Any]) -> Mapping[str, Any]:
    found = record.get("application")
    return found if isinstance(found, Mapping) else {}


def _field(record: Mapping[str, Any], section: str, name: str) -> str:
    part = _application(record).get(section)
    return str(part.get(name) or "") if isinstance(part, Mapping) else ""


def contact_of(record: Mapping[str, Any]) -> str:
    """The contact e-mail on file (项目联系人的电子邮箱): where every applicant mail goes."""
    return _field(record, "contact", "email")


def _facts(record: Mapping[str, Any], reference: str, *extra: tuple[str, str]) -> str:
    rows = [(wording.text("common.reference"), reference),
            (wording.text("mail.facts_project"), _field(record, "cover", "project_name")), *extra]
    return "\n".join(_pair(label, value) for label, value in rows if value)


def _compose(record: Mapping[str, Any], *blocks: str) -> str:
    greeting = wording.text("mail.greeting", applicant=_field(record, "applicant", "name"))
    return "\n\n".join([greeting, *[b for b in blocks if b], wording.text("mail.footer")]) + "\n"


def _link_block(title_key: str, link: str) -> str:
    return f"{wording.text(title_key)}\n{link}\n\n{wording.text('mail.link_note', days=receipts.VALID_DAYS)}"


def receipt(body: Mapping[str, Any], link: str, deadline: datetime) -> Message:
    """The receipt e-mail: reference, received time, digest, what to do next, the link. `deadline` is the one
    until which the applicant may still revise (the applicants' deadline)."""
    stored = body.get("record")
    record: Mapping[str, Any] = stored if isinstance(stored, Mapping) else {}
    reference = str(body.get("reference", ""))
    version = int(record.get("version") or 1)
    digest_label = wording.text("apply.sha256", label=wording.text("common.digest"))
    facts = _facts(record, reference, (wording.text("common.received_at"), beijing_time(body.get("received_at", ""))),
                   (digest_label, str(body.get("digest", ""))))
    steps = "\n".join([wording.text("mail.receipt.next_title"), wording.text("mail.receipt.next_print"),
                       wording.text("mail.receipt.next_paper"),
                       wording.text("mail.receipt.next_revise", deadline=beijing_time(deadline, seconds=False))])
    if version > 1:
        subject = wording.text("mail.receipt.subject_revised", reference=reference, version=version)
        intro = wording.text("mail.receipt.intro_revised", version=version)
    else:
        subject = wording.text("mail.receipt.subject", reference=reference)
        intro = wording.text("mail.receipt.intro")
    text = _compose(record, intro, facts, steps, _link_block("mail.receipt.link_title", link))
    return Message(contact_of(record), subject, text, reference)


def returned(record: Mapping[str, Any], reference: str, *, unit: str, reason: str, link: str,
             deadline: datetime) -> Message:
    """退回修改: the unit's reason, the link, and the units' deadline (cfg.unit_deadline) to resubmit by."""
    blocks = [_facts(record, reference), f"{wording.text('mail.returned.intro', unit=unit)}\n{reason}",
              wording.text("mail.returned.deadline", deadline=beijing_time(deadline, seconds=False)),
              _link_block("mail.returned.link_title", link)]
    subject = wording.text("mail.returned.subject", reference=reference)
    return Message(contact_of(record), subject, _compose(record, *blocks), reference)


def resend(record: Mapping[str, Any], reference: str, link: str) -> Message:
    """The receipt link again, to the address on file."""
    blocks = [wording.text("mail.resend.intro"), _facts(record, reference),
              _link_block("mail.resend.link_title", link)]
    subject = wording.text("mail.resend.subject", reference=reference)
    return Message(contact_of(record), subject, _compose(record, *blocks), reference)
