"""Shared fixtures: a moto AWS created from infra/template.yaml, a settable clock, and API calls as events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from bdpilot.domain import campaign, clock
from bdpilot.ops.local import invoke, rest_event
from bdpilot.web import api
from tests import s3post
from tests.factories import PDF, application, attachments, idempotency_key
from tests.live import LiveRun, build_site, start_live, stop_live

SECRET = "test-secret-0123456789"
OPEN_TIME = datetime(2019, 11, 15, 10, 0, tzinfo=campaign.TZ)


class Clock:
    """The server clock, set by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def now(monkeypatch) -> Clock:
    fixed = Clock(OPEN_TIME)
    monkeypatch.setattr(clock, "now", fixed)
    return fixed


@dataclass
class Aws:
    table: str
    bucket: str
    s3: Any
    dynamodb: Any
    region: str = "us-east-1"

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=self.table, ConsistentRead=True)["Items"]


@pytest.fixture
def aws_env(monkeypatch, tmp_path_factory) -> None:
    # Mail goes to a test's own outbox, never a folder shared with other runs.
    monkeypatch.setenv("BDPILOT_OUTBOX_DIR", str(tmp_path_factory.mktemp("outbox")))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "BDPILOT_SECRET": SECRET, "BDPILOT_MIN_FILL_SECONDS": "10"}.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "BDPILOT_DEADLINE", "BDPILOT_UNIT_DEADLINE", "BDPILOT_MAIL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def aws(aws_env, monkeypatch) -> Iterator[Aws]:
    """Buckets and tables created the way production creates them: by the CloudFormation stack."""
    from bdpilot.ops import stack

    with mock_aws():
        outputs = stack.create_stack(boto3.Session(), stack_name="bdpilot-test")
        monkeypatch.setenv("BDPILOT_TABLE", outputs["TableName"])
        monkeypatch.setenv("BDPILOT_BUCKET", outputs["SubmissionsBucketName"])
        for name, output in (("UNITS", "UnitsTableName"), ("STAFF", "StaffTableName"), ("AUDIT", "AuditTableName")):
            monkeypatch.setenv(f"BDPILOT_{name}_TABLE", outputs[output])
        api._store.cache_clear()
        yield Aws(outputs["TableName"], outputs["SubmissionsBucketName"],
                  boto3.client("s3"), boto3.client("dynamodb"))
        api._store.cache_clear()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def call(method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
         raw: bytes | str | None = None) -> Reply:
    """One request through the real Lambda handler, as API Gateway would deliver it."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    data = raw if raw is not None else (json.dumps(body, ensure_ascii=False) if body is not None else None)
    result = invoke(rest_event(method, path, headers=headers, body=data))
    text = result.get("body") or ""
    got = dict(result.get("headers") or {})
    got |= {k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items() if v}
    parsed = json.loads(text) if "json" in got.get("Content-Type", "") else text
    return Reply(result["statusCode"], got, parsed)


class Applicant:
    """A person with the form open: a form token, uploads of their own, and a ready 申报书."""

    def __init__(self, aws: Aws, now: Clock) -> None:
        self.aws, self.now = aws, now
        self.new_form()

    def new_form(self) -> None:
        """Open the form again (a reload): a fresh form token, since a token admits one stored submission."""
        reply = call("GET", "/api/campaign")
        assert reply.status == 200, reply.body
        self.token = reply.body["form_token"]

    def upload(self, data: bytes = PDF, *, filename: str = "文件.pdf") -> str:
        """Ask for a presigned POST, then post the form with the file where it points, as the browser does.
        moto accepts any POST, so the form is first checked the way S3 checks it (tests/s3post.py)."""
        reply = call("POST", "/api/uploads", {"form_token": self.token, "filename": filename, "size": len(data)})
        assert reply.status == 201, reply.body
        url, fields = reply.body["url"], reply.body["fields"]
        assert s3post.problems(url, fields, file_size=len(data), now=datetime.now(UTC), region=self.aws.region,
                               secret_key=boto3.Session().get_credentials().secret_key) == []
        posted = requests.post(url, data=fields, files={"file": (filename, data, "application/pdf")}, timeout=30)
        assert posted.status_code == 204, posted.text
        return reply.body["upload_id"]

    def body(self, **sections: Any) -> dict[str, Any]:
        if "attachments" not in sections:
            sections["attachments"] = attachments(self.upload(), self.upload())
        return {"application": application(**sections), "form_token": self.token, "website": ""}

    def submit(self, body: dict[str, Any] | None = None, *, key: str | None = None, wait: bool = True) -> Reply:
        if wait:
            self.now.advance(minutes=5)  # a person takes a while to fill the form
        return call("POST", "/api/submissions", body if body is not None else self.body(),
                    headers={"Idempotency-Key": key or idempotency_key()})


@pytest.fixture
def applicant(aws, now) -> Applicant:
    return Applicant(aws, now)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The site built once per test session into a temporary folder (never the working tree's site/)."""
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def live(built_site, tmp_path_factory) -> Iterator[LiveRun]:
    run = start_live(built_site, tmp_path_factory.mktemp("local-data"))
    yield run
    stop_live(run)
