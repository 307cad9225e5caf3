"""The stores a staff request uses, built once per warm container from the settings (ctx.services)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from bdpilot import settings
from bdpilot.store.accounts import Accounts
from bdpilot.store.audit import Audit
from bdpilot.store.layout import CONFIG
from bdpilot.store.reader import Reader
from bdpilot.store.review import Reviews
from bdpilot.store.units import UnitIndex


@dataclass(frozen=True)
class Services:
    units: UnitIndex
    accounts: Accounts
    audit: Audit
    reader: Reader
    reviews: Reviews


@cache
def _build(table: str, bucket: str, units: str, staff: str, audit: str) -> Services:
    # One boto3 session and one DynamoDB client for the three staff tables: clients cost more than a request.
    session = settings.aws_session()
    dynamodb = session.client("dynamodb", config=CONFIG)
    return Services(units=UnitIndex(dynamodb, units), accounts=Accounts(dynamodb, staff), audit=Audit(dynamodb, audit),
                    reader=Reader(table, bucket, session=session), reviews=Reviews(dynamodb, units))


def current() -> Services:
    cfg = settings.load()
    return _build(cfg.table, cfg.bucket, cfg.units_table, cfg.staff_table, cfg.audit_table)


def reset() -> None:
    """Forget the built stores (tests that start another moto, the local run after a restart)."""
    _build.cache_clear()
