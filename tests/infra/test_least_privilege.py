"""Least privilege, proven against moto with IAM enforcement on rather than asserted from the template.

The policies are the stack's own: the template is created in moto's CloudFormation and the documents are read
back from moto's IAM (FunctionPolicy, AdminPolicy), resolved exactly as CloudFormation resolves them. Users get
them attached and act with their own access keys once `set_initial_no_auth_action_count(0)` turns enforcement on.

moto's evaluator differs from AWS in three ways, and `as_moto_evaluates` adapts the documents for exactly those
(the S3 statements pass through untouched, so S3 is checked down to the object prefix):
- it authorizes DynamoDB requests against the resource "*", so a statement naming the table never matches:
  DynamoDB resources become "*" (tests/infra/test_template.py asserts they name the table);
- it checks the operation name, and AWS has no dynamodb:TransactWriteItems action (AWS checks PutItem, UpdateItem
  or ConditionCheckItem for each item of the transaction): where one of those is allowed, TransactWriteItems is
  added;
- it ignores condition operators other than StringEquals, so the dynamodb:LeadingKeys condition on GetItem is
  not exercised here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from bdpilot.ops import stack

T = TypeVar("T")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def as_moto_evaluates(document: dict[str, Any]) -> dict[str, Any]:
    """The same permissions, spelled so that moto's evaluator grants what AWS would (see the module doc)."""
    adapted = []
    for statement in document["Statement"]:
        statement = dict(statement)
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])
        if any(action.startswith("dynamodb:") for action in actions):
            statement["Resource"] = "*"
            if {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"} & set(actions):
                actions.append("dynamodb:TransactWriteItems")
        statement["Action"] = actions
        adapted.append(statement)
    return {**document, "Statement": adapted}


@dataclass
class Stack:
    outputs: dict[str, str]
    function: boto3.Session
    admin: boto3.Session
    function_keys: dict[str, str]

    @property
    def bucket(self) -> str:
        return self.outputs["SubmissionsBucketName"]

    @property
    def table(self) -> str:
        return self.outputs["TableName"]


def policy_document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return json.loads(document) if isinstance(document, str) else document


REGION = {"region_name": "us-east-1"}
# A policy with nothing for a table still needs one statement for IAM to take it.
NOTHING = {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}


def for_table(document: dict[str, Any], table_arn: str) -> dict[str, Any]:
    """The document's statements that apply to `table_arn` (the table or its indexes), and its S3 ones."""
    kept = []
    for statement in document["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        if not any(a.startswith("dynamodb:") for a in actions):
            if any(a.startswith("s3:") for a in actions):
                kept.append(statement)
            continue
        if any(r == table_arn or r.startswith(table_arn + "/index/") for r in resources):
            kept.append(statement)
    return {**document, "Statement": kept or [NOTHING]}


def user_with(iam: Any, name: str, document: dict[str, Any]) -> dict[str, str]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="stack", PolicyDocument=json.dumps(as_moto_evaluates(document)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@pytest.fixture
def created(fake_credentials: None) -> Iterator[Stack]:
    with mock_aws():
        outputs = stack.create_stack(boto3.Session(), stack_name="bdpilot-iam")
        iam = boto3.client("iam")
        function_keys = user_with(iam, "function", policy_document(iam, outputs["FunctionPolicyArn"]))
        # moto evaluates DynamoDB calls against "*": the admin gets the statements for the submissions table
        # (its audit append is proven on the audit table in test_staff_least_privilege).
        table_arn = boto3.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]["TableArn"]
        admin_keys = user_with(iam, "admin", for_table(policy_document(iam, outputs["AdminPolicyArn"]), table_arn))
        region = {"region_name": "us-east-1"}
        yield Stack(outputs, boto3.Session(**function_keys, **region), boto3.Session(**admin_keys, **region),
                    function_keys)


def enforced(action: Callable[[], T]) -> T:
    """Run `action` with moto enforcing IAM from its first request on."""
    return set_initial_no_auth_action_count(0)(action)()


def denied(action: Callable[[], Any]) -> bool:
    try:
        enforced(action)
    except ClientError as error:
        # moto answers DynamoDB denials as an XML body under code 403 (AWS: AccessDeniedException).
        found = error.response["Error"]
        return found.get("Code", "").startswith("AccessDenied") or "<Code>AccessDenied</Code>" in found.get(
            "Message", "")
    return False


def item(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "entity": {"S": "SUB"}, "received_at": {"S": "2019-11-15T10:00:00+08:00"}}


def test_the_function_adds_submissions_but_cannot_read_list_or_delete_them(created: Stack) -> None:
    s3, dynamodb = created.function.client("s3"), created.function.client("dynamodb")
    bucket, table = created.bucket, created.table

    enforced(lambda: s3.put_object(Bucket=bucket, Key="submissions/BD-X/record.json", Body=b"{}"))
    enforced(lambda: s3.put_object(Bucket=bucket, Key="uploads/u1", Body=PDF))
    assert enforced(lambda: s3.head_object(Bucket=bucket, Key="uploads/u1"))["ContentLength"] == len(PDF)
    first = enforced(lambda: s3.get_object(Bucket=bucket, Key="uploads/u1", Range="bytes=0-7")["Body"].read())
    assert first.startswith(b"%PDF-")
    enforced(lambda: s3.copy_object(Bucket=bucket, Key="submissions/BD-X/attachments/license-1.pdf",
                                    CopySource={"Bucket": bucket, "Key": "uploads/u1"}))

    assert denied(lambda: s3.get_object(Bucket=bucket, Key="submissions/BD-X/record.json"))
    assert denied(lambda: s3.delete_object(Bucket=bucket, Key="submissions/BD-X/record.json"))
    assert denied(lambda: s3.delete_object(Bucket=bucket, Key="uploads/u1"))
    assert denied(lambda: s3.list_objects_v2(Bucket=bucket))
    assert denied(lambda: s3.put_object(Bucket=bucket, Key="exports/x.csv", Body=b""))

    enforced(lambda: dynamodb.put_item(TableName=table, Item=item("SUB#BD-X")))
    enforced(lambda: dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": item("SUB#BD-Y"), "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": table, "Item": {"pk": {"S": "USCC#91350100M000100Y43"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
    ]))
    guard = enforced(lambda: dynamodb.get_item(TableName=table, Key={"pk": {"S": "USCC#91350100M000100Y43"}}))
    assert "Item" in guard

    key = {"pk": {"S": "SUB#BD-X"}}
    assert denied(lambda: dynamodb.scan(TableName=table))
    assert denied(lambda: dynamodb.query(TableName=table, IndexName="by-time", KeyConditionExpression="entity = :e",
                                         ExpressionAttributeValues={":e": {"S": "SUB"}}))
    assert denied(lambda: dynamodb.delete_item(TableName=table, Key=key))
    assert denied(lambda: dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET #s = :s",
                                               ExpressionAttributeNames={"#s": "status"},
                                               ExpressionAttributeValues={":s": {"S": "x"}}))


def test_the_admin_reads_everything_and_writes_only_exports(created: Stack) -> None:
    root = boto3.client("s3")
    root.put_object(Bucket=created.bucket, Key="submissions/BD-X/record.json", Body=b"{}")
    boto3.client("dynamodb").put_item(TableName=created.table, Item=item("SUB#BD-X"))
    s3, dynamodb = created.admin.client("s3"), created.admin.client("dynamodb")
    bucket, table = created.bucket, created.table

    body = enforced(lambda: s3.get_object(Bucket=bucket, Key="submissions/BD-X/record.json")["Body"].read())
    assert body == b"{}"
    assert enforced(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="submissions/"))["KeyCount"] == 1
    enforced(lambda: s3.put_object(Bucket=bucket, Key="exports/all.csv", Body=b"a,b\n"))
    found = enforced(lambda: dynamodb.query(TableName=table, IndexName="by-time",
                                            KeyConditionExpression="entity = :e",
                                            ExpressionAttributeValues={":e": {"S": "SUB"}}))
    assert [i["pk"]["S"] for i in found["Items"]] == ["SUB#BD-X"]
    assert enforced(lambda: dynamodb.scan(TableName=table))["Count"] == 1

    assert denied(lambda: s3.put_object(Bucket=bucket, Key="submissions/BD-X/record.json", Body=b"forged"))
    assert denied(lambda: s3.delete_object(Bucket=bucket, Key="submissions/BD-X/record.json"))
    assert denied(lambda: dynamodb.delete_item(TableName=table, Key={"pk": {"S": "SUB#BD-X"}}))
    assert denied(lambda: dynamodb.put_item(TableName=table, Item=item("SUB#BD-Z")))


def test_the_admin_reads_review_statuses_but_never_queries_or_writes_the_units_table(fake_credentials: None) -> None:
    """`bdpilot admin` list/show/export/stats read each submission's review status and each unit's state by key."""
    with mock_aws():
        outputs = stack.create_stack(boto3.Session(), stack_name="bdpilot-iam-units")
        iam, root = boto3.client("iam"), boto3.client("dynamodb")
        units = outputs["UnitsTableName"]
        units_arn = root.describe_table(TableName=units)["Table"]["TableArn"]
        key = {"unit": {"S": "河北省"}, "reference": {"S": "BD-X"}}
        root.put_item(TableName=units, Item={**key, "status": {"S": "proposed"}})
        keys = user_with(iam, "admin-units", for_table(policy_document(iam, outputs["AdminPolicyArn"]), units_arn))
        dynamodb = boto3.Session(**keys, region_name="us-east-1").client("dynamodb")

        got = enforced(lambda: dynamodb.batch_get_item(RequestItems={units: {"Keys": [key]}}))
        assert got["Responses"][units][0]["status"]["S"] == "proposed"
        assert enforced(lambda: dynamodb.get_item(TableName=units, Key=key))["Item"]["status"]["S"] == "proposed"

        assert denied(lambda: dynamodb.query(TableName=units, KeyConditionExpression="#u = :u",
                                             ExpressionAttributeNames={"#u": "unit"},
                                             ExpressionAttributeValues={":u": {"S": "河北省"}}))
        assert denied(lambda: dynamodb.scan(TableName=units))
        assert denied(lambda: dynamodb.put_item(TableName=units, Item={**key, "status": {"S": "rejected"}}))
        assert denied(lambda: dynamodb.update_item(TableName=units, Key=key, UpdateExpression="SET #s = :s",
                                                   ExpressionAttributeNames={"#s": "status"},
                                                   ExpressionAttributeValues={":s": {"S": "rejected"}}))
        assert denied(lambda: dynamodb.delete_item(TableName=units, Key=key))


def test_a_submission_goes_through_end_to_end_with_only_the_function_policy(
    created: Stack, monkeypatch: pytest.MonkeyPatch, now: Any
) -> None:
    """The real handler, its boto3 clients holding the function user's keys, IAM enforced on every call."""
    from bdpilot.ops.local import invoke, rest_event
    from bdpilot.web import api
    from tests.factories import application, attachments, idempotency_key

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", created.function_keys["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", created.function_keys["aws_secret_access_key"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("BDPILOT_TABLE", created.table)
    monkeypatch.setenv("BDPILOT_BUCKET", created.bucket)
    monkeypatch.setenv("BDPILOT_UNITS_TABLE", created.outputs["UnitsTableName"])  # the commit's unit item
    monkeypatch.setenv("BDPILOT_SECRET", "test-secret-0123456789")
    monkeypatch.delenv("BDPILOT_DEADLINE", raising=False)
    api._store.cache_clear()
    s3 = created.function.client("s3")

    def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        event = rest_event(method, path, headers={"Content-Type": "application/json", **(headers or {})},
                           body=json.dumps(body, ensure_ascii=False) if body is not None else None)
        result = invoke(event)
        return result["statusCode"], json.loads(result["body"])

    def upload(token: str) -> str:
        status, post = call("POST", "/api/uploads", {"form_token": token, "filename": "证书.pdf", "size": len(PDF)})
        assert status == 201, post
        # The browser's presigned POST carries the signer's s3:PutObject on that key. moto cannot authenticate
        # form POSTs under enforcement (it looks for an Authorization header), so the upload is the same
        # PutObject made with the function's keys.
        fields = post["fields"]
        s3.put_object(Bucket=created.bucket, Key=fields["key"], Body=PDF, ContentType=fields["Content-Type"],
                      Metadata={"owner": fields["x-amz-meta-owner"]})
        return post["upload_id"]

    def apply() -> tuple[int, Any]:
        status, campaign = call("GET", "/api/campaign")
        assert status == 200, campaign
        token = campaign["form_token"]
        files = attachments(upload(token), upload(token))
        now.advance(minutes=5)
        body = {"application": application(attachments=files), "form_token": token, "website": ""}
        return call("POST", "/api/submissions", body, {"Idempotency-Key": idempotency_key()})

    try:
        status, accepted = enforced(apply)
    finally:
        api._store.cache_clear()
    assert status == 201, accepted

    # Only an administrator can read back what the function stored.
    admin = created.admin.client("s3")
    keys = enforced(lambda: admin.list_objects_v2(Bucket=created.bucket, Prefix="submissions/"))["Contents"]
    assert len(keys) == 3  # the record and two attachments
    assert denied(lambda: created.function.client("s3").get_object(Bucket=created.bucket, Key=keys[0]["Key"]))
