"""A corpus of hostile requests for every public route, shared by tests/reliability/test_hostile_corpus.py and
bench/hostile.py: what a client can send for the price of one request, whatever the form allows.

Each case is built around a genuine form token and genuine uploads, so it gets as far into the handler as a hostile
client could; the JSON bodies are otherwise valid 申报书s. Query strings are given as the parameter dict API Gateway
hands the function, so values that no URL decoder would produce (a lone surrogate) are in it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from bdpilot.domain.application import form_schema
from bdpilot.ops.local import rest_event
from bdpilot.web.schemawalk import flatten
from tests.factories import application, attachments, idempotency_key

MAX_ANSWER_BYTES = 64 * 1024
SURROGATE = "\ud800"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes | str | None = None  # a str is delivered as is (even with a lone surrogate), bytes as UTF-8 or base64
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] | None = None

    def event(self) -> dict[str, Any]:
        headers = {"Content-Type": self.content_type, "Idempotency-Key": idempotency_key(), **self.headers}
        body = self.body
        event = rest_event(self.method, self.path, headers=headers, body=body if isinstance(body, bytes) else None)
        if isinstance(body, str):
            event["body"] = body
        event["queryStringParameters"] = self.query
        return event


def _nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def _json(value: Any) -> bytes:
    # ensure_ascii: a lone surrogate goes out as the JSON escape "\ud800", as JSON.stringify sends it.
    return json.dumps(value, ensure_ascii=True).encode()


def _text_leaves(app: dict[str, Any]) -> list[tuple[str, str]]:
    return [(section, name) for section, values in app.items() if isinstance(values, dict)
            for name, value in values.items() if isinstance(value, str)]


def form_body(app: dict[str, Any], token: str, *extra: tuple[str, str]) -> str:
    """The urlencoded body the /apply/ form sends without JavaScript, plus any extra pairs."""
    pairs = [(k, "on" if v is True else str(v)) for k, v in flatten(app).items() if v is not False]
    return urlencode([*pairs, ("form_token", token), ("website", ""), *extra])


def text_limits() -> dict[tuple[str, str], int]:
    """(section, field) → maxLength of every text answer, from the published schema."""
    schema = form_schema()
    limits = {}
    for section, ref in schema["properties"].items():
        definition = schema["$defs"].get(ref.get("$ref", "").rsplit("/", 1)[-1], {})
        for name, prop in definition.get("properties", {}).items():
            if prop.get("type") == "string" and "maxLength" in prop:
                limits[section, name] = prop["maxLength"]
    return limits


def corpus(token: str, upload_ids: tuple[str, str]) -> list[Case]:
    """Every hostile case, for a live form token and two uploads of that form."""
    limits = text_limits()
    valid = application(attachments=attachments(*upload_ids))

    def body(app: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
        return {"application": valid if app is None else app, "form_token": token, "website": "", **top}

    def with_section(section: str, **values: Any) -> dict[str, Any]:
        return body(application(**{section: values}, attachments=valid["attachments"]))

    every_surrogate = application(attachments=valid["attachments"])
    for section, name in _text_leaves(every_surrogate):
        every_surrogate[section][name] = f"项目{SURROGATE}"
    thousands = {f"k{i}": "x" for i in range(10_000)}
    junk_items = [{"kind": "ip", "upload_id": "0" * 32, "filename": "a.pdf",
                   **{f"x{j}": [j] for j in range(8)}} for _ in range(20)]
    empty_sections = {"cover": {}, "applicant": {}, "contact": {}, "project": {}, "details": {}, "attachments": [],
                      "pledge": False}
    too_long = application(attachments=valid["attachments"])
    for section, name in _text_leaves(too_long):
        too_long[section][name] = '"' * (2 * limits.get((section, name), 60) + 1)

    submissions: list[tuple[str, bytes | str]] = [
        ("60,000 empty attachments", _json(body(dict(valid, attachments=[{}] * 60_000)))),
        ("10,000 unknown keys in cover", _json(with_section("cover", **thousands))),
        ("10,000 unknown keys in the application", _json(body(dict(valid, **thousands)))),
        ("10,000 unknown keys in the body", _json(body(**thousands))),
        ("20 attachments with 8 nested unknown keys each", _json(body(dict(valid, attachments=junk_items)))),
        ("every section empty", _json(body(empty_sections))),
        ("every text answer past twice its limit, in quotes", _json(body(too_long))),
        ("a 200 KB key name", _json(with_section("cover", **{"k" * 200_000: 1}))),
        ("a 200 KB string", _json(with_section("cover", project_name="x" * 200_000))),
        ("a lone surrogate in an answer", _json(with_section("cover", project_name=SURROGATE))),
        ("a lone surrogate in every answer", _json(body(every_surrogate))),
        ("a lone surrogate in a key", _json(with_section("cover", **{SURROGATE: "x"}))),
        ("a lone surrogate where a section belongs", _json(body(dict(valid, cover=SURROGATE)))),
        ("a lone surrogate where an attachment belongs", _json(body(dict(valid, attachments=[SURROGATE])))),
        ("a lone surrogate in an unknown key's value", _json(with_section("cover", extra=[SURROGATE]))),
        ("a lone surrogate in an attachment name",
         _json(body(dict(valid, attachments=[dict(valid["attachments"][0], filename=f"{SURROGATE}.pdf"),
                                             valid["attachments"][1]])))),
        ("a lone surrogate in the form token", _json(body(form_token=SURROGATE))),
        ("a lone surrogate in the honeypot", _json(body(website=SURROGATE))),
        ("a lone surrogate as the body's only key", _json({SURROGATE: SURROGATE})),
        ("a non-ASCII form token", _json(body(form_token="1.2.é"))),
        ("a 100 KB form token", _json(body(form_token="1" * 100_000))),
        ("a form token of 5,000 digits", _json(body(form_token="1" * 5_000 + "." + "a" * 16 + "." + "0" * 32))),
        ("900 levels in an answer", _json(with_section("cover", project_name=_nested(900)))),
        ("900 levels under an unknown key", _json(with_section("cover", extra=_nested(900)))),
        ("900 levels under an unknown key of the body", _json(body(dict(valid, pledge=False), extra=_nested(900)))),
        ("50,000 nested lists", "[" * 50_000 + "]" * 50_000),
        ("a list for a section", _json(body(dict(valid, cover=[{}] * 60_000)))),
        ("an object for the attachments", _json(body(dict(valid, attachments={str(i): {} for i in range(9_000)})))),
        ("60,000 items as the application", _json(body([0] * 60_000))),
        ("60,000 items as the body", _json([0] * 60_000)),
        ("an integer of 4,000 digits", _json(with_section("applicant", employees=10**3_999))),
        ("an integer of 5,000 digits", b'{"application": {"applicant": {"employees": 1' + b"0" * 5_000 + b"}}}"),
        ("1e999999 for money", _json(body(valid)).replace(b'"50000.00"', b"1e999999")),
        ("-1e999999 for a count", _json(body(valid)).replace(b'"employees": 1200', b'"employees": -1e999999')),
        ("NaN for money", _json(body(valid)).replace(b'"revenue": "356000.50"', b'"revenue": NaN')),
        ("1E+999999999 as text for money", _json(with_section("applicant", rd_investment="1E+999999999"))),
        ("1E-999999999 as text for money", _json(with_section("applicant", revenue="1E-999999999"))),
        ("a date in the year 99999", _json(with_section("applicant", founded="99999-01-01"))),
        ("not UTF-8", "申报书".encode("gb18030") + b'{"a": "\xff\xfe"}'),
        ("an encoded surrogate in UTF-8 bytes", b'{"application": "\xed\xa0\x80"}'),
        ("an overlong UTF-8 encoding", b'{"application": "\xc0\xaf"}'),
        ("a lone surrogate in the event's text", '{"application": "' + SURROGATE + '"}'),
    ]
    def upload(**fields: Any) -> bytes:
        return _json({"form_token": token, "filename": "a.pdf", "size": 3, **fields})

    uploads: list[tuple[str, bytes | str]] = [
        ("upload: a non-ASCII form token", upload(form_token="1.2.é")),
        ("upload: a lone surrogate in the form token", upload(form_token=SURROGATE)),
        ("upload: a lone surrogate in the file name", upload(filename=SURROGATE)),
        ("upload: 10,000 unknown keys", upload(**thousands)),
        ("upload: a 200 KB file name", upload(filename="a" * 200_000 + ".pdf")),
        ("upload: a size of 4,000 digits", upload(size=10**3_999)),
        ("upload: 1e999999 as the size", upload(size=0).replace(b'"size": 0', b'"size": 1e999999')),
        ("upload: 60,000 items as the file name", upload(filename=[{}] * 60_000)),
        ("upload: 900 levels as the size", upload(size=_nested(900))),
        ("upload: 60,000 items as the body", _json([{}] * 60_000)),
    ]
    deep_name = "application." + ".".join(["a"] * 5_000)
    forms: list[tuple[str, bytes | str]] = [
        ("form: a name with 5,000 dotted levels", urlencode({deep_name: "1", "form_token": token})),
        ("form: a name with 5 dotted levels", form_body(valid, token, ("application.cover.project_name.a.b", "1"))),
        ("form: 10,000 fields", urlencode([(f"application.cover.k{i}", "x") for i in range(10_000)])),
        ("form: 400 unknown fields in cover", form_body(valid, token, *[(f"application.cover.k{i}", "x")
                                                                   for i in range(400)])),
        ("form: 400 attachments", form_body(valid, token, *[(f"application.attachments.{i}.kind", "ip")
                                                       for i in range(2, 400)])),
        ("form: an index of 5,000 digits", form_body(valid, token, ("application.attachments." + "9" * 5_000 + ".kind",
                                                                 "ip"))),
        ("form: a superscript digit as a key", form_body(valid, token, ("application.cover.²", "1"))),
        ("form: a superscript digit as an index", form_body(valid, token, ("application.attachments.².kind", "ip"))),
        ("form: a 100 KB field name", form_body(valid, token, ("application.cover." + "k" * 100_000, "1"))),
        ("form: a 200 KB answer", form_body(valid, token, ("application.details.background", "x" * 200_000))),
        ("form: every text answer past twice its limit, in quotes", form_body(too_long, token)),
        ("form: a percent-encoded surrogate", form_body(valid, token) + "&application.cover.project_name=%ED%A0%80"),
        ("form: a percent-encoded invalid byte", form_body(valid, token) + "&application.cover.%FF=1"),
        ("form: invalid UTF-8 bytes", form_body(valid, token).encode() + b"&application.cover.project_name=\xff"),
        ("form: a lone surrogate in the event's text", form_body(valid, token) + "&x=" + SURROGATE),
        ("form: a non-ASCII form token", form_body(valid, "1.2.é")),
        ("form: a 1.2.é form token, percent-encoded", form_body(valid, token) + "&form_token=" + quote("1.2.é")),
        ("form: a section given as a value", form_body({"cover": "x"}, token)),
    ]
    cases = [Case(n, "POST", "/api/submissions", b) for n, b in submissions]
    cases += [Case(n, "POST", "/api/uploads", b) for n, b in uploads]
    cases += [Case(n, "POST", "/api/submissions", b, FORM) for n, b in forms]

    query_values: list[tuple[str, Callable[[], dict[str, str]]]] = [
        ("a non-ASCII token", lambda: {"token": "1.2.é"}),
        ("a lone surrogate as the token", lambda: {"token": SURROGATE}),
        ("a 100 KB token", lambda: {"token": "1" * 100_000}),
        ("a token of 5,000 digits", lambda: {"token": "1" * 5_000 + "." + "a" * 16 + "." + "0" * 32}),
        ("10,000 upload items", lambda: {"token": token, "a": ",".join(f"ip:{i:032x}" for i in range(10_000))}),
        ("upload items with surrogates", lambda: {"token": token, "a": f"ip:{SURROGATE * 32},{SURROGATE}"}),
        ("a returned key of junk", lambda: {"token": token, "key": "uploads/" + "é" * 10_000, "kind": SURROGATE}),
        ("a returned key of another form", lambda: {"token": token, "key": f"uploads/{upload_ids[0]}", "kind": "ip"}),
        ("10,000 parameters", lambda: {f"p{i}": SURROGATE for i in range(10_000)}),
    ]
    for path in ("/api/apply/uploads", "/api/apply/form"):
        cases += [Case(f"{path.rsplit('/', 1)[-1]} query: {n}", "GET", path, query=q()) for n, q in query_values]
    cases += [Case(f"{path}: a hostile query", "GET", path, query={SURROGATE: SURROGATE * 1_000})
              for path in ("/api/campaign", "/api/schema", "/api/openapi.json")]
    cases.append(Case("an unknown route with a hostile body", "POST", "/api/nope", _json(body(every_surrogate))))
    return cases
