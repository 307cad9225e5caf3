"""Mail with its metrics, and the scheduled function that retries what could not be sent.

  send(cfg, message)   bdpilot.store.mailer.send, counted: MailSent, or MailFailed + MailQueued (a "lost" message,
                       not even queued, counts MailFailed and logs an error). Never raises for mail or storage: a
                       stored submission or decision stands whatever the mail does. The console and the
                       applicant function call this, not the mailer, so every path counts the same.
  handler              EventBridge, every 5 minutes (infra: MailQueueFunction): mailer.retry_queued, then
                       MailSent/MailFailed per message and MailQueueAge (seconds, the oldest still queued).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from bdpilot import settings
from bdpilot.domain import clock, mail
from bdpilot.domain.mail import Message
from bdpilot.store import mailer
from bdpilot.web import metrics

# Never the address, subject or text: the reference and the outcome only.
logger = Logger(service="bdpilot")


def send(cfg: settings.Settings, message: Message) -> str:
    """"sent" | "queued" | "lost" | "off" (see bdpilot.store.mailer.send)."""
    outcome = mailer.send(cfg, message, clock.now())
    if outcome == "sent":
        metrics.now(metrics.MAIL_SENT)
    elif outcome in ("queued", "lost"):
        metrics.now(metrics.MAIL_FAILED)
        if outcome == "queued":
            metrics.now(metrics.MAIL_QUEUED)
    log = logger.error if outcome == "lost" else logger.info
    log("mail", extra={"outcome": outcome, "reference": message.reference, "mode": cfg.mail})
    return outcome


def receipt(cfg: settings.Settings, body: dict[str, Any], link: str) -> str:
    """The receipt e-mail for a stored submission or revision (the intake's body). Never raises: a bug in building
    the mail must not turn a stored submission into a 500 (it is logged and counted as MailFailed)."""
    try:
        return send(cfg, mail.receipt(body, link, cfg.deadline))
    except Exception as exc:
        logger.error("receipt mail failed", extra={"outcome": "mail_error", "reference": body.get("reference"),
                                                   **metrics.code_location(exc)})
        metrics.now(metrics.MAIL_FAILED)
        return "lost"


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = settings.load()
    if cfg.mail == "off":
        return {"sent": 0, "failed": 0, "skipped": 0}
    done = mailer.retry_queued(cfg, clock.now())
    for _ in range(done.sent):
        metrics.now(metrics.MAIL_SENT)
    for _ in range(done.failed):
        metrics.now(metrics.MAIL_FAILED)
    metrics.now(metrics.MAIL_QUEUE_AGE, done.oldest_seconds, MetricUnit.Seconds)
    logger.info("mail retried", extra={"outcome": "retried", "sent": done.sent, "failed": done.failed,
                                       "skipped": done.skipped, "errors": sorted(set(done.errors)),
                                       "oldest_seconds": round(done.oldest_seconds)})
    return {"sent": done.sent, "failed": done.failed, "skipped": done.skipped}
