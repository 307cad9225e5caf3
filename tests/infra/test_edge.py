"""The edge (issue 11, finding 10): headers, CSP origins, web ACLs and the origin-verify secret, read from
infra/template.yaml and infra/edge.yaml. Where a rule depends on AWS behaviour moto does not model (WAF,
CloudFront), the test checks the template against what AWS documents; infra/adr/0001-edge-waf.md says which."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from bdpilot import settings
from bdpilot.ops import deploy, stack
from bdpilot.store import Store
from bdpilot.web import api
from tests.infra.cfn_eval import Stack

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "infra" / "edge.yaml"


@pytest.fixture(scope="module")
def edge() -> dict[str, Any]:
    return stack.load_template(EDGE)


def headers_config(resources: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return resources[ref["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]


def distribution(resources: dict[str, Any]) -> dict[str, Any]:
    return resources["Distribution"]["Properties"]["DistributionConfig"]


def api_behavior(resources: dict[str, Any]) -> dict[str, Any]:
    (behavior,) = [b for b in distribution(resources)["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    return behavior


def sub(value: Any) -> tuple[str, dict[str, Any]]:
    body = value["Fn::Sub"]
    return (body, {}) if isinstance(body, str) else (body[0], body[1])


def substitute(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        assert match[1] in values, f"no value for ${{{match[1]}}}"
        return values[match[1]]

    return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", one, text)


PSEUDO = {"us-east-1": "amazonaws.com", "ap-northeast-1": "amazonaws.com", "cn-north-1": "amazonaws.com.cn"}


def resolved_site_csp(resources: dict[str, Any], region: str, stage: str = "prod") -> str:
    """The site CSP as CloudFormation would render it in this region (Fn::Sub with its variable map)."""
    rendered = Stack(stack.load_template(), region, {"Stage": stage})
    return rendered.value(headers_config(resources, {"Ref": "SecurityHeadersPolicy"})[
        "ContentSecurityPolicy"]["ContentSecurityPolicy"])


def directive(csp: str, name: str) -> list[str]:
    for part in csp.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"no {name} in the CSP")


# ---------------------------------------------------------------- 1. the function's CSP survives /api/*


def cloudfront_response_headers(policy: dict[str, Any], origin: dict[str, str]) -> dict[str, str]:
    """What CloudFront sends the viewer (documented behaviour of a response headers policy): a header with
    Override true replaces the origin's; with Override false it is added only when the origin sent none."""
    out = {k.lower(): v for k, v in origin.items()}
    csp = policy.get("ContentSecurityPolicy")
    if csp and (csp["Override"] or "content-security-policy" not in out):
        out["content-security-policy"] = csp["ContentSecurityPolicy"]
    return out


def test_api_headers_policy_keeps_the_functions_csp(resources: dict[str, Any]) -> None:
    behavior = api_behavior(resources)
    policy = headers_config(resources, behavior["ResponseHeadersPolicyId"])
    # The no-JavaScript pages' CSP reaches the browser unchanged.
    page = {"Content-Security-Policy": api.HTML_CSP + " https://bucket.s3.ap-northeast-1.amazonaws.com"}
    assert cloudfront_response_headers(policy, page)["content-security-policy"] == page["Content-Security-Policy"]
    # A JSON answer without a CSP still gets a restrictive one.
    fallback = cloudfront_response_headers(policy, {})["content-security-policy"]
    assert directive(fallback, "default-src") == ["'none'"] and directive(fallback, "frame-ancestors") == ["'none'"]
    # The transport headers are still forced on /api/*.
    assert policy["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert policy["StrictTransportSecurity"]["Override"] is True
    assert policy["ContentTypeOptions"] == {"Override": True}
    assert policy["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert policy["ReferrerPolicy"]["Override"] is True


def test_no_overriding_csp_on_any_behaviour_that_reaches_the_function(resources: dict[str, Any]) -> None:
    for behavior in distribution(resources)["CacheBehaviors"]:
        if behavior["TargetOriginId"] == "api":
            csp = headers_config(resources, behavior["ResponseHeadersPolicyId"]).get("ContentSecurityPolicy")
            assert csp is None or csp["Override"] is False, behavior["PathPattern"]


# ---------------------------------------------------------------- 2. no 'unsafe-inline' scripts on the site


def test_site_csp_allows_no_inline_script_but_by_hash(resources: dict[str, Any]) -> None:
    csp = resolved_site_csp(resources, "ap-northeast-1")
    scripts = directive(csp, "script-src")
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in scripts
    assert scripts[0] == "'self'"
    assert scripts[1:] and all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", s) for s in scripts[1:]), scripts
    assert directive(csp, "object-src") == ["'none'"] and directive(csp, "frame-ancestors") == ["'none'"]
    assert directive(csp, "base-uri") == ["'self'"]
    assert len(csp) <= 1783  # CloudFront's limit for the CSP value of a response headers policy


# ---------------------------------------------------------------- 3. CSP, presigned POST and CORS agree


@pytest.mark.parametrize("region", ["us-east-1", "ap-northeast-1", "cn-north-1"])
def test_csp_names_exactly_the_regional_virtual_hosted_upload_endpoint(
        resources: dict[str, Any], region: str, fake_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # The bucket's name as this region's stack would make it (unique per stack: infra/adr/0003-safe-deploys.md).
    bucket = Stack(stack.load_template(), region).value(resources["SubmissionsBucket"]["Properties"]["BucketName"])
    assert bucket.startswith(f"bdpilot-prod-data-{region}-") and len(bucket) <= 63
    origin = f"https://{bucket}.s3.{region}.{PSEUDO[region]}"
    csp = resolved_site_csp(resources, region)
    for name in ("connect-src", "form-action"):
        assert directive(csp, name) == ["'self'", origin], name
    # The store's presigned POST (what the browser posts to) goes to exactly that origin, signed SigV4.
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    post = Store("table", bucket).presign_upload("0" * 32, "owner", max_bytes=10, expires=60)
    assert post["url"].rstrip("/") == origin
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def resolve_origins(values: list[Any], site_domain: str) -> list[str]:
    """Fn::If on HasSiteDomain, Fn::Sub on SiteDomain / Distribution.DomainName, AWS::NoValue dropped."""
    out = []
    for value in values:
        if isinstance(value, dict) and "Fn::If" in value:
            condition, yes, no = value["Fn::If"]
            assert condition == "HasSiteDomain"
            value = yes if site_domain else no
        if value == {"Ref": "AWS::NoValue"}:
            continue
        out.append(substitute(sub(value)[0], {"SiteDomain": site_domain,
                                              "Distribution.DomainName": "d111.cloudfront.net"}))
    return out


@pytest.mark.parametrize("site_domain", ["", "apply.example.cn"])
def test_bucket_cors_admits_posts_from_every_origin_serving_the_site(
        resources: dict[str, Any], site_domain: str) -> None:
    (rule,) = resources["SubmissionsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    origins = resolve_origins(rule["AllowedOrigins"], site_domain)
    # The distribution answers on its own name even with an alias; with SiteDomain the site's URL is that.
    expected = ["https://d111.cloudfront.net"] + ([f"https://{site_domain}"] if site_domain else [])
    assert origins == expected
    site_url = resolve_origins([stack.load_template()["Outputs"]["SiteUrl"]["Value"]], site_domain)
    assert site_url[0] in origins


# ---------------------------------------------------------------- 4. managed rule groups, body size


def edge_rules(edge: dict[str, Any]) -> dict[str, dict[str, Any]]:
    acl = edge["Resources"]["EdgeWebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT" and acl["DefaultAction"] == {"Allow": {}}
    return {rule["Name"]: rule for rule in acl["Rules"]}


def managed(rule: dict[str, Any]) -> dict[str, Any]:
    return rule["Statement"]["ManagedRuleGroupStatement"]


def test_edge_web_acl_runs_the_managed_rule_groups(edge: dict[str, Any], resources: dict[str, Any]) -> None:
    rules = edge_rules(edge)
    groups = {managed(r)["Name"]: r for r in rules.values() if "ManagedRuleGroupStatement" in r["Statement"]}
    assert set(groups) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesAmazonIpReputationList"}
    for rule in groups.values():
        assert managed(rule)["VendorName"] == "AWS" and rule["OverrideAction"] == {"None": {}}  # they block
    # The common rule set's 8 KB body rule only counts; nothing else in the group is overridden.
    overrides = managed(groups["AWSManagedRulesCommonRuleSet"])["RuleActionOverrides"]
    assert overrides == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    assert "ExcludedRules" not in managed(groups["AWSManagedRulesCommonRuleSet"])
    # The distribution uses this web ACL (its ARN comes from the edge stack through EdgeWebAclArn).
    assert distribution(resources)["WebACLId"] == {
        "Fn::If": ["HasEdgeWebAcl", {"Ref": "EdgeWebAclArn"}, {"Ref": "AWS::NoValue"}]}
    assert edge["Outputs"]["WebAclArn"]["Value"] == {"Fn::GetAtt": ["EdgeWebAcl", "Arn"]}
    # CloudFront-scope web ACLs exist only in us-east-1: the stack refuses any other region.
    (assertion,) = edge["Rules"]["OnlyInUsEast1"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def test_body_size_rule_replaces_the_managed_8_kb_rule(edge: dict[str, Any]) -> None:
    rules = edge_rules(edge)
    rule = rules["body-size"]
    assert rule["Priority"] > rules["aws-common-rule-set"]["Priority"]
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    big_body, too_long = rule["Statement"]["OrStatement"]["Statements"]
    size, exempt = big_body["AndStatement"]["Statements"]
    size = size["SizeConstraintStatement"]
    # Over 8 KB, or beyond what WAF reads (16 KB at CloudFront), is refused except where an application goes.
    assert size["FieldToMatch"] == {"Body": {"OversizeHandling": "MATCH"}}
    assert (size["ComparisonOperator"], size["Size"]) == ("GT", 8192)
    path = exempt["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert path["FieldToMatch"] == {"UriPath": {}} and path["PositionalConstraint"] == "EXACTLY"
    posts = {route for route, method in api.ROUTES.items() if method == "POST"}
    assert path["SearchString"] in posts
    # Over MAX_BODY_BYTES is refused by Content-Length, everywhere: the regex is "decimal > MAX_BODY_BYTES".
    regex = too_long["RegexMatchStatement"]
    assert regex["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    pattern = re.compile(regex["RegexString"])
    limit = settings.MAX_BODY_BYTES
    rng = random.Random(11)
    values = [0, 1, 8192, limit - 1, limit, limit + 1, limit + 10, 10 * limit, 10**7, 10**12, 99999, 999999]
    values += [rng.randrange(0, 4 * limit) for _ in range(20000)] + list(range(limit - 2000, limit + 2000))
    for value in values:
        for text in (str(value), "00" + str(value)):
            assert bool(pattern.fullmatch(text)) == (value > limit), text
    assert not pattern.fullmatch("") and not pattern.fullmatch("-1") and not pattern.fullmatch("26214a")


# ---------------------------------------------------------------- 5. a per-visitor limit nobody can spoof


def all_statements(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += all_statements(value)
    elif isinstance(node, list):
        for item in node:
            found += all_statements(item)
    return found


def test_per_visitor_limit_counts_the_viewers_own_address(edge: dict[str, Any], resources: dict[str, Any]) -> None:
    rule = edge_rules(edge)["rate-per-visitor-ip"]
    rate = rule["Statement"]["RateBasedStatement"]
    # At CloudFront scope WAF's source address is the viewer's TCP peer; X-Forwarded-For is the client's to write.
    assert rate["AggregateKeyType"] == "IP" and "ForwardedIPConfig" not in rate
    assert (rate["Limit"], rate["EvaluationWindowSec"]) == (300, 300)
    scope = rate["ScopeDownStatement"]["ByteMatchStatement"]
    assert (scope["PositionalConstraint"], scope["SearchString"]) == ("STARTS_WITH", "/api/")
    block = rule["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429 and {"Name": "Retry-After", "Value": "300"} in block["ResponseHeaders"]
    # Nothing anywhere keys on a forwarded address, and no address-based rule sits on the API's regional web ACL,
    # where every source address is a CloudFront server's.
    for node in all_statements([edge["Resources"], resources]):
        assert node.get("AggregateKeyType") != "FORWARDED_IP" and "ForwardedIPConfig" not in node
    regional = resources["ApiWebAcl"]["Properties"]["Rules"]
    assert not [n for n in all_statements(regional) if "RateBasedStatement" in n or "IPSetReferenceStatement" in n
                or n.get("Name") == "AWSManagedRulesAmazonIpReputationList"]


def test_deploy_creates_the_edge_stack_in_us_east_1_first(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    class Session:
        def client(self, service: str, region_name: str | None = None) -> str:
            return f"{service}@{region_name}"

    def fake_deploy_stack(cfn: str, name: str, url: str | None, params: dict[str, Any], *,
                          template_body: str | None = None) -> dict[str, str]:
        calls.append((cfn, name, params))
        assert url is None and template_body == EDGE.read_text(encoding="utf-8")
        return {"WebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/bdpilot-prod-edge/x"}

    monkeypatch.setattr(deploy, "deploy_stack", fake_deploy_stack)
    arn = deploy.deploy_edge(Session(), "prod", "ap-northeast-1", "ops@example.org")
    # The edge alarm's topic is in us-east-1 (alarms notify topics in their own region): it gets the address too.
    assert calls == [("cloudformation@us-east-1", "bdpilot-prod-edge",
                      {"Stage": "prod", "AlarmEmail": "ops@example.org"})]
    assert set(calls[0][2]) <= set(stack.load_template(EDGE)["Parameters"])
    pattern = stack.load_template()["Parameters"]["EdgeWebAclArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, arn) and re.fullmatch(pattern, "")
    # China: no CloudFront-scope web ACL yet (a later change); the distribution then has none.
    assert deploy.deploy_edge(Session(), "prod", "cn-northwest-1", "ops@example.org") == "" and len(calls) == 1


# ---------------------------------------------------------------- 6. the API only through CloudFront


def test_api_refuses_requests_without_cloudfronts_secret_header(resources: dict[str, Any],
                                                                 template: dict[str, Any]) -> None:
    (origin,) = [o for o in distribution(resources)["Origins"] if o["Id"] == "api"]
    (header,) = origin["OriginCustomHeaders"]
    assert header["HeaderValue"] == {"Ref": "OriginVerifySecret"}
    acl = resources["ApiWebAcl"]["Properties"]
    first = min(acl["Rules"], key=lambda r: r["Priority"])
    assert "Block" in first["Action"]
    match = first["Statement"]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert match["FieldToMatch"] == {"SingleHeader": {"Name": header["HeaderName"].lower()}}
    assert match["PositionalConstraint"] == "EXACTLY"
    assert match["SearchString"] == {"Ref": "OriginVerifySecret"}
    assert match["TextTransformations"] == [{"Priority": 0, "Type": "NONE"}]
    # The web ACL guards the stage the distribution's origin path points at.
    association = resources["ApiWebAclAssociation"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert sub(origin["OriginPath"])[0] == "/${Stage}"
    # The secret is never a literal: a NoEcho parameter without a default, long enough not to guess.
    parameter = template["Parameters"]["OriginVerifySecret"]
    assert parameter["NoEcho"] is True and "Default" not in parameter and parameter["MinLength"] >= 32


def test_deploy_generates_the_origin_secret_once_and_keeps_it() -> None:
    pattern = stack.load_template()["Parameters"]["OriginVerifySecret"]["AllowedPattern"]
    created = deploy.secret_parameters(None)
    # The form-token secret is no stack parameter any more: it lives in SSM (test_deploy_moto's form-token tests).
    assert set(created) == {"OriginVerifySecret"} and "AppSecret" not in stack.load_template()["Parameters"]
    assert all(v and len(v) >= 32 and re.fullmatch(pattern, v) for v in created.values())
    assert deploy.secret_parameters(None)["OriginVerifySecret"] != created["OriginVerifySecret"]
    # Updates keep it (None = UsePreviousValue) ...
    assert deploy.secret_parameters({"OriginVerifySecret", "Stage"}) == dict.fromkeys(created)
    # ... and a stack made before the origin secret existed gets one (UsePreviousValue would be refused).
    assert deploy.secret_parameters({"AppSecret", "Stage"})["OriginVerifySecret"]


def test_local_parameters_cover_every_required_parameter(template: dict[str, Any]) -> None:
    """The local run and tests create the template in moto: every parameter without a default needs a value."""
    required = {name for name, p in template["Parameters"].items() if "Default" not in p}
    assert required <= stack.LOCAL_PARAMETERS.keys()
    for name in required:
        spec = template["Parameters"][name]
        value = stack.LOCAL_PARAMETERS[name]
        assert len(value) >= spec.get("MinLength", 0) and re.fullmatch(spec.get("AllowedPattern", ".*"), value)
