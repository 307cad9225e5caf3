"""The template creates in moto's CloudFormation, in-process and through moto's server, with useful outputs."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from bdpilot.ops import stack

REQUIRED_OUTPUTS = {"TableName", "SubmissionsBucketName", "SiteBucketName", "AdminPolicyArn", "FunctionRoleArn"}


@pytest.fixture
def server(fake_credentials: None) -> Iterator[str]:
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto_server.stop()


def check_stack(session: boto3.Session, outputs: dict[str, str], endpoint_url: str | None = None) -> None:
    assert outputs.keys() >= REQUIRED_OUTPUTS
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    table = dynamodb.describe_table(TableName=outputs["TableName"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"by-time", "by-direction", "by-recommender"}
    ttl = dynamodb.describe_time_to_live(TableName=outputs["TableName"])["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"

    s3 = session.client("s3", endpoint_url=endpoint_url)
    bucket = outputs["SubmissionsBucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    s3.put_object(Bucket=bucket, Key="submissions/x/record.json", Body=b"{}")
    assert s3.get_object(Bucket=bucket, Key="submissions/x/record.json")["Body"].read() == b"{}"


def test_stack_creates_in_process(fake_credentials: None) -> None:
    with mock_aws():
        session = boto3.Session()
        outputs = stack.create_stack(session)
        check_stack(session, outputs)
        # A second call (local run restarted on kept data) finds the stack instead of failing.
        assert stack.create_stack(session) == outputs


def test_stack_creates_through_moto_server(server: str) -> None:
    session = boto3.Session()
    outputs = stack.create_stack(session, endpoint_url=server, stack_name="bdpilot-server")
    check_stack(session, outputs, endpoint_url=server)


def test_moto_filter_keeps_everything_else(template: dict) -> None:
    filtered = stack.for_moto(template)
    skipped = {n for n, r in template["Resources"].items() if r["Type"] in stack.MOTO_SKIPPED_TYPES}
    assert skipped, "the filter should have something to do"
    assert filtered["Resources"].keys() == template["Resources"].keys() - skipped
    # No kept resource or output still refers to a skipped one.
    for name in filtered["Resources"].keys() | filtered["Outputs"].keys():
        node = filtered["Resources"].get(name) or filtered["Outputs"][name]
        assert not stack._references(node) & skipped, name
    # The template on disk is untouched by the filter.
    assert stack.load_template() == template


def test_skipped_types_are_exactly_what_moto_lacks(template: dict) -> None:
    """A type moto learns to create, or a new type in the template that moto lacks, shows up here."""
    from moto.cloudformation.parsing import get_model_map

    supported = set(get_model_map())
    used = {resource["Type"] for resource in template["Resources"].values()}
    assert used - supported <= stack.MOTO_SKIPPED_TYPES, "unsupported by moto and not skipped"
    skipped_on_purpose = {"AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::Lambda::Version",
                          "AWS::Events::Rule"}
    assert stack.MOTO_SKIPPED_TYPES & supported == skipped_on_purpose
