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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from bdpilot.domain import application, campaign

if TYPE_CHECKING:
    import boto3

MAX_BODY_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = application.MAX_UPLOAD_BYTES  # what S3 is told to enforce
UPLOAD_EXPIRES_SECONDS = 15 * 60
TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600
# What the template's AppSecret parameter used to enforce (MinLength 16), now checked where the secret is read.
MIN_SECRET_CHARS = 16

# Every variable `load()` reads: the cache key.
NAMES = ("BDPILOT_TABLE", "BDPILOT_BUCKET", "BDPILOT_SECRET", "BDPILOT_SECRET_PARAMETER", "BDPILOT_DEADLINE",
         "BDPILOT_MIN_FILL_SECONDS", "BDPILOT_STAGE", "BDPILOT_UNITS_TABLE", "BDPILOT_STAFF_TABLE",
         "BDPILOT_AUDIT_TABLE")
# The staff console's tables (infra/template.yaml: UnitsTable, StaffTable, AuditTable) and their local defaults.
STAFF_TABLES = {"BDPILOT_UNITS_TABLE": "bdpilot-units", "BDPILOT_STAFF_TABLE": "bdpilot-staff",
                "BDPILOT_AUDIT_TABLE": "bdpilot-audit"}
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")  # what DynamoDB accepts


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

    @classmethod
    def from_env(cls, env: Mapping[str, str | None]) -> Settings:
        """Parse and check every variable of NAMES (SettingsError names the first that cannot be used)."""
        return cls(
            table=env.get("BDPILOT_TABLE") or "bdpilot-submissions",
            bucket=env.get("BDPILOT_BUCKET") or "bdpilot-submissions",
            secret=_secret(env.get("BDPILOT_SECRET"), env.get("BDPILOT_SECRET_PARAMETER")),
            deadline=_deadline(env.get("BDPILOT_DEADLINE")),
            min_fill_seconds=_min_fill_seconds(env.get("BDPILOT_MIN_FILL_SECONDS")),
            stage=env.get("BDPILOT_STAGE") or "local",
            units_table=_table("BDPILOT_UNITS_TABLE", env),
            staff_table=_table("BDPILOT_STAFF_TABLE", env),
            audit_table=_table("BDPILOT_AUDIT_TABLE", env),
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
