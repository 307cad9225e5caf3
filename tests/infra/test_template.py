"""What infra/template.yaml promises, read from the parsed template (intrinsics in long form)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bdpilot.web import api

ROOT = Path(__file__).resolve().parents[2]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# What every function that e-mails applicants gets besides its own policy: SES outside China, the relay's login
# when there is one.
MAIL_POLICIES = [{"Fn::If": ["SendsWithSes", {"Ref": "MailSendPolicy"}, {"Ref": "AWS::NoValue"}]},
                 {"Fn::If": ["HasSmtpSecret", {"Ref": "SmtpSecretPolicy"}, {"Ref": "AWS::NoValue"}]}]


def sub_text(value: Any) -> str:
    """The text of a Fn::Sub (either form), for asserting on ARN shapes."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return str(value)


def test_cfn_lint_is_clean() -> None:
    """Errors, warnings and informational findings: none (.cfnlintrc at the repo root, no ignores)."""
    executable = Path(sys.executable).with_name("cfn-lint")
    command = str(executable) if executable.exists() else shutil.which("cfn-lint")
    assert command, "cfn-lint is not installed"
    result = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_bucket_blocks_public_access_and_refuses_plain_http(resources: dict[str, Any]) -> None:
    buckets = of_type(resources, "AWS::S3::Bucket")
    assert set(buckets) == {"SiteBucket", "SubmissionsBucket"}
    policies = {p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]
                for p in of_type(resources, "AWS::S3::BucketPolicy").values()}
    for name, bucket in buckets.items():
        block = bucket["Properties"]["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                                       "RestrictPublicBuckets"), True), name
        assert bucket["Properties"]["BucketEncryption"], name
        deny = [s for s in statements(policies[name]) if s.get("Effect") == "Deny"]  # Fn::If ones allow
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Principal"] == "*"
                   and s["Action"] == "s3:*" and len(as_list(s["Resource"])) == 2 for s in deny), name


def test_submissions_bucket_is_kms_encrypted_versioned_and_expires_uploads(resources: dict[str, Any]) -> None:
    props = resources["SubmissionsBucket"]["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                      "KMSMasterKeyID": {"Fn::GetAtt": ["DataKey", "Arn"]}}
    assert resources["DataKey"]["Properties"]["EnableKeyRotation"] is True
    assert resources["DataKey"]["DeletionPolicy"] == "RetainExceptOnCreate"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert {"Prefix": "uploads/", "ExpirationInDays": 7, "Status": "Enabled"}.items() <= rules[0].items()
    assert any(r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 30 for r in rules)
    assert resources["SubmissionsBucket"]["DeletionPolicy"] == "RetainExceptOnCreate"


def test_cors_allows_only_post_from_the_site(resources: dict[str, Any]) -> None:
    """Only POST, only from the site's origins (tests/infra/test_edge.py resolves them per SiteDomain)."""
    (rule,) = resources["SubmissionsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    cloudfront, own_domain = rule["AllowedOrigins"]
    assert sub_text(cloudfront) == "https://${Distribution.DomainName}"
    condition, value, otherwise = own_domain["Fn::If"]
    assert condition == "HasSiteDomain" and sub_text(value) == "https://${SiteDomain}"
    assert otherwise == {"Ref": "AWS::NoValue"}


def test_table_shape_recovery_and_encryption(resources: dict[str, Any]) -> None:
    props = resources["SubmissionsTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    for name, hash_key in {"by-time": "entity", "by-direction": "direction", "by-recommender": "recommender"}.items():
        assert indexes[name]["KeySchema"] == [{"AttributeName": hash_key, "KeyType": "HASH"},
                                              {"AttributeName": "received_at", "KeyType": "RANGE"}]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True and props["SSESpecification"]["SSEType"] == "KMS"
    # Deletion protection would make a failed first create's rollback fail (tests/infra/test_operations.py).
    assert "DeletionProtectionEnabled" not in props


def test_function_configuration(resources: dict[str, Any], template: dict[str, Any]) -> None:
    props = resources["Function"]["Properties"]
    assert props["Runtime"] == "python3.12" and props["Handler"] == "bdpilot.web.api.handler"
    assert set(props["Environment"]["Variables"]) == {"BDPILOT_TABLE", "BDPILOT_BUCKET", "BDPILOT_SECRET_PARAMETER",
                                                      "BDPILOT_DEADLINE", "BDPILOT_STAGE", "BDPILOT_SITE_URL",
                                                      "BDPILOT_UNITS_TABLE", "BDPILOT_MAIL", "BDPILOT_MAIL_FROM",
                                                      "BDPILOT_SMTP_URL", "BDPILOT_SMTP_SECRET_PARAMETER",
                                                      "FUNCTION_RELEASE", "POWERTOOLS_SERVICE_NAME",
                                                      "POWERTOOLS_METRICS_NAMESPACE"}
    # The form-token secret is never in the template, its parameters or the environment: only the name and the
    # pinned version of the SSM SecureString (tests/integration/test_secret_parameter.py reads it).
    assert props["Environment"]["Variables"]["BDPILOT_SECRET_PARAMETER"] == {
        "Fn::Sub": "/bdpilot/${Stage}/form-token-secret:${AppSecretVersion}"}
    assert "AppSecret" not in template["Parameters"]
    assert template["Parameters"]["AppSecretVersion"]["Type"] == "Number"
    assert props["ReservedConcurrentExecutions"]["Fn::If"][1] == {"Ref": "ReservedConcurrency"}
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == 50
    assert resources["FunctionLogGroup"]["Properties"]["RetentionInDays"] == 90


def function_statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    role = resources["FunctionRole"]["Properties"]
    # Its own policy, and the e-mail policies every sender shares (tests/infra/test_receipt_and_mail_infra.py).
    assert role["ManagedPolicyArns"] == [{"Ref": "FunctionPolicy"}, *MAIL_POLICIES]
    # A copy: += on the template's own list would change the session-wide parsed template for later tests.
    found = list(statements(resources["FunctionPolicy"]["Properties"]["PolicyDocument"]))
    for inline in role["Policies"]:
        found += statements(inline["PolicyDocument"])
    return found


def test_function_may_add_but_never_read_list_change_or_delete(resources: dict[str, Any]) -> None:
    found = function_statements(resources)
    assert all(s["Effect"] == "Allow" for s in found)
    actions = {a for s in found for a in as_list(s["Action"])}
    assert not any("*" in a for a in actions)
    forbidden = {"dynamodb:Scan", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:UpdateItem",
                 "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "s3:DeleteObject", "s3:ListBucket"}
    assert not actions & forbidden
    readable = [sub_text(r) for s in found if "s3:GetObject" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert readable == ["${SubmissionsBucket.Arn}/uploads/*"]
    writable = {sub_text(r) for s in found if "s3:PutObject" in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert writable == {"${SubmissionsBucket.Arn}/uploads/*", "${SubmissionsBucket.Arn}/submissions/*"}
    (get_item,) = [s for s in found if "dynamodb:GetItem" in as_list(s["Action"])]
    leading = ["IDEM#*", "USCC#*", "FORM#*"]
    assert get_item["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": leading}}
    # SSM: one parameter, read only; KMS: decrypt only through SSM, only for that parameter.
    secret = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/bdpilot/${Stage}/form-token-secret"
    ssm = [s for s in found if any(a.startswith("ssm:") for a in as_list(s["Action"]))]
    assert [(as_list(s["Action"]), [sub_text(r) for r in as_list(s["Resource"])]) for s in ssm] == [
        (["ssm:GetParameter"], [secret])]
    kms_decrypt = [s for s in found if "kms:Decrypt" in as_list(s["Action"]) and "Condition" in s]
    (decrypt,) = kms_decrypt
    assert as_list(decrypt["Action"]) == ["kms:Decrypt"]
    condition = decrypt["Condition"]["StringEquals"]
    assert sub_text(condition["kms:ViaService"]) == "ssm.${AWS::Region}.${AWS::URLSuffix}"
    assert sub_text(condition["kms:EncryptionContext:PARAMETER_ARN"]) == secret


def test_admin_policy_reads_everything_and_writes_only_exports_and_the_audit(resources: dict[str, Any]) -> None:
    found = statements(resources["AdminPolicy"]["Properties"]["PolicyDocument"])
    actions = {a for s in found for a in as_list(s["Action"])}
    assert {"dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem", "s3:GetObject", "s3:ListBucket"} <= actions
    assert not {"s3:DeleteObject", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"} & actions
    puts = [(as_list(s["Action"]), s["Resource"]) for s in found if "dynamodb:PutItem" in as_list(s["Action"])]
    assert puts == [(["dynamodb:PutItem"], {"Fn::GetAtt": ["AuditTable", "Arn"]})]  # appends to the audit only
    writable = [sub_text(r) for s in found if "s3:PutObject" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert writable == ["${SubmissionsBucket.Arn}/exports/*"]
    # The review's statuses (list, show, export) and units' states (stats): point reads of the units table only.
    units = [as_list(s["Action"]) for s in found if {"Fn::GetAtt": ["UnitsTable", "Arn"]} in as_list(s["Resource"])]
    assert units == [["dynamodb:BatchGetItem", "dynamodb:GetItem"]]


def api_routes(resources: dict[str, Any]) -> dict[str, str]:
    paths: dict[str, str] = {}

    def path_of(name: str) -> str:
        props = resources[name]["Properties"]
        parent = props["ParentId"]
        prefix = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
        return f"{prefix}/{props['PathPart']}"

    for method in of_type(resources, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if "${StaffFunction.Arn}" in sub_text(props["Integration"]["Uri"]):
            continue  # the console's /staff routes: tests/infra/test_staff_infra.py
        if "${ReceiptFunction.Arn}" in sub_text(props["Integration"]["Uri"]):
            continue  # /api/receipt*: tests/infra/test_receipt_and_mail_infra.py
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert "${FunctionLive}" in sub_text(props["Integration"]["Uri"])  # the alias (tests/infra/test_snapstart.py)
        paths[path_of(props["ResourceId"]["Ref"])] = props["HttpMethod"]
    return paths


def test_api_routes_are_the_handlers_routes(resources: dict[str, Any]) -> None:
    assert api_routes(resources) == api.ROUTES
    deployment = resources["ApiDeploymentV4"]
    assert set(deployment["DependsOn"]) >= set(of_type(resources, "AWS::ApiGateway::Method"))


def test_api_stage_is_throttled_and_behind_a_waf(resources: dict[str, Any]) -> None:
    """Stage throttling, and the regional web ACL on the stage (its rules: tests/infra/test_edge.py)."""
    (setting,) = resources["ApiStage"]["Properties"]["MethodSettings"]
    assert setting["ResourcePath"] == "/*" and setting["HttpMethod"] == "*"
    assert setting["ThrottlingBurstLimit"] == 100 and setting["ThrottlingRateLimit"] == 50
    acl = resources["ApiWebAcl"]["Properties"]
    assert acl["Scope"] == "REGIONAL"
    association = resources["ApiWebAclAssociation"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert sub_text(association["ResourceArn"]).endswith("/restapis/${Api}/stages/${ApiStage}")


def test_distribution_is_https_with_security_headers_and_routes_api(resources: dict[str, Any]) -> None:
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    # Origin access control outside China, an origin access identity there (tests/infra/test_china.py).
    assert origins["site"]["OriginAccessControlId"] == {
        "Fn::If": ["IsChina", {"Ref": "AWS::NoValue"}, {"Fn::GetAtt": ["SiteOriginAccessControl", "Id"]}]}
    assert origins["api"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (api_behavior,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    assert api_behavior["PathPattern"] == "/api/*" and api_behavior["TargetOriginId"] == "api"
    assert api_behavior["ViewerProtocolPolicy"] == "https-only"
    assert api_behavior["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
    assert "POST" in api_behavior["AllowedMethods"]
    request = resources["ApiOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]
    assert request == {"HeaderBehavior": "allExcept", "Headers": ["Host"]}
    headers = resources["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = sub_text(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {"Ref": "SecurityHeadersPolicy"}
    assert api_behavior["ResponseHeadersPolicyId"] == {"Ref": "ApiHeadersPolicy"}


def test_csp_names_the_bucket_the_stack_creates(resources: dict[str, Any]) -> None:
    """The CSP spells the bucket name out (a reference would be a cycle); it must stay the bucket's name."""
    _, variables = resources["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert variables["DataBucket"] == resources["SubmissionsBucket"]["Properties"]["BucketName"]


def test_alarms_notify_the_topic(resources: dict[str, Any]) -> None:
    """Which alarms watch what: tests/infra/test_operations.py."""
    alarms = of_type(resources, "AWS::CloudWatch::Alarm").values()
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)
    assert all(a["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


@pytest.mark.parametrize("name", ["SiteBucketName", "SubmissionsBucketName", "TableName", "ApiUrl",
                                  "DistributionId", "SiteUrl", "AdminPolicyArn", "FunctionRoleArn", "FunctionName"])
def test_outputs(template: dict[str, Any], name: str) -> None:
    assert name in template["Outputs"]


def test_parameters(template: dict[str, Any]) -> None:
    assert {"Stage", "SiteDomain", "DeadlineOverride", "AlarmEmail", "AppSecretVersion", "CodeBucket",
            "CodeKey", "OriginVerifySecret", "EdgeWebAclArn"} <= template["Parameters"].keys()
    assert template["Parameters"]["SiteDomain"]["Default"] == ""
    assert template["Parameters"]["DeadlineOverride"]["Default"] == ""
