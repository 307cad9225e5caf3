"""The form-token secret on AWS: an SSM Parameter Store SecureString named by the environment, read once per
container, never a plaintext environment variable (tests/infra/test_template.py checks the template side).

moto stores SecureStrings but does not encrypt them with KMS or check kms:Decrypt: the tests hold the read path,
the caching, the version pin and the function policy's ssm:GetParameter scope; that decryption works through
the policy's kms:ViaService / encryption-context condition only a real account can show."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bdpilot import settings
from bdpilot.domain import tokens
from bdpilot.ops import stack
from tests.conftest import call
from tests.infra.test_least_privilege import denied, enforced, policy_document, user_with

NAME = "/bdpilot/local/form-token-secret"  # the template's name for Stage=local (stack.LOCAL_PARAMETERS)
VALUE = "ssm-secret-0123456789abcdef"


@pytest.fixture
def ssm(aws, monkeypatch) -> Iterator[object]:
    """The moto stack of tests/conftest.py plus the SecureString `bdpilot deploy` creates; no BDPILOT_SECRET."""
    client = boto3.client("ssm")
    client.put_parameter(Name=NAME, Value=VALUE, Type="SecureString")
    monkeypatch.delenv("BDPILOT_SECRET")
    monkeypatch.setenv("BDPILOT_SECRET_PARAMETER", NAME)
    settings.parameter_secret.cache_clear()
    settings._load.cache_clear()
    yield client
    settings.parameter_secret.cache_clear()
    settings._load.cache_clear()


def test_the_secret_comes_from_the_parameter_and_signs_the_tokens(ssm, now) -> None:
    assert settings.load().secret == VALUE.encode()
    reply = call("GET", "/api/campaign")
    assert reply.status == 200
    assert tokens.check(VALUE.encode(), reply.body["form_token"], now(), min_seconds=0, max_seconds=60) is None
    upload = call("POST", "/api/uploads", {"form_token": reply.body["form_token"], "filename": "a.pdf", "size": 10})
    assert upload.status == 201, upload.body


def test_read_once_per_container(ssm) -> None:
    first = settings.load()
    ssm.delete_parameter(Name=NAME)  # a second read would fail now
    settings._load.cache_clear()  # even a fresh settings object reuses the container's secret
    assert settings.load().secret == first.secret
    assert settings.parameter_secret.cache_info().misses == 1


def test_the_pinned_version_is_read_not_the_latest(ssm, monkeypatch) -> None:
    ssm.put_parameter(Name=NAME, Value="rotated-secret-0123456789", Type="SecureString", Overwrite=True)
    monkeypatch.setenv("BDPILOT_SECRET_PARAMETER", f"{NAME}:1")
    assert settings.load().secret == VALUE.encode()
    monkeypatch.setenv("BDPILOT_SECRET_PARAMETER", f"{NAME}:2")
    assert settings.load().secret == b"rotated-secret-0123456789"


def test_a_plaintext_parameter_is_refused(ssm) -> None:
    ssm.put_parameter(Name=NAME, Value=VALUE, Type="String", Overwrite=True)
    with pytest.raises(settings.SettingsError, match="not a SecureString"):
        settings.load()


def test_a_short_secret_is_refused(ssm) -> None:
    ssm.put_parameter(Name=NAME, Value="short", Type="SecureString", Overwrite=True)
    with pytest.raises(settings.SettingsError, match="fewer than 16"):
        settings.load()


def test_a_missing_parameter_names_itself_and_the_error_not_a_value(ssm, monkeypatch) -> None:
    monkeypatch.setenv("BDPILOT_SECRET_PARAMETER", "/bdpilot/local/nothing-here")
    with pytest.raises(settings.SettingsError, match=r"/bdpilot/local/nothing-here.*ParameterNotFound"):
        settings.load()


@pytest.fixture
def function_user(aws_env) -> Iterator[boto3.Session]:
    with mock_aws():
        outputs = stack.create_stack(boto3.Session(), stack_name="bdpilot-ssm")
        boto3.client("ssm").put_parameter(Name=NAME, Value=VALUE, Type="SecureString")
        boto3.client("ssm").put_parameter(Name="/bdpilot/other/form-token-secret", Value=VALUE, Type="SecureString")
        iam = boto3.client("iam")
        document = policy_document(iam, outputs["FunctionPolicyArn"])
        (read,) = [s for s in document["Statement"] if s.get("Sid") == "ReadTheFormTokenSecret"]
        # The ARN names exactly the parameter the function is told to read (Stage=local here).
        assert read["Resource"] == f"arn:aws:ssm:us-east-1:123456789012:parameter{NAME}"
        # moto authorizes SSM requests against the resource "*" (as it does DynamoDB's, see
        # tests/infra/test_least_privilege.py), so the statement naming the parameter is widened for moto; which
        # parameter it names is asserted above and in tests/infra/test_template.py.
        read["Resource"] = "*"
        yield boto3.Session(**user_with(iam, "function", document), region_name="us-east-1")


def test_the_function_policy_reads_the_secret_and_does_nothing_else_in_ssm(function_user) -> None:
    ssm = function_user.client("ssm")
    got = enforced(lambda: ssm.get_parameter(Name=NAME, WithDecryption=True))
    assert got["Parameter"]["Value"] == VALUE
    assert denied(lambda: ssm.get_parameters(Names=[NAME], WithDecryption=True))
    assert denied(lambda: ssm.get_parameters_by_path(Path="/bdpilot/", WithDecryption=True))
    assert denied(lambda: ssm.describe_parameters())
    assert denied(lambda: ssm.put_parameter(Name=NAME, Value="x" * 20, Type="SecureString", Overwrite=True))
