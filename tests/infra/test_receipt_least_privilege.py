"""The receipt and mail queue functions' least privilege (issues 13 and 14), proven in moto with IAM enforcement
on, with the helpers of tests/infra/test_least_privilege.py: ReceiptPolicy and MailQueuePolicy are read back from
moto's IAM as CloudFormation resolved them, attached to users (per table, as tests/infra/test_staff_least_privilege
does, since moto authorizes DynamoDB against "*"), and used."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bdpilot.ops import stack
from tests.infra.test_least_privilege import (
    PDF,
    REGION,
    denied,
    enforced,
    for_table,
    policy_document,
    user_with,
)

RECORD = "submissions/BD-2020-0001/record.json"
REVISED = "submissions/BD-2020-0001/v2/record.json"


@dataclass
class Created:
    outputs: dict[str, str]
    documents: dict[str, dict[str, Any]]
    arns: dict[str, str]

    @property
    def bucket(self) -> str:
        return self.outputs["SubmissionsBucketName"]

    def session(self, policy: str, table: str) -> boto3.Session:
        iam = boto3.client("iam")
        name = f"{policy}-{table}"
        return boto3.Session(**user_with(iam, name, for_table(self.documents[policy], self.arns[table])), **REGION)


@pytest.fixture
def created(fake_credentials: None) -> Iterator[Created]:
    with mock_aws():
        outputs = stack.create_stack(boto3.Session(), stack_name="bdpilot-receipt-iam")
        iam, dynamodb = boto3.client("iam"), boto3.client("dynamodb")
        documents = {"receipt": policy_document(iam, outputs["ReceiptPolicyArn"]),
                     "mailqueue": policy_document(iam, outputs["MailQueuePolicyArn"]),
                     "public": policy_document(iam, outputs["FunctionPolicyArn"])}
        arns = {name: dynamodb.describe_table(TableName=outputs[name])["Table"]["TableArn"]
                for name in ("TableName", "UnitsTableName")}
        s3 = boto3.client("s3")
        for key in (RECORD, "submissions/BD-2020-0001/attachments/license-1.pdf", "exports/all.csv", "uploads/u1"):
            s3.put_object(Bucket=outputs["SubmissionsBucketName"], Key=key, Body=PDF)
        dynamodb.put_item(TableName=outputs["TableName"], Item={
            "pk": {"S": "SUB#BD-2020-0001"}, "entity": {"S": "SUB"}, "received_at": {"S": "2019-11-15T10:00:00+08:00"},
            "version": {"N": "1"}})
        dynamodb.put_item(TableName=outputs["TableName"], Item={
            "pk": {"S": "MAIL#0a1b"}, "entity": {"S": "MAIL"}, "received_at": {"S": "2019-11-15T10:01:00+08:00"}})
        dynamodb.put_item(TableName=outputs["UnitsTableName"], Item={
            "unit": {"S": "河北省"}, "reference": {"S": "BD-2020-0001"}, "status": {"S": "returned"}})
        yield Created(outputs, documents, arns)


def test_the_receipt_function_reads_one_application_by_its_key_but_cannot_list_or_scan(created: Created) -> None:
    session = created.session("receipt", "TableName")
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    bucket, table = created.bucket, created.outputs["TableName"]

    # The linked application, every version of it, and a revision's new objects.
    assert enforced(lambda: s3.get_object(Bucket=bucket, Key=RECORD)["Body"].read()) == PDF
    enforced(lambda: s3.copy_object(Bucket=bucket, Key="submissions/BD-2020-0001/v2/attachments/license-1.pdf",
                                    CopySource={"Bucket": bucket,
                                                "Key": "submissions/BD-2020-0001/attachments/license-1.pdf"}))
    enforced(lambda: s3.put_object(Bucket=bucket, Key=REVISED, Body=b"{}"))
    assert enforced(lambda: s3.get_object(Bucket=bucket, Key="uploads/u1", Range="bytes=0-4")["Body"].read()) == \
        b"%PDF-"
    key = {"pk": {"S": "SUB#BD-2020-0001"}}
    assert "Item" in enforced(lambda: dynamodb.get_item(TableName=table, Key=key))
    enforced(lambda: dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET version = :v",
                                          ConditionExpression="version = :old",
                                          ExpressionAttributeValues={":v": {"N": "2"}, ":old": {"N": "1"}}))
    enforced(lambda: dynamodb.put_item(TableName=table, Item={"pk": {"S": "IDEM#k1"}}))

    # Never: listing, scanning, querying, batch reads, deleting, or reading exports.
    assert denied(lambda: s3.list_objects_v2(Bucket=bucket))
    assert denied(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="submissions/"))
    assert denied(lambda: s3.delete_object(Bucket=bucket, Key=RECORD))
    assert denied(lambda: s3.get_object(Bucket=bucket, Key="exports/all.csv"))
    assert denied(lambda: s3.put_object(Bucket=bucket, Key="exports/x.csv", Body=b""))
    assert denied(lambda: dynamodb.scan(TableName=table))
    assert denied(lambda: dynamodb.query(TableName=table, IndexName="by-time", KeyConditionExpression="entity = :e",
                                         ExpressionAttributeValues={":e": {"S": "SUB"}}))
    assert denied(lambda: dynamodb.batch_get_item(RequestItems={table: {"Keys": [key]}}))
    assert denied(lambda: dynamodb.delete_item(TableName=table, Key=key))


def test_the_receipt_function_updates_the_unit_item_but_never_lists_or_deletes_unit_items(created: Created) -> None:
    units = created.outputs["UnitsTableName"]
    dynamodb = created.session("receipt", "UnitsTableName").client("dynamodb")
    key = {"unit": {"S": "河北省"}, "reference": {"S": "BD-2020-0001"}}
    assert enforced(lambda: dynamodb.get_item(TableName=units, Key=key))["Item"]["status"] == {"S": "returned"}
    enforced(lambda: dynamodb.update_item(TableName=units, Key=key, UpdateExpression="SET #s = :s",
                                          ExpressionAttributeNames={"#s": "status"},
                                          ExpressionAttributeValues={":s": {"S": "received"}}))
    assert denied(lambda: dynamodb.query(TableName=units, KeyConditionExpression="#u = :u",
                                         ExpressionAttributeNames={"#u": "unit"},
                                         ExpressionAttributeValues={":u": {"S": "河北省"}}))
    assert denied(lambda: dynamodb.scan(TableName=units))
    assert denied(lambda: dynamodb.delete_item(TableName=units, Key=key))


def test_the_public_function_still_reads_no_application_of_any_version(created: Created) -> None:
    boto3.client("s3").put_object(Bucket=created.bucket, Key=REVISED, Body=b"{}")
    s3 = created.session("public", "TableName").client("s3")
    for key in (RECORD, REVISED, "submissions/BD-2020-0001/attachments/license-1.pdf"):
        assert denied(lambda key=key: s3.get_object(Bucket=created.bucket, Key=key)), key


def test_the_mail_queue_reaches_queued_mail_only(created: Created) -> None:
    table = created.outputs["TableName"]
    session = created.session("mailqueue", "TableName")
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    queued = enforced(lambda: dynamodb.query(TableName=table, IndexName="by-time",
                                             KeyConditionExpression="entity = :m",
                                             ExpressionAttributeValues={":m": {"S": "MAIL"}}))
    assert [i["pk"]["S"] for i in queued["Items"]] == ["MAIL#0a1b"]
    mail = {"pk": {"S": "MAIL#0a1b"}}
    enforced(lambda: dynamodb.update_item(TableName=table, Key=mail, UpdateExpression="ADD attempts :one",
                                          ExpressionAttributeValues={":one": {"N": "1"}}))
    enforced(lambda: dynamodb.delete_item(TableName=table, Key=mail))

    # (Its Query names the by-time index only, which moto cannot tell from the table: test_receipt_and_mail_infra.)
    assert denied(lambda: dynamodb.get_item(TableName=table, Key={"pk": {"S": "SUB#BD-2020-0001"}}))
    assert denied(lambda: dynamodb.scan(TableName=table))
    assert denied(lambda: dynamodb.put_item(TableName=table, Item={"pk": {"S": "SUB#BD-2020-0002"}}))
    assert denied(lambda: s3.get_object(Bucket=created.bucket, Key=RECORD))
    assert denied(lambda: s3.list_objects_v2(Bucket=created.bucket))
