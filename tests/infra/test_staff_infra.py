"""The staff console's infrastructure as the template declares it (issue 12); least privilege in moto:
tests/infra/test_staff_least_privilege.py."""

from __future__ import annotations

from typing import Any

import pytest

from bdpilot import settings
from bdpilot.ops import local
from bdpilot.ops.deploy import package
from tests.infra.test_template import MAIL_POLICIES, as_list, of_type, statements, sub_text

STAFF_TABLES = ("UnitsTable", "StaffTable", "AuditTable")


def test_the_staff_tables_are_kept_recovered_encrypted_and_keyed_as_designed(resources: dict[str, Any]) -> None:
    for name in STAFF_TABLES:
        table = resources[name]
        assert table["DeletionPolicy"] == "RetainExceptOnCreate" and table["UpdateReplacePolicy"] == "Retain", name
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert props["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}, name
        assert "TableName" not in props, name  # generated: a kept table never blocks a new stack
    units = resources["UnitsTable"]["Properties"]
    assert units["KeySchema"] == [{"AttributeName": "unit", "KeyType": "HASH"},
                                  {"AttributeName": "reference", "KeyType": "RANGE"}]
    (by_time,) = units["LocalSecondaryIndexes"]
    assert by_time["KeySchema"][1] == {"AttributeName": "received_at", "KeyType": "RANGE"}
    assert resources["AuditTable"]["Properties"]["KeySchema"][0] == {"AttributeName": "day", "KeyType": "HASH"}
    for name in ("StaffTable", "AuditTable"):
        assert resources[name]["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at",
                                                                            "Enabled": True}


def test_the_staff_function_has_its_own_role_zip_and_environment(resources: dict[str, Any]) -> None:
    props = resources["StaffFunction"]["Properties"]
    public = resources["Function"]["Properties"]
    assert props["Handler"] == "bdpilot.console.app.handler" == package.STAFF_HANDLER_MODULE + ".handler"
    assert props["Runtime"] == public["Runtime"] and props["Architectures"] == ["arm64"]
    assert props["Role"] == {"Fn::GetAtt": ["StaffRole", "Arn"]}
    assert props["Code"]["S3Key"] == {"Ref": "StaffCodeKey"}
    assert resources["StaffRole"]["Properties"]["ManagedPolicyArns"] == [{"Ref": "StaffPolicy"}, *MAIL_POLICIES]
    variables = props["Environment"]["Variables"]
    for variable, logical in {"BDPILOT_UNITS_TABLE": "UnitsTable", "BDPILOT_STAFF_TABLE": "StaffTable",
                              "BDPILOT_AUDIT_TABLE": "AuditTable", "BDPILOT_TABLE": "SubmissionsTable"}.items():
        assert variables[variable] == {"Ref": logical}
    # Every variable the function reads is one settings knows; the review window and e-mail are set.
    assert {v for v in variables if v.startswith("BDPILOT_")} <= set(settings.NAMES)
    assert variables["BDPILOT_UNIT_DEADLINE"] == {"Ref": "UnitDeadlineOverride"}
    assert variables["BDPILOT_SHOW_RESULTS"] == {"Ref": "ShowResults"}
    assert {"BDPILOT_MAIL", "BDPILOT_MAIL_FROM", "BDPILOT_SITE_URL"} <= set(variables)


def test_the_staff_policy_names_its_tables_and_never_changes_audit_or_submissions(resources: dict[str, Any]) -> None:
    found = statements(resources["StaffPolicy"]["Properties"]["PolicyDocument"])
    assert all(s["Effect"] == "Allow" and not any("*" in a for a in as_list(s["Action"])) for s in found)

    def actions_on(logical: str) -> set[str]:
        return {a for s in found for a in as_list(s["Action"]) for r in as_list(s["Resource"])
                if r == {"Fn::GetAtt": [logical, "Arn"]} or sub_text(r).startswith("${" + logical + ".Arn}")}

    assert actions_on("AuditTable") == {"dynamodb:PutItem", "dynamodb:Query"}
    # Review: decisions and 提交推荐 are transactions of Updates and ConditionChecks; never a Delete.
    assert actions_on("UnitsTable") == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem",
                                        "dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem"}
    assert actions_on("SubmissionsTable") == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"}
    (queue,) = [s for s in found if "dynamodb:PutItem" in as_list(s["Action"])
                and s["Resource"] == {"Fn::GetAtt": ["SubmissionsTable", "Arn"]}]
    assert as_list(queue["Action"]) == ["dynamodb:PutItem"]  # only queued mail
    assert queue["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["MAIL#*"]}}
    writable = {sub_text(r) for s in found if "s3:PutObject" in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert writable == {"${SubmissionsBucket.Arn}/exports/*"}
    public = statements(resources["FunctionPolicy"]["Properties"]["PolicyDocument"])
    on_staff_data = [s for s in public for r in as_list(s["Resource"])
                     if isinstance(r, dict) and r.get("Fn::GetAtt", [""])[0] in STAFF_TABLES]
    assert [(as_list(s["Action"]), s["Resource"]) for s in on_staff_data] == [
        (["dynamodb:PutItem"], {"Fn::GetAtt": ["UnitsTable", "Arn"]})]


def test_the_api_sends_staff_and_everything_under_it_to_the_staff_function(resources: dict[str, Any]) -> None:
    methods = {m["Properties"]["ResourceId"]["Ref"]: m["Properties"]
               for m in of_type(resources, "AWS::ApiGateway::Method").values()
               if "${StaffFunction.Arn}" in sub_text(m["Properties"]["Integration"]["Uri"])}
    assert set(methods) == {"ApiStaffResource", "ApiStaffProxyResource"}
    assert all(m["HttpMethod"] == "ANY" and m["Integration"]["Type"] == "AWS_PROXY" for m in methods.values())
    assert resources["ApiStaffResource"]["Properties"]["PathPart"] == "staff"
    assert resources["ApiStaffProxyResource"]["Properties"]["PathPart"] == "{proxy+}"
    assert {"ApiAnyStaff", "ApiAnyStaffProxy"} <= set(resources["ApiDeploymentV4"]["DependsOn"])
    arns = {sub_text(p["Properties"]["SourceArn"]).rsplit("${Api}", 1)[1]
            for p in of_type(resources, "AWS::Lambda::Permission").values()
            if p["Properties"]["FunctionName"] == {"Fn::GetAtt": ["StaffFunction", "Arn"]}}
    assert arns == {"/*/*/staff", "/*/*/staff/*"}


def test_cloudfront_serves_staff_uncached_with_cookies_and_noindex(resources: dict[str, Any]) -> None:
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    (staff,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/staff/*"]
    assert staff["TargetOriginId"] == "api"  # the origin that carries the origin-verify header
    assert staff["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
    assert "POST" in staff["AllowedMethods"]
    request = resources[staff["OriginRequestPolicyId"]["Ref"]]["Properties"]["OriginRequestPolicyConfig"]
    assert request["CookiesConfig"] == {"CookieBehavior": "all"}
    assert request["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    headers = resources[staff["ResponseHeadersPolicyId"]["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
    custom = {h["Header"]: h for h in headers["CustomHeadersConfig"]["Items"]}
    assert "noindex" in custom["X-Robots-Tag"]["Value"] and custom["X-Robots-Tag"]["Override"] is True
    assert custom["Cache-Control"]["Value"] == "no-store" and custom["Cache-Control"]["Override"] is True


def test_settings_name_the_staff_tables_with_defaults_and_refuse_bad_names() -> None:
    base = {"BDPILOT_SECRET": "x" * 32}
    loaded = settings.Settings.from_env(base)
    assert (loaded.units_table, loaded.staff_table, loaded.audit_table) == (
        "bdpilot-units", "bdpilot-staff", "bdpilot-audit")
    named = settings.Settings.from_env({**base, "BDPILOT_AUDIT_TABLE": "bdpilot-local-AuditTable-1A2B"})
    assert named.audit_table == "bdpilot-local-AuditTable-1A2B"
    with pytest.raises(settings.SettingsError, match="BDPILOT_STAFF_TABLE"):
        settings.Settings.from_env({**base, "BDPILOT_STAFF_TABLE": "staff table"})


@pytest.mark.parametrize("path, staff", [("/staff", True), ("/staff/", True), ("/staff/sign-in", True),
                                         ("/staffing", False), ("/api/campaign", False), ("/", False)])
def test_the_local_run_routes_staff_paths_to_the_console(path: str, staff: bool) -> None:
    assert local.is_staff(path) is staff


def test_the_staff_zip_is_the_consoles_closure(tmp_path: Any) -> None:
    from bdpilot.ops.deploy import closure

    modules = closure.module_closure(package.PACKAGE_DIR, package.STAFF_HANDLER_MODULE)
    assert "bdpilot.console.app" in modules and not any(m.startswith("bdpilot.ops") for m in modules)
    assert "bdpilot.console.app" not in closure.module_closure(package.PACKAGE_DIR)  # not in the public zip
