"""`bdpilot deploy`: package the function, create or update the stack, publish the site, print the URLs.

    bdpilot deploy --stage prod [--region ap-northeast-1] [--alarm-email ops@example.org]
                   [--site-domain example.org (--certificate-arn arn:aws:acm:us-east-1:...
                                               | --server-certificate-id ASCA...)]
                   [--deadline 2020-12-01T00:00] [--quiet-alarm-minutes 60] [--no-bytecode]

Needs AWS credentials allowed to manage the stack's resources (CloudFormation, IAM, S3, DynamoDB, KMS, Lambda,
API Gateway, WAF, CloudFront, CloudWatch, SNS) and ssm:GetParameter + ssm:PutParameter on the form-token secret
/bdpilot/<stage>/form-token-secret, a SecureString it creates once (--rotate-secret: a new version) and whose
version it passes as AppSecretVersion; the secret itself is never printed nor passed to CloudFormation.
Outside China it first creates or updates `bdpilot-<stage>-edge` in us-east-1 (infra/edge.yaml, the
distribution's web ACL and its alarm). In China (cn-north-1, cn-northwest-1) it requires an ICP-filed
--site-domain and an IAM --server-certificate-id, creates no edge stack, and stores each page <dir>/index.html
also under <dir>/ (no CloudFront Functions there; infra/adr/0004-china-regions.md).
Run it from the repository (it reads infra/ and mkdocs.yml), with the Lambda runtime's Python at hand (python3.12:
it compiles the zips' bytecode, infra/adr/0022-bytecode-in-the-zip.md) unless --no-bytecode.

Safe by construction: arguments are checked before anything is created (deploy_checks), a rolled-back first
deploy is explained and re-created, change sets are read and refused when they would replace or remove the data
(deploy_cfn), and the zip the stack uses never expires from the artifacts bucket (deploy_package).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bdpilot.domain import wording
from bdpilot.ops.deploy.cfn import StackState, check_state, deploy_stack, stack_state
from bdpilot.ops.deploy.checks import (
    PROTECTED,
    DeployError,
    check_combination,
    check_server_certificate,
    check_values,
    in_china,
    leftover_names,
    refuse,
)
from bdpilot.ops.deploy.package import (
    PROVIDED_BY_RUNTIME,
    SUPERSEDED,
    ZIP_NAME,
    build_package,
    ensure_artifacts_bucket,
    lambda_platform,
    mailqueue_zip,
    receipt_zip,
    runtime_python,
    runtime_requirements,
    settle_artifacts,
    staff_zip,
    upload_artifact,
)
from bdpilot.ops.deploy.site import build_site, sync_site

__all__ = ["PROVIDED_BY_RUNTIME", "ZIP_NAME", "DeployError", "build_package", "deploy_stack", "lambda_platform",
           "main", "runtime_requirements"]

PACKAGE_DIR = Path(__file__).resolve().parents[2]  # functions/bdpilot
ROOT = PACKAGE_DIR.parents[1]
TEMPLATE = ROOT / "infra" / "template.yaml"
# Applied as the stack policy on create and update when present (it forbids replacing or deleting the data).
STACK_POLICY = ROOT / "infra" / "stack-policy.json"
# The CloudFront-scope web ACL: its own stack, because such web ACLs exist only in us-east-1.
EDGE_TEMPLATE = ROOT / "infra" / "edge.yaml"
EDGE_REGION = "us-east-1"
# NoEcho parameters generated here: on create, and on the first update of a stack made before they existed
# (CloudFormation refuses UsePreviousValue for a parameter the stack does not have). The form-token secret is not
# one: it lives in SSM Parameter Store (form_token_secret), and the stack gets only its version.
SECRET_PARAMETERS = ("OriginVerifySecret",)
# The SecureString the function reads (template: BDPILOT_SECRET_PARAMETER, FunctionPolicy).
FORM_SECRET_NAME = "/bdpilot/{stage}/form-token-secret"


# ---------------------------------------------------------------- AWS steps


def form_token_secret(ssm: Any, stage: str, *, rotate: bool = False) -> int:
    """Make sure the form-token SecureString exists (key aws/ssm); return its current version, which the stack pins.
    Created only when missing, so redeploys keep it (a new secret voids the token of every form open at that
    moment); `rotate` writes a new version. Never decrypted nor printed here: the version is all deploy needs."""
    from botocore.exceptions import ClientError

    name = FORM_SECRET_NAME.format(stage=stage)

    def put(overwrite: bool) -> int:
        return int(ssm.put_parameter(Name=name, Value=secrets.token_urlsafe(32), Type="SecureString",
                                     Overwrite=overwrite, Description="bdpilot: signs the anti-bot form tokens "
                                     "(bdpilot deploy --rotate-secret writes a new version)")["Version"])

    try:
        try:
            found = ssm.get_parameter(Name=name, WithDecryption=False)["Parameter"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise
            try:
                version, action = put(overwrite=False), "created"
            except ClientError as race:  # another deploy created it meanwhile: use theirs
                if race.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
                    raise
                found = ssm.get_parameter(Name=name, WithDecryption=False)["Parameter"]
                version, action = int(found["Version"]), "kept"
        else:
            if found.get("Type") != "SecureString":
                # The function refuses to use it (bdpilot.settings); overwriting would keep its old versions.
                raise refuse(wording.text("ops.deploy.secret_not_secure", name=name, kind=found.get("Type")),
                             f"The SSM parameter {name} exists as a {found.get('Type')}, not a SecureString (the "
                             "secret is stored unencrypted): check it, delete it and deploy again.")
            version, action = (put(overwrite=True), "rotated") if rotate else (int(found["Version"]), "kept")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise refuse(wording.text("ops.deploy.secret_access", name=name, code=code),
                     f"Cannot read or write the form-token secret {name} ({code}): the deploying identity needs "
                     f"ssm:GetParameter and ssm:PutParameter on it.") from error
    print(f"form-token secret: {name} version {version} ({action})")
    return version


def check_credentials(session: Any) -> dict[str, str]:
    """Who we deploy as; a clear message instead of a traceback when there are no usable credentials."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise DeployError(
            wording.text("ops.deploy.no_credentials") + "\n"
            f"No usable AWS credentials ({error}). Configure them (e.g. `aws configure`, AWS_PROFILE) and retry."
        ) from error


# ---------------------------------------------------------------- the command


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bdpilot deploy", description="Deploy bdpilot to AWS.")
    parser.add_argument("--stage", required=True, help="stage name, e.g. prod (lower case, digits, '-')")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_REGION)")
    parser.add_argument("--stack-name", help="default: bdpilot-<stage>")
    parser.add_argument("--site-domain", help="the site's host name (default: the CloudFront domain)")
    parser.add_argument("--certificate-arn", help="ACM certificate in us-east-1 for --site-domain (not in China; "
                        "'' removes it)")
    parser.add_argument("--server-certificate-id", help="ID (ASCA...) of an IAM server certificate for --site-domain, "
                        "uploaded with --path /cloudfront/...: required in China, elsewhere instead of "
                        "--certificate-arn ('' removes it)")
    parser.add_argument("--alarm-email", help="address for alarm notifications (confirm the SNS e-mail); required "
                        "for --stage prod unless the stack already has one")
    parser.add_argument("--deadline", help="ISO 8601 datetime closing the window of a new round, Beijing time "
                        "unless it has an offset ('' = campaign's)")
    parser.add_argument("--quiet-alarm-minutes", help="alarm after this many minutes without an accepted "
                        "submission, 0 = off (at most 1440); default: the stack's current value (new stack: 0)")
    parser.add_argument("--reserved-concurrency", help="function concurrency cap (0 = unreserved)")
    parser.add_argument("--unit-deadline", help="ISO 8601 datetime by which the recommending units submit their "
                        "lists, Beijing time unless it has an offset ('' = campaign's, or the same gap after "
                        "--deadline)")
    parser.add_argument("--show-results", choices=("0", "1"), help="1 = applicants see whether they are "
                        "recommended on their receipt page; 0 = only that the review is under way")
    parser.add_argument("--mail-from", help="sender of applicants' e-mails (outside China an SES-verified identity; "
                        "'' = noreply@<site domain>)")
    parser.add_argument("--smtp-url", help="SMTP relay for applicants' e-mails, smtp://host:port (STARTTLS) or "
                        "smtps://host:port: required in China (no SES); elsewhere '' = SES")
    parser.add_argument("--smtp-secret-parameter", help="name of the SSM SecureString holding the relay's "
                        "user:password, e.g. /bdpilot/prod/smtp ('' = no login)")
    parser.add_argument("--rotate-secret", action="store_true", help="write a new version of the form-token secret "
                        "(SSM /bdpilot/<stage>/form-token-secret); forms open at that moment need a reload")
    parser.add_argument("--no-bytecode", dest="bytecode", action="store_false", help="ship sources only, without "
                        "bytecode compiled by the runtime's Python (no python3.x needed here; slower cold starts)")
    return parser.parse_args(argv)


def main(argv: Sequence[str], session: Any = None) -> int:
    """`session`: a boto3 Session to deploy with (tests); by default one for --region and the usual credentials."""
    args = parse_args(argv)
    try:
        return _deploy(args, session)
    except DeployError as error:
        print(f"bdpilot deploy: {error}", file=sys.stderr)
        return 1


def _deploy(args: argparse.Namespace, session: Any = None) -> int:
    import boto3

    from bdpilot.ops import stack

    template = stack.load_template(TEMPLATE)
    session = session or boto3.Session(region_name=args.region)
    region = args.region or session.region_name
    check_values(args, template, region)  # nothing asked of AWS yet
    identity = check_credentials(session)
    if not region:
        raise DeployError(wording.text("ops.deploy.no_region") + " / no AWS region: pass --region or set AWS_REGION.")
    account = identity["Account"]
    stack_name = args.stack_name or f"bdpilot-{args.stage}"
    print(f"deploying {stack_name} to account {account} in {region} as {identity['Arn']}")

    s3, cfn = session.client("s3", region_name=region), session.client("cloudformation", region_name=region)
    # Everything below up to the artifacts bucket only reads: a refusal leaves the account as it was.
    state = stack_state(cfn, stack_name)
    check_state(cfn, stack_name, state)
    previous = state.parameters if state.updatable else None
    effective = check_combination(args, previous, region)
    if args.server_certificate_id:
        check_server_certificate(session, args.server_certificate_id, region)
    if previous is None:
        leftovers = leftover_names(session, template, stage=args.stage, account=account, region=region)
        if leftovers:
            raise refuse(wording.text("ops.deploy.leftovers") + "\n  " + "\n  ".join(leftovers),
                         "These were kept by an earlier, deleted or rolled-back stack and carry the names the new "
                         "stack needs, so creating it would fail: check they hold nothing you need, then delete or "
                         "rename them (or use another --stage).")

    with tempfile.TemporaryDirectory(prefix="bdpilot-deploy-") as tmp:
        work = Path(tmp)
        python = runtime_python(template) if args.bytecode else None  # refused here, before anything is written
        archive = build_package(work, template, bytecode=args.bytecode, python=python)
        compiled = f"bytecode {python.cache_tag} by {python.path}" if python else "sources only (--no-bytecode)"
        print(f"package: {archive.stat().st_size / 1e6:.1f} MB for {' '.join(lambda_platform(template)[:2])}, "
              f"{compiled}")
        site = build_site(work)

        # In the stack's region, before the stack: the function reads the version the stack pins.
        secret_version = form_token_secret(session.client("ssm", region_name=region), args.stage,
                                           rotate=args.rotate_secret)
        artifacts = f"bdpilot-artifacts-{account}-{region}"
        ensure_artifacts_bucket(s3, artifacts, region)
        code_key = upload_artifact(s3, artifacts, archive, f"{args.stage}/function")
        staff_key = upload_artifact(s3, artifacts, staff_zip(archive), f"{args.stage}/staff")
        receipt_key = upload_artifact(s3, artifacts, receipt_zip(archive), f"{args.stage}/receipt")
        mailqueue_key = upload_artifact(s3, artifacts, mailqueue_zip(archive), f"{args.stage}/mailqueue")
        # CloudFormation copies the template when the change set is made: the upload is never needed again.
        template_key = upload_artifact(s3, artifacts, TEMPLATE, f"{args.stage}/template", state=SUPERSEDED)
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        template_url = f"https://{artifacts}.s3.{region}.{suffix}/{template_key}"

        # The edge stack's alarm has a topic of its own in us-east-1: the same address as the main stack's.
        edge_acl = deploy_edge(session, args.stage, region, effective.alarm_email)
        keep = None if previous is not None else ""  # optional values: keep the previous one on update
        parameters: dict[str, str | None] = {
            "Stage": args.stage,
            "CodeBucket": artifacts,
            "CodeKey": code_key,
            "StaffCodeKey": staff_key,
            "ReceiptCodeKey": receipt_key,
            "MailQueueCodeKey": mailqueue_key,
            "SiteDomain": args.site_domain if args.site_domain is not None else keep,
            "SiteCertificateArn": args.certificate_arn if args.certificate_arn is not None else keep,
            "SiteServerCertificateId": args.server_certificate_id if args.server_certificate_id is not None else keep,
            "AlarmEmail": args.alarm_email if args.alarm_email is not None else keep,
            "DeadlineOverride": args.deadline if args.deadline is not None else keep,
            "UnitDeadlineOverride": args.unit_deadline if args.unit_deadline is not None else keep,
            # "0" or "1"; None = the previous value, or on create the template's default ("0").
            "ShowResults": args.show_results,
            "MailFrom": args.mail_from if args.mail_from is not None else keep,
            "SmtpUrl": args.smtp_url if args.smtp_url is not None else keep,
            "SmtpSecretParameter": args.smtp_secret_parameter if args.smtp_secret_parameter is not None else keep,
            # A Number: never "" (None = the previous value, or on create the template's default, 0).
            "QuietHoursAlarmMinutes": args.quiet_alarm_minutes,
            "ReservedConcurrency": args.reserved_concurrency if args.reserved_concurrency is not None else
            (None if previous is not None else "50"),
            "EdgeWebAclArn": edge_acl,
            # Always the version in effect, never "the previous value": the stack follows the parameter, also
            # after a rotation whose update was refused or rolled back.
            "AppSecretVersion": str(secret_version),
            **secret_parameters(None if previous is None else set(previous)),
        }
        # Publishes a new version of the public function (a new SnapStart snapshot) exactly when this changes.
        parameters[RELEASE] = release_fingerprint(TEMPLATE.read_bytes(), parameters, template, previous)
        # Each function's zip: (the key the stack has now, the one this deploy uploaded).
        zips = [(_previous_code_key(state, artifacts, parameter), parameters[parameter])
                for parameter in ("CodeKey", "StaffCodeKey", "ReceiptCodeKey", "MailQueueCodeKey")]
        policy = STACK_POLICY.read_text(encoding="utf-8") if STACK_POLICY.is_file() else None
        try:
            outputs = deploy_stack(cfn, stack_name, template_url, parameters, stack_policy=policy,
                                   protected=PROTECTED)
        except DeployError:
            # The stack kept (or rolled back to) its previous zip; the new one is litter unless it is that zip.
            for old, new in zips:
                settle_artifacts(s3, artifacts, live=old, previous=None, new=new)  # type: ignore[arg-type]
            raise
        for old, new in zips:
            settle_artifacts(s3, artifacts, live=new, previous=old, new=new)  # type: ignore[arg-type]

        uploaded, deleted = sync_site(s3, outputs["SiteBucketName"], site, directory_keys=in_china(region))
        print(f"site: {uploaded} files uploaded, {deleted} removed")
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["DistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())},
    )
    print(f"\nsite:   {outputs['SiteUrl']}\napi:    {outputs['ApiUrl']}\n"
          f"admins: attach {outputs['AdminPolicyArn']} to the administrators' IAM users or roles")
    if args.alarm_email:
        # Outside China the edge stack's topic in us-east-1 sends a confirmation of its own.
        count, topics = (1, f"the stack's topic in {region}") if in_china(region) else (
            2, f"the stack's topic in {region} and the edge stack's in {EDGE_REGION}")
        print("\n" + wording.text("ops.deploy.confirm_alarm_email", email=effective.alarm_email, count=count) + "\n"
              f"Confirm the SNS subscription{'s' if count > 1 else ''}: open the {count} e-mail"
              f"{'s' if count > 1 else ''} AWS sent to {effective.alarm_email} ({topics}) and click the link. "
              "Until then the alarms reach nobody.")
    quiet = int(args.quiet_alarm_minutes or 0)
    if quiet:
        print("\n" + wording.text("ops.deploy.quiet_alarm", minutes=quiet) + "\n"
              f"No-submission alarm: fires after {quiet} minutes without an accepted submission; turn it off "
              "with --quiet-alarm-minutes 0 once the window has closed.")
    return 0


def _previous_code_key(state: StackState, bucket: str, parameter: str = "CodeKey") -> str | None:
    """The zip the stack referred to before this deploy, when it is in this artifacts bucket."""
    if not state.updatable or state.parameters.get("CodeBucket") != bucket:
        return None
    return state.parameters.get(parameter) or None


def secret_parameters(existing: set[str] | None) -> dict[str, str | None]:
    """New values for the NoEcho secrets the stack does not have yet (None keeps the previous value).
    The origin-verify secret is never rotated here (CloudFront and the web ACL would disagree for the minutes an
    update takes); the form-token secret is in SSM (form_token_secret)."""
    have = existing or set()
    return {name: secrets.token_urlsafe(32) if name not in have else None for name in SECRET_PARAMETERS}


RELEASE = "FunctionRelease"  # the template's parameter (infra/adr/0021-snapstart.md)


def release_fingerprint(template_bytes: bytes, parameters: dict[str, str | None], template: dict[str, Any],
                        previous: dict[str, str] | None) -> str:
    """FunctionRelease: SHA-256 over the template's bytes and the parameter values this deploy puts in effect
    (sorted JSON, without the fingerprint itself). A value kept from the stack (None) counts as the stack's value,
    or on create the template's default, so deploying the same again gives the same fingerprint and stays a no-op;
    a new zip (CodeKey), template or setting gives a new one. NoEcho values are left out: the stack reads them
    back as ****, and a secret has no place in a fingerprint anyone can read."""
    declared = template.get("Parameters", {})
    effective: dict[str, str] = {}
    for name, value in parameters.items():
        spec = declared.get(name, {})
        if name == RELEASE or spec.get("NoEcho"):
            continue
        effective[name] = str((previous or {}).get(name, spec.get("Default", "")) if value is None else value)
    text = json.dumps(effective, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(template_bytes + b"\n" + text.encode()).hexdigest()


def deploy_edge(session: Any, stage: str, region: str, alarm_email: str) -> str:
    """Create or update the CloudFront-scope web ACL stack in us-east-1 (its block alarm notifies `alarm_email`
    through a topic there: alarms notify topics in their own region only); return the web ACL's ARN. In the China
    regions there is none (us-east-1 is another partition), so the distribution gets no web ACL."""
    if in_china(region):
        print("edge: no CloudFront-scope web ACL in the China regions; the distribution has no web ACL")
        return ""
    cfn = session.client("cloudformation", region_name=EDGE_REGION)
    outputs = deploy_stack(cfn, f"bdpilot-{stage}-edge", None, {"Stage": stage, "AlarmEmail": alarm_email},
                           template_body=EDGE_TEMPLATE.read_text(encoding="utf-8"))
    return outputs["WebAclArn"]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
