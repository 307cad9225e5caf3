"""Issue 15, the China regions: one template that deploys to cn-north-1 and cn-northwest-1 (partition aws-cn).
Rendered per region by tests/infra/cfn_eval.py; cfn-lint (.cfnlintrc) checks the same regions against its
per-region resource schemas. What only a China account can show is listed in infra/adr/0004-china-regions.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

from bdpilot.ops import stack
from tests.infra.cfn_eval import Stack

ROOT = Path(__file__).resolve().parents[2]
CHINA_REGIONS = sorted(boto3.Session().get_available_regions("s3", partition_name="aws-cn"))
DOMAIN = "apply.example.cn"
CERTIFICATE = "ASCA0123456789ABCDEF"
RELAY = "smtps://smtp.example.cn:465"
IN_CHINA = {"SiteDomain": DOMAIN, "SiteServerCertificateId": CERTIFICATE, "SmtpUrl": RELAY}
EDGE_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/bdpilot-prod-edge/0"


def china(template: dict[str, Any], region: str = "cn-north-1", **extra: Any) -> Stack:
    return Stack(template, region, {**IN_CHINA, **extra})


def test_is_china_is_exactly_the_aws_cn_partition(template: dict[str, Any]) -> None:
    assert CHINA_REGIONS == ["cn-north-1", "cn-northwest-1"]
    for region in CHINA_REGIONS:
        assert china(template, region).condition("IsChina"), region
    for region in ("us-east-1", "ap-east-1", "ap-northeast-1", "eu-central-1"):
        assert not Stack(template, region).condition("IsChina"), region
    # The rule that asks for a domain and a certificate in China names the same regions.
    rule = template["Rules"]["ChinaNeedsIcpDomainAndIamCertificate"]["RuleCondition"]["Fn::Contains"]
    assert sorted(rule[0]) == CHINA_REGIONS


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1"])
def test_china_stack_uses_only_what_cloudfront_china_has(template: dict[str, Any], region: str) -> None:
    resources = china(template, region).resources()
    types = {r["Type"] for r in resources.values()}
    assert "AWS::CloudFront::OriginAccessControl" not in types and "AWS::CloudFront::Function" not in types
    # Every resource type exists in the region (cfn-lint's per-region CloudFormation schemas).
    assert types <= set(PROVIDER_SCHEMA_MANAGER.get_resource_types(region=region)), \
        types - set(PROVIDER_SCHEMA_MANAGER.get_resource_types(region=region))
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    (site,) = [o for o in config["Origins"] if o["Id"] == "site"]
    assert "OriginAccessControlId" not in site
    assert site["S3OriginConfig"] == {"OriginAccessIdentity": "origin-access-identity/cloudfront/"
                                                              "<SiteOriginAccessIdentity>"}
    for behavior in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]:
        assert "FunctionAssociations" not in behavior and "LambdaFunctionAssociations" not in behavior
    # Only on the ICP-filed domain, with an IAM server certificate (no ACM for CloudFront in China).
    assert config["Aliases"] == [DOMAIN]
    assert config["ViewerCertificate"] == {"IamCertificateId": CERTIFICATE, "SslSupportMethod": "sni-only",
                                           "MinimumProtocolVersion": "TLSv1.2_2021"}
    assert "WebACLId" not in config  # no us-east-1 edge stack
    # The bucket is read by the origin access identity, and nothing else is let in.
    statements = resources["SiteBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    assert {s["Action"] for s in allowed} == {"s3:GetObject", "s3:ListBucket"}
    assert all(s["Principal"] == {"CanonicalUser": "<SiteOriginAccessIdentity.S3CanonicalUserId>"} for s in allowed)
    # Without the API host function the function learns the site's URL from its environment.
    assert resources["Function"]["Properties"]["Environment"]["Variables"]["BDPILOT_SITE_URL"] == f"https://{DOMAIN}"
    # Mail through the relay, never SES (which the China regions do not have).
    assert "MailSendPolicy" not in resources
    for name in ("Function", "StaffFunction", "ReceiptFunction", "MailQueueFunction"):
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert (variables["BDPILOT_MAIL"], variables["BDPILOT_SMTP_URL"]) == ("smtp", RELAY), name
        assert variables["BDPILOT_MAIL_FROM"] == f"noreply@{DOMAIN}", name
    assert not any("ses:" in str(r["Properties"]) for r in resources.values()
                   if r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Role"))


@pytest.mark.parametrize("region", ["us-east-1", "ap-east-1"])
def test_elsewhere_the_distribution_keeps_oac_and_its_functions(template: dict[str, Any], region: str) -> None:
    resources = Stack(template, region, {"EdgeWebAclArn": EDGE_ACL}).resources()
    assert "SiteOriginAccessIdentity" not in resources
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    (site,) = [o for o in config["Origins"] if o["Id"] == "site"]
    assert site["OriginAccessControlId"] == "<SiteOriginAccessControl.Id>"
    assert site["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert config["DefaultCacheBehavior"]["FunctionAssociations"][0]["FunctionARN"] == \
        "<SiteIndexFunction.FunctionMetadata.FunctionARN>"
    assert config["WebACLId"] == EDGE_ACL and config["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    statements = resources["SiteBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Principal"] == {"Service": "cloudfront.amazonaws.com"} for s in statements if s["Effect"] == "Allow")


@pytest.mark.parametrize("region, parameters, refused", [
    # China: the ICP-filed domain and an IAM certificate are required, and no edge web ACL exists.
    ("cn-north-1", {}, "SiteDomain is required"),
    ("cn-north-1", {"SiteDomain": DOMAIN}, "SiteServerCertificateId is required"),
    ("cn-northwest-1", {**IN_CHINA, "EdgeWebAclArn": EDGE_ACL}, "no us-east-1 edge web ACL"),
    # No SES in China: the applicants' e-mails need the relay.
    ("cn-north-1", {**IN_CHINA, "SmtpUrl": ""}, "SmtpUrl"),
    ("cn-northwest-1", IN_CHINA, None),
    # Everywhere: a domain needs one certificate, a certificate needs the domain.
    ("ap-east-1", {"SiteDomain": "apply.example.org"}, "SiteDomain needs"),
    ("ap-east-1", {"SiteCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}, "only used together"),
    ("ap-east-1", {"SiteDomain": "apply.example.org", "SiteServerCertificateId": CERTIFICATE,
                   "SiteCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}, "not both"),
    ("ap-east-1", {"SiteDomain": "apply.example.org",
                   "SiteCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}, None),
    ("us-east-1", {}, None),
])
def test_parameters_are_refused_before_anything_is_created(template: dict[str, Any], region: str,
                                                           parameters: dict[str, str], refused: str | None) -> None:
    failures = Stack(template, region, parameters).rule_failures()
    if refused is None:
        assert failures == []
    else:
        assert any(refused in f for f in failures), failures


def strings(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        return [hit for k, v in node.items() for hit in strings(v, (*path, str(k)))]
    if isinstance(node, list):
        return [hit for v in node for hit in strings(v, path)]
    return [(path, node)] if isinstance(node, str) else []


def is_principal(path: tuple[str, ...]) -> bool:
    """A policy's Principal.Service, or a Lambda permission's Principal."""
    return path[-1] == "Principal" or path[-2:] == ("Principal", "Service")


@pytest.mark.parametrize("name", ["template.yaml", "edge.yaml"])
def test_every_endpoint_is_spelled_with_the_url_suffix(name: str) -> None:
    """`amazonaws.com` appears only as a service principal (the same in both partitions); every host name is
    built from ${AWS::URLSuffix}, which is amazonaws.com.cn in China."""
    template = stack.load_template(ROOT / "infra" / name)
    for path, text in strings(template["Resources"]) + strings(template.get("Outputs", {})):
        if "amazonaws.com" in text:
            assert is_principal(path), (path, text)
            assert re.fullmatch(r"[a-z0-9-]+\.amazonaws\.com", text), text
    rendered = china(stack.load_template()).resources()
    for path, text in strings(rendered):
        if "amazonaws.com" in text and not is_principal(path):
            assert ".amazonaws.com.cn" in text and not re.search(r"amazonaws\.com(?!\.cn)", text), (path, text)


def test_lint_covers_the_china_regions() -> None:
    config = yaml.safe_load((ROOT / ".cfnlintrc").read_text(encoding="utf-8"))
    assert {"us-east-1", "ap-east-1", "cn-north-1", "cn-northwest-1"} <= set(config["regions"])
    assert {"infra/template.yaml", "infra/edge.yaml"} <= set(config["templates"])
    assert not config.get("ignore_checks")
    # `make lint` (and so `make test`) runs cfn-lint on .cfnlintrc's templates and regions, overriding neither.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    (line,) = [ln for ln in recipe.splitlines() if "cfn-lint" in ln]
    assert line.split("#", 1)[0].split() == ["$(BIN)/cfn-lint"]
    assert re.search(r"^test: lint\b", makefile, re.M)


def test_operators_read_about_icp_filing_and_where_the_data_lives() -> None:
    readme = (ROOT / "infra" / "README.md").read_text(encoding="utf-8")
    for needed in ("备案", "ICP", "PIPL", "cn-north-1", "cn-northwest-1", "SiteServerCertificateId"):
        assert needed in readme, needed
