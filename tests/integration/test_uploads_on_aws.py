"""Uploads as real S3 takes them: SigV4 presigned POSTs to the bucket's regional virtual-hosted endpoint, with a
policy whose every condition holds for the form the browser posts. moto accepts SigV2, the global endpoint and
any policy, so tests/s3post.py checks what S3 documents, and these tests prove the checker refuses what S3 does."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
import requests
from botocore.config import Config
from moto import mock_aws

from bdpilot.store import Store, upload_key
from tests import s3post
from tests.factories import PDF

BUCKET = "bdpilot-test-submissions"
OWNER = "0123456789abcdef0123456789abcdef"


def _bucket(region: str) -> None:
    s3 = boto3.client("s3", region_name=region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=BUCKET)
    else:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})


def _secret() -> str:
    return boto3.Session().get_credentials().secret_key


@pytest.fixture
def in_region(aws_env, monkeypatch):
    def enter(region: str) -> Store:
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)
        _bucket(region)
        return Store("table", BUCKET, session=boto3.Session(region_name=region))

    with mock_aws():
        yield enter


@pytest.mark.parametrize("region", ["us-east-1", "ap-northeast-1", "eu-central-1", "ap-east-1"])
def test_presigned_posts_are_sigv4_on_the_regional_endpoint_and_s3_stores_them(in_region, region):
    store = in_region(region)
    post = store.presign_upload("u" * 32, OWNER, max_bytes=len(PDF) + 10, expires=900)
    assert post["url"] == f"https://{BUCKET}.s3.{region}.amazonaws.com/"
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert s3post.problems(post["url"], post["fields"], file_size=len(PDF), secret_key=_secret(),
                           now=datetime.now(UTC), region=region) == []
    sent = requests.post(post["url"], data=post["fields"], files={"file": ("a.pdf", PDF, "application/pdf")},
                         timeout=30)
    assert sent.status_code == 204
    head = boto3.client("s3", region_name=region).head_object(Bucket=BUCKET, Key=upload_key("u" * 32))
    assert head["Metadata"]["owner"] == OWNER and head["ContentType"] == "application/pdf"


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1"])
def test_china_regions_post_to_the_amazonaws_com_cn_endpoint(in_region, region):
    # moto has no China partition to store into; the form itself is what S3 in China would check.
    store = Store("table", BUCKET, session=boto3.Session(region_name=region))
    post = store.presign_upload("u" * 32, OWNER, max_bytes=100, expires=900)
    assert post["url"] == f"https://{BUCKET}.s3.{region}.amazonaws.com.cn/"
    assert s3post.problems(post["url"], post["fields"], file_size=50, secret_key=_secret(),
                           now=datetime.now(UTC), region=region) == []


def test_the_no_javascript_redirect_is_a_policy_condition(in_region):
    store = in_region("eu-central-1")
    back = "https://apply.example.cn/api/apply/uploads?token=t&kind=ip"
    post = store.presign_upload("u" * 32, OWNER, max_bytes=100, expires=900, redirect=back)
    assert post["fields"]["success_action_redirect"] == back
    ok = s3post.problems(post["url"], post["fields"], file_size=50, secret_key=_secret(), now=datetime.now(UTC),
                         region="eu-central-1")
    assert ok == []
    elsewhere = {**post["fields"], "success_action_redirect": "https://evil.example/"}
    assert s3post.problems(post["url"], elsewhere, file_size=50, secret_key=_secret(), now=datetime.now(UTC))


def test_a_local_stand_in_is_addressed_by_path_and_still_signed_sigv4(aws_env):
    store = Store("table", BUCKET, endpoint_url="http://127.0.0.1:5999",
                  session=boto3.Session(region_name="us-east-1"))
    post = store.presign_upload("u" * 32, OWNER, max_bytes=100, expires=900)
    assert post["url"] == f"http://127.0.0.1:5999/{BUCKET}"
    assert s3post.problems(post["url"], post["fields"], file_size=50, secret_key=_secret(),
                           now=datetime.now(UTC)) == []


def test_the_checker_refuses_what_s3_refuses(in_region):
    """The checker must be able to fail: each of these forms S3 would refuse, while moto stores them all."""
    store = in_region("ap-northeast-1")
    post = store.presign_upload("u" * 32, OWNER, max_bytes=100, expires=900)
    url, fields, secret, now = post["url"], post["fields"], _secret(), datetime.now(UTC)

    def refused(url: str = url, fields: dict = fields, size: int = 50) -> list[str]:
        return s3post.problems(url, fields, file_size=size, secret_key=secret, now=now, region="ap-northeast-1")

    assert refused() == []
    assert refused(size=101) and refused(size=0)  # content-length-range
    assert refused(fields={**fields, "key": "uploads/" + "v" * 32})  # exact key
    assert refused(fields={**fields, "Content-Type": "text/html"})  # content type
    assert refused(fields={**fields, "x-amz-meta-owner": "someone-else"})  # owner tag
    assert refused(fields={**fields, "x-amz-meta-extra": "1"})  # a field the policy does not name
    assert refused(fields={**fields, "x-amz-signature": "0" * 64})  # forged signature
    assert refused(url="https://s3.amazonaws.com/" + BUCKET)  # the global endpoint, by path
    # What the function signed before: SigV2 fields on the global endpoint. moto stores it; S3 would not.
    sigv2 = boto3.client("s3", region_name="ap-northeast-1", config=Config(signature_version="s3"))
    old = sigv2.generate_presigned_post(BUCKET, "uploads/x", Fields={"Content-Type": "application/pdf"},
                                        Conditions=[{"Content-Type": "application/pdf"}])
    assert "AWSAccessKeyId" in old["fields"]
    assert refused(url=old["url"], fields=old["fields"])
    assert requests.post(old["url"], data=old["fields"], files={"file": ("a.pdf", PDF)}, timeout=30).ok
