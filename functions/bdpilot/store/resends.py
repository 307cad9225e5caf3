"""Sending a receipt link again (POST /api/receipt/resend): who applied under a USCC, and a daily allowance.

The allowance is counted for every USCC asked about, applied or not, before anything else is looked up. On
Lambda the lookup and the mail then run in an invocation of their own (`hand_off`), so the answer waits for the
same two calls whether the code applied or not: neither its content nor its timing says which.
Counter items RESEND#<uscc>#<Beijing date> (N `n`) live in the submissions table and expire after two days.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bdpilot.store.errors import mapped, unavailable

PER_DAY = 3
KEEP = timedelta(days=2)
JOB = "bdpilot_resend"  # the key of the event `hand_off` sends: an API Gateway event never has it


def take(client: Any, table: str, uscc: str, day: date, now: datetime) -> bool:
    """Count one resend for `uscc` on `day`; False (nothing counted) once PER_DAY were counted that day."""
    try:
        client.update_item(
            TableName=table, Key={"pk": {"S": f"RESEND#{uscc}#{day.isoformat()}"}},
            UpdateExpression="ADD n :one SET expires_at = if_not_exists(expires_at, :exp)",
            ConditionExpression="attribute_not_exists(n) OR n < :max",
            ExpressionAttributeValues={":one": {"N": "1"}, ":max": {"N": str(PER_DAY)},
                                       ":exp": {"N": str(int((now + KEEP).timestamp()))}})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise unavailable(exc) from exc
    except BotoCoreError as exc:
        raise unavailable(exc) from exc
    return True


def applied_reference(client: Any, table: str, guard_pk: str) -> str | None:
    """The reference the applicant guard (rules.applicant_key) holds; None when that USCC has not applied."""
    with mapped():
        got = client.get_item(TableName=table, Key={"pk": {"S": guard_pk}}, ConsistentRead=True)
    value = got.get("Item", {}).get("reference", {}).get("S")
    return str(value) if value else None


@cache
def _lambda(key: tuple[str | None, ...]) -> Any:
    from botocore.config import Config

    from bdpilot import settings

    return settings.aws_session().client("lambda", config=Config(connect_timeout=3, read_timeout=5, retries={
        "mode": "standard", "max_attempts": 3}))


def hand_off(function: str, uscc: str) -> None:
    """Invoke `function` (the receipt function itself) asynchronously with {JOB: {"uscc": ...}}: one call whose
    answer (202) does not wait for the invocation. Its role may invoke only itself (infra: ReceiptPolicy)."""
    import os

    client = _lambda((os.environ.get("AWS_REGION"), os.environ.get("AWS_ENDPOINT_URL")))
    with mapped():
        client.invoke(FunctionName=function, InvocationType="Event",
                      Payload=json.dumps({JOB: {"uscc": uscc}}).encode())
