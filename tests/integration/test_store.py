"""The store's split: the function's writer, the staff's reader, one mapping of AWS errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from bdpilot.intake import submission
from bdpilot.store import errors
from tests.factories import idempotency_key


@pytest.mark.parametrize("days", [1, 45])
def test_idempotency_record_is_kept_for_idempotency_days(aws, applicant, monkeypatch, days):
    """The IDEM# item's TTL follows the constant: a hard-coded period elsewhere fails this."""
    monkeypatch.setattr(submission, "IDEMPOTENCY_DAYS", days)
    key = idempotency_key()
    reply = applicant.submit(key=key)
    assert reply.status == 201, reply.body
    item = next(i for i in aws.items() if i["pk"]["S"] == f"IDEM#{key}")
    assert int(item["expires_at"]["N"]) == int((applicant.now.at + timedelta(days=days)).timestamp())


def test_the_public_function_does_not_load_the_reader():
    """What the Lambda handler imports never includes the staff's reads (nor the admin tools)."""
    code = ("import sys, bdpilot.web.api; "
            "print(sorted(m for m in sys.modules if m == 'bdpilot.store.reader' or m.startswith('bdpilot.ops')))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stdout


@pytest.mark.parametrize(("code", "kind"), [
    ("AccessDenied", errors.AccessRefused), ("ExpiredToken", errors.AccessRefused),
    ("NoCredentialsError", errors.NoCredentials), ("ProfileNotFound", errors.ProfileNotFound),
    ("ResourceNotFoundException", errors.NotFound), ("NoSuchBucket", errors.NotFound),
    ("NoRegionError", errors.NoRegion), ("EndpointConnectionError", errors.Unreachable),
    ("ThrottlingException", errors.StorageUnavailable),
])
def test_aws_codes_map_to_our_exceptions(code, kind):
    exc = errors.unavailable(code)
    assert type(exc) is kind and str(exc) == code
    assert isinstance(exc, errors.StorageUnavailable)  # the function answers 503 to every one of them
