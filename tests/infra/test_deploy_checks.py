"""The pieces of `bdpilot deploy`'s safety checks that need no AWS: change set review, the platform the bundle is
built for, the deadline and the stack policy file."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from bdpilot.domain import campaign
from bdpilot.ops import deploy
from bdpilot.ops.deploy import checks, package


def change(logical_id: str, action: str, replacement: str | None = None,
           resource_type: str = "AWS::DynamoDB::Table") -> dict[str, Any]:
    resource = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": resource_type}
    if replacement is not None:
        resource["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": resource}


def test_replacing_or_removing_a_data_resource_is_dangerous_and_named() -> None:
    changes = [
        change("SubmissionsTable", "Modify", "True"),
        change("SubmissionsBucket", "Modify", "Conditional", "AWS::S3::Bucket"),
        change("DataKey", "Remove", resource_type="AWS::KMS::Key"),
    ]
    found = checks.dangerous_changes(changes)
    assert len(found) == 3
    assert found[0].startswith("SubmissionsTable (AWS::DynamoDB::Table)") and "Replacement: True" in found[0]
    assert found[1].startswith("SubmissionsBucket") and "Conditional" in found[1]
    assert found[2].startswith("DataKey") and "removed" in found[2]


def test_ordinary_changes_pass() -> None:
    changes = [
        change("SubmissionsTable", "Modify", "False"),  # e.g. a new GSI: updated in place
        change("SubmissionsBucket", "Modify", "False", "AWS::S3::Bucket"),
        change("Function", "Modify", "True", "AWS::Lambda::Function"),  # not data: may be replaced
        change("SiteBucket", "Remove", resource_type="AWS::S3::Bucket"),
        change("NewAlarm", "Add", resource_type="AWS::CloudWatch::Alarm"),
    ]
    assert checks.dangerous_changes(changes) == []


def test_the_protected_resources_are_the_templates_data(resources: dict[str, Any]) -> None:
    """A renamed data resource would silently fall out of the protection."""
    types = {name: resources[name]["Type"] for name in checks.PROTECTED}
    assert types == {"SubmissionsTable": "AWS::DynamoDB::Table", "SubmissionsBucket": "AWS::S3::Bucket",
                     "DataKey": "AWS::KMS::Key", "UnitsTable": "AWS::DynamoDB::Table",
                     "StaffTable": "AWS::DynamoDB::Table", "AuditTable": "AWS::DynamoDB::Table"}
    assert deploy.PROTECTED == checks.PROTECTED


def test_the_stack_policy_deploy_applies_forbids_replacing_or_deleting_the_data() -> None:
    if not deploy.STACK_POLICY.is_file():
        pytest.skip("no infra/stack-policy.json: deploy applies no stack policy")
    statements = json.loads(deploy.STACK_POLICY.read_text(encoding="utf-8"))["Statement"]
    denied = {resource.removeprefix("LogicalResourceId/")
              for s in statements if s["Effect"] == "Deny"
              and {"Update:Replace", "Update:Delete"} <= set(s["Action"] if isinstance(s["Action"], list)
                                                                else [s["Action"]])
              for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    assert set(checks.PROTECTED) <= denied
    # Without an Allow, a stack policy denies every update.
    assert any(s["Effect"] == "Allow" and s["Action"] in ("Update:*", ["Update:*"]) for s in statements)


# ---------------------------------------------------------------- the platform


def _with_function(template: dict[str, Any], **props: Any) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    function = changed["Resources"]["Function"]["Properties"]
    for key, value in props.items():
        if value is None:
            function.pop(key, None)
        else:
            function[key] = value
    return changed


def _platform(options: list[str]) -> tuple[str, str]:
    return options[options.index("--platform") + 1], options[options.index("--python-version") + 1]


def test_the_bundle_follows_the_templates_architecture_and_runtime(template: dict[str, Any]) -> None:
    function = template["Resources"]["Function"]["Properties"]
    platform, version = _platform(package.lambda_platform(template))
    assert platform == package.WHEEL_PLATFORMS[function.get("Architectures", ["x86_64"])[0]]
    assert version == function["Runtime"].removeprefix("python")

    arm = package.lambda_platform(_with_function(template, Architectures=["arm64"], Runtime="python3.12"))
    assert _platform(arm) == ("manylinux2014_aarch64", "3.12")
    assert "--only-binary=:all:" in arm and arm[arm.index("--implementation") + 1] == "cp"
    intel = package.lambda_platform(_with_function(template, Architectures=["x86_64"], Runtime="python3.13"))
    assert _platform(intel) == ("manylinux2014_x86_64", "3.13")
    # Lambda's default architecture when the template names none.
    assert _platform(package.lambda_platform(_with_function(template, Architectures=None)))[0] == \
        "manylinux2014_x86_64"


@pytest.mark.parametrize("props", [{"Architectures": ["arm64", "x86_64"]}, {"Architectures": ["riscv"]},
                                   {"Runtime": "nodejs20.x"}, {"Runtime": {"Ref": "Runtime"}}])
def test_a_function_the_packager_cannot_target_is_refused(template: dict[str, Any], props: dict[str, Any]) -> None:
    with pytest.raises(package.PackageError):
        package.lambda_platform(_with_function(template, **props))


# ---------------------------------------------------------------- the deadline


def test_the_deadline_is_read_as_the_function_reads_it() -> None:
    assert checks.parse_deadline("2020-12-01T17:00") == datetime(2020, 12, 1, 17, 0, tzinfo=campaign.TZ)
    with_offset = checks.parse_deadline("2020-12-01T09:00+00:00")
    assert with_offset.utcoffset() == timedelta(0) and with_offset == datetime(2020, 12, 1, 17, 0, tzinfo=campaign.TZ)
    with pytest.raises(checks.DeployError) as refused:
        checks.parse_deadline("2020-12-01 5pm")
    assert "ISO 8601" in str(refused.value) and "不是" in str(refused.value)



# ---------------------------------------------------------------- the China regions and the new parameters


def test_deploy_treats_as_china_exactly_the_regions_the_template_does(template: dict[str, Any]) -> None:
    """Directory keys, the certificate rules and the missing edge stack follow the template's IsChina."""
    condition = template["Conditions"]["IsChina"]["Fn::Or"]
    regions = {clause["Fn::Equals"][1] for clause in condition if clause["Fn::Equals"][0] == {"Ref": "AWS::Region"}}
    assert regions == checks.CHINA_REGIONS
    assert all(checks.in_china(r) for r in regions)
    assert not any(checks.in_china(r) for r in ("us-east-1", "ap-east-1", "ap-northeast-1", None))


def test_quiet_alarm_minutes_follow_the_templates_bounds(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["QuietHoursAlarmMinutes"]
    low, high = int(parameter["MinValue"]), int(parameter["MaxValue"])
    assert (low, high) == (0, 1440)  # a day: CloudWatch's limit for Period x EvaluationPeriods at one minute
    assert checks.check_quiet_alarm_minutes(str(high), parameter) == high
    assert checks.check_quiet_alarm_minutes("0", parameter) == 0
    for bad in (str(high + 1), "-1", "60.0", "60m", " 60"):
        with pytest.raises(checks.DeployError):
            checks.check_quiet_alarm_minutes(bad, parameter)



@pytest.mark.parametrize("extra, refused", [
    (["--unit-deadline", "2020-12-14T17:00"], None),
    (["--unit-deadline", "2020-12-14T17:00", "--deadline", "2020-12-01T17:00"], None),
    (["--unit-deadline", "soon"], "--unit-deadline"),
    (["--unit-deadline", "2020-11-30T17:00", "--deadline", "2020-12-01T17:00"], "--unit-deadline"),
    (["--smtp-url", "smtps://smtp.example.cn:465", "--smtp-secret-parameter", "/bdpilot/prod/smtp"], None),
    (["--smtp-url", "https://smtp.example.cn"], "--smtp-url"),
    (["--smtp-url", "smtp://user:pw@smtp.example.cn:587"], "--smtp-url"),
    (["--smtp-secret-parameter", "bdpilot/prod/smtp"], "--smtp-secret-parameter"),
    (["--mail-from", "noreply@example.cn"], None),
    (["--mail-from", "not an address"], "--mail-from"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_review_and_mail_options_are_checked_as_the_functions_and_template_read_them(
        template: dict[str, Any], extra: list[str], refused: str | None) -> None:
    """What the functions would refuse at start (a unit deadline before the deadline) or the template's patterns
    would reject after minutes of CloudFront, refused before anything is created."""
    args = deploy.parse_args(["--stage", "test", *extra])
    if refused is None:
        checks.check_values(args, template, "ap-east-1")
        return
    with pytest.raises(checks.DeployError) as error:
        checks.check_values(args, template, "ap-east-1")
    assert refused in str(error.value)
