"""The staff console's least privilege (issue 12), proven in moto with IAM enforcement on, like
tests/infra/test_least_privilege.py and with its helpers: the stack is created in moto, StaffPolicy and
FunctionPolicy are read back from moto's IAM as CloudFormation resolved them, attached to users, and used.

moto authorizes every DynamoDB request against the resource "*", so a statement naming one table would grant
every table (as_moto_evaluates rewrites DynamoDB resources to "*"). To still prove which TABLE a policy reaches,
each user here gets only the statements AWS would apply to one table (`for_table`): a user "acting on the audit
table" holds exactly the policy's statements that name the audit table, and so on. S3 statements stay as they are
and are checked down to the object prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bdpilot.ops import stack
from tests.infra.test_least_privilege import (
    REGION,
    denied,
    enforced,
    for_table,
    policy_document,
    user_with,
)


@dataclass
class Created:
    outputs: dict[str, str]
    documents: dict[str, dict[str, Any]]
    arns: dict[str, str]  # output name of a table -> its ARN

    def session(self, policy: str, table: str, *, keyed: bool = False) -> boto3.Session:
        """A user holding `policy` as AWS would apply it to `table` (an output name such as AuditTableName).
        `keyed`: as AWS applies it to items whose keys no dynamodb:LeadingKeys condition admits (moto does not
        evaluate those conditions, so it would grant them for any key): the conditioned statements are left out."""
        import json

        iam = boto3.client("iam")
        name = f"{policy}-{table}{'-keyed' if keyed else ''}"
        chosen = for_table(self.documents[policy], self.arns[table])
        if keyed:
            chosen = {**chosen, "Statement": [s for s in chosen["Statement"]
                                              if "dynamodb:LeadingKeys" not in json.dumps(s.get("Condition", {}))]}
        return boto3.Session(**user_with(iam, name, chosen), **REGION)


@pytest.fixture
def created(fake_credentials: None) -> Iterator[Created]:
    with mock_aws():
        outputs = stack.create_stack(boto3.Session(), stack_name="bdpilot-staff-iam")
        iam, dynamodb = boto3.client("iam"), boto3.client("dynamodb")
        documents = {"staff": policy_document(iam, outputs["StaffPolicyArn"]),
                     "public": policy_document(iam, outputs["FunctionPolicyArn"]),
                     "operator": policy_document(iam, outputs["StaffAdminPolicyArn"]),
                     "admin": policy_document(iam, outputs["AdminPolicyArn"])}
        arns = {name: dynamodb.describe_table(TableName=outputs[name])["Table"]["TableArn"]
                for name in ("TableName", "UnitsTableName", "StaffTableName", "AuditTableName")}
        yield Created(outputs, documents, arns)


def unit_item(unit: str = "河北省", reference: str = "BD-2020-0001") -> dict[str, Any]:
    return {"unit": {"S": unit}, "reference": {"S": reference}, "received_at": {"S": "2020-11-20T10:00:00+08:00"}}


def audit_item(at: str = "2020-12-01T09:00:00+08:00#0a1b2c3d") -> dict[str, Any]:
    return {"day": {"S": "2020-12-01"}, "at": {"S": at}, "actor": {"S": "a@example.cn"}, "action": {"S": "view"}}


@pytest.mark.parametrize("policy", ["staff", "admin"])
def test_the_audit_log_is_appended_to_but_never_changed_or_deleted(created: Created, policy: str) -> None:
    """StaffPolicy (the console) and AdminPolicy (`bdpilot admin`, which records each command before it reads):
    both append; the console also reads the log back for MIIT; neither can change or delete an event."""
    table = created.outputs["AuditTableName"]
    dynamodb = created.session(policy, "AuditTableName").client("dynamodb")
    key = {"day": {"S": "2020-12-01"}, "at": {"S": "2020-12-01T09:00:00+08:00#0a1b2c3d"}}

    enforced(lambda: dynamodb.put_item(TableName=table, Item=audit_item(),
                                       ConditionExpression="attribute_not_exists(#d)",
                                       ExpressionAttributeNames={"#d": "day"}))
    query = {"TableName": table, "KeyConditionExpression": "#d = :d", "ExpressionAttributeNames": {"#d": "day"},
             "ExpressionAttributeValues": {":d": {"S": "2020-12-01"}}}
    if policy == "staff":
        assert enforced(lambda: dynamodb.query(**query))["Count"] == 1
    else:
        assert denied(lambda: dynamodb.query(**query))

    assert denied(lambda: dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET #a = :a",
                                               ExpressionAttributeNames={"#a": "action"},
                                               ExpressionAttributeValues={":a": {"S": "nothing"}}))
    assert denied(lambda: dynamodb.delete_item(TableName=table, Key=key))
    assert denied(lambda: dynamodb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": key}}]}))
    assert denied(lambda: dynamodb.scan(TableName=table))
    # The event is still there, unchanged.
    (item,) = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert item["action"] == {"S": "view"}


def test_the_staff_function_reads_submissions_but_never_writes_them(created: Created) -> None:
    root_s3 = boto3.client("s3")
    bucket, table = created.outputs["SubmissionsBucketName"], created.outputs["TableName"]
    root_s3.put_object(Bucket=bucket, Key="submissions/BD-X/record.json", Body=b"{}")
    root_s3.put_object(Bucket=bucket, Key="uploads/u1", Body=b"%PDF-")
    boto3.client("dynamodb").put_item(TableName=table, Item={
        "pk": {"S": "SUB#BD-X"}, "entity": {"S": "SUB"}, "received_at": {"S": "2020-11-20T10:00:00+08:00"}})
    # Its one write on the table, PutItem of MAIL# items (queued mail), is conditioned on the key: for the SUB#
    # keys used here AWS leaves it out (tests/infra/test_staff_infra.py checks the condition).
    session = created.session("staff", "TableName", keyed=True)
    s3, dynamodb = session.client("s3"), session.client("dynamodb")

    assert enforced(lambda: s3.get_object(Bucket=bucket, Key="submissions/BD-X/record.json")["Body"].read()) == b"{}"
    enforced(lambda: s3.put_object(Bucket=bucket, Key="exports/河北省/list.csv", Body=b"a,b\n"))
    assert enforced(lambda: s3.get_object(Bucket=bucket, Key="exports/河北省/list.csv")["Body"].read()) == b"a,b\n"
    found = enforced(lambda: dynamodb.query(TableName=table, IndexName="by-time", KeyConditionExpression="entity = :e",
                                            ExpressionAttributeValues={":e": {"S": "SUB"}}))
    assert found["Count"] == 1
    assert "Item" in enforced(lambda: dynamodb.get_item(TableName=table, Key={"pk": {"S": "SUB#BD-X"}}))

    assert denied(lambda: s3.put_object(Bucket=bucket, Key="submissions/BD-X/record.json", Body=b"forged"))
    assert denied(lambda: s3.delete_object(Bucket=bucket, Key="submissions/BD-X/record.json"))
    assert denied(lambda: s3.delete_object(Bucket=bucket, Key="exports/河北省/list.csv"))
    assert denied(lambda: s3.get_object(Bucket=bucket, Key="uploads/u1"))
    assert denied(lambda: s3.list_objects_v2(Bucket=bucket))
    assert denied(lambda: dynamodb.put_item(TableName=table, Item={"pk": {"S": "SUB#BD-Y"}}))
    assert denied(lambda: dynamodb.delete_item(TableName=table, Key={"pk": {"S": "SUB#BD-X"}}))
    assert denied(lambda: dynamodb.update_item(TableName=table, Key={"pk": {"S": "SUB#BD-X"}},
                                               UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "s"},
                                               ExpressionAttributeValues={":s": {"S": "x"}}))
    assert denied(lambda: dynamodb.scan(TableName=table))


def test_the_staff_function_reads_unit_items_and_manages_accounts(created: Created) -> None:
    units, staff = created.outputs["UnitsTableName"], created.outputs["StaffTableName"]
    boto3.client("dynamodb").put_item(TableName=units, Item=unit_item())
    reader = created.session("staff", "UnitsTableName").client("dynamodb")
    found = enforced(lambda: reader.query(TableName=units, IndexName="by-time", KeyConditionExpression="#u = :u",
                                          ExpressionAttributeNames={"#u": "unit"},
                                          ExpressionAttributeValues={":u": {"S": "河北省"}}, ScanIndexForward=False))
    assert found["Count"] == 1
    key = {"unit": {"S": "河北省"}, "reference": {"S": "BD-2020-0001"}}
    assert "Item" in enforced(lambda: reader.get_item(TableName=units, Key=key))
    assert denied(lambda: reader.put_item(TableName=units, Item=unit_item(reference="BD-2020-0002")))
    assert denied(lambda: reader.delete_item(TableName=units, Key=key))
    assert denied(lambda: reader.scan(TableName=units))

    accounts = created.session("staff", "StaffTableName").client("dynamodb")
    invite = {"pk": {"S": "INVITE#ab12"}, "email": {"S": "a@example.cn"}}
    enforced(lambda: accounts.put_item(TableName=staff, Item=invite))
    gone = enforced(lambda: accounts.delete_item(TableName=staff, Key={"pk": {"S": "INVITE#ab12"}},
                                                 ConditionExpression="attribute_exists(pk)", ReturnValues="ALL_OLD"))
    assert gone["Attributes"]["email"] == {"S": "a@example.cn"}
    enforced(lambda: accounts.update_item(TableName=staff, Key={"pk": {"S": "ACCOUNT#a@example.cn"}},
                                          UpdateExpression="SET disabled = :d",
                                          ExpressionAttributeValues={":d": {"BOOL": True}}))


def test_the_staff_function_records_decisions_on_unit_items_but_never_deletes_one(created: Created) -> None:
    """Review (issue 13): a decision is a transaction of Updates (the item, the unit's #UNIT counter), 提交推荐
    adds ConditionChecks, MIIT's progress reads #UNIT items in batches. A unit item is never deleted."""
    units = created.outputs["UnitsTableName"]
    boto3.client("dynamodb").put_item(TableName=units, Item=unit_item())
    boto3.client("dynamodb").put_item(TableName=units, Item={"unit": {"S": "河北省"}, "reference": {"S": "#UNIT"},
                                                             "proposed": {"N": "0"}, "submitted": {"N": "0"}})
    dynamodb = created.session("staff", "UnitsTableName").client("dynamodb")
    key = {"unit": {"S": "河北省"}, "reference": {"S": "BD-2020-0001"}}
    state = {"unit": {"S": "河北省"}, "reference": {"S": "#UNIT"}}
    enforced(lambda: dynamodb.update_item(TableName=units, Key=key, UpdateExpression="SET #s = :s ADD rev :one",
                                          ExpressionAttributeNames={"#s": "status"},
                                          ExpressionAttributeValues={":s": {"S": "proposed"}, ":one": {"N": "1"}}))
    enforced(lambda: dynamodb.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": units, "Key": key, "ConditionExpression": "rev = :r",
                            "ExpressionAttributeValues": {":r": {"N": "1"}}}},
        {"Update": {"TableName": units, "Key": state, "UpdateExpression": "SET submitted = :one",
                    "ConditionExpression": "submitted = :zero",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}}}}]))
    batch = enforced(lambda: dynamodb.batch_get_item(RequestItems={units: {"Keys": [state]}}))
    assert batch["Responses"][units][0]["submitted"] == {"N": "1"}

    assert denied(lambda: dynamodb.delete_item(TableName=units, Key=key))
    assert denied(lambda: dynamodb.batch_write_item(RequestItems={units: [{"DeleteRequest": {"Key": key}}]}))
    assert denied(lambda: dynamodb.put_item(TableName=units, Item=unit_item(reference="BD-2020-0009")))
    assert denied(lambda: dynamodb.scan(TableName=units))


def test_the_public_function_writes_unit_items_and_reads_no_staff_data(created: Created) -> None:
    units, staff, audit = (created.outputs[n] for n in ("UnitsTableName", "StaffTableName", "AuditTableName"))
    root = boto3.client("dynamodb")
    root.put_item(TableName=units, Item=unit_item())
    root.put_item(TableName=staff, Item={"pk": {"S": "ACCOUNT#a@example.cn"}})
    root.put_item(TableName=audit, Item=audit_item())

    writer = created.session("public", "UnitsTableName").client("dynamodb")
    enforced(lambda: writer.put_item(TableName=units, Item=unit_item(reference="BD-2020-0002"),
                                     ConditionExpression="attribute_not_exists(#u)",
                                     ExpressionAttributeNames={"#u": "unit"}))
    key = {"unit": {"S": "河北省"}, "reference": {"S": "BD-2020-0001"}}
    assert denied(lambda: writer.get_item(TableName=units, Key=key))
    assert denied(lambda: writer.query(TableName=units, KeyConditionExpression="#u = :u",
                                       ExpressionAttributeNames={"#u": "unit"},
                                       ExpressionAttributeValues={":u": {"S": "河北省"}}))
    assert denied(lambda: writer.scan(TableName=units))
    assert denied(lambda: writer.delete_item(TableName=units, Key=key))

    on_staff = created.session("public", "StaffTableName").client("dynamodb")
    assert denied(lambda: on_staff.get_item(TableName=staff, Key={"pk": {"S": "ACCOUNT#a@example.cn"}}))
    assert denied(lambda: on_staff.scan(TableName=staff))
    assert denied(lambda: on_staff.put_item(TableName=staff, Item={"pk": {"S": "ACCOUNT#b@example.cn"}}))

    on_audit = created.session("public", "AuditTableName").client("dynamodb")
    assert denied(lambda: on_audit.query(TableName=audit, KeyConditionExpression="#d = :d",
                                         ExpressionAttributeNames={"#d": "day"},
                                         ExpressionAttributeValues={":d": {"S": "2020-12-01"}}))
    assert denied(lambda: on_audit.put_item(TableName=audit, Item=audit_item("2020-12-01T10:00:00+08:00#00000000")))


def test_the_operator_policy_invites_and_migrates_but_reads_no_accounts(created: Created) -> None:
    """StaffAdminPolicy: `bdpilot staff invite --stack` and `bdpilot staff migrate`, nothing more on the tables."""
    staff, units = created.outputs["StaffTableName"], created.outputs["UnitsTableName"]
    on_staff = created.session("operator", "StaffTableName").client("dynamodb")
    enforced(lambda: on_staff.put_item(TableName=staff, Item={"pk": {"S": "INVITE#cd34"}}))
    assert denied(lambda: on_staff.get_item(TableName=staff, Key={"pk": {"S": "INVITE#cd34"}}))
    assert denied(lambda: on_staff.scan(TableName=staff))
    assert denied(lambda: on_staff.delete_item(TableName=staff, Key={"pk": {"S": "INVITE#cd34"}}))
    on_units = created.session("operator", "UnitsTableName").client("dynamodb")
    enforced(lambda: on_units.put_item(TableName=units, Item=unit_item()))
    assert denied(lambda: on_units.delete_item(TableName=units, Key={"unit": {"S": "河北省"},
                                                                       "reference": {"S": "BD-2020-0001"}}))
