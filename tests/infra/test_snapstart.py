"""SnapStart for the public function (infra/adr/0021-snapstart.md): on where the region offers it, always through
a published version and the alias `live`, and a new version exactly when `bdpilot deploy`'s fingerprint changes.
Rendered per region by tests/infra/cfn_eval.py; the deploy itself: tests/infra/test_deploy_moto.py."""

from __future__ import annotations

from typing import Any

import pytest

from bdpilot.ops import deploy, stack
from tests.infra.cfn_eval import Stack
from tests.infra.test_china import IN_CHINA

RELEASE = "ab" * 32
PUBLIC_ROUTES = {"ApiGetCampaign", "ApiGetSchema", "ApiGetOpenapi", "ApiPostUploads", "ApiPostSubmissions",
                 "ApiGetApplyUploads", "ApiPostApplyRemove", "ApiGetApplyForm"}


def rendered(template: dict[str, Any], region: str, **parameters: str) -> dict[str, Any]:
    extra = IN_CHINA if region.startswith("cn-") else {}
    return Stack(template, region, {**extra, **parameters}).resources()


@pytest.mark.parametrize(("region", "snapstart"), [
    ("us-east-1", True), ("ap-east-1", True), ("ap-northeast-1", True), ("eu-central-1", True),
    # Not offered there (AWS's list), and not claimed for China until an account there proves it.
    ("ap-southeast-6", False), ("ap-east-2", False), ("cn-north-1", False), ("cn-northwest-1", False),
])
def test_snapstart_where_the_region_offers_it(template: dict[str, Any], region: str, snapstart: bool) -> None:
    resources = rendered(template, region)
    props = resources["Function"]["Properties"]
    if snapstart:
        assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    else:
        assert "SnapStart" not in props
    # One path everywhere: the API invokes the alias on a published version, SnapStart or not.
    assert resources["FunctionVersion"]["Type"] == "AWS::Lambda::Version"
    assert resources["FunctionVersion"]["Properties"]["FunctionName"] == "<Function>"
    assert resources["FunctionLive"] == {"Type": "AWS::Lambda::Alias", "Properties": {
        "FunctionName": "<Function>", "FunctionVersion": "<FunctionVersion.Version>", "Name": "live"}}
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    for name in PUBLIC_ROUTES:
        uri = resources[name]["Properties"]["Integration"]["Uri"]
        assert uri == f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/<FunctionLive>/invocations"
    assert resources["FunctionInvokedByApi"]["Properties"]["FunctionName"] == "<FunctionLive>"


def test_only_the_alias_is_invoked(template: dict[str, Any]) -> None:
    """The bare function (its $LATEST, never snapshotted) is referred to by its version, its alias and by name in
    the alarms, the dashboard and the FunctionName output (metrics by FunctionName count every version)."""
    resources = template["Resources"]
    assert {n for n, r in resources.items() if "Function" in stack._references(r)} == {
        "FunctionVersion", "FunctionLive", "FunctionErrorsAlarm", "FunctionThrottlesAlarm", "Dashboard"}
    assert {n for n, r in resources.items() if "FunctionLive" in stack._references(r)} == {
        *PUBLIC_ROUTES, "FunctionInvokedByApi"}
    for name in ("FunctionErrorsAlarm", "FunctionThrottlesAlarm"):
        assert resources[name]["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Function"}}]
    # The stage moves to routes that invoke the alias only once the alias may be invoked.
    (deployment,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert "FunctionInvokedByApi" in deployment["DependsOn"]


def test_a_new_release_changes_latest_and_replaces_the_version(template: dict[str, Any]) -> None:
    """Every property of a Version replaces it, and publishing an unchanged $LATEST gives back the old version: so
    the fingerprint is in both, and a new one publishes a new version."""
    assert template["Parameters"]["FunctionRelease"]["Default"] == ""
    versions = []
    for release in (RELEASE, "cd" * 32):
        resources = rendered(template, "us-east-1", FunctionRelease=release)
        assert resources["Function"]["Properties"]["Environment"]["Variables"]["FUNCTION_RELEASE"] == release
        description = resources["FunctionVersion"]["Properties"]["Description"]
        assert release in description and len(description) <= 256
        versions.append(resources["FunctionVersion"]["Properties"])
    assert versions[0] != versions[1]
    assert set(template["Resources"]["FunctionVersion"]["Properties"]) == {"FunctionName", "Description"}


def test_the_one_lint_exception_is_e2530_on_the_function(template: dict[str, Any]) -> None:
    """cfn-lint's E2530 ignores the condition and flags SnapStart for China (see the resource's comment)."""
    ignored = {name: r["Metadata"]["cfn-lint"]["config"]["ignore_checks"]
               for name, r in template["Resources"].items() if "cfn-lint" in r.get("Metadata", {})}
    assert ignored == {"Function": ["E2530"]}


# ---------------------------------------------------------------- the fingerprint `bdpilot deploy` passes

PARAMETERS: dict[str, str | None] = {"Stage": "prod", "CodeKey": "prod/function/0.zip", "ShowResults": None,
                                     "AlarmEmail": None, "OriginVerifySecret": "s" * 32}


def fingerprint(template: dict[str, Any], parameters: dict[str, str | None] = PARAMETERS,
                previous: dict[str, str] | None = None, body: bytes = b"template") -> str:
    return deploy.release_fingerprint(body, parameters, template, previous)


def test_the_fingerprint_follows_the_template_and_the_values_in_effect(template: dict[str, Any]) -> None:
    first = fingerprint(template)
    assert len(first) == 64 and first == fingerprint(template, dict(reversed(PARAMETERS.items())))
    assert fingerprint(template, body=b"template2") != first
    assert fingerprint(template, {**PARAMETERS, "CodeKey": "prod/function/1.zip"}) != first
    # A kept value (None) is the stack's, or on create the template's default.
    assert fingerprint(template, {**PARAMETERS, "ShowResults": "0"}) == first
    assert fingerprint(template, previous={"ShowResults": "1"}) == fingerprint(template, {**PARAMETERS,
                                                                                          "ShowResults": "1"})
    assert fingerprint(template, previous={"AlarmEmail": "ops@example.org"}) != first
    # NoEcho values are read back as ****: never part of it (a kept secret would otherwise look changed).
    assert fingerprint(template, {**PARAMETERS, "OriginVerifySecret": None}, {"OriginVerifySecret": "****"}) == first
    # The fingerprint itself is not an input: passing it back changes nothing.
    assert fingerprint(template, {**PARAMETERS, "FunctionRelease": first}) == first
