"""Sending applicants' e-mail: Amazon SES, an SMTP relay, or a local outbox; what fails is queued, never lost.

  send(cfg, message)        deliver once by cfg.mail; on failure store the message as MAIL#<id> (TTL QUEUE_DAYS)
                            and answer "queued" — a caller (a stored submission's 201) never fails because of mail
  retry_queued(cfg, now)    the scheduled retry (bdpilot.web.mailqueue): every queued message, oldest first

Modes (settings.MAIL_MODES): "ses" (sesv2 SendEmail; not in the AWS China regions), "smtp" (smtp://host[:port]
upgrades with STARTTLS and refuses a relay that cannot; smtps://host[:port] is TLS from the first byte; the login,
if any, is the SSM SecureString "user:password" named by cfg.smtp_secret_parameter), "outbox" (one .eml per
message in cfg.outbox_dir, named <UTC time>-<8 hex>.eml, for the local run's /outbox/), "off".

Queued messages sit in the submissions table with entity "MAIL" and their queue time as `received_at`, so the
by-time index lists them (oldest first) without a Scan, apart from the submissions' "SUB" partition. Addresses
are never logged: references, outcomes and error types only.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bdpilot import settings
from bdpilot.domain.mail import Message
from bdpilot.store.errors import mapped
from bdpilot.store.layout import INDEXES, marshal, unmarshal

__all__ = ["Message", "Retried", "deliver", "eml", "queue", "retry_queued", "send"]

QUEUE_DAYS = 7
CLAIM_SECONDS = 120  # a retry run holds a message this long, so two overlapping runs never send it twice
RETRY_BATCH = 50
SMTP_TIMEOUT = 5  # seconds: the applicant's 201 waits for the first attempt
SMTP_PORTS = {"smtp": 587, "smtps": 465}
# One quick attempt: a failure is queued and retried within minutes, so the request need not wait for more.
MAIL_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})


class MailRefused(Exception):
    """The relay cannot be used safely (no STARTTLS on smtp://) or refused every recipient."""


# What one attempt may raise: the network, the relay, SES, the relay's login parameter, or our own refusal.
MAIL_ERRORS = (OSError, smtplib.SMTPException, ClientError, BotoCoreError, settings.SettingsError, MailRefused)


def tls_context() -> ssl.SSLContext:
    """The relay's certificate is verified against the system's CAs (tests substitute their own CA)."""
    return ssl.create_default_context()


def _address(value: str) -> str:
    """The bare address of "Name <a@b>" (the envelope sender)."""
    return value.rpartition("<")[2].rstrip(">").strip()


def eml(cfg: settings.Settings, message: Message, now: datetime | None = None) -> EmailMessage:
    """The message as RFC 5322 (UTF-8 headers and body): what SMTP sends and the outbox keeps."""
    mail = EmailMessage()
    mail["From"] = cfg.mail_from
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now or datetime.now(UTC))
    mail["Message-ID"] = make_msgid(domain=_address(cfg.mail_from).rpartition("@")[2] or None)
    if message.reference:
        mail["X-Bdpilot-Reference"] = message.reference
    mail.set_content(message.text, charset="utf-8")
    return mail


@lru_cache(maxsize=8)
def _client(session: Any, service: str, endpoint: str | None) -> Any:
    with mapped():
        return session.client(service, endpoint_url=endpoint, config=MAIL_CONFIG)


def _aws(service: str) -> Any:
    return _client(settings.aws_session(), service, os.environ.get("AWS_ENDPOINT_URL") or None)


def _ses(cfg: settings.Settings, message: Message) -> None:
    utf8 = "UTF-8"
    _aws("sesv2").send_email(
        FromEmailAddress=cfg.mail_from, Destination={"ToAddresses": [message.to]},
        Content={"Simple": {"Subject": {"Data": message.subject, "Charset": utf8},
                            "Body": {"Text": {"Data": message.text, "Charset": utf8}}}})


def _smtp(cfg: settings.Settings, message: Message) -> None:
    parts = urlsplit(cfg.smtp_url)
    host, port = parts.hostname or "", parts.port or SMTP_PORTS[parts.scheme]
    context = tls_context()
    client: smtplib.SMTP
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
    with client:
        if parts.scheme == "smtp":
            client.ehlo()
            if not client.has_extn("starttls"):
                raise MailRefused("starttls")  # never send an applicant's link in clear text
            client.starttls(context=context)
            client.ehlo()
        if cfg.smtp_secret_parameter:
            user, _, password = settings.parameter_secret(cfg.smtp_secret_parameter).decode().partition(":")
            client.login(user, password)
        refused = client.send_message(eml(cfg, message), from_addr=_address(cfg.mail_from), to_addrs=[message.to])
        if refused:
            raise MailRefused("recipient")


def outbox_name(now: datetime) -> str:
    """<UTC time>-<8 hex>.eml: names sort in sending order; the random part keeps two in one second apart."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.eml"


def _outbox(cfg: settings.Settings, message: Message) -> Path:
    now = datetime.now(UTC)
    folder = Path(cfg.outbox_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / outbox_name(now)
    # Written beside, then renamed: the /outbox/ listing never shows half a message.
    partial = folder / f".{target.name}.part"
    partial.write_bytes(bytes(eml(cfg, message, now)))
    partial.replace(target)
    return target


def deliver(cfg: settings.Settings, message: Message) -> None:
    """One attempt by cfg.mail; raises one of MAIL_ERRORS when it fails."""
    if cfg.mail == "ses":
        _ses(cfg, message)
    elif cfg.mail == "smtp":
        _smtp(cfg, message)
    elif cfg.mail == "outbox":
        _outbox(cfg, message)


def _table() -> Any:
    return _aws("dynamodb")


def queue(cfg: settings.Settings, message: Message, now: datetime, error: str) -> str:
    """Keep `message` for the scheduled retry; its id."""
    mail_id = uuid.uuid4().hex
    item = {"pk": f"MAIL#{mail_id}", "entity": "MAIL", "received_at": now.astimezone(UTC).isoformat(),
            "to": message.to, "subject": message.subject, "text": message.text, "reference": message.reference,
            "attempts": 1, "error": error, "expires_at": int((now + timedelta(days=QUEUE_DAYS)).timestamp())}
    with mapped():
        _table().put_item(TableName=cfg.table, Item=marshal(item), ConditionExpression="attribute_not_exists(pk)")
    return mail_id


def send(cfg: settings.Settings, message: Message, now: datetime | None = None) -> str:
    """"sent", "queued" (the attempt failed; the retry will send it), "lost" (it failed and so did queueing: the
    caller logs and counts it), or "off". Never raises for a mail or storage failure."""
    if cfg.mail == "off":
        return "off"
    try:
        deliver(cfg, message)
        return "sent"
    except MAIL_ERRORS as exc:
        error = type(exc).__name__
    try:
        queue(cfg, message, now or datetime.now(UTC), error)
    except Exception:  # whatever storage raised, the submission stands; the caller reports "lost"
        return "lost"
    return "queued"


@dataclass
class Retried:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # held by another run, or already sent and deleted
    oldest_seconds: float = 0.0  # age of the oldest message still queued after this run
    errors: list[str] = field(default_factory=list)  # the failures' exception types


def _claim(cfg: settings.Settings, pk: str, now: datetime) -> dict[str, Any] | None:
    try:
        got = _table().update_item(
            TableName=cfg.table, Key={"pk": {"S": pk}}, ReturnValues="ALL_NEW",
            UpdateExpression="SET claimed_until = :until ADD attempts :one",
            ConditionExpression=("attribute_exists(pk) AND "
                                 "(attribute_not_exists(claimed_until) OR claimed_until < :now)"),
            ExpressionAttributeValues={":until": {"N": str(int(now.timestamp()) + CLAIM_SECONDS)},
                                       ":now": {"N": str(int(now.timestamp()))}, ":one": {"N": "1"}})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return unmarshal(got["Attributes"])


def queued(cfg: settings.Settings, limit: int = RETRY_BATCH) -> list[dict[str, Any]]:
    """The oldest queued messages (their queue items), at most `limit`."""
    with mapped():
        page = _table().query(TableName=cfg.table, IndexName=INDEXES["time"], Limit=limit,
                              KeyConditionExpression="entity = :m", ExpressionAttributeValues={":m": {"S": "MAIL"}})
    return [unmarshal(item) for item in page.get("Items", [])]


def retry_queued(cfg: settings.Settings, now: datetime) -> Retried:
    """Send what is queued, oldest first: a sent message is deleted; a failed one stays (its claim runs out
    before the next run) until it is sent or its TTL removes it after QUEUE_DAYS."""
    done = Retried()
    with mapped():
        for listed in queued(cfg):
            item = _claim(cfg, listed["pk"], now)
            if item is None:
                done.skipped += 1
                continue
            message = Message(item["to"], item["subject"], item["text"], item.get("reference") or "")
            try:
                deliver(cfg, message)
            except MAIL_ERRORS as exc:
                done.failed += 1
                done.errors.append(type(exc).__name__)
                _table().update_item(TableName=cfg.table, Key={"pk": {"S": listed["pk"]}},
                                     UpdateExpression="SET #e = :e", ExpressionAttributeNames={"#e": "error"},
                                     ExpressionAttributeValues={":e": {"S": type(exc).__name__}})
                continue
            _table().delete_item(TableName=cfg.table, Key={"pk": {"S": listed["pk"]}})
            done.sent += 1
        left = queued(cfg, limit=1)
    if left:
        done.oldest_seconds = max(0.0, (now - datetime.fromisoformat(left[0]["received_at"])).total_seconds())
    return done
