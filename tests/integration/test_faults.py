"""S3 and DynamoDB failures: 503 with Retry-After, nothing half-indexed, and a retry completes exactly once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from bdpilot import store
from tests.factories import idempotency_key


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Injected")


FAULTS = {
    "throttled": lambda: _client_error("ThrottlingException", 400),
    "internal": lambda: _client_error("InternalError", 500),
    "denied": lambda: _client_error("AccessDenied", 403),
    "timeout": lambda: ReadTimeoutError(endpoint_url="https://aws.example"),
}
STEPS = {
    "inspect_upload": ("s3", "head_object"),
    "copy_upload": ("s3", "copy_object"),
    "put_record": ("s3", "put_object"),
    "commit": ("dynamodb", "transact_write_items"),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", STEPS)
def test_failure_at_each_step_then_retry_completes_once(aws, applicant, monkeypatch, step, fault):
    body, key = applicant.body(), idempotency_key()
    service, operation = STEPS[step]
    real = store.Store.__dict__[service].func

    class Failing:
        def __init__(self, client):
            self._client = client

        def __getattr__(self, name):
            if name == operation:
                def fail(**kwargs):
                    raise FAULTS[fault]()
                return fail
            return getattr(self._client, name)

    with monkeypatch.context() as patch:
        patch.setattr(store.Store, service, property(lambda self: Failing(real(self))))
        reply = applicant.submit(body, key=key)
    assert reply.status == 503, reply.body
    assert reply.headers["Retry-After"].isdigit()
    assert "尚未保存" in reply.body["error"]["message"]
    assert not [i for i in aws.items() if i["pk"]["S"].startswith(("SUB#", "USCC#", "IDEM#"))]

    retried = applicant.submit(body, key=key)
    assert retried.status == 201, retried.body
    ref = retried.body["reference"]
    subs = [i for i in aws.items() if i["pk"]["S"].startswith("SUB#")]
    assert [i["pk"]["S"] for i in subs] == [f"SUB#{ref}"]
    assert {k.split("/")[1] for k in aws.keys("submissions/")} == {ref}


def test_head_forbidden_means_no_such_upload(aws, applicant, monkeypatch):
    """Real S3 answers a HEAD for a missing key with a bare 403 when the caller may not list the bucket."""
    body = applicant.body()
    real = store.Store.__dict__["s3"].func

    class NoListing:
        def __init__(self, client):
            self._client = client

        def __getattr__(self, name):
            if name == "head_object":
                def forbidden(**kwargs):
                    raise _client_error("403", 403)
                return forbidden
            return getattr(self._client, name)

    monkeypatch.setattr(store.Store, "s3", property(lambda self: NoListing(real(self))))
    reply = applicant.submit(body)
    assert reply.status == 422
    assert all("未找到或已过期" in f["message"] for f in reply.body["error"]["fields"])
