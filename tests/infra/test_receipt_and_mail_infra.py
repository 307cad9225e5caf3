"""The receipt function, the applicants' e-mail and the mail queue as the template declares them (issues 13 and 14);
least privilege in moto: tests/infra/test_receipt_least_privilege.py."""

from __future__ import annotations

from typing import Any

import pytest

from bdpilot import settings
from bdpilot.ops import local
from bdpilot.ops.deploy import closure, package
from bdpilot.web import receipt
from tests.infra.cfn_eval import Stack
from tests.infra.test_template import MAIL_POLICIES, as_list, of_type, statements, sub_text

SENDERS = {"Function": "FunctionRole", "StaffFunction": "StaffRole", "ReceiptFunction": "ReceiptRole",
           "MailQueueFunction": "MailQueueRole"}
MAIL_VARIABLES = {"BDPILOT_MAIL", "BDPILOT_MAIL_FROM", "BDPILOT_SMTP_URL", "BDPILOT_SMTP_SECRET_PARAMETER",
                  "BDPILOT_SITE_URL"}


def receipt_routes(resources: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, resource path) of every API method integrated with the receipt function."""
    def path_of(name: str) -> str:
        props = resources[name]["Properties"]
        parent = props["ParentId"]
        prefix = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
        return f"{prefix}/{props['PathPart']}"

    found = set()
    for method in of_type(resources, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if "${ReceiptFunction.Arn}" in sub_text(props["Integration"]["Uri"]):
            assert props["Integration"]["Type"] == "AWS_PROXY" and props["AuthorizationType"] == "NONE"
            found.add((props["HttpMethod"], path_of(props["ResourceId"]["Ref"])))
    return found


def test_every_receipt_route_reaches_the_receipt_function_and_nothing_more(resources: dict[str, Any]) -> None:
    declared = receipt_routes(resources)
    assert declared == {("GET", "/api/receipt"), ("GET", "/api/receipt/{proxy+}"), ("POST", "/api/receipt/{proxy+}")}
    for method, path in receipt.ROUTES:
        resource = "/api/receipt" if path == "/api/receipt" else "/api/receipt/{proxy+}"
        assert (method, resource) in declared, (method, path)
    # Each declared method serves at least one route of the handler (no method left open for nothing).
    for method, resource in declared:
        assert any(m == method and (p == resource or (resource.endswith("{proxy+}") and p.startswith("/api/receipt/")))
                   for m, p in receipt.ROUTES), (method, resource)
    depends = set(resources["ApiDeploymentV4"]["DependsOn"])
    assert {"ApiGetReceipt", "ApiGetReceiptProxy", "ApiPostReceiptProxy"} <= depends
    arns = {sub_text(p["Properties"]["SourceArn"]).rsplit("${Api}", 1)[1]
            for p in of_type(resources, "AWS::Lambda::Permission").values()
            if p["Properties"]["FunctionName"] == {"Fn::GetAtt": ["ReceiptFunction", "Arn"]}}
    assert arns == {"/*/GET/api/receipt", "/*/*/api/receipt/*"}


def test_the_receipt_function_has_its_own_role_zip_and_every_setting(resources: dict[str, Any]) -> None:
    props = resources["ReceiptFunction"]["Properties"]
    assert props["Handler"] == package.RECEIPT_HANDLER_MODULE + ".handler" == "bdpilot.web.receipt.handler"
    assert props["Role"] == {"Fn::GetAtt": ["ReceiptRole", "Arn"]}
    assert props["Code"]["S3Key"] == {"Ref": "ReceiptCodeKey"} and props["Architectures"] == ["arm64"]
    assert resources["ReceiptRole"]["Properties"]["ManagedPolicyArns"] == [{"Ref": "ReceiptPolicy"}, *MAIL_POLICIES]
    variables = props["Environment"]["Variables"]
    assert {"BDPILOT_UNIT_DEADLINE", "BDPILOT_SHOW_RESULTS", "BDPILOT_TABLE", "BDPILOT_BUCKET",
            "BDPILOT_UNITS_TABLE", "BDPILOT_SECRET_PARAMETER"} | MAIL_VARIABLES <= set(variables)


@pytest.mark.parametrize("function", list(SENDERS))
def test_every_function_that_mails_applicants_can_send_and_knows_how(resources: dict[str, Any],
                                                                      function: str) -> None:
    variables = resources[function]["Properties"]["Environment"]["Variables"]
    assert set(variables) >= MAIL_VARIABLES and {v for v in variables if v.startswith("BDPILOT_")} <= set(
        settings.NAMES)
    assert variables["BDPILOT_MAIL"] == {"Fn::If": ["SendsWithSes", "ses", "smtp"]}
    assert resources[SENDERS[function]]["Properties"]["ManagedPolicyArns"][1:] == MAIL_POLICIES


@pytest.mark.parametrize("region, parameters, ses, relay_login", [
    ("ap-east-1", {}, True, False),
    ("ap-east-1", {"SmtpUrl": "smtp://relay.example.org:587"}, False, False),
    ("cn-north-1", {"SmtpUrl": "smtps://smtp.example.cn:465", "SmtpSecretParameter": "/bdpilot/prod/smtp"}, False,
     True),
])
def test_ses_outside_china_the_relay_elsewhere_and_its_login_only_when_named(
        template: dict[str, Any], region: str, parameters: dict[str, str], ses: bool, relay_login: bool) -> None:
    rendered = Stack(template, region, {"SiteDomain": "apply.example.cn", "SiteServerCertificateId":
                                        "ASCA0123456789ABCDEF", **parameters}).resources()
    assert ("MailSendPolicy" in rendered) is ses and ("SmtpSecretPolicy" in rendered) is relay_login
    variables = rendered["ReceiptFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["BDPILOT_MAIL"] == ("ses" if ses else "smtp")
    assert variables["BDPILOT_SITE_URL"] == "https://apply.example.cn"
    # The site URL settings accept (an origin, no slash), so e-mailed links are right.
    checked = {k: v for k, v in variables.items() if k in MAIL_VARIABLES | {"BDPILOT_SHOW_RESULTS"}}
    assert settings.Settings.from_env({"BDPILOT_SECRET": "x" * 16, **checked}).mail == ("ses" if ses else "smtp")
    if ses:
        (send,) = statements(rendered["MailSendPolicy"]["Properties"]["PolicyDocument"])
        assert send["Action"] == "ses:SendEmail" and send["Resource"].endswith(":identity/*")
    if relay_login:
        found = statements(rendered["SmtpSecretPolicy"]["Properties"]["PolicyDocument"])
        assert {s["Action"] for s in found} == {"ssm:GetParameter", "kms:Decrypt"}
        assert found[0]["Resource"] == "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/bdpilot/prod/smtp"


def test_without_a_domain_links_point_at_the_distribution(template: dict[str, Any]) -> None:
    rendered = Stack(template, "ap-east-1").resources()
    for function in SENDERS:
        variables = rendered[function]["Properties"]["Environment"]["Variables"]
        assert variables["BDPILOT_SITE_URL"] == "https://<Distribution.DomainName>", function


def test_the_receipt_policy_reads_by_key_only(resources: dict[str, Any]) -> None:
    found = statements(resources["ReceiptPolicy"]["Properties"]["PolicyDocument"])
    actions = {a for s in found for a in as_list(s["Action"])}
    assert not any("*" in a for a in actions)
    assert not actions & {"dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DeleteItem",
                          "dynamodb:BatchWriteItem", "s3:ListBucket", "s3:DeleteObject"}
    readable = {sub_text(r) for s in found if "s3:GetObject" in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert readable == {"${SubmissionsBucket.Arn}/submissions/*", "${SubmissionsBucket.Arn}/uploads/*"}
    # A resend's lookup runs in an invocation of this function (store.resends.hand_off): it may invoke itself only.
    invokes = [(as_list(s["Action"]), sub_text(s["Resource"])) for s in found
               if any(a.startswith("lambda:") for a in as_list(s["Action"]))]
    name = resources["ReceiptFunction"]["Properties"]["FunctionName"]
    assert invokes == [(["lambda:InvokeFunction"],
                        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + sub_text(name))]


def test_the_mail_queue_runs_every_five_minutes_on_queued_mail_only(resources: dict[str, Any]) -> None:
    function = resources["MailQueueFunction"]["Properties"]
    assert function["Handler"] == package.MAILQUEUE_HANDLER_MODULE + ".handler" == "bdpilot.web.mailqueue.handler"
    assert function["Code"]["S3Key"] == {"Ref": "MailQueueCodeKey"}
    schedule = resources["MailQueueSchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == "rate(5 minutes)" and schedule["State"] == "ENABLED"
    assert [t["Arn"] for t in schedule["Targets"]] == [{"Fn::GetAtt": ["MailQueueFunction", "Arn"]}]
    (allowed,) = [p["Properties"] for p in of_type(resources, "AWS::Lambda::Permission").values()
                  if p["Properties"]["FunctionName"] == {"Fn::GetAtt": ["MailQueueFunction", "Arn"]}]
    assert allowed["Principal"] == "events.amazonaws.com"
    assert allowed["SourceArn"] == {"Fn::GetAtt": ["MailQueueSchedule", "Arn"]}
    found = statements(resources["MailQueuePolicy"]["Properties"]["PolicyDocument"])
    on_table = {a: s for s in found for a in as_list(s["Action"]) if a.startswith("dynamodb:")}
    assert set(on_table) == {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert sub_text(on_table["dynamodb:Query"]["Resource"]) == "${SubmissionsTable.Arn}/index/by-time"
    assert on_table["dynamodb:DeleteItem"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["MAIL#*"]}}
    assert not any(a.startswith("s3:") for s in found for a in as_list(s["Action"]))


@pytest.mark.parametrize("path, receipt_function", [("/api/receipt", True), ("/api/receipt/record", True),
                                                    ("/api/receipt/resend", True), ("/api/receipts", False),
                                                    ("/api/campaign", False), ("/staff/", False)])
def test_the_local_run_routes_receipt_paths_to_the_receipt_function(path: str, receipt_function: bool) -> None:
    assert local.is_receipt(path) is receipt_function


def test_the_receipt_and_mail_queue_zips_are_their_handlers_closures() -> None:
    receipt_modules = closure.module_closure(package.PACKAGE_DIR, package.receipt_roots())
    # The views it imports by name when the first request comes are in its zip.
    assert set(receipt.VIEW_MODULES) <= receipt_modules and "bdpilot.web.receipt" in receipt_modules
    queue_modules = closure.module_closure(package.PACKAGE_DIR, package.MAILQUEUE_HANDLER_MODULE)
    assert {"bdpilot.web.mailqueue", "bdpilot.store.mailer"} <= queue_modules
    for modules in (receipt_modules, queue_modules):
        assert not any(m.startswith(("bdpilot.ops", "bdpilot.console")) for m in modules)
    # The mail queue carries no intake, form or page code.
    assert not any(m.startswith(("bdpilot.intake", "bdpilot.web.api", "bdpilot.web.receipt")) for m in queue_modules)
