"""The 退回修改 e-mail: after a unit returns a submission, its contact (the address on file in the stored record,
never one a request names) gets the unit's reason and the signed receipt link, from which the applicant revises
and resubmits before the unit deadline. Sent after the decision is stored: a mail that cannot go out now is queued
by the mailer and retried, and the decision stands either way.
"""

from __future__ import annotations

from bdpilot import settings
from bdpilot.console.app import Context
from bdpilot.console.records.verification import parse_record
from bdpilot.domain import clock, mail, receipts
from bdpilot.web import mailqueue


def send(ctx: Context, ref: str, unit: str, reason: str) -> str:
    """Mail the applicant; the page's notice: "mailed", "queued" (the mailer retries), "not_sent" (mail is off
    or could not even be queued) or "no_mail" (no contact address on file)."""
    cfg = settings.load()
    got = ctx.services.reader.get_record_object(ref)
    record = parse_record(got[0]) if got is not None else None
    if record is None or not mail.contact_of(record):
        ctx.audit("mail_returned", ref, outcome="no_address")
        return "no_mail"
    now = ctx.now or clock.now()
    message = mail.returned(record, ref, unit=unit, reason=reason,
                            link=receipts.link(cfg.secret, cfg.site_url, ref, now), deadline=cfg.unit_deadline)
    outcome = mailqueue.send(cfg, message)  # counted as every other mail is (MailSent / MailFailed)
    ctx.audit("mail_returned", ref, outcome=outcome)
    return {"sent": "mailed", "queued": "queued"}.get(outcome, "not_sent")
