"""The server clock, in Beijing time. One function so tests can set the time explicitly."""

from datetime import datetime

from bdpilot.domain.campaign import TZ


def now() -> datetime:
    return datetime.now(TZ)
