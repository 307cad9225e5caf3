"""Issue 15, operating the stack: deadline-day alarms, logs, the dashboard, and data that survives a failed first
create or a careless update. Read from infra/template.yaml, infra/edge.yaml and infra/stack-policy.json, rendered
per region by tests/infra/cfn_eval.py. CloudWatch, WAF and stack policies are not modelled by moto: these tests
check the templates against what AWS documents (infra/adr/0002 and 0003 say what only a real account can show)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bdpilot.ops import stack
from tests.infra.cfn_eval import Stack

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "infra" / "edge.yaml"
STACK_POLICY = ROOT / "infra" / "stack-policy.json"
CUSTOM_METRICS = {"SubmissionAccepted", "SubmissionRejected", "StorageUnavailable", "UnexpectedError", "MailFailed",
                  "MailQueueAge"}
SERVICE = [{"Name": "service", "Value": "bdpilot"}]
EDGE_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/bdpilot-prod-edge/0"


@pytest.fixture(scope="module")
def edge() -> dict[str, Any]:
    return stack.load_template(EDGE)


def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def watched(alarm: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, plain or in metric math."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", []))]
    return [(q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"],
             q["MetricStat"]["Metric"].get("Dimensions", [])) for q in alarm["Metrics"] if "MetricStat" in q]


def math_value(alarm: dict[str, Any], **series: float) -> float:
    """The alarm's returned metric-math expression for one period, evaluated as CloudWatch documents IF and
    FILL (the only functions these alarms use)."""
    (returned,) = [q for q in alarm["Metrics"] if q.get("ReturnData")]
    assert all(not q.get("ReturnData") for q in alarm["Metrics"] if "MetricStat" in q)
    python = re.sub(r"\bIF\(", "_if(", returned["Expression"]).replace("FILL(", "_fill(")
    assert set(re.findall(r"[A-Za-z_]+", python)) <= {"_if", "_fill"} | set(series), python
    return eval(python, {"_if": lambda c, a, b: a if c else b, "_fill": lambda x, d: d if x is None else x},
                dict(series))


# ---------------------------------------------------------------- 1. the function's own metrics


@pytest.mark.parametrize("name, metric", [("UnexpectedErrorAlarm", "UnexpectedError"),
                                          ("StorageUnavailableAlarm", "StorageUnavailable")])
def test_one_unexpected_error_or_storage_failure_alarms_within_a_minute(
        resources: dict[str, Any], name: str, metric: str) -> None:
    alarm = alarms(resources)[name]
    assert watched(alarm) == [("bdpilot", metric, SERVICE)]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 60, 1)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    # Emitted only when it happens: no data is no error.
    assert alarm["TreatMissingData"] == "notBreaching"


def test_function_emits_into_the_namespace_the_alarms_read(resources: dict[str, Any]) -> None:
    variables = resources["Function"]["Properties"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "bdpilot"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "bdpilot"  # Powertools' default dimension service=<this>
    custom = {m for a in alarms(resources).values() for ns, m, _ in watched(a) if ns == "bdpilot"}
    assert custom == {"SubmissionAccepted", "StorageUnavailable", "UnexpectedError", "MailFailed", "MailQueueAge"}


def test_metric_names_are_documented_for_operators(resources: dict[str, Any]) -> None:
    readme = (ROOT / "infra" / "README.md").read_text(encoding="utf-8")
    for name in CUSTOM_METRICS:
        assert f"`{name}`" in readme, name
    assert "`reason`" in readme and "`service`" in readme and "`bdpilot`" in readme


@pytest.mark.parametrize("minutes", [60, 1440])
def test_no_accepted_submission_for_the_set_time_alarms(template: dict[str, Any], minutes: int) -> None:
    alarm = Stack(template, "ap-east-1", {"QuietHoursAlarmMinutes": minutes}).resources()["NoSubmissionAlarm"]
    props = alarm["Properties"]
    assert watched(props) == [("bdpilot", "SubmissionAccepted", SERVICE)]
    assert (props["Statistic"], props["Period"]) == ("Sum", 60)
    # Every one of the last `minutes` minutes without an accepted submission.
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == minutes
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "LessThanThreshold")
    # SubmissionAccepted has no data point in a minute without an acceptance: missing data IS the condition.
    assert props["TreatMissingData"] == "breaching"


def test_quiet_alarm_is_off_unless_asked_for_and_fits_cloudwatchs_one_day_limit(template: dict[str, Any]) -> None:
    assert "NoSubmissionAlarm" not in Stack(template, "ap-east-1").resources()
    spec = template["Parameters"]["QuietHoursAlarmMinutes"]
    assert spec["Default"] == 0 and spec["MinValue"] == 0
    # CloudWatch refuses Period x EvaluationPeriods over one day for periods under an hour.
    assert spec["MaxValue"] * 60 <= 86400


# ---------------------------------------------------------------- 2. AWS metrics


API_DIMENSIONS = [{"Name": "ApiName", "Value": {"Fn::Sub": "bdpilot-${Stage}"}},
                  {"Name": "Stage", "Value": {"Ref": "ApiStage"}}]


@pytest.mark.parametrize("name, metric, share, minimum", [("Api5xxRateAlarm", "5XXError", 0.05, 10),
                                                          ("Api4xxRateAlarm", "4XXError", 0.25, 20)])
def test_api_error_rates_alarm_on_share_not_volume(resources: dict[str, Any], name: str, metric: str,
                                                    share: float, minimum: int) -> None:
    alarm = alarms(resources)[name]
    assert resources["Api"]["Properties"]["Name"] == API_DIMENSIONS[0]["Value"]
    assert sorted(watched(alarm)) == sorted([("AWS/ApiGateway", "Count", API_DIMENSIONS),
                                             ("AWS/ApiGateway", metric, API_DIMENSIONS)])
    assert alarm["Threshold"] == share and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    (errors,) = [q["Id"] for q in alarm["Metrics"] if q.get("MetricStat", {}).get("Metric", {}).get("MetricName")
                 == metric]
    (requests,) = [q["Id"] for q in alarm["Metrics"] if q.get("MetricStat", {}).get("Metric", {}).get("MetricName")
                   == "Count"]

    def breaches(count: int, failed: int) -> bool:
        return math_value(alarm, **{requests: count, errors: failed}) >= alarm["Threshold"]

    busy = 10_000
    assert breaches(busy, int(busy * share) + 1) and not breaches(busy, int(busy * share) - 1)
    assert not breaches(minimum - 1, minimum - 1)  # a few stray requests in a quiet hour
    assert breaches(minimum, minimum)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_table_throttles_alarm_on_any_read_or_write_throttle(resources: dict[str, Any]) -> None:
    alarm = alarms(resources)["TableThrottlesAlarm"]
    table = [{"Name": "TableName", "Value": {"Ref": "SubmissionsTable"}}]
    assert sorted(watched(alarm)) == [("AWS/DynamoDB", "ReadThrottleEvents", table),
                                      ("AWS/DynamoDB", "WriteThrottleEvents", table)]
    ids = {q["MetricStat"]["Metric"]["MetricName"]: q["Id"] for q in alarm["Metrics"] if "MetricStat" in q}
    read, write = ids["ReadThrottleEvents"], ids["WriteThrottleEvents"]
    # Either one alone (the other has no data point) reaches the threshold.
    assert math_value(alarm, **{read: 1, write: None}) >= alarm["Threshold"] == 1
    assert math_value(alarm, **{read: None, write: 1}) >= 1
    assert math_value(alarm, **{read: 0, write: 0}) < 1


@pytest.mark.parametrize("name, metric", [("FunctionErrorsAlarm", "Errors"), ("FunctionThrottlesAlarm", "Throttles")])
def test_lambda_errors_and_throttles_alarm(resources: dict[str, Any], name: str, metric: str) -> None:
    alarm = alarms(resources)[name]
    assert watched(alarm) == [("AWS/Lambda", metric, [{"Name": "FunctionName", "Value": {"Ref": "Function"}}])]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_console_or_the_receipt_function_failing_outright_alarms(resources: dict[str, Any]) -> None:
    alarm = alarms(resources)["ConsoleAndReceiptErrorsAlarm"]
    assert watched(alarm) == [("AWS/Lambda", "Errors", [{"Name": "FunctionName", "Value": {"Ref": function}}])
                              for function in ("StaffFunction", "ReceiptFunction")]
    console, receipt = (q["Id"] for q in alarm["Metrics"] if "MetricStat" in q)
    assert math_value(alarm, **{console: 1, receipt: None}) >= alarm["Threshold"] == 1
    assert math_value(alarm, **{console: None, receipt: 1}) >= 1
    assert math_value(alarm, **{console: None, receipt: None}) < 1
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("GreaterThanOrEqualToThreshold", "notBreaching")


def test_waf_blocks_alarm_on_both_web_acls(resources: dict[str, Any], edge: dict[str, Any]) -> None:
    regional = alarms(resources)["ApiWafBlocksAlarm"]
    assert watched(regional) == [("AWS/WAFV2", "BlockedRequests", [
        {"Name": "WebACL", "Value": resources["ApiWebAcl"]["Properties"]["Name"]},
        {"Name": "Region", "Value": {"Ref": "AWS::Region"}}, {"Name": "Rule", "Value": "ALL"}])]
    # The edge web ACL lives in us-east-1, and alarms notify topics of their own region only: that stack has its
    # own alarm, topic and e-mail subscription. CloudFront-scope metrics carry no Region dimension.
    at_edge = alarms(edge["Resources"])["EdgeWafBlocksAlarm"]
    assert watched(at_edge) == [("AWS/WAFV2", "BlockedRequests", [
        {"Name": "WebACL", "Value": edge["Resources"]["EdgeWebAcl"]["Properties"]["Name"]},
        {"Name": "Rule", "Value": "ALL"}])]
    assert at_edge["AlarmActions"] == at_edge["OKActions"] == [{"Ref": "EdgeAlarmTopic"}]
    subscription = edge["Resources"]["EdgeAlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    for alarm in (regional, at_edge):
        assert alarm["Statistic"] == "Sum" and alarm["TreatMissingData"] == "notBreaching"


def test_a_mail_failure_or_a_failing_mail_queue_alarms(resources: dict[str, Any]) -> None:
    """Mail that cannot be sent is queued, never lost (infra/adr/0019), but the applicant waits: one failure in
    five minutes, or the queue's function failing, tells the operator."""
    failed = alarms(resources)["MailFailedAlarm"]
    assert watched(failed) == [("bdpilot", "MailFailed", SERVICE)]
    queue = alarms(resources)["MailQueueErrorsAlarm"]
    assert watched(queue) == [("AWS/Lambda", "Errors", [{"Name": "FunctionName",
                                                         "Value": {"Ref": "MailQueueFunction"}}])]
    for alarm in (failed, queue):
        assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 300, 1)
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert alarm["TreatMissingData"] == "notBreaching"
    # Half an hour in the queue: every retry failed.
    age = alarms(resources)["MailQueueAgeAlarm"]
    assert watched(age) == [("bdpilot", "MailQueueAge", SERVICE)]
    assert (age["Statistic"], age["Threshold"], age["ComparisonOperator"]) == (
        "Maximum", 30 * 60, "GreaterThanOrEqualToThreshold")


def test_alarmed_mail_metrics_are_the_ones_the_code_emits() -> None:
    from bdpilot.web import metrics

    assert (metrics.MAIL_FAILED, metrics.MAIL_QUEUE_AGE) == ("MailFailed", "MailQueueAge")
    assert metrics.NAMESPACE == "bdpilot" and metrics.SERVICE == "bdpilot"


def test_every_alarm_reaches_the_alarm_email(resources: dict[str, Any], template: dict[str, Any]) -> None:
    found = alarms(resources)
    assert set(found) >= {"UnexpectedErrorAlarm", "StorageUnavailableAlarm", "NoSubmissionAlarm",
                          "FunctionErrorsAlarm", "FunctionThrottlesAlarm", "Api5xxRateAlarm", "Api4xxRateAlarm",
                          "ApiWafBlocksAlarm", "TableThrottlesAlarm", "MailFailedAlarm", "MailQueueErrorsAlarm",
                          "MailQueueAgeAlarm", "ConsoleAndReceiptErrorsAlarm"}
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["AlarmDescription"], name
    rendered = Stack(template, "ap-east-1", {"AlarmEmail": "ops@example.org"}).resources()
    subscription = rendered["AlarmEmailSubscription"]["Properties"]
    assert subscription == {"TopicArn": "<AlarmTopic>", "Protocol": "email", "Endpoint": "ops@example.org"}
    assert "AlarmEmailSubscription" not in Stack(template, "ap-east-1").resources()


# ---------------------------------------------------------------- 3. logs


def test_api_access_log_is_json_without_personal_data(resources: dict[str, Any]) -> None:
    stage = resources["ApiStage"]
    setting = stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(setting["Format"])  # one JSON object per request
    assert {"requestId", "status", "route", "method", "latencyMs", "lambdaRequestId"} <= line.keys()
    assert line["route"] == "$context.resourcePath"  # the route template: never a query string
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", setting["Format"]))
    assert all(v.startswith("$context.") for v in line.values())
    # Nothing that identifies a person or carries what they typed.
    for forbidden in ("$context.identity", "$context.path", "$context.requestOverride", "$context.authorizer",
                      "$input", "$util", "querystring", "$context.domainName"):
        assert not any(v.startswith(forbidden) for v in variables) and forbidden not in setting["Format"], forbidden
    assert resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] <= 90
    # API Gateway writes access logs only once the account's CloudWatch role is set; the stage waits for it.
    assert stage["DependsOn"] == "ApiGatewayAccount"
    account = resources["ApiGatewayAccount"]["Properties"]
    assert account["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}
    role = resources["ApiGatewayLogsRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}


def waf_keeps(config: dict[str, Any], action: str) -> bool:
    """WAF's logging filter as documented: the first filter whose conditions match decides, else the default."""
    for rule in config["LoggingFilter"]["Filters"]:
        hits = [c["ActionCondition"]["Action"] == action for c in rule["Conditions"]]
        if any(hits) if rule["Requirement"] == "MEETS_ANY" else all(hits):
            return rule["Behavior"] == "KEEP"
    return config["LoggingFilter"]["DefaultBehavior"] == "KEEP"


@pytest.mark.parametrize("where, logging, acl, group", [
    ("template", "ApiWafLogging", "ApiWebAcl", "ApiWafLogGroup"),
    ("edge", "EdgeWafLogging", "EdgeWebAcl", "EdgeWafLogGroup")])
def test_waf_logs_blocks_only(template: dict[str, Any], edge: dict[str, Any], where: str, logging: str, acl: str,
                              group: str) -> None:
    resources = (template if where == "template" else edge)["Resources"]
    config = resources[logging]["Properties"]
    assert config["ResourceArn"] == {"Fn::GetAtt": [acl, "Arn"]}
    (destination,) = config["LogDestinationConfigs"]
    # WAF takes the log group's ARN without the ":*" suffix that Fn::GetAtt returns.
    assert destination == {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${"
                                      + group + "}"}
    name = Stack(template if where == "template" else edge, "us-east-1").value(
        resources[group]["Properties"]["LogGroupName"])
    assert name.startswith("aws-waf-logs-")  # WAF refuses any other log group name
    assert resources[group]["DeletionPolicy"] == "Delete"  # a fixed name must not outlive the stack
    assert waf_keeps(config, "BLOCK")
    for action in ("ALLOW", "COUNT", "CAPTCHA", "CHALLENGE", "EXCLUDED_AS_COUNT"):
        assert not waf_keeps(config, action), action
    assert {"QueryString": {}} in config["RedactedFields"]
    if where == "template":
        # The origin-verify secret never reaches a log.
        header = resources["ApiWebAcl"]["Properties"]["Rules"][0]["Statement"]["NotStatement"]["Statement"][
            "ByteMatchStatement"]["FieldToMatch"]["SingleHeader"]
        assert {"SingleHeader": header} in config["RedactedFields"]


# ---------------------------------------------------------------- 4. the dashboard


@pytest.mark.parametrize("region, edge_acl", [("ap-east-1", EDGE_ACL), ("us-east-1", ""), ("cn-north-1", "")])
def test_dashboard_shows_what_every_alarm_watches(template: dict[str, Any], region: str, edge_acl: str) -> None:
    china = {"SiteDomain": "apply.example.cn", "SiteServerCertificateId": "ASCA0123456789ABCDEF",
             "SmtpUrl": "smtp://smtp.example.cn:587"}
    parameters = {"EdgeWebAclArn": edge_acl, "QuietHoursAlarmMinutes": 60, **(china if region.startswith("cn-")
                                                                                  else {})}
    rendered = Stack(template, region, parameters)
    resources = rendered.resources()
    body = json.loads(resources["Dashboard"]["Properties"]["DashboardBody"])
    shown: set[tuple[str, str]] = set()
    listed: set[str] = set()
    for widget in body["widgets"]:
        props = widget["properties"]
        assert {"x", "y", "width", "height"} <= widget.keys()
        for row in props.get("metrics", []):
            names = [v for v in row if isinstance(v, str)]
            if names:
                shown.add((names[0], names[1]))
            elif "SubmissionRejected" in row[0]["expression"]:
                shown.add(("bdpilot", "SubmissionRejected"))  # by reason, whatever reasons exist
        listed.update(props.get("alarms", []))
        assert props.get("region", region) == ("us-east-1" if props.get("title", "").startswith("Edge") else region)
    for name, alarm in alarms(resources).items():
        for namespace, metric, _ in watched(alarm):
            assert (namespace, metric) in shown, (name, metric)
    assert ("bdpilot", "SubmissionRejected") in shown
    conditional = {n for n, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"
                   and "Condition" in r}
    assert listed == {f"<{n}.Arn>" for n in alarms(template["Resources"])} - {f"<{n}.Arn>" for n in conditional}
    titles = [w["properties"].get("title", "") for w in body["widgets"]]
    assert any("Edge" in t for t in titles) == bool(edge_acl)


# ---------------------------------------------------------------- 5. data that survives


DATA = {"SubmissionsTable", "SubmissionsBucket", "DataKey", "UnitsTable", "StaffTable", "AuditTable"}


def test_data_is_kept_except_when_the_first_create_rolls_back(resources: dict[str, Any]) -> None:
    for name in DATA:
        assert resources[name]["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert resources[name]["UpdateReplacePolicy"] == "Retain", name
    # A protected table cannot be deleted by the rollback of a failed first create: the stack would end in
    # ROLLBACK_FAILED instead of being re-runnable.
    assert not resources["SubmissionsTable"]["Properties"].get("DeletionProtectionEnabled")
    assert resources["SubmissionsTable"]["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True}


def test_nothing_kept_from_a_deleted_stack_blocks_creating_it_again(template: dict[str, Any]) -> None:
    """Every physical name of a retained resource differs between two stacks of the same name and stage (a new
    stack has a new StackId); a fixed name would make the second create fail on the first one's leftovers."""
    first = Stack(template, "ap-east-1", stack_uuid="11111111-2222-3333-4444-555555555555")
    second = Stack(template, "ap-east-1", stack_uuid="66666666-7777-8888-9999-000000000000")
    retained = [n for n, r in template["Resources"].items() if r.get("DeletionPolicy", "Delete") != "Delete"]
    assert set(retained) >= DATA
    for name in retained:
        resource = template["Resources"][name]
        for key, value in resource.get("Properties", {}).items():
            if key.endswith("Name") and key != "KeyName":
                a, b = first.value(value), second.value(value)
                assert a != b, f"{name}.{key} is the same for every stack: {a}"
    # The submissions bucket's name is still computed, not generated: the site's CSP names it (no cycle).
    bucket = first.resources()["SubmissionsBucket"]["Properties"]["BucketName"]
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket) and len(bucket) <= 63
    longest = Stack(template, "ap-southeast-2", {"Stage": "a" * 16}).resources()
    assert len(longest["SubmissionsBucket"]["Properties"]["BucketName"]) <= 63


def stack_policy_allows(policy: dict[str, Any], action: str, logical_id: str) -> bool:
    """CloudFormation's stack policy evaluation: an explicit Deny wins, else an Allow is needed."""
    def matches(statement: dict[str, Any]) -> bool:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        return (any(re.fullmatch(a.replace("*", ".*"), action) for a in actions)
                and any(re.fullmatch(t.replace("*", ".*"), f"LogicalResourceId/{logical_id}") for t in targets))

    hits = [s["Effect"] for s in policy["Statement"] if matches(s)]
    return "Deny" not in hits and "Allow" in hits


def test_stack_policy_refuses_replacing_or_deleting_the_data(template: dict[str, Any]) -> None:
    policy = json.loads(STACK_POLICY.read_text(encoding="utf-8"))
    named = {t.split("/", 1)[1] for s in policy["Statement"] for t in
             (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]) if t != "*"}
    assert named == DATA and named <= template["Resources"].keys()
    for name in DATA:
        assert stack_policy_allows(policy, "Update:Modify", name), name  # e.g. a new lifecycle rule
        assert not stack_policy_allows(policy, "Update:Replace", name), name
        assert not stack_policy_allows(policy, "Update:Delete", name), name
    # Everything else stays updatable, replacements included (the function, the API, the distribution...).
    for name in template["Resources"].keys() - DATA:
        for action in ("Update:Modify", "Update:Replace", "Update:Delete"):
            assert stack_policy_allows(policy, action, name), (name, action)


# ---------------------------------------------------------------- 6. cold start


def test_function_runs_on_arm64(resources: dict[str, Any]) -> None:
    assert resources["Function"]["Properties"]["Architectures"] == ["arm64"]
