"""What the applicant function reads for the holder of a receipt link (or, for resend, the address on file):
the current version of a submission as bdpilot.intake.revision loads it (index, units item, record), read with
one Reader per warm container. Shared by the receipt page and resend; the revise views read the same way.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from bdpilot import settings
from bdpilot.domain import receipts
from bdpilot.intake import revision
from bdpilot.store.reader import Reader

Current = revision.Current


@cache
def _reader(table: str, bucket: str, units_table: str) -> Reader:
    # One client set per warm container, on the session the settings were read with.
    return Reader(table, bucket, session=settings.aws_session(), units_table=units_table)


def reader_for(cfg: settings.Settings) -> Reader:
    return _reader(cfg.table, cfg.bucket, cfg.units_table)


def load(cfg: settings.Settings, reference: str) -> Current | None:
    """The application as filed now; None when there is no such submission (or its record cannot be read)."""
    try:
        return revision.load(reader_for(cfg), reference)
    except revision.Missing:
        return None


def body(current: Current) -> dict[str, Any]:
    """The shape the printable copy and the receipt e-mail take (the intake's 201 body) for the current version:
    the index holds the current version's digest."""
    return {"reference": current.reference, "digest": str(current.index.get("digest") or ""),
            "received_at": current.record.get("received_at", ""), "record": current.record}


def link(cfg: settings.Settings, reference: str, now: datetime) -> str:
    return receipts.link(cfg.secret, cfg.site_url, reference, now)
