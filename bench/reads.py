"""What a benchmark counts besides time: the items each DynamoDB call reads, which is what DynamoDB bills."""

from __future__ import annotations

from typing import Any

Reads = dict[str, int]


def counting(client: Any) -> Reads:
    """Count the items `client`'s DynamoDB calls read (Query/Scan: scanned; GetItem: found; BatchGetItem: found)
    and the calls themselves, from now on."""
    reads: Reads = {"items": 0, "calls": 0}

    def after(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        reads["calls"] += 1
        if model.name in ("Query", "Scan"):
            reads["items"] += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        elif model.name == "GetItem" and "Item" in parsed:
            reads["items"] += 1
        elif model.name == "BatchGetItem":
            reads["items"] += sum(len(items) for items in parsed.get("Responses", {}).values())

    client.meta.events.register("after-call.dynamodb", after)
    return reads
