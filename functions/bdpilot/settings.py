"""Deployment settings, read from the environment so the same code runs on AWS, locally and in tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from bdpilot import campaign

MAX_BODY_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_EXPIRES_SECONDS = 15 * 60
TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Settings:
    table: str
    bucket: str
    secret: bytes
    deadline: datetime
    min_fill_seconds: int
    stage: str


def _deadline(raw: str | None) -> datetime:
    """BDPILOT_DEADLINE opens a new round (ISO 8601; a time without offset is Beijing time)."""
    if not raw:
        return campaign.DEADLINE
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=campaign.TZ)


def load() -> Settings:
    env = os.environ
    secret = env.get("BDPILOT_SECRET", "")
    if not secret:
        raise RuntimeError("BDPILOT_SECRET is not set")
    return Settings(
        table=env.get("BDPILOT_TABLE", "bdpilot-submissions"),
        bucket=env.get("BDPILOT_BUCKET", "bdpilot-submissions"),
        secret=secret.encode(),
        deadline=_deadline(env.get("BDPILOT_DEADLINE")),
        min_fill_seconds=int(env.get("BDPILOT_MIN_FILL_SECONDS", "10")),
        stage=env.get("BDPILOT_STAGE", "local"),
    )
