"""Checks `bdpilot deploy` makes before it changes anything: the arguments, names left over from an earlier stack,
and what a change set would do to the data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bdpilot.domain import campaign, wording

# The resources that hold the applications. Replacing one would point the function at an empty table, bucket or
# key (and replacing the key leaves everything encrypted under the old one unreadable to the new stack).
PROTECTED = ("SubmissionsTable", "SubmissionsBucket", "DataKey", "UnitsTable", "StaffTable", "AuditTable")
# Stages whose alarms must reach a person.
ALARMED_STAGES = ("prod",)
ACM_US_EAST_1 = re.compile(r"^arn:aws:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+$")
# IAM gives server certificates unique IDs starting with ASCA; the template's AllowedPattern checks the rest.
SERVER_CERTIFICATE_PREFIX = "ASCA"
# CloudFront takes an IAM server certificate only when it was uploaded with a path under /cloudfront/.
CLOUDFRONT_CERTIFICATE_PATH = "/cloudfront/"
# The regions of partition aws-cn: the template's condition IsChina names exactly these (a test compares them).
CHINA_REGIONS = frozenset({"cn-north-1", "cn-northwest-1"})
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
        raise refuse(wording.text("ops.checks.deadline", raw=raw),
                     f"--deadline {raw!r} is not an ISO 8601 date-time (e.g. 2020-12-01T17:00).") from error
    return value if value.tzinfo else value.replace(tzinfo=campaign.TZ)


@dataclass(frozen=True)
class Effective:
    """The values the stack will have after this deploy: the argument when given, else the stack's previous one."""
    site_domain: str
    certificate_arn: str
    server_certificate_id: str
    alarm_email: str


def in_china(region: str | None) -> bool:
    """Whether the template renders for the China regions there (condition IsChina)."""
    return region in CHINA_REGIONS


def check_values(args: Any, template: Mapping[str, Any], region: str | None) -> None:
    """Each argument on its own, before AWS is asked anything: values the stack would reject late (after
    minutes of CloudFront) or the function would choke on."""
    parameters = template["Parameters"]
    stage_pattern = parameters["Stage"].get("AllowedPattern")
    if stage_pattern and not re.fullmatch(stage_pattern, args.stage):
        raise refuse(wording.text("ops.checks.stage", stage=args.stage),
                     f"--stage {args.stage!r} must match {stage_pattern}.")
    if args.deadline:
        deadline = parse_deadline(args.deadline)
        print(f"deadline: {deadline.astimezone(campaign.TZ):%Y-%m-%d %H:%M} Beijing time")
    if args.reserved_concurrency is not None and not re.fullmatch(r"[0-9]+", args.reserved_concurrency):
        raise refuse(wording.text("ops.checks.reserved_concurrency"),
                     "--reserved-concurrency must be a whole number ≥ 0.")
    if args.quiet_alarm_minutes is not None:
        check_quiet_alarm_minutes(args.quiet_alarm_minutes, parameters.get("QuietHoursAlarmMinutes", {}))
    if args.site_domain and not HOST_NAME.fullmatch(args.site_domain):
        raise refuse(wording.text("ops.checks.site_domain", domain=args.site_domain),
                     f"--site-domain {args.site_domain!r} is not a host name (no scheme, no path).")
    certificate = args.certificate_arn
    if certificate and in_china(region):
        raise refuse(wording.text("ops.checks.no_acm_in_region", region=region),
                     f"CloudFront in {region} has no ACM: pass the IAM server certificate's ID as "
                     "--server-certificate-id instead of --certificate-arn.")
    if certificate and not ACM_US_EAST_1.fullmatch(certificate):
        raise refuse(wording.text("ops.checks.acm_not_us_east_1"),
                     f"--certificate-arn {certificate!r} is not an ACM certificate in us-east-1 "
                     "(CloudFront takes certificates only from there).")
    server_certificate = args.server_certificate_id
    id_pattern = parameters.get("SiteServerCertificateId", {}).get("AllowedPattern", r"[A-Z0-9]{16,128}")
    if server_certificate and (not server_certificate.startswith(SERVER_CERTIFICATE_PREFIX)
                               or not re.fullmatch(id_pattern, server_certificate)):
        raise refuse(wording.text("ops.checks.server_certificate_id", certificate=server_certificate),
                     f"--server-certificate-id {server_certificate!r} is not an IAM server certificate ID (ASCA..., "
                     "not its name or ARN; see `aws iam list-server-certificates`).")
    if args.alarm_email and not EMAIL.fullmatch(args.alarm_email):
        raise refuse(wording.text("ops.checks.alarm_email", email=args.alarm_email),
                     f"--alarm-email {args.alarm_email!r} is not an e-mail address.")
    check_review_and_mail(args, parameters)


# The mail options, their template parameters and what each should look like (the parameters' AllowedPattern).
MAIL_OPTIONS = (("smtp_url", "SmtpUrl", "smtp://host:port or smtps://host:port"),
                ("smtp_secret_parameter", "SmtpSecretParameter", "an SSM parameter name such as /bdpilot/prod/smtp"),
                ("mail_from", "MailFrom", "an e-mail address"))


def check_review_and_mail(args: Any, parameters: Mapping[str, Any]) -> None:
    """--unit-deadline as the functions read it (never before the applicants' deadline, or they refuse to start)
    and the mail options against the template's patterns, before the change set."""
    raw = getattr(args, "unit_deadline", None)
    if raw:
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            value = None
        value = value if value is None or value.tzinfo else value.replace(tzinfo=campaign.TZ)
        deadline = parse_deadline(args.deadline) if args.deadline else campaign.DEADLINE
        if value is None or value < deadline:
            raise refuse(wording.text("ops.checks.unit_deadline", raw=raw),
                         f"--unit-deadline {raw!r} is not an ISO 8601 date-time, or is before the deadline.")
        print(f"unit deadline: {value.astimezone(campaign.TZ):%Y-%m-%d %H:%M} Beijing time")
    for option, parameter, hint in MAIL_OPTIONS:
        given, pattern = getattr(args, option, None), parameters.get(parameter, {}).get("AllowedPattern")
        if given and pattern and not re.fullmatch(pattern, given):
            flag = "--" + option.replace("_", "-")
            raise refuse(wording.text("ops.checks.mail_option", option=flag, value=given, hint=hint),
                         f"{flag} {given!r} is not {hint}.")


def check_quiet_alarm_minutes(raw: str, parameter: Mapping[str, Any]) -> int:
    """--quiet-alarm-minutes within the template's bounds (0 = no alarm; the upper bound is CloudWatch's one day
    of evaluation for one-minute periods)."""
    low, high = int(parameter.get("MinValue", 0)), int(parameter.get("MaxValue", 1440))
    if not re.fullmatch(r"[0-9]+", raw) or not low <= int(raw) <= high:
        raise refuse(wording.text("ops.checks.quiet_alarm_minutes", low=low, high=high),
                     f"--quiet-alarm-minutes must be a whole number of minutes from {low} to {high} "
                     "(0 = no such alarm).")
    return int(raw)


def check_combination(args: Any, previous: Mapping[str, str] | None, region: str) -> Effective:
    """The arguments together with what the stack already has (`previous`: its parameter values, None when it
    is to be created). In China a domain (ICP-filed) and an IAM server certificate are required and ACM does
    not exist; elsewhere a domain needs exactly one kind of certificate. A production stage needs an alarm
    address. (The template's Rules say the same, but only once the change set is made.)"""
    def effective(given: str | None, key: str) -> str:
        return given if given is not None else (previous or {}).get(key, "")

    domain = effective(args.site_domain, "SiteDomain")
    certificate = effective(args.certificate_arn, "SiteCertificateArn")
    server_certificate = effective(args.server_certificate_id, "SiteServerCertificateId")
    alarm_email = effective(args.alarm_email, "AlarmEmail")
    if in_china(region):
        if not domain:
            raise refuse(wording.text("ops.checks.china_needs_domain", region=region),
                         f"CloudFront in {region} serves only on an ICP-filed domain, never on *.cloudfront.cn: "
                         "pass --site-domain.")
        if certificate:
            raise refuse(wording.text("ops.checks.china_drop_acm", region=region),
                         f"CloudFront in {region} has no ACM: pass --certificate-arn '' to drop it.")
        if not server_certificate:
            raise refuse(wording.text("ops.checks.china_needs_server_certificate", domain=domain),
                         f"The site domain {domain} needs its certificate: in {region} pass "
                         "--server-certificate-id (an IAM server certificate uploaded with --path /cloudfront/...).")
        if not effective(getattr(args, "smtp_url", None), "SmtpUrl"):
            raise refuse(wording.text("ops.checks.china_needs_smtp", region=region),
                         f"{region} has no Amazon SES: applicants' e-mails go through an SMTP relay; pass "
                         "--smtp-url smtp://host:port (or smtps://host:port).")
    elif certificate and server_certificate:
        # Switching kinds on a stack: name the one the stack has, which this deploy would otherwise keep.
        kept = ("--server-certificate-id" if args.server_certificate_id is None else
                "--certificate-arn" if args.certificate_arn is None else None)
        hint_zh = wording.text("ops.checks.drop_kept_certificate", option=kept) if kept else ""
        hint_en = f" To switch, drop the stack's current one with {kept} ''." if kept else ""
        raise refuse(wording.text("ops.checks.one_certificate") + hint_zh,
                     "Give one certificate, ACM (--certificate-arn) or IAM (--server-certificate-id), not both."
                     + hint_en)
    elif domain and not (certificate or server_certificate):
        raise refuse(wording.text("ops.checks.domain_needs_certificate", domain=domain),
                     f"The site domain {domain} needs its certificate: pass --certificate-arn (an ACM certificate "
                     "in us-east-1 covering it) or --server-certificate-id (an IAM server certificate).")
    elif (certificate or server_certificate) and not domain:
        given = "--certificate-arn" if certificate else "--server-certificate-id"
        raise refuse(wording.text("ops.checks.certificate_without_domain", option=given),
                     f"{given} was given without --site-domain; a certificate goes with its domain.")
    if args.stage in ALARMED_STAGES and not alarm_email:
        raise refuse(wording.text("ops.checks.stage_needs_alarm_email", stage=args.stage),
                     f"--stage {args.stage} needs --alarm-email: without it the alarms notify nobody.")
    return Effective(domain, certificate, server_certificate, alarm_email)


def check_server_certificate(session: Any, certificate_id: str, region: str, *, now: datetime | None = None) -> None:
    """The IAM server certificate exists in this account, was uploaded for CloudFront (path /cloudfront/...) and
    has not expired. CloudFront reports any of these only when it creates or updates the distribution, minutes
    in (and a first create then rolls back)."""
    found = None
    for page in session.client("iam", region_name=region).get_paginator("list_server_certificates").paginate():
        found = next((c for c in page["ServerCertificateMetadataList"]
                      if c["ServerCertificateId"] == certificate_id), found)
    if found is None:
        raise refuse(wording.text("ops.checks.no_such_server_certificate", certificate=certificate_id),
                     f"This account has no IAM server certificate with ID {certificate_id} "
                     "(see `aws iam list-server-certificates`).")
    name, path = found["ServerCertificateName"], found.get("Path", "/")
    if not path.startswith(CLOUDFRONT_CERTIFICATE_PATH):
        raise refuse(wording.text("ops.checks.server_certificate_path", name=name, path=path),
                     f"The IAM server certificate {name} has path {path}; CloudFront takes only certificates "
                     "uploaded with a path under /cloudfront/ (upload it again with --path /cloudfront/bdpilot/).")
    expiration = found.get("Expiration")
    if expiration is not None and expiration <= (now or datetime.now(UTC)):
        raise refuse(wording.text("ops.checks.server_certificate_expired", name=name, date=f"{expiration:%Y-%m-%d}"),
                     f"The IAM server certificate {name} expired on {expiration:%Y-%m-%d}.")
    if expiration is not None and expiration - (now or datetime.now(UTC)) < timedelta(days=30):
        print(f"certificate: {name} expires on {expiration:%Y-%m-%d}; upload a renewed one soon")


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
            removed = wording.text("ops.checks.would_remove")
            found.append(f"{logical_id} ({resource.get('ResourceType')}): {removed} / would be removed")
        elif resource.get("Replacement") in ("True", "Conditional"):
            replaced = wording.text("ops.checks.would_replace")
            found.append(f"{logical_id} ({resource.get('ResourceType')}): {replaced} / would be replaced "
                         f"(Replacement: {resource['Replacement']})")
    return found
