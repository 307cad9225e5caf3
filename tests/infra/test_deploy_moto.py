"""`bdpilot deploy` end to end against moto: create, no-op update, changed update, refused replacement and removal,
a rolled-back first deploy, names left by an earlier stack.

`deploy.main` runs whole, with its own clients, on a moto-backed boto3 Session. Stubbed, because moto cannot:
- the template: the resource types moto's CloudFormation cannot create (CloudFront, WAFv2, alarms, ...) are left
  out, as in the local run, but the Lambda function is kept (moto creates it from the uploaded zip). The outputs
  of left-out resources (DistributionId, SiteUrl, ApiUrl) point at a distribution made directly in moto's
  CloudFront, so the invalidation is real;
- the edge stack (only a WAFv2 web ACL, which moto lacks) returns no web ACL, as in the China regions;
- the zip and the site: a small zip and a two-page site instead of pip and mkdocs (tests/infra/test_deploy.py
  covers packaging, tests/infra/test_csp.py the site build).
Where moto is laxer than AWS, a hook on the session makes it answer as AWS documents (see `AwsBehaviour`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.cloudformation import models as cfn_models
from moto.cloudformation.parsing import get_model_map
from moto.core import DEFAULT_ACCOUNT_ID

from bdpilot import deploy, deploy_checks, deploy_package, stack

REGION = "us-east-1"
STAGE = "prod"
STACK = f"bdpilot-{STAGE}"
EMAIL = "ops@example.org"
ARGS = ["--stage", STAGE, "--region", REGION]
POLICY = {"Statement": [
    {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
    {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*",
     "Resource": [f"LogicalResourceId/{name}" for name in ("SubmissionsTable", "SubmissionsBucket", "DataKey")]},
]}


def moto_template(transform: Callable[[dict[str, Any]], None] | None = None, distribution_id: str = "") -> str:
    """The real template minus what moto's CloudFormation cannot create, the Lambda function kept."""
    kept = {"AWS::Lambda::Function", "AWS::Lambda::Permission"}
    original = stack.load_template()
    lacking = {r["Type"] for r in original["Resources"].values()} - set(get_model_map())
    skipped = (stack.MOTO_SKIPPED_TYPES - kept) | (lacking - kept)
    saved = stack.MOTO_SKIPPED_TYPES
    stack.MOTO_SKIPPED_TYPES = frozenset(skipped)
    try:
        template = stack.for_moto(original)
    finally:
        stack.MOTO_SKIPPED_TYPES = saved
    assert "Function" in template["Resources"]
    template["Outputs"] |= {
        "DistributionId": {"Value": distribution_id},
        "SiteUrl": {"Value": "https://d111111abcdef8.cloudfront.net"},
        "ApiUrl": {"Value": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod/api"}},
    }
    if transform:
        transform(template)
    return json.dumps(template, indent=1)  # in template order: moto creates a change set's resources in order


@dataclass
class AwsBehaviour:
    """What AWS does and moto 5.2 does not, applied through the session's event hooks:
    - CreateChangeSet of type UPDATE on a ROLLBACK_COMPLETE stack fails ("... is in ROLLBACK_COMPLETE state and
      can not be updated");
    - DescribeChangeSet reports `Replacement` (True | False | Conditional) on every Modify; moto leaves it out.
      `replacements` says what AWS would answer for a resource (from the resource's documented update
      behaviour for the changed property); others get False.
    It also records the CloudFormation calls deploy makes, in order."""
    replacements: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def install(self, session: boto3.Session) -> None:
        events = session.events
        events.register("provide-client-params.cloudformation.CreateChangeSet", self._refuse_update_of_rolled_back)
        events.register("after-call.cloudformation.DescribeChangeSet", self._report_replacement)
        events.register("before-call.cloudformation", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    @staticmethod
    def _refuse_update_of_rolled_back(params: dict[str, Any], **_: Any) -> None:
        if params.get("ChangeSetType", "UPDATE") != "UPDATE":
            return
        backend = cfn_models.cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION]
        for moto_stack in backend.stacks.values():
            if moto_stack.name == params["StackName"] and moto_stack.status == "ROLLBACK_COMPLETE":
                raise ClientError({"Error": {"Code": "ValidationError", "Message": (
                    f"Stack:{moto_stack.stack_id} is in ROLLBACK_COMPLETE state and can not be updated.")}},
                    "CreateChangeSet")

    def _report_replacement(self, parsed: dict[str, Any], **_: Any) -> None:
        for change in parsed.get("Changes", []):
            resource = change["ResourceChange"]
            if resource["Action"] == "Modify":
                resource.setdefault("Replacement", self.replacements.get(resource["LogicalResourceId"], "False"))


@dataclass
class Harness:
    session: boto3.Session
    aws: AwsBehaviour
    tmp: Path
    distribution_id: str
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    zip_content: str = "v1"
    packaged: int = 0
    platforms: list[str] = field(default_factory=list)

    def template(self, transform: Callable[[dict[str, Any]], None] | None = None) -> None:
        path = self.tmp / "template.json"
        path.write_text(moto_template(transform, self.distribution_id), encoding="utf-8")
        self.monkeypatch.setattr(deploy, "TEMPLATE", path)

    def run(self, *extra: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = deploy.main([*ARGS, *extra], session=self.session)
        out, err = self.capsys.readouterr()
        return code, out, err

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=REGION)

    def stack(self) -> dict[str, Any]:
        (found,) = self.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
        return found

    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack().get("Outputs", [])}

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            bundle.writestr(zipfile.ZipInfo("bdpilot/__init__.py", date_time=(1980, 1, 1, 0, 0, 0)),
                            f"VERSION = {self.zip_content!r}\n")
        return buffer.getvalue()


def _fake_package(harness: Harness) -> Callable[[Path, dict[str, Any]], Path]:
    def build(out_dir: Path, template: dict[str, Any]) -> Path:
        options = deploy_package.lambda_platform(template)  # the template deployed is the one packaged for
        harness.platforms.append(options[options.index("--platform") + 1])
        harness.packaged += 1
        out_dir.mkdir(parents=True, exist_ok=True)
        archive = out_dir / deploy_package.ZIP_NAME
        archive.write_bytes(harness.zip_bytes())
        return archive
    return build


def _fake_site(out_dir: Path) -> Path:
    site = out_dir / "site"
    (site / "apply").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>首页</title>", encoding="utf-8")
    (site / "apply" / "index.html").write_text("<!doctype html><title>在线申报</title>", encoding="utf-8")
    return site


def _moto_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two moto 5.2 defects that AWS does not have:
    - it executes a change set without evaluating the new template's Outputs (a stack created through a change
      set has none): evaluate them afterwards, as CloudFormation does;
    - it compares a Number parameter kept with UsePreviousValue (read back as int 50) with its stored string "50"
      and so never finds an update without changes: compare them as the strings the API carries."""
    original = cfn_models.CloudFormationBackend.execute_change_set

    def execute(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        executed = self.describe_change_set(change_set_name).stack
        executed._parse_template()
        executed.output_map = executed._create_output_map()

    monkeypatch.setattr(cfn_models.CloudFormationBackend, "execute_change_set", execute)
    monkeypatch.setattr(cfn_models.Stack, "has_parameters", lambda self, other: (
        {k: str(v) for k, v in self.parameters.items()} == {k: str(v) for k, v in other.items()}))


@pytest.fixture
def aws(fake_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Harness]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        behaviour = AwsBehaviour()
        behaviour.install(session)
        distribution = session.client("cloudfront").create_distribution(DistributionConfig={
            "CallerReference": "bdpilot-test", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "site.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
                                     "MinTTL": 0, "ForwardedValues": {"QueryString": False,
                                                                      "Cookies": {"Forward": "none"}}},
        })["Distribution"]["Id"]
        harness = Harness(session, behaviour, tmp_path, distribution, capsys, monkeypatch)
        harness.template()
        policy = tmp_path / "stack-policy.json"
        policy.write_text(json.dumps(POLICY), encoding="utf-8")
        monkeypatch.setattr(deploy, "STACK_POLICY", policy)
        monkeypatch.setattr(deploy, "build_package", _fake_package(harness))
        monkeypatch.setattr(deploy, "build_site", _fake_site)
        monkeypatch.setattr(deploy, "deploy_edge", lambda session, stage, region: "")
        _moto_fixes(monkeypatch)
        yield harness


def _pending_change_sets(harness: Harness) -> list[str]:
    """Change sets left behind unexecuted (refused, or without changes): deploy deletes them."""
    summaries = harness.client("cloudformation").list_change_sets(StackName=STACK)["Summaries"]
    return [s["ChangeSetName"] for s in summaries if s.get("ExecutionStatus") != "EXECUTE_COMPLETE"]


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _tag(harness: Harness, bucket: str, key: str) -> str | None:
    tags = harness.client("s3").get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}.get(deploy_package.ARTIFACT_TAG)


def _expires(rules: list[dict[str, Any]], key: str, tag: str | None) -> bool:
    """Whether an enabled lifecycle rule with an Expiration applies to an object with this key and tag."""
    for rule in rules:
        if rule["Status"] != "Enabled" or "Expiration" not in rule:
            continue
        selector = rule.get("Filter", {"Prefix": rule.get("Prefix", "")})
        conditions = selector.get("And", selector)
        prefix_ok = key.startswith(conditions.get("Prefix", ""))
        wanted = conditions.get("Tags", [conditions["Tag"]] if "Tag" in conditions else [])
        if prefix_ok and all(t["Value"] == tag and t["Key"] == deploy_package.ARTIFACT_TAG for t in wanted):
            return True
    return False


# ---------------------------------------------------------------- create, no-op update, changed update


def test_first_deploy_creates_the_stack_with_the_zip_the_policy_and_the_site(aws: Harness) -> None:
    code, out, err = aws.run("--alarm-email", EMAIL)
    assert code == 0, err
    assert aws.stack()["StackStatus"] == "CREATE_COMPLETE"
    outputs = aws.outputs()
    function = aws.client("lambda").get_function(FunctionName=outputs["FunctionName"])["Configuration"]
    assert function["CodeSha256"] == _sha256_b64(aws.zip_bytes())
    # Packaged for the architecture the deployed template declares (moto's Lambda ignores Architectures).
    architecture = stack.load_template()["Resources"]["Function"]["Properties"].get("Architectures", ["x86_64"])
    assert aws.platforms == [deploy_package.WHEEL_PLATFORMS[architecture[0]]]
    assert json.loads(aws.client("cloudformation").get_stack_policy(StackName=STACK)["StackPolicyBody"]) == POLICY
    # Set after the create (a stack policy guards updates; there is nothing to guard before the stack exists).
    assert aws.aws.calls.index("SetStackPolicy") > aws.aws.calls.index("ExecuteChangeSet")
    keys = {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=outputs["SiteBucketName"])["Contents"]}
    assert keys == {"index.html", "apply/index.html"}
    invalidations = aws.client("cloudfront").list_invalidations(DistributionId=aws.distribution_id)
    assert invalidations["InvalidationList"]["Quantity"] == 1
    assert "确认" in out and f"Confirm the SNS subscription: open the e-mail AWS sent to {EMAIL}" in out
    assert _pending_change_sets(aws) == []


def test_the_live_zip_never_expires_and_the_old_lifecycle_is_replaced(aws: Harness) -> None:
    account = DEFAULT_ACCOUNT_ID
    artifacts = f"bdpilot-artifacts-{account}-{REGION}"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=artifacts)  # as an earlier version left it: everything expires after 90 days
    s3.put_bucket_lifecycle_configuration(Bucket=artifacts, LifecycleConfiguration={"Rules": [
        {"ID": "old-artifacts", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 90}}]})

    assert aws.run("--alarm-email", EMAIL)[0] == 0
    first = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}["CodeKey"]
    aws.zip_content = "v2"
    assert aws.run()[0] == 0
    second = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}["CodeKey"]
    assert first != second

    rules = s3.get_bucket_lifecycle_configuration(Bucket=artifacts)["Rules"]
    assert _tag(aws, artifacts, second) == deploy_package.LIVE
    assert not _expires(rules, second, _tag(aws, artifacts, second)), "the zip the stack uses would expire"
    assert _tag(aws, artifacts, first) == deploy_package.SUPERSEDED
    assert _expires(rules, first, deploy_package.SUPERSEDED), "superseded builds should not pile up forever"
    templates = [o["Key"] for o in s3.list_objects_v2(Bucket=artifacts, Prefix=f"{STAGE}/template/")["Contents"]]
    assert templates and all(_expires(rules, k, _tag(aws, artifacts, k)) for k in templates)


def test_deploying_the_same_thing_again_changes_nothing(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    before = aws.stack()
    executed = aws.aws.calls.count("ExecuteChangeSet")

    # The alarm address is kept from the stack, so prod may be updated without repeating it.
    code, out, err = aws.run()
    assert code == 0, err
    assert f"stack: no changes to {STACK}" in out
    assert aws.aws.calls.count("ExecuteChangeSet") == executed
    assert _pending_change_sets(aws) == []
    after = aws.stack()
    assert after["StackStatus"] == before["StackStatus"] == "CREATE_COMPLETE"
    assert after["Parameters"] == before["Parameters"]
    assert "Confirm the SNS subscription" not in out  # nothing new to confirm


def test_a_changed_zip_updates_the_function_under_the_stack_policy(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    name = aws.outputs()["FunctionName"]
    aws.zip_content = "v2"
    aws.aws.calls.clear()

    code, out, err = aws.run()
    assert code == 0, err
    assert f"stack: executing update of {STACK}" in out
    function = aws.client("lambda").get_function(FunctionName=name)["Configuration"]
    assert function["CodeSha256"] == _sha256_b64(aws.zip_bytes())
    assert aws.stack()["StackStatus"] == "UPDATE_COMPLETE"
    # The policy guards this update: set before the change set is executed.
    assert aws.aws.calls.index("SetStackPolicy") < aws.aws.calls.index("ExecuteChangeSet")


# ---------------------------------------------------------------- refused replacement or removal


def _table_key_changed(template: dict[str, Any]) -> None:
    table = template["Resources"]["SubmissionsTable"]["Properties"]
    table["AttributeDefinitions"].append({"AttributeName": "sk", "AttributeType": "S"})
    table["KeySchema"].append({"AttributeName": "sk", "KeyType": "RANGE"})


def _bucket_renamed(template: dict[str, Any]) -> None:
    template["Resources"]["SubmissionsBucket"]["Properties"]["BucketName"] = {
        "Fn::Sub": "bdpilot-${Stage}-applications-${AWS::AccountId}-${AWS::Region}"}


def _key_renamed(template: dict[str, Any]) -> None:
    text = json.dumps(template).replace('"DataKey"', '"DataKeyV2"')
    template.clear()
    template.update(json.loads(text))


@pytest.mark.parametrize(("transform", "aws_says", "named"), [
    # KeySchema: "Update requires: Replacement" (AWS::DynamoDB::Table); BucketName likewise for AWS::S3::Bucket.
    (_table_key_changed, {"SubmissionsTable": "True"}, "SubmissionsTable"),
    (_bucket_renamed, {"SubmissionsBucket": "True"}, "SubmissionsBucket"),
    # A renamed logical id is a removal of the old resource (moto reports it as AWS does).
    (_key_renamed, {}, "DataKey"),
], ids=["table-replaced", "bucket-replaced", "key-removed"])
def test_a_change_set_that_would_replace_or_remove_the_data_is_refused(
        aws: Harness, transform: Callable[[dict[str, Any]], None], aws_says: dict[str, str], named: str) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    outputs, executed = aws.outputs(), aws.aws.calls.count("ExecuteChangeSet")
    aws.template(transform)
    aws.aws.replacements = aws_says
    aws.zip_content = "v2"

    code, _, err = aws.run()
    assert code == 1
    assert named in err and "拒绝" in err and "Refused" in err and "Traceback" not in err
    assert aws.aws.calls.count("ExecuteChangeSet") == executed
    assert _pending_change_sets(aws) == []
    assert aws.stack()["StackStatus"] == "CREATE_COMPLETE" and aws.outputs() == outputs
    table = aws.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk"]
    # The refused build is superseded; the stack's own zip stays live.
    artifacts = f"bdpilot-artifacts-{DEFAULT_ACCOUNT_ID}-{REGION}"
    live = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}["CodeKey"]
    zips = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=artifacts, Prefix=f"{STAGE}/function/")
            ["Contents"]]
    assert {k: _tag(aws, artifacts, k) for k in zips} == {
        k: deploy_package.LIVE if k == live else deploy_package.SUPERSEDED for k in zips}


# ---------------------------------------------------------------- a rolled-back first deploy


def _rolled_back_first_create(aws: Harness) -> str:
    """The stack as CloudFormation leaves a failed first create: ROLLBACK_COMPLETE, no resources, the failure in
    its events. (moto never rolls back, so its state is set directly.)"""
    cfn = aws.client("cloudformation")
    cfn.create_change_set(StackName=STACK, ChangeSetName="first", ChangeSetType="CREATE",
                          TemplateBody=moto_template(distribution_id=aws.distribution_id), Parameters=[
                              {"ParameterKey": k, "ParameterValue": v} for k, v in {
                                  "Stage": STAGE, "CodeBucket": "b", "CodeKey": "k.zip", "AppSecret": "s" * 32,
                                  "OriginVerifySecret": "o" * 40, "AlarmEmail": EMAIL}.items()],
                          Capabilities=["CAPABILITY_IAM"])
    backend = cfn_models.cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION]
    (moto_stack,) = [s for s in backend.stacks.values() if s.name == STACK]
    for logical_id, status, reason in [
        ("Distribution", "CREATE_FAILED", "Resource handler returned message: \"Invalid request provided: "
                                          "The certificate that is attached to your distribution doesn't cover "
                                          "the alternate domain name\""),
        ("Function", "CREATE_FAILED", "Resource creation cancelled"),
    ]:
        moto_stack.events.append(cfn_models.Event(moto_stack.stack_id, STACK, logical_id, "", "AWS::X", status,
                                                  reason, None))
    moto_stack.status = "ROLLBACK_COMPLETE"
    for summary in cfn.list_change_sets(StackName=STACK)["Summaries"]:
        cfn.delete_change_set(StackName=STACK, ChangeSetName=summary["ChangeSetName"])
    return moto_stack.stack_id


def test_a_rolled_back_first_deploy_is_explained_deleted_and_created_again(aws: Harness) -> None:
    old_id = _rolled_back_first_create(aws)
    aws.aws.calls.clear()

    code, out, err = aws.run("--alarm-email", EMAIL)
    assert code == 0, err
    assert "ROLLBACK_COMPLETE" in out and "doesn't cover the alternate domain name" in out
    assert "Resource creation cancelled" not in out  # the cause, not its consequences
    assert "deleting the empty rolled-back stack" in out
    created = aws.stack()
    assert created["StackId"] != old_id and created["StackStatus"] == "CREATE_COMPLETE"
    assert aws.aws.calls.index("DeleteStack") < aws.aws.calls.index("CreateChangeSet")
    # The NoEcho secrets are new values (nothing to keep from a stack that never ran), not UsePreviousValue.
    assert {p["ParameterKey"] for p in created["Parameters"]} >= set(deploy.SECRET_PARAMETERS)


def test_a_stack_that_is_busy_is_refused_before_anything_is_built(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    backend = cfn_models.cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION]
    (moto_stack,) = [s for s in backend.stacks.values() if s.name == STACK]
    moto_stack.status = "UPDATE_ROLLBACK_FAILED"
    packaged = aws.packaged

    code, _, err = aws.run()
    assert code == 1 and "continue-update-rollback" in err and "Traceback" not in err
    assert aws.packaged == packaged


def test_names_kept_by_an_earlier_stack_are_reported_before_anything_is_created(aws: Harness) -> None:
    names = {"Stage": STAGE, "AWS::AccountId": DEFAULT_ACCOUNT_ID, "AWS::Region": REGION, "AWS::Partition": "aws"}
    fixed = [(logical_id, resource["Type"], name) for logical_id, resource in stack.load_template()["Resources"].items()
             if resource["Type"] in ("AWS::S3::Bucket", "AWS::Logs::LogGroup")
             and (name := deploy_checks.resolve_name(resource.get("Properties", {}).get(
                 "BucketName" if resource["Type"] == "AWS::S3::Bucket" else "LogGroupName"), names))]
    if not fixed:
        pytest.skip("the template fixes no bucket or log group name, so nothing can be left in the way")
    for _, kind, name in fixed:  # kept (DeletionPolicy) when an earlier stack of this stage was deleted
        if kind == "AWS::S3::Bucket":
            aws.client("s3").create_bucket(Bucket=name)
        else:
            aws.client("logs").create_log_group(logGroupName=name)
    buckets = aws.client("s3").list_buckets()["Buckets"]

    code, _, err = aws.run("--alarm-email", EMAIL)
    assert code == 1 and "Traceback" not in err
    for logical_id, _, name in fixed:
        assert f"{logical_id}: " in err and name in err
    assert aws.packaged == 0
    assert aws.client("s3").list_buckets()["Buckets"] == buckets
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


# ---------------------------------------------------------------- arguments refused before anything is created


@pytest.mark.parametrize(("extra", "message"), [
    (["--alarm-email", EMAIL, "--deadline", "2020-13-01T00:00"], "不是 ISO 8601"),
    (["--alarm-email", EMAIL, "--deadline", "next friday"], "is not an ISO 8601 date-time"),
    (["--alarm-email", EMAIL, "--site-domain", "sbdpilot.example.org"], "needs its certificate"),
    (["--alarm-email", EMAIL, "--certificate-arn",
      "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000"], "without --site-domain"),
    (["--alarm-email", EMAIL, "--site-domain", "sbdpilot.example.org", "--certificate-arn",
      "arn:aws:acm:ap-northeast-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000"], "us-east-1"),
    (["--alarm-email", EMAIL, "--site-domain", "https://sbdpilot.example.org/"], "不是主机名"),
    ([], "必须给出 --alarm-email"),
    (["--alarm-email", ""], "needs --alarm-email"),
    (["--alarm-email", "ops at example.org"], "不是电子邮件地址"),
    (["--alarm-email", EMAIL, "--reserved-concurrency", "-1"], "whole number"),
], ids=["deadline-month-13", "deadline-words", "domain-without-certificate", "certificate-without-domain",
        "certificate-outside-us-east-1", "domain-with-scheme", "prod-without-alarm-email", "prod-empty-alarm-email",
        "bad-alarm-email", "negative-concurrency"])
def test_bad_arguments_are_refused_before_anything_is_created(aws: Harness, extra: list[str], message: str) -> None:
    code, _, err = aws.run(*extra)
    assert code == 1 and message in err and "Traceback" not in err
    assert aws.packaged == 0
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


def test_a_domain_on_an_existing_stack_may_reuse_its_certificate(aws: Harness) -> None:
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000"
    assert aws.run("--alarm-email", EMAIL, "--site-domain", "sbdpilot.example.org",
                   "--certificate-arn", certificate)[0] == 0
    code, _, err = aws.run("--site-domain", "apply.example.org")
    assert code == 0, err
    values = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}
    assert values["SiteDomain"] == "apply.example.org" and values["SiteCertificateArn"] == certificate
    # Emptying the certificate while the domain stays is refused.
    code, _, err = aws.run("--certificate-arn", "")
    assert code == 1 and "needs its certificate" in err


def test_a_deadline_is_shown_in_beijing_time(aws: Harness) -> None:
    code, out, err = aws.run("--alarm-email", EMAIL, "--deadline", "2020-12-01T09:00+00:00")
    assert code == 0, err
    assert "deadline: 2020-12-01 17:00 Beijing time" in out
    values = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}
    assert values["DeadlineOverride"] == "2020-12-01T09:00+00:00"
