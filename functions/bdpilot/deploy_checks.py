"""Checks `bdpilot deploy` makes before it changes anything: the arguments, names left over from an earlier stack,
and what a change set would do to the data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bdpilot import campaign

# The resources that hold the applications. Replacing one would point the function at an empty table, bucket or
# key (and replacing the key leaves everything encrypted under the old one unreadable to the new stack).
PROTECTED = ("SubmissionsTable", "SubmissionsBucket", "DataKey")
# Stages whose alarms must reach a person.
ALARMED_STAGES = ("prod",)
ACM_US_EAST_1 = re.compile(r"^arn:aws:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+$")
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DeployError(Exception):
    """A failure or refusal with a message meant for the person deploying (refusals: Chinese, then English)."""


def refuse(chinese: str, english: str) -> DeployError:
    return DeployError(f"{chinese}\n{english}")


# ---------------------------------------------------------------- arguments


def parse_deadline(raw: str) -> datetime:
    """The DeadlineOverride as the function will read it (settings._deadline): ISO 8601, Beijing time unless it
    carries an offset. A value the function cannot parse would make every API call fail, so it never ships."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as error:
        raise refuse(f"--deadline「{raw}」不是 ISO 8601 日期时间（例如 2020-12-01T17:00 或 2020-12-01T17:00+08:00）。",
                     f"--deadline {raw!r} is not an ISO 8601 date-time (e.g. 2020-12-01T17:00).") from error
    return value if value.tzinfo else value.replace(tzinfo=campaign.TZ)


@dataclass(frozen=True)
class Effective:
    """The values the stack will have after this deploy: the argument when given, else the stack's previous one."""
    site_domain: str
    certificate_arn: str
    alarm_email: str


def check_values(args: Any, template: Mapping[str, Any], region: str | None) -> None:
    """Each argument on its own, before AWS is asked anything: values the stack would reject late (after
    minutes of CloudFront) or the function would choke on."""
    stage_pattern = template["Parameters"]["Stage"].get("AllowedPattern")
    if stage_pattern and not re.fullmatch(stage_pattern, args.stage):
        raise refuse(f"--stage「{args.stage}」不合规：须为小写字母开头，只含小写字母、数字和 -，最长 16 个字符。",
                     f"--stage {args.stage!r} must match {stage_pattern}.")
    if args.deadline:
        deadline = parse_deadline(args.deadline)
        print(f"deadline: {deadline.astimezone(campaign.TZ):%Y-%m-%d %H:%M} Beijing time")
    if args.reserved_concurrency is not None and not re.fullmatch(r"[0-9]+", args.reserved_concurrency):
        raise refuse("--reserved-concurrency 须为非负整数。", "--reserved-concurrency must be a whole number ≥ 0.")
    if args.site_domain and not HOST_NAME.fullmatch(args.site_domain):
        raise refuse(f"--site-domain「{args.site_domain}」不是主机名（只写域名，不带 https:// 和路径）。",
                     f"--site-domain {args.site_domain!r} is not a host name (no scheme, no path).")
    certificate = args.certificate_arn
    if certificate and not (region or "").startswith("cn-") and not ACM_US_EAST_1.fullmatch(certificate):
        raise refuse("--certificate-arn 须为 us-east-1 区域的 ACM 证书 ARN（CloudFront 只接受该区域的证书）。",
                     f"--certificate-arn {certificate!r} is not an ACM certificate in us-east-1 "
                     "(CloudFront takes certificates only from there).")
    if args.alarm_email and not EMAIL.fullmatch(args.alarm_email):
        raise refuse(f"--alarm-email「{args.alarm_email}」不是电子邮件地址。",
                     f"--alarm-email {args.alarm_email!r} is not an e-mail address.")


def check_combination(args: Any, previous: Mapping[str, str] | None) -> Effective:
    """The arguments together with what the stack already has (`previous`: its parameter values, None when it
    is to be created): a domain needs its certificate, and a production stage an alarm address."""
    def effective(given: str | None, key: str) -> str:
        return given if given is not None else (previous or {}).get(key, "")

    domain = effective(args.site_domain, "SiteDomain")
    certificate = effective(args.certificate_arn, "SiteCertificateArn")
    alarm_email = effective(args.alarm_email, "AlarmEmail")
    if domain and not certificate:
        raise refuse(f"站点域名 {domain} 需要证书：请同时给出 --certificate-arn（us-east-1 的 ACM 证书）。",
                     f"The site domain {domain} needs its certificate: pass --certificate-arn "
                     "(an ACM certificate in us-east-1 covering it).")
    if certificate and not domain:
        raise refuse("给出了 --certificate-arn 却没有 --site-domain：证书须与域名一起使用。",
                     "--certificate-arn was given without --site-domain; a certificate goes with its domain.")
    if args.stage in ALARMED_STAGES and not alarm_email:
        raise refuse(f"--stage {args.stage} 必须给出 --alarm-email：否则截止日前后出现故障时，告警不会通知任何人。",
                     f"--stage {args.stage} needs --alarm-email: without it the alarms notify nobody.")
    return Effective(domain, certificate, alarm_email)


# ---------------------------------------------------------------- names an earlier stack left behind


def resolve_name(value: Any, names: Mapping[str, str]) -> str | None:
    """A name given as a literal or a Fn::Sub over parameters and pseudo parameters only; else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        text = value["Fn::Sub"]
        if all(var in names for var in re.findall(r"\$\{([^}]+)\}", text)):
            return re.sub(r"\$\{([^}]+)\}", lambda m: names[m[1]], text)
    return None


def leftover_names(session: Any, template: Mapping[str, Any], *, stage: str, account: str,
                   region: str) -> list[str]:
    """Buckets and log groups with the fixed names the stack would create that already exist: kept by the
    DeletionPolicy of a deleted or rolled-back stack, they make the create fail after minutes."""
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    names = {"Stage": stage, "AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition}
    found: list[str] = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::S3::Bucket" and (name := resolve_name(props.get("BucketName"), names)):
            from botocore.exceptions import ClientError

            try:
                session.client("s3").head_bucket(Bucket=name)
            except ClientError:
                continue  # absent (or someone else's, which the create reports itself)
            found.append(f"{logical_id}: S3 bucket {name}")
        elif resource["Type"] == "AWS::Logs::LogGroup" and (name := resolve_name(props.get("LogGroupName"), names)):
            groups = session.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
            if any(g["logGroupName"] == name for g in groups):
                found.append(f"{logical_id}: log group {name}")
    return found


# ---------------------------------------------------------------- change sets


def dangerous_changes(changes: list[dict[str, Any]], protected: tuple[str, ...] = PROTECTED) -> list[str]:
    """The changes that would remove or replace a resource holding the applications, one line each.
    CloudFormation reports Replacement True or Conditional (may replace, depending on a value known only while
    updating); both are refused."""
    found = []
    for change in changes:
        resource = change.get("ResourceChange", {})
        logical_id = resource.get("LogicalResourceId")
        if logical_id not in protected:
            continue
        if resource.get("Action") == "Remove":
            found.append(f"{logical_id} ({resource.get('ResourceType')}): 将被删除 / would be removed")
        elif resource.get("Replacement") in ("True", "Conditional"):
            found.append(f"{logical_id} ({resource.get('ResourceType')}): 将被替换 / would be replaced "
                         f"(Replacement: {resource['Replacement']})")
    return found
