"""The events the local run hands to the handlers: API Gateway REST (v1) proxy events, and which function the
template routes a path to (the public API, the receipt function, the staff console)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl


def rest_event(method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | str | None = None,
               query: str = "") -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event, as the `/{proxy+}` integration delivers it."""
    headers = dict(headers or {})
    raw = body.encode() if isinstance(body, str) else body
    text, b64 = None, False
    if raw is not None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text, b64 = base64.b64encode(raw).decode(), True
    params = dict(parse_qsl(query)) or None
    return {
        "resource": path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": params, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "body": text, "isBase64Encoded": b64,
        "requestContext": {
            "resourcePath": path, "httpMethod": method, "path": f"/local{path}", "stage": "local",
            "requestId": str(uuid.uuid4()), "identity": {"sourceIp": "127.0.0.1"},
            "accountId": "123456789012", "apiId": "local",
        },
    }


@dataclass
class LambdaContext:
    """What Powertools' logger reads from the Lambda context object."""

    function_name: str = "bdpilot-public"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bdpilot-public"
    aws_request_id: str = ""


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """The function API Gateway would call for the event's path: the staff console's or the public API's."""
    context = LambdaContext(aws_request_id=event["requestContext"]["requestId"])
    if is_staff(event["path"]):
        from bdpilot.console import app

        staff_context = LambdaContext("bdpilot-staff", 512, "arn:aws:lambda:us-east-1:123456789012:function:"
                                      "bdpilot-staff", context.aws_request_id)
        return app.handler(event, staff_context)
    if is_receipt(event["path"]):
        from bdpilot.web import receipt

        receipt_context = LambdaContext("bdpilot-receipt", 512, "arn:aws:lambda:us-east-1:123456789012:function:"
                                        "bdpilot-receipt", context.aws_request_id)
        return receipt.handler(event, receipt_context)
    from bdpilot.web import api

    return api.handler(event, context)


def is_staff(path: str) -> bool:
    """The template's /staff and /staff/{proxy+} routes."""
    return path == "/staff" or path.startswith("/staff/")


def is_receipt(path: str) -> bool:
    """The template's /api/receipt and /api/receipt/{proxy+} routes (the receipt function)."""
    return path == "/api/receipt" or path.startswith("/api/receipt/")
