"""`bdpilot deploy`: package the function, create or update the stack, publish the site, print the URLs.

    bdpilot deploy --stage prod [--region ap-northeast-1] [--site-domain example.org --certificate-arn ...]
                   [--alarm-email ops@example.org] [--deadline 2020-12-01T00:00]

Needs AWS credentials allowed to manage the stack's resources (CloudFormation, IAM, S3, DynamoDB, KMS, Lambda,
API Gateway, WAF, CloudFront, CloudWatch, SNS). Outside China it first creates or updates `bdpilot-<stage>-edge`
in us-east-1 (infra/edge.yaml, the distribution's web ACL). Run it from the repository (it reads infra/ and mkdocs.yml).
"""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parents[1]
TEMPLATE = ROOT / "infra" / "template.yaml"
# The CloudFront-scope web ACL: its own stack, because such web ACLs exist only in us-east-1.
EDGE_TEMPLATE = ROOT / "infra" / "edge.yaml"
EDGE_REGION = "us-east-1"
# NoEcho parameters generated here: on create, and on the first update of a stack made before they existed
# (CloudFormation refuses UsePreviousValue for a parameter the stack does not have).
SECRET_PARAMETERS = ("AppSecret", "OriginVerifySecret")
ZIP_NAME = "bdpilot-function.zip"
# The Lambda Python runtime ships these; bundling them only adds ~20 MB.
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
LAMBDA_PLATFORM = ["--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.12",
                   "--only-binary=:all:"]
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip, byte for byte


class DeployError(Exception):
    """A failure with a message meant for the person deploying."""


# ---------------------------------------------------------------- packaging


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The project's runtime dependencies, minus what the Lambda runtime already provides."""
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]

    def name(requirement: str) -> str:
        return requirement.split("[")[0].split(">")[0].split("<")[0].split("=")[0].split(";")[0].strip().lower()

    return [r for r in declared if name(r) not in PROVIDED_BY_RUNTIME]


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def build_package(out_dir: Path) -> Path:
    """pip-install the runtime dependencies for Lambda (Linux x86_64, CPython 3.12) next to the bdpilot package
    and zip them deterministically; return the zip's path. Needs PyPI (or a pip index), not AWS."""
    out_dir.mkdir(parents=True, exist_ok=True)
    build = out_dir / "function"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir()
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
               "--target", str(build), *LAMBDA_PLATFORM, *runtime_requirements()]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(f"pip could not install the function's dependencies:\n{result.stderr.strip()}")
    for provided in PROVIDED_BY_RUNTIME:  # in case a dependency pulled them in
        shutil.rmtree(build / provided, ignore_errors=True)
        for info in build.glob(f"{provided}-*.dist-info"):
            shutil.rmtree(info)
    shutil.rmtree(build / "bin", ignore_errors=True)  # console scripts: unused, and they embed local paths
    shutil.copytree(PACKAGE_DIR, build / "bdpilot", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    archive = out_dir / ZIP_NAME
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for path in _files(build):
            entry = zipfile.ZipInfo(path.relative_to(build).as_posix(), date_time=ZIP_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, path.read_bytes())
    return archive


# ---------------------------------------------------------------- AWS steps


def check_credentials(session: Any) -> dict[str, str]:
    """Who we deploy as; a clear message instead of a traceback when there are no usable credentials."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise DeployError(
            "没有可用的 AWS 凭证，无法部署。请先配置凭证（如 `aws configure` 或设置 AWS_PROFILE）。\n"
            f"No usable AWS credentials ({error}). Configure them (e.g. `aws configure`, AWS_PROFILE) and retry."
        ) from error


def ensure_artifacts_bucket(s3: Any, name: str, region: str) -> None:
    """The bucket for function zips and templates: outside the stack, which needs the zip before it exists."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **config)
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True))
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "old-artifacts", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 90}}]})


def upload_artifact(s3: Any, bucket: str, path: Path, prefix: str) -> str:
    """Upload under a content-addressed key, so a changed zip is a changed CodeKey (and updates the function)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    key = f"{prefix}/{digest}{path.suffix}"
    s3.upload_file(str(path), bucket, key)
    return key


def deploy_stack(cfn: Any, name: str, template_url: str | None, parameters: dict[str, str | None], *,
                 template_body: str | None = None) -> dict[str, str]:
    """Create or update through a change set (what `aws cloudformation deploy` does); return the outputs.
    A parameter given as None keeps its previous value. The template is at template_url, or template_body."""
    try:
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
        kind = "CREATE" if stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
    except cfn.exceptions.ClientError as error:
        if "does not exist" not in str(error):
            raise
        kind = "CREATE"
    params = [{"ParameterKey": k, "UsePreviousValue": True} if v is None else {"ParameterKey": k, "ParameterValue": v}
              for k, v in parameters.items()]
    change_set = f"bdpilot-{int(time.time())}"
    source = {"TemplateBody": template_body} if template_body is not None else {"TemplateURL": template_url}
    cfn.create_change_set(StackName=name, ChangeSetName=change_set, ChangeSetType=kind, **source,
                          Parameters=params, Capabilities=["CAPABILITY_IAM"])
    try:
        cfn.get_waiter("change_set_create_complete").wait(StackName=name, ChangeSetName=change_set,
                                                          WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    except Exception as error:
        described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            print("stack: no changes")
            (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        raise DeployError(f"change set failed: {reason}") from error
    print(f"stack: executing {kind.lower()} of {name} (CloudFront can take 5-15 minutes)")
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    except Exception as error:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"][:30]
        failures = [f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                    for e in events if e["ResourceStatus"].endswith("FAILED")]
        raise DeployError("stack deployment failed:\n" + "\n".join(failures)) from error
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".json": "application/json; charset=utf-8",
                 ".xml": "application/xml; charset=utf-8", ".txt": "text/plain; charset=utf-8",
                 ".svg": "image/svg+xml", ".webmanifest": "application/manifest+json",
                 ".woff2": "font/woff2", ".map": "application/json", ".gz": "application/gzip"}


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def cache_control(key: str) -> str:
    # Pages and the search index change with every build; Material's bundled assets carry a hash in their name.
    if key.startswith("assets/") and any(part in key for part in ("/stylesheets/", "/javascripts/")):
        return "public, max-age=31536000, immutable"
    return "public, max-age=300, must-revalidate"


def sync_site(s3: Any, bucket: str, site: Path) -> tuple[int, int]:
    """Make the bucket hold exactly site/ (unchanged files are skipped by MD5); return (uploaded, deleted)."""
    remote: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        remote |= {o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])}
    uploaded = 0
    for path in _files(site):
        key = path.relative_to(site).as_posix()
        data = path.read_bytes()
        if remote.pop(key, None) == hashlib.md5(data, usedforsecurity=False).hexdigest():
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type(path),
                      CacheControl=cache_control(key))
        uploaded += 1
    for start in range(0, len(remote), 1000):
        batch = sorted(remote)[start:start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
    return uploaded, len(remote)


def build_site(out_dir: Path) -> Path:
    site = out_dir / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(f"mkdocs build failed:\n{result.stdout}{result.stderr}")
    return site


# ---------------------------------------------------------------- the command


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bdpilot deploy", description="Deploy bdpilot to AWS.")
    parser.add_argument("--stage", required=True, help="stage name, e.g. prod (lower case, digits, '-')")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_REGION)")
    parser.add_argument("--stack-name", help="default: bdpilot-<stage>")
    parser.add_argument("--site-domain", help="the site's host name (default: the CloudFront domain)")
    parser.add_argument("--certificate-arn", help="ACM certificate in us-east-1 for --site-domain")
    parser.add_argument("--alarm-email", help="address for alarm notifications (confirm the SNS e-mail)")
    parser.add_argument("--deadline", help="ISO datetime closing the window of a new round ('' = campaign's)")
    parser.add_argument("--reserved-concurrency", help="function concurrency cap (0 = unreserved)")
    parser.add_argument("--rotate-secret", action="store_true", help="issue a new form-token secret")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    try:
        return _deploy(args)
    except DeployError as error:
        print(f"bdpilot deploy: {error}", file=sys.stderr)
        return 1


def _deploy(args: argparse.Namespace) -> int:
    import boto3

    session = boto3.Session(region_name=args.region)
    identity = check_credentials(session)
    region = session.region_name
    if not region:
        raise DeployError("没有指定 AWS 区域 / no AWS region: pass --region or set AWS_REGION.")
    account = identity["Account"]
    stack_name = args.stack_name or f"bdpilot-{args.stage}"
    print(f"deploying {stack_name} to account {account} in {region} as {identity['Arn']}")

    s3, cfn = session.client("s3"), session.client("cloudformation")
    with tempfile.TemporaryDirectory(prefix="bdpilot-deploy-") as tmp:
        work = Path(tmp)
        archive = build_package(work)
        print(f"package: {archive.stat().st_size / 1e6:.1f} MB")
        site = build_site(work)

        artifacts = f"bdpilot-artifacts-{account}-{region}"
        ensure_artifacts_bucket(s3, artifacts, region)
        code_key = upload_artifact(s3, artifacts, archive, f"{args.stage}/function")
        template_key = upload_artifact(s3, artifacts, TEMPLATE, f"{args.stage}/template")
        template_url = f"https://{artifacts}.s3.{region}.amazonaws.com/{template_key}"
        if region.startswith("cn-"):
            template_url = f"https://{artifacts}.s3.{region}.amazonaws.com.cn/{template_key}"

        edge_acl = deploy_edge(session, args.stage, region)
        existing = _stack_parameter_keys(cfn, stack_name)
        exists = existing is not None
        keep = None if exists else ""  # optional values: keep the previous one on update, default on create
        parameters: dict[str, str | None] = {
            "Stage": args.stage,
            "CodeBucket": artifacts,
            "CodeKey": code_key,
            "SiteDomain": args.site_domain if args.site_domain is not None else keep,
            "SiteCertificateArn": args.certificate_arn if args.certificate_arn is not None else keep,
            "AlarmEmail": args.alarm_email if args.alarm_email is not None else keep,
            "DeadlineOverride": args.deadline if args.deadline is not None else keep,
            "ReservedConcurrency": args.reserved_concurrency if args.reserved_concurrency is not None else
            (None if exists else "50"),
            "EdgeWebAclArn": edge_acl,
            **secret_parameters(existing, rotate=args.rotate_secret),
        }
        outputs = deploy_stack(cfn, stack_name, template_url, parameters)

        uploaded, deleted = sync_site(s3, outputs["SiteBucketName"], site)
        print(f"site: {uploaded} files uploaded, {deleted} removed")
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["DistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())},
    )
    print(f"\nsite:   {outputs['SiteUrl']}\napi:    {outputs['ApiUrl']}\n"
          f"admins: attach {outputs['AdminPolicyArn']} to the administrators' IAM users or roles")
    return 0


def secret_parameters(existing: set[str] | None, *, rotate: bool = False) -> dict[str, str | None]:
    """New values for the NoEcho secrets the stack does not have yet (None keeps the previous value).
    A new AppSecret on every deploy would void the form tokens of everyone filling in the form, so it changes only
    with --rotate-secret; the origin-verify secret is never rotated here (CloudFront and the web ACL would
    disagree for the minutes an update takes)."""
    have = existing or set()
    return {name: secrets.token_urlsafe(32) if name not in have or (rotate and name == "AppSecret") else None
            for name in SECRET_PARAMETERS}


def deploy_edge(session: Any, stage: str, region: str) -> str:
    """Create or update the CloudFront-scope web ACL stack in us-east-1; return its ARN. In the China regions
    there is none yet (CloudFront there is a separate service; a later change), so the distribution gets none."""
    if region.startswith("cn-"):
        print("edge: no CloudFront-scope web ACL in the China regions; the distribution has no web ACL")
        return ""
    cfn = session.client("cloudformation", region_name=EDGE_REGION)
    outputs = deploy_stack(cfn, f"bdpilot-{stage}-edge", None, {"Stage": stage},
                           template_body=EDGE_TEMPLATE.read_text(encoding="utf-8"))
    return outputs["WebAclArn"]


def _stack_parameter_keys(cfn: Any, name: str) -> set[str] | None:
    """The parameter names of an existing stack; None when there is no stack (or only a pending first one)."""
    try:
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    except cfn.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    if stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return None
    return {p["ParameterKey"] for p in stack.get("Parameters", [])}


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
