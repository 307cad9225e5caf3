"""The little HTTP the public function needs from an API Gateway REST proxy event, and the answer it returns.

A handful of fixed routes need no router framework: importing Powertools' event handler cost a cold start ~30 ms,
more than the whole first answer. The shapes follow that resolver's, so an answer is what it was: headers as
`multiValueHeaders`, a JSON body serialised only when it is not already text, bytes base64-encoded.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Request:
    """The parts of the proxy event the routes read. Header names are lower-cased (HTTP's are case-insensitive)."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self.headers: dict[str, str] = {k.lower(): v for k, v in (event.get("headers") or {}).items()}

    @property
    def method(self) -> str:
        return self.event["httpMethod"].upper()

    @property
    def path(self) -> str:
        return self.event["path"]

    @property
    def body(self) -> str | None:
        return self.event.get("body")

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self.event.get("isBase64Encoded"))

    @property
    def query(self) -> dict[str, str]:
        return self.event.get("queryStringParameters") or {}

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status_code: int
    content_type: str
    body: str | bytes | dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _serialise(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def proxy_result(response: Response) -> dict[str, Any]:
    """The Lambda proxy integration's answer for `response`."""
    headers = {**response.headers}
    headers.setdefault("Content-Type", response.content_type)
    body, encoded = response.body, isinstance(response.body, bytes)
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode()
    elif not isinstance(body, str):
        body = _serialise(body)
    return {"statusCode": response.status_code, "body": body, "isBase64Encoded": encoded,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}}
