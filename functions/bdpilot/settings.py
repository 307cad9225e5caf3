"""Deployment settings, read from the environment so the same code runs on AWS, locally and in tests.

On AWS the function checks them once, when its container starts (bdpilot.web.api calls `load()` at import): a wrong
value fails the start with a message naming the setting, instead of turning every request into a 500. After that
`load()` is a handful of dictionary reads and a cache hit per request; a changed environment (tests, the local
run) is read again and checked again.

The form-token secret: on AWS the environment holds only the name of an SSM Parameter Store SecureString
(BDPILOT_SECRET_PARAMETER, optionally `name:version`), read and decrypted once per container; locally and in tests
BDPILOT_SECRET holds the secret itself.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bdpilot.domain import attachments, campaign

if TYPE_CHECKING:
    import boto3

MAX_BODY_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = attachments.MAX_UPLOAD_BYTES  # what S3 is told to enforce
UPLOAD_EXPIRES_SECONDS = 15 * 60
TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600
# What the template's AppSecret parameter used to enforce (MinLength 16), now checked where the secret is read.
MIN_SECRET_CHARS = 16

# Every variable `load()` reads: the cache key.
NAMES = ("BDPILOT_TABLE", "BDPILOT_BUCKET", "BDPILOT_SECRET", "BDPILOT_SECRET_PARAMETER", "BDPILOT_DEADLINE",
         "BDPILOT_MIN_FILL_SECONDS", "BDPILOT_STAGE", "BDPILOT_UNITS_TABLE", "BDPILOT_STAFF_TABLE",
         "BDPILOT_AUDIT_TABLE", "BDPILOT_UNIT_DEADLINE", "BDPILOT_SHOW_RESULTS", "BDPILOT_SITE_URL", "BDPILOT_MAIL",
         "BDPILOT_MAIL_FROM", "BDPILOT_SMTP_URL", "BDPILOT_SMTP_SECRET_PARAMETER", "BDPILOT_OUTBOX_DIR")
# The staff console's tables (infra/template.yaml: UnitsTable, StaffTable, AuditTable) and their local defaults.
STAFF_TABLES = {"BDPILOT_UNITS_TABLE": "bdpilot-units", "BDPILOT_STAFF_TABLE": "bdpilot-staff",
                "BDPILOT_AUDIT_TABLE": "bdpilot-audit"}
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")  # what DynamoDB accepts
# How applicants' e-mails leave: Amazon SES, an SMTP relay (regions without SES, e.g. China), .eml files in a
# folder (the local run), or not at all.
MAIL_MODES = ("ses", "smtp", "outbox", "off")
LOCAL_SITE_URL = "http://127.0.0.1:8000"
LOCAL_MAIL_FROM = "bdpilot@localhost"


# What decides which AWS credentials, region and endpoint a boto3 session uses (`aws_session` key).
AWS_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
             "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


class SettingsError(RuntimeError):
    """A setting is missing or cannot be used; the message names it and says what it should be."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The deployment's settings, each already parsed and checked: built only by `from_env`."""

    table: str
    bucket: str
    secret: bytes
    deadline: datetime  # timezone-aware
    min_fill_seconds: int
    stage: str
    units_table: str
    staff_table: str
    audit_table: str
    unit_deadline: datetime  # timezone-aware, >= deadline: when 推荐单位 must have sent in their recommendations
    show_results: bool  # applicants see 拟推荐/不予推荐 (else only that the review is under way)
    site_url: str  # the public origin (scheme://host[:port], no trailing slash) used in e-mailed links
    mail: str  # one of MAIL_MODES
    mail_from: str
    smtp_url: str  # smtp://host[:port] (STARTTLS) or smtps://host[:port] (TLS); "" unless mail == "smtp"
    smtp_secret_parameter: str  # SSM SecureString "user:password" for the relay; "" = no login
    outbox_dir: Path  # where mail == "outbox" writes .eml files

    @classmethod
    def from_env(cls, env: Mapping[str, str | None]) -> Settings:
        """Parse and check every variable of NAMES (SettingsError names the first that cannot be used)."""
        stage = env.get("BDPILOT_STAGE") or "local"
        deadline = _deadline(env.get("BDPILOT_DEADLINE"))
        mail = _mail(env.get("BDPILOT_MAIL"), stage)
        return cls(
            table=env.get("BDPILOT_TABLE") or "bdpilot-submissions",
            bucket=env.get("BDPILOT_BUCKET") or "bdpilot-submissions",
            secret=_secret(env.get("BDPILOT_SECRET"), env.get("BDPILOT_SECRET_PARAMETER")),
            deadline=deadline,
            min_fill_seconds=_min_fill_seconds(env.get("BDPILOT_MIN_FILL_SECONDS")),
            stage=stage,
            units_table=_table("BDPILOT_UNITS_TABLE", env),
            staff_table=_table("BDPILOT_STAFF_TABLE", env),
            audit_table=_table("BDPILOT_AUDIT_TABLE", env),
            unit_deadline=_unit_deadline(env.get("BDPILOT_UNIT_DEADLINE"), deadline),
            show_results=_flag("BDPILOT_SHOW_RESULTS", env.get("BDPILOT_SHOW_RESULTS"), campaign.SHOW_RESULTS),
            site_url=_site_url(env.get("BDPILOT_SITE_URL")),
            mail=mail,
            mail_from=_mail_from(env.get("BDPILOT_MAIL_FROM")),
            smtp_url=_smtp_url(env.get("BDPILOT_SMTP_URL"), mail),
            smtp_secret_parameter=env.get("BDPILOT_SMTP_SECRET_PARAMETER") or "",
            outbox_dir=Path(env.get("BDPILOT_OUTBOX_DIR") or Path(tempfile.gettempdir()) / "bdpilot-outbox"),
        )


def _table(name: str, env: Mapping[str, str | None]) -> str:
    """A DynamoDB table name (a typo such as a stray space would otherwise fail only at the first request)."""
    raw = env.get(name)
    if not raw:
        return STAFF_TABLES[name]
    if not _TABLE_NAME.fullmatch(raw):
        raise SettingsError(f"{name} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -): {raw!r}")
    return raw


def _deadline(raw: str | None) -> datetime:
    """BDPILOT_DEADLINE opens a new round (ISO 8601; a time without offset is Beijing time)."""
    if not raw:
        return campaign.DEADLINE
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise SettingsError(
            f"BDPILOT_DEADLINE (the stack's DeadlineOverride) is not an ISO 8601 date and time: {raw!r}; "
            "expected e.g. 2020-11-30T17:00 (Beijing time) or 2020-11-30T09:00+00:00, or empty") from None
    return value if value.tzinfo else value.replace(tzinfo=campaign.TZ)


def _unit_deadline(raw: str | None, deadline: datetime) -> datetime:
    """BDPILOT_UNIT_DEADLINE (ISO 8601 like BDPILOT_DEADLINE). Unset, it keeps the campaign's gap after the
    applicants' deadline, so a round opened with BDPILOT_DEADLINE alone still gets a usable review window."""
    if not raw:
        return deadline + (campaign.RECOMMENDATION_DEADLINE - campaign.DEADLINE)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise SettingsError(
            f"BDPILOT_UNIT_DEADLINE (the recommending units' deadline) is not an ISO 8601 date and time: {raw!r}; "
            "expected e.g. 2020-12-14T17:00 (Beijing time) or 2020-12-14T09:00+00:00, or empty") from None
    value = value if value.tzinfo else value.replace(tzinfo=campaign.TZ)
    if value < deadline:
        raise SettingsError(f"BDPILOT_UNIT_DEADLINE {raw!r} is before the applicants' deadline "
                            f"{deadline.isoformat()} (BDPILOT_DEADLINE): units could not review anything")
    return value


def _flag(name: str, raw: str | None, default: bool) -> bool:
    if not raw:
        return default
    if raw not in ("0", "1"):
        raise SettingsError(f"{name} is not 1 or 0: {raw!r}")
    return raw == "1"


def _site_url(raw: str | None) -> str:
    """The origin put in front of e-mailed links: a stray path or slash would double up or break every link."""
    if not raw:
        return LOCAL_SITE_URL
    parts = urlsplit(raw)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query
            or parts.fragment or parts.username or parts.password):
        raise SettingsError(f"BDPILOT_SITE_URL is not an http(s) origin without path or trailing slash: {raw!r}; "
                            "expected e.g. https://bdpilot.example.cn")
    return raw


def _mail(raw: str | None, stage: str) -> str:
    if not raw:
        return "outbox" if stage == "local" else "ses"
    if raw not in MAIL_MODES:
        raise SettingsError(f"BDPILOT_MAIL is not one of {', '.join(MAIL_MODES)}: {raw!r}")
    return raw


def _mail_from(raw: str | None) -> str:
    if not raw:
        return LOCAL_MAIL_FROM
    address = raw.rpartition("<")[2].rstrip(">").strip()  # "Name <a@b>" or a bare address
    local, at, domain = address.partition("@")
    if not (local and at and domain) or any(c.isspace() for c in address):
        raise SettingsError(f"BDPILOT_MAIL_FROM is not an e-mail address (or 'Name <address>'): {raw!r}")
    return raw


def _smtp_url(raw: str | None, mail: str) -> str:
    if not raw:
        if mail == "smtp":
            raise SettingsError("BDPILOT_MAIL is smtp but BDPILOT_SMTP_URL (smtp://host:port or smtps://host:port, "
                                "the relay) is not set")
        return ""
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (parts.scheme not in ("smtp", "smtps") or not parts.hostname or port == -1 or parts.path.strip("/")
            or parts.username or parts.password):
        raise SettingsError(f"BDPILOT_SMTP_URL is not smtp://host[:port] or smtps://host[:port]: {raw!r} "
                            "(credentials belong in the SSM parameter BDPILOT_SMTP_SECRET_PARAMETER)")
    return raw


def _min_fill_seconds(raw: str | None) -> int:
    try:
        value = int(raw) if raw else 10
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(f"BDPILOT_MIN_FILL_SECONDS is not a whole number of seconds ≥ 0: {raw!r}")
    return value


def aws_session() -> boto3.Session:
    """One boto3 session per container for the secret and the store's clients. A session's first client loads
    the endpoint and model data (≈ 100 ms, more than the calls themselves at a cold start): a second session
    would load it all again. A changed environment (a test acting with other credentials) gets its own."""
    return _session(tuple(os.environ.get(name) for name in AWS_NAMES))


@lru_cache(maxsize=8)
def _session(key: tuple[str | None, ...]) -> boto3.Session:
    import boto3

    return boto3.Session()


@cache
def parameter_secret(name: str) -> bytes:
    """The SecureString `name` (`name:version` pins a version), decrypted: one SSM call per container."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    try:
        found = aws_session().client("ssm", config=config).get_parameter(Name=name, WithDecryption=True)["Parameter"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise SettingsError(f"BDPILOT_SECRET_PARAMETER: cannot read the SSM parameter {name!r} ({code})") from None
    except BotoCoreError as exc:
        raise SettingsError(f"BDPILOT_SECRET_PARAMETER: cannot reach SSM for {name!r} ({type(exc).__name__})") from None
    # A plain String would mean the secret sits unencrypted in Parameter Store: refuse it rather than use it.
    if found.get("Type") != "SecureString":
        raise SettingsError(f"BDPILOT_SECRET_PARAMETER: {name!r} is a {found.get('Type')}, not a SecureString")
    value = found["Value"]
    if len(value) < MIN_SECRET_CHARS:
        raise SettingsError(f"BDPILOT_SECRET_PARAMETER: {name!r} holds fewer than {MIN_SECRET_CHARS} characters")
    return value.encode()


def _secret(direct: str | None, parameter: str | None) -> bytes:
    if direct:
        return direct.encode()
    if parameter:
        return parameter_secret(parameter)
    raise SettingsError("neither BDPILOT_SECRET_PARAMETER (on AWS: the SSM SecureString holding the form-token "
                        "secret) nor BDPILOT_SECRET (locally: the secret itself) is set")


@lru_cache(maxsize=16)
def _load(values: tuple[str | None, ...]) -> Settings:
    return Settings.from_env(dict(zip(NAMES, values, strict=True)))


def load() -> Settings:
    """The settings, checked (SettingsError names what is wrong). Cached per environment: cheap per request."""
    env = os.environ
    return _load(tuple(env.get(name) for name in NAMES))
