"""`bdpilot deploy` end to end against moto: create, no-op update, changed update, refused replacement and removal,
a rolled-back first deploy, names left by an earlier stack.

`deploy.main` runs whole, with its own clients, on a moto-backed boto3 Session. Stubbed, because moto cannot:
- the template: the resource types moto's CloudFormation cannot create (CloudFront, WAFv2, alarms, ...) are left
  out, as in the local run, but the Lambda function is kept (moto creates it from the uploaded zip). The outputs
  of left-out resources (DistributionId, SiteUrl, ApiUrl) point at a distribution made directly in moto's
  CloudFront, so the invalidation is real;
- the edge stack (a WAFv2 web ACL, which moto lacks) is recorded and returns no web ACL, as in the China regions
  (tests/infra/test_edge.py checks what deploy_edge passes); the China tests run the real deploy_edge;
- the zip and the site: a small zip and a two-page site instead of pip and mkdocs (tests/infra/test_deploy.py
  covers packaging, tests/infra/test_csp.py the site build).
Where moto is laxer than AWS, a hook on the session makes it answer as AWS documents (see `AwsBehaviour`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws
from moto.cloudformation import models as cfn_models
from moto.cloudformation.parsing import get_model_map
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam import models as iam_models

from bdpilot.ops import deploy, stack
from bdpilot.ops.deploy import checks, package

REGION = "us-east-1"
STAGE = "prod"
STACK = f"bdpilot-{STAGE}"
EMAIL = "ops@example.org"
DOMAIN = "sbdpilot.example.org"
RELAY = "smtps://smtp.example.cn:465"
ACM = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000"
CHINA = "cn-northwest-1"
FORM_SECRET = f"/bdpilot/{STAGE}/form-token-secret"
POLICY = {"Statement": [
    {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
    {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*",
     "Resource": [f"LogicalResourceId/{name}" for name in ("SubmissionsTable", "SubmissionsBucket", "DataKey")]},
]}


def moto_template(transform: Callable[[dict[str, Any]], None] | None = None, distribution_id: str = "") -> str:
    """The real template minus what moto's CloudFormation cannot create, the Lambda function and its published
    version kept. The API's permission goes: it is the alias's, and moto has no aliases."""
    kept = {"AWS::Lambda::Function", "AWS::Lambda::Version"}
    original = stack.load_template()
    lacking = {r["Type"] for r in original["Resources"].values()} - set(get_model_map())
    skipped = (stack.MOTO_SKIPPED_TYPES - kept) | (lacking - kept)
    saved = stack.MOTO_SKIPPED_TYPES
    stack.MOTO_SKIPPED_TYPES = frozenset(skipped)
    try:
        template = stack.for_moto(original)
    finally:
        stack.MOTO_SKIPPED_TYPES = saved
    assert "Function" in template["Resources"]
    template["Outputs"] |= {
        "DistributionId": {"Value": distribution_id},
        "SiteUrl": {"Value": "https://d111111abcdef8.cloudfront.net"},
        "ApiUrl": {"Value": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod/api"}},
    }
    if transform:
        transform(template)
    return json.dumps(template, indent=1)  # in template order: moto creates a change set's resources in order


@dataclass
class AwsBehaviour:
    """What AWS does and moto 5.2 does not, applied through the session's event hooks:
    - CreateChangeSet of type UPDATE on a ROLLBACK_COMPLETE stack fails ("... is in ROLLBACK_COMPLETE state and
      can not be updated");
    - CreateChangeSet of type UPDATE with UsePreviousValue for a parameter the stack's template does not declare
      fails ("Invalid input for parameter key ...");
    - DescribeChangeSet reports `Replacement` (True | False | Conditional) on every Modify; moto leaves it out.
      `replacements` says what AWS would answer for a resource (from the resource's documented update
      behaviour for the changed property); others get False;
    - ListServerCertificates reports each certificate's own ID and expiry (moto answers one example ID and an
      expiry in 2012 for all): here the ID the test gave it and the certificate body's notAfter.
    It also records the CloudFormation calls deploy makes, in order."""
    region: str = REGION
    replacements: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    certificate_ids: dict[str, str] = field(default_factory=dict)  # name -> ID

    def install(self, session: boto3.Session) -> None:
        events = session.events
        events.register("provide-client-params.cloudformation.CreateChangeSet", self._refuse_invalid_update)
        events.register("after-call.cloudformation.DescribeChangeSet", self._report_replacement)
        events.register("after-call.iam.ListServerCertificates", self._report_certificates)
        events.register("before-call.cloudformation", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def _refuse_invalid_update(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("ChangeSetType", "UPDATE") != "UPDATE":
            return
        backend = cfn_models.cloudformation_backends[DEFAULT_ACCOUNT_ID][self.region]
        for moto_stack in backend.stacks.values():
            if moto_stack.name != params["StackName"] or moto_stack.status == "DELETE_COMPLETE":
                continue
            if moto_stack.status == "ROLLBACK_COMPLETE":
                raise ClientError({"Error": {"Code": "ValidationError", "Message": (
                    f"Stack:{moto_stack.stack_id} is in ROLLBACK_COMPLETE state and can not be updated.")}},
                    "CreateChangeSet")
            declared = moto_stack.template_dict.get("Parameters", {})
            for parameter in params.get("Parameters", []):
                if parameter.get("UsePreviousValue") and parameter["ParameterKey"] not in declared:
                    raise ClientError({"Error": {"Code": "ValidationError", "Message": (
                        f"Invalid input for parameter key {parameter['ParameterKey']}. Cannot specify "
                        "usePreviousValue as true for a parameter key not in the previous template")}},
                        "CreateChangeSet")

    def _report_replacement(self, parsed: dict[str, Any], **_: Any) -> None:
        for change in parsed.get("Changes", []):
            resource = change["ResourceChange"]
            if resource["Action"] == "Modify":
                resource.setdefault("Replacement", self.replacements.get(resource["LogicalResourceId"], "False"))

    def _report_certificates(self, parsed: dict[str, Any], **_: Any) -> None:
        partition = "aws-cn" if checks.in_china(self.region) else "aws"
        bodies = {c.cert_name: c.cert_body
                  for c in iam_models.iam_backends[DEFAULT_ACCOUNT_ID][partition].certificates.values()}
        for metadata in parsed.get("ServerCertificateMetadataList", []):
            name = metadata["ServerCertificateName"]
            metadata["ServerCertificateId"] = self.certificate_ids[name]
            metadata["Expiration"] = x509.load_pem_x509_certificate(bodies[name].encode()).not_valid_after_utc


@dataclass
class Harness:
    session: boto3.Session
    aws: AwsBehaviour
    tmp: Path
    distribution_id: str
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    region: str = REGION
    zip_content: str = "v1"
    packaged: int = 0
    platforms: list[str] = field(default_factory=list)
    compiled_by: list[str | None] = field(default_factory=list)  # the interpreter each build got (None: sources)
    edge_calls: list[tuple[str, str, str]] = field(default_factory=list)  # (stage, region, alarm e-mail)

    def template(self, transform: Callable[[dict[str, Any]], None] | None = None) -> None:
        path = self.tmp / "template.json"
        path.write_text(moto_template(transform, self.distribution_id), encoding="utf-8")
        self.monkeypatch.setattr(deploy, "TEMPLATE", path)

    def run(self, *extra: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = deploy.main(["--stage", STAGE, "--region", self.region, *extra], session=self.session)
        out, err = self.capsys.readouterr()
        return code, out, err

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.region)

    def parameters(self) -> dict[str, str]:
        return {p["ParameterKey"]: p["ParameterValue"] for p in self.stack()["Parameters"]}

    def server_certificate(self, name: str, *, path: str = "/cloudfront/bdpilot/", days: int = 365,
                           certificate_id: str = "ASCAEXAMPLE2ZLU6V4OQK") -> str:
        """Upload a self-signed certificate for sbdpilot.example.org to IAM; return its ID."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
        now = datetime.now(UTC)
        certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                       .public_key(key.public_key()).serial_number(x509.random_serial_number())
                       .not_valid_before(now - timedelta(days=400)).not_valid_after(now + timedelta(days=days))
                       .sign(key, hashes.SHA256()))
        self.client("iam").upload_server_certificate(
            Path=path, ServerCertificateName=name,
            CertificateBody=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            PrivateKey=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode())
        self.aws.certificate_ids[name] = certificate_id
        return certificate_id

    def stack(self) -> dict[str, Any]:
        (found,) = self.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
        return found

    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack().get("Outputs", [])}

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            bundle.writestr(zipfile.ZipInfo("bdpilot/__init__.py", date_time=(1980, 1, 1, 0, 0, 0)),
                            f"VERSION = {self.zip_content!r}\n")
        return buffer.getvalue()


def _fake_package(harness: Harness) -> Callable[..., Path]:
    def build(out_dir: Path, template: dict[str, Any], *, bytecode: bool = True,
              python: package.RuntimePython | None = None) -> Path:
        options = package.lambda_platform(template)  # the template deployed is the one packaged for
        harness.platforms.append(options[options.index("--platform") + 1])
        assert bytecode == (python is not None)
        harness.compiled_by.append(python.path if python else None)
        harness.packaged += 1
        out_dir.mkdir(parents=True, exist_ok=True)
        archive = out_dir / package.ZIP_NAME
        archive.write_bytes(harness.zip_bytes())
        # The staff, receipt and mail queue functions' zips, built beside it.
        for beside in (package.staff_zip, package.receipt_zip, package.mailqueue_zip):
            beside(archive).write_bytes(harness.zip_bytes())
        return archive
    return build


def _fake_site(out_dir: Path) -> Path:
    site = out_dir / "site"
    (site / "apply").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>首页</title>", encoding="utf-8")
    (site / "apply" / "index.html").write_text("<!doctype html><title>在线申报</title>", encoding="utf-8")
    return site


def _moto_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two moto 5.2 defects that AWS does not have:
    - it executes a change set without evaluating the new template's Outputs (a stack created through a change
      set has none): evaluate them afterwards, as CloudFormation does;
    - it compares a Number parameter kept with UsePreviousValue (read back as int 50) with its stored string "50",
      and a parameter left to its default on create with the same value kept on update, and so never finds an
      update without changes: compare the values in effect (defaults filled in) as the strings the API carries."""
    original = cfn_models.CloudFormationBackend.execute_change_set

    def execute(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        executed = self.describe_change_set(change_set_name).stack
        executed._parse_template()
        executed.output_map = executed._create_output_map()

    monkeypatch.setattr(cfn_models.CloudFormationBackend, "execute_change_set", execute)
    def has_parameters(self: Any, other: dict[str, Any]) -> bool:
        declared = self.template_dict.get("Parameters", {})
        defaults = {k: p["Default"] for k, p in declared.items() if "Default" in p}
        return ({k: str(v) for k, v in (defaults | self.parameters).items()}
                == {k: str(v) for k, v in (defaults | other).items()})

    monkeypatch.setattr(cfn_models.Stack, "has_parameters", has_parameters)


def _harness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
             region: str) -> Iterator[Harness]:
    with mock_aws():
        session = boto3.Session(region_name=region)
        behaviour = AwsBehaviour(region)
        behaviour.install(session)
        distribution = session.client("cloudfront").create_distribution(DistributionConfig={
            "CallerReference": "bdpilot-test", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "site.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
                                     "MinTTL": 0, "ForwardedValues": {"QueryString": False,
                                                                      "Cookies": {"Forward": "none"}}},
        })["Distribution"]["Id"]
        harness = Harness(session, behaviour, tmp_path, distribution, capsys, monkeypatch, region)
        harness.template()
        policy = tmp_path / "stack-policy.json"
        policy.write_text(json.dumps(POLICY), encoding="utf-8")
        monkeypatch.setattr(deploy, "STACK_POLICY", policy)
        monkeypatch.setattr(deploy, "build_package", _fake_package(harness))

        def runtime_python(template: dict[str, Any]) -> package.RuntimePython:
            """The runtime's Python may be missing here (CI): one of the version the template declares."""
            major, minor = package.runtime_version(template)
            return package.RuntimePython("/stub/python", (major, minor), f"cpython-{major}{minor}")

        monkeypatch.setattr(deploy, "runtime_python", runtime_python)
        monkeypatch.setattr(deploy, "build_site", _fake_site)
        if not checks.in_china(region):  # China: the real one, which must not reach us-east-1

            def fake_edge(session: Any, stage: str, region: str, alarm_email: str) -> str:
                harness.edge_calls.append((stage, region, alarm_email))
                return ""

            monkeypatch.setattr(deploy, "deploy_edge", fake_edge)
        _moto_fixes(monkeypatch)
        yield harness


@pytest.fixture
def aws(fake_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Harness]:
    yield from _harness(monkeypatch, tmp_path, capsys, REGION)


@pytest.fixture
def china(fake_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
          capsys: pytest.CaptureFixture[str]) -> Iterator[Harness]:
    yield from _harness(monkeypatch, tmp_path, capsys, CHINA)


def _form_secret(harness: Harness) -> dict[str, Any]:
    return harness.client("ssm").get_parameter(Name=FORM_SECRET, WithDecryption=True)["Parameter"]


def _secret_values(harness: Harness) -> list[str]:
    """Every version of the form-token secret, decrypted."""
    history = harness.client("ssm").get_parameter_history(Name=FORM_SECRET, WithDecryption=True)["Parameters"]
    return [version["Value"] for version in history]


def _function_environment(harness: Harness) -> dict[str, str]:
    name = harness.outputs()["FunctionName"]
    return harness.client("lambda").get_function(FunctionName=name)["Configuration"]["Environment"]["Variables"]


def _pending_change_sets(harness: Harness) -> list[str]:
    """Change sets left behind unexecuted (refused, or without changes): deploy deletes them."""
    summaries = harness.client("cloudformation").list_change_sets(StackName=STACK)["Summaries"]
    return [s["ChangeSetName"] for s in summaries if s.get("ExecutionStatus") != "EXECUTE_COMPLETE"]


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _tag(harness: Harness, bucket: str, key: str) -> str | None:
    tags = harness.client("s3").get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}.get(package.ARTIFACT_TAG)


def _expires(rules: list[dict[str, Any]], key: str, tag: str | None) -> bool:
    """Whether an enabled lifecycle rule with an Expiration applies to an object with this key and tag."""
    for rule in rules:
        if rule["Status"] != "Enabled" or "Expiration" not in rule:
            continue
        selector = rule.get("Filter", {"Prefix": rule.get("Prefix", "")})
        conditions = selector.get("And", selector)
        prefix_ok = key.startswith(conditions.get("Prefix", ""))
        wanted = conditions.get("Tags", [conditions["Tag"]] if "Tag" in conditions else [])
        if prefix_ok and all(t["Value"] == tag and t["Key"] == package.ARTIFACT_TAG for t in wanted):
            return True
    return False


# ---------------------------------------------------------------- create, no-op update, changed update


def test_first_deploy_creates_the_stack_with_the_zip_the_policy_and_the_site(aws: Harness) -> None:
    code, out, err = aws.run("--alarm-email", EMAIL)
    assert code == 0, err
    assert aws.stack()["StackStatus"] == "CREATE_COMPLETE"
    outputs = aws.outputs()
    function = aws.client("lambda").get_function(FunctionName=outputs["FunctionName"])["Configuration"]
    assert function["CodeSha256"] == _sha256_b64(aws.zip_bytes())
    # Packaged for the architecture the deployed template declares (moto's Lambda ignores Architectures).
    architecture = stack.load_template()["Resources"]["Function"]["Properties"].get("Architectures", ["x86_64"])
    assert aws.platforms == [package.WHEEL_PLATFORMS[architecture[0]]]
    assert json.loads(aws.client("cloudformation").get_stack_policy(StackName=STACK)["StackPolicyBody"]) == POLICY
    # Set after the create (a stack policy guards updates; there is nothing to guard before the stack exists).
    assert aws.aws.calls.index("SetStackPolicy") > aws.aws.calls.index("ExecuteChangeSet")
    keys = {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=outputs["SiteBucketName"])["Contents"]}
    assert keys == {"index.html", "apply/index.html"}
    invalidations = aws.client("cloudfront").list_invalidations(DistributionId=aws.distribution_id)
    assert invalidations["InvalidationList"]["Quantity"] == 1
    # Two topics (the stack's and the edge stack's in us-east-1), two confirmations, and the edge stack got the
    # address too.
    assert "共 2 封" in out and f"open the 2 e-mails AWS sent to {EMAIL}" in out
    assert aws.edge_calls == [(STAGE, REGION, EMAIL)]
    assert _pending_change_sets(aws) == []


def test_the_live_zip_never_expires_and_the_old_lifecycle_is_replaced(aws: Harness) -> None:
    account = DEFAULT_ACCOUNT_ID
    artifacts = f"bdpilot-artifacts-{account}-{REGION}"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=artifacts)  # as an earlier version left it: everything expires after 90 days
    s3.put_bucket_lifecycle_configuration(Bucket=artifacts, LifecycleConfiguration={"Rules": [
        {"ID": "old-artifacts", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 90}}]})

    assert aws.run("--alarm-email", EMAIL)[0] == 0
    first = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}["CodeKey"]
    aws.zip_content = "v2"
    assert aws.run()[0] == 0
    second = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}["CodeKey"]
    assert first != second

    rules = s3.get_bucket_lifecycle_configuration(Bucket=artifacts)["Rules"]
    assert _tag(aws, artifacts, second) == package.LIVE
    assert not _expires(rules, second, _tag(aws, artifacts, second)), "the zip the stack uses would expire"
    assert _tag(aws, artifacts, first) == package.SUPERSEDED
    assert _expires(rules, first, package.SUPERSEDED), "superseded builds should not pile up forever"
    templates = [o["Key"] for o in s3.list_objects_v2(Bucket=artifacts, Prefix=f"{STAGE}/template/")["Contents"]]
    assert templates and all(_expires(rules, k, _tag(aws, artifacts, k)) for k in templates)


def test_deploy_ships_bytecode_unless_told_not_to(aws: Harness) -> None:
    code, out, err = aws.run("--alarm-email", EMAIL)
    assert code == 0, err
    assert aws.compiled_by == ["/stub/python"]
    assert "bytecode cpython-3" in out and "by /stub/python" in out
    code, out, err = aws.run("--no-bytecode")
    assert code == 0, err
    assert aws.compiled_by == ["/stub/python", None] and "sources only (--no-bytecode)" in out


def test_deploying_the_same_thing_again_changes_nothing(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    before = aws.stack()
    executed = aws.aws.calls.count("ExecuteChangeSet")

    # The alarm address is kept from the stack, so prod may be updated without repeating it.
    code, out, err = aws.run()
    assert code == 0, err
    assert f"stack: no changes to {STACK}" in out
    assert aws.aws.calls.count("ExecuteChangeSet") == executed
    assert _pending_change_sets(aws) == []
    after = aws.stack()
    assert after["StackStatus"] == before["StackStatus"] == "CREATE_COMPLETE"
    assert after["Parameters"] == before["Parameters"]
    assert "Confirm the SNS subscription" not in out  # nothing new to confirm
    # The form-token secret was kept, not written again (a new version would void every open form).
    assert _form_secret(aws)["Version"] == 1 and aws.parameters()["AppSecretVersion"] == "1"
    assert f"{FORM_SECRET} version 1 (kept)" in out


def test_a_changed_zip_updates_the_function_under_the_stack_policy(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    name = aws.outputs()["FunctionName"]
    aws.zip_content = "v2"
    aws.aws.calls.clear()

    code, out, err = aws.run()
    assert code == 0, err
    assert f"stack: executing update of {STACK}" in out
    function = aws.client("lambda").get_function(FunctionName=name)["Configuration"]
    assert function["CodeSha256"] == _sha256_b64(aws.zip_bytes())
    assert aws.stack()["StackStatus"] == "UPDATE_COMPLETE"
    # The policy guards this update: set before the change set is executed.
    assert aws.aws.calls.index("SetStackPolicy") < aws.aws.calls.index("ExecuteChangeSet")


# ---------------------------------------------------------------- the release fingerprint (SnapStart, ADR 0021)


def _release(harness: Harness) -> str:
    return harness.parameters()["FunctionRelease"]


def test_the_release_fingerprint_is_passed_and_changes_only_with_what_is_deployed(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    first = _release(aws)
    assert len(first) == 64 and set(first) <= set("0123456789abcdef")
    # $LATEST carries it, and the version published from it (moto publishes one; it has no alias).
    assert _function_environment(aws)["FUNCTION_RELEASE"] == first
    versions = aws.client("lambda").list_versions_by_function(FunctionName=aws.outputs()["FunctionName"])
    assert "1" in [v["Version"] for v in versions["Versions"]]

    # The same deploy again (the alarm address now kept from the stack): the same fingerprint, nothing executed.
    executed = aws.aws.calls.count("ExecuteChangeSet")
    code, _, err = aws.run()
    assert code == 0, err
    assert _release(aws) == first and aws.aws.calls.count("ExecuteChangeSet") == executed

    # A new zip is a new CodeKey: a new fingerprint, in $LATEST's environment (so a new version is published).
    aws.zip_content = "v2"
    assert aws.run()[0] == 0
    second = _release(aws)
    assert second != first and _function_environment(aws)["FUNCTION_RELEASE"] == second


def test_a_setting_kept_from_the_stack_counts_as_the_value_it_keeps(aws: Harness) -> None:
    deadline = "2020-12-01T09:00+00:00"
    assert aws.run("--alarm-email", EMAIL, "--deadline", deadline)[0] == 0
    first = _release(aws)
    assert aws.run()[0] == 0  # --deadline not given: the stack keeps its value, and the release is the same
    assert _release(aws) == first
    assert aws.run("--deadline", "")[0] == 0  # a changed setting: a new release
    assert _release(aws) != first


# ---------------------------------------------------------------- the form-token secret in SSM


def test_the_form_token_secret_is_a_securestring_made_once_and_never_shown(aws: Harness) -> None:
    code, out, err = aws.run("--alarm-email", EMAIL)
    assert code == 0, err
    secret = _form_secret(aws)
    assert secret["Type"] == "SecureString" and secret["Version"] == 1
    assert len(secret["Value"]) >= 43  # secrets.token_urlsafe(32)
    # Encrypted with the default aws/ssm key (no KeyId given: nothing for the deploying identity to hold).
    (described,) = aws.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [FORM_SECRET]}])["Parameters"]
    assert described.get("KeyId", "alias/aws/ssm") == "alias/aws/ssm"
    # The stack and the function hold its name and version, never the value.
    assert aws.parameters()["AppSecretVersion"] == "1" and "AppSecret" not in aws.parameters()
    environment = _function_environment(aws)
    assert environment["BDPILOT_SECRET_PARAMETER"] == f"{FORM_SECRET}:1" and "BDPILOT_SECRET" not in environment
    assert secret["Value"] not in out + err
    assert secret["Value"] not in json.dumps(aws.stack(), default=str) + json.dumps(environment)
    assert f"{FORM_SECRET} version 1 (created)" in out


def test_rotate_secret_writes_a_new_version_and_the_stack_follows_it(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0

    code, out, err = aws.run("--rotate-secret")
    assert code == 0, err
    assert f"stack: executing update of {STACK}" in out and f"{FORM_SECRET} version 2 (rotated)" in out
    first, second = _secret_values(aws)
    assert first != second and _form_secret(aws)["Type"] == "SecureString"
    assert aws.parameters()["AppSecretVersion"] == "2"
    # A new configuration for the function: no container keeps reading version 1.
    assert _function_environment(aws)["BDPILOT_SECRET_PARAMETER"] == f"{FORM_SECRET}:2"
    assert first not in out + err and second not in out + err


def test_a_rotation_the_stack_did_not_take_is_taken_by_the_next_deploy(aws: Harness) -> None:
    """The version is passed on every deploy, never kept from the stack: after a rotation whose update was
    refused, the stack still pins version 1 (the function goes on working) and the next deploy moves it to 2."""
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    aws.template(_table_key_changed)
    aws.aws.replacements = {"SubmissionsTable": "True"}
    assert aws.run("--rotate-secret")[0] == 1
    assert _form_secret(aws)["Version"] == 2 and aws.parameters()["AppSecretVersion"] == "1"
    aws.template()

    code, out, err = aws.run()
    assert code == 0, err
    assert aws.parameters()["AppSecretVersion"] == "2" and f"{FORM_SECRET} version 2 (kept)" in out


def test_a_secret_kept_from_an_earlier_stack_is_reused(aws: Harness) -> None:
    ssm = aws.client("ssm")
    for value in ("a" * 43, "b" * 43, "c" * 43):  # versions 1-3, as an earlier stack of this stage left them
        ssm.put_parameter(Name=FORM_SECRET, Value=value, Type="SecureString", Overwrite=True)

    code, out, err = aws.run("--alarm-email", EMAIL)
    assert code == 0, err
    assert _secret_values(aws) == ["a" * 43, "b" * 43, "c" * 43]
    assert aws.parameters()["AppSecretVersion"] == "3" and f"{FORM_SECRET} version 3 (kept)" in out


def test_a_plain_string_secret_is_refused_before_anything_is_created(aws: Harness) -> None:
    aws.client("ssm").put_parameter(Name=FORM_SECRET, Value="x" * 43, Type="String")

    code, _, err = aws.run("--alarm-email", EMAIL)
    assert code == 1 and "SecureString" in err and "Traceback" not in err and "x" * 43 not in err
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


def test_a_deploying_identity_without_ssm_rights_is_told_which_it_needs(aws: Harness) -> None:
    def denied(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "PutParameter")

    aws.session.events.register("provide-client-params.ssm.PutParameter", denied)
    code, _, err = aws.run("--alarm-email", EMAIL)
    assert code == 1 and "ssm:PutParameter" in err and "AccessDeniedException" in err and "Traceback" not in err
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


# ---------------------------------------------------------------- refused replacement or removal


def _table_key_changed(template: dict[str, Any]) -> None:
    table = template["Resources"]["SubmissionsTable"]["Properties"]
    table["AttributeDefinitions"].append({"AttributeName": "sk", "AttributeType": "S"})
    table["KeySchema"].append({"AttributeName": "sk", "KeyType": "RANGE"})


def _bucket_renamed(template: dict[str, Any]) -> None:
    template["Resources"]["SubmissionsBucket"]["Properties"]["BucketName"] = {
        "Fn::Sub": "bdpilot-${Stage}-applications-${AWS::AccountId}-${AWS::Region}"}


def _key_renamed(template: dict[str, Any]) -> None:
    text = json.dumps(template).replace('"DataKey"', '"DataKeyV2"')
    template.clear()
    template.update(json.loads(text))


@pytest.mark.parametrize(("transform", "aws_says", "named"), [
    # KeySchema: "Update requires: Replacement" (AWS::DynamoDB::Table); BucketName likewise for AWS::S3::Bucket.
    (_table_key_changed, {"SubmissionsTable": "True"}, "SubmissionsTable"),
    (_bucket_renamed, {"SubmissionsBucket": "True"}, "SubmissionsBucket"),
    # A renamed logical id is a removal of the old resource (moto reports it as AWS does).
    (_key_renamed, {}, "DataKey"),
], ids=["table-replaced", "bucket-replaced", "key-removed"])
def test_a_change_set_that_would_replace_or_remove_the_data_is_refused(
        aws: Harness, transform: Callable[[dict[str, Any]], None], aws_says: dict[str, str], named: str) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    outputs, executed = aws.outputs(), aws.aws.calls.count("ExecuteChangeSet")
    aws.template(transform)
    aws.aws.replacements = aws_says
    aws.zip_content = "v2"

    code, _, err = aws.run()
    assert code == 1
    assert named in err and "拒绝" in err and "Refused" in err and "Traceback" not in err
    assert aws.aws.calls.count("ExecuteChangeSet") == executed
    assert _pending_change_sets(aws) == []
    assert aws.stack()["StackStatus"] == "CREATE_COMPLETE" and aws.outputs() == outputs
    table = aws.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk"]
    # The refused build is superseded; the stack's own zip stays live.
    artifacts = f"bdpilot-artifacts-{DEFAULT_ACCOUNT_ID}-{REGION}"
    live = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}["CodeKey"]
    zips = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=artifacts, Prefix=f"{STAGE}/function/")
            ["Contents"]]
    assert {k: _tag(aws, artifacts, k) for k in zips} == {
        k: package.LIVE if k == live else package.SUPERSEDED for k in zips}


# ---------------------------------------------------------------- a rolled-back first deploy


def _rolled_back_first_create(aws: Harness) -> str:
    """The stack as CloudFormation leaves a failed first create: ROLLBACK_COMPLETE, no resources, the failure in
    its events. (moto never rolls back, so its state is set directly.)"""
    cfn = aws.client("cloudformation")
    cfn.create_change_set(StackName=STACK, ChangeSetName="first", ChangeSetType="CREATE",
                          TemplateBody=moto_template(distribution_id=aws.distribution_id), Parameters=[
                              {"ParameterKey": k, "ParameterValue": v} for k, v in {
                                  "Stage": STAGE, "CodeBucket": "b", "CodeKey": "k.zip", "AppSecretVersion": "1",
                                  "OriginVerifySecret": "o" * 40, "AlarmEmail": EMAIL}.items()],
                          Capabilities=["CAPABILITY_IAM"])
    backend = cfn_models.cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION]
    (moto_stack,) = [s for s in backend.stacks.values() if s.name == STACK]
    for logical_id, status, reason in [
        ("Distribution", "CREATE_FAILED", "Resource handler returned message: \"Invalid request provided: "
                                          "The certificate that is attached to your distribution doesn't cover "
                                          "the alternate domain name\""),
        ("Function", "CREATE_FAILED", "Resource creation cancelled"),
    ]:
        moto_stack.events.append(cfn_models.Event(moto_stack.stack_id, STACK, logical_id, "", "AWS::X", status,
                                                  reason, None))
    moto_stack.status = "ROLLBACK_COMPLETE"
    for summary in cfn.list_change_sets(StackName=STACK)["Summaries"]:
        cfn.delete_change_set(StackName=STACK, ChangeSetName=summary["ChangeSetName"])
    return moto_stack.stack_id


def test_a_rolled_back_first_deploy_is_explained_deleted_and_created_again(aws: Harness) -> None:
    old_id = _rolled_back_first_create(aws)
    aws.aws.calls.clear()

    code, out, err = aws.run("--alarm-email", EMAIL)
    assert code == 0, err
    assert "ROLLBACK_COMPLETE" in out and "doesn't cover the alternate domain name" in out
    assert "Resource creation cancelled" not in out  # the cause, not its consequences
    assert "deleting the empty rolled-back stack" in out
    created = aws.stack()
    assert created["StackId"] != old_id and created["StackStatus"] == "CREATE_COMPLETE"
    assert aws.aws.calls.index("DeleteStack") < aws.aws.calls.index("CreateChangeSet")
    # The NoEcho secrets are new values (nothing to keep from a stack that never ran), not UsePreviousValue; the
    # form-token secret's version is the SSM parameter's.
    assert {p["ParameterKey"] for p in created["Parameters"]} >= set(deploy.SECRET_PARAMETERS)
    assert aws.parameters()["AppSecretVersion"] == str(_form_secret(aws)["Version"])


def test_a_stack_that_is_busy_is_refused_before_anything_is_built(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    backend = cfn_models.cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION]
    (moto_stack,) = [s for s in backend.stacks.values() if s.name == STACK]
    moto_stack.status = "UPDATE_ROLLBACK_FAILED"
    packaged = aws.packaged

    code, _, err = aws.run()
    assert code == 1 and "continue-update-rollback" in err and "Traceback" not in err
    assert aws.packaged == packaged


def test_names_kept_by_an_earlier_stack_are_reported_before_anything_is_created(aws: Harness) -> None:
    names = {"Stage": STAGE, "AWS::AccountId": DEFAULT_ACCOUNT_ID, "AWS::Region": REGION, "AWS::Partition": "aws"}
    fixed = [(logical_id, resource["Type"], name) for logical_id, resource in stack.load_template()["Resources"].items()
             if resource["Type"] in ("AWS::S3::Bucket", "AWS::Logs::LogGroup")
             and (name := checks.resolve_name(resource.get("Properties", {}).get(
                 "BucketName" if resource["Type"] == "AWS::S3::Bucket" else "LogGroupName"), names))]
    if not fixed:
        pytest.skip("the template fixes no bucket or log group name, so nothing can be left in the way")
    for _, kind, name in fixed:  # kept (DeletionPolicy) when an earlier stack of this stage was deleted
        if kind == "AWS::S3::Bucket":
            aws.client("s3").create_bucket(Bucket=name)
        else:
            aws.client("logs").create_log_group(logGroupName=name)
    buckets = aws.client("s3").list_buckets()["Buckets"]

    code, _, err = aws.run("--alarm-email", EMAIL)
    assert code == 1 and "Traceback" not in err
    for logical_id, _, name in fixed:
        assert f"{logical_id}: " in err and name in err
    assert aws.packaged == 0
    assert aws.client("s3").list_buckets()["Buckets"] == buckets
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


# ---------------------------------------------------------------- arguments refused before anything is created


@pytest.mark.parametrize(("extra", "message"), [
    (["--alarm-email", EMAIL, "--deadline", "2020-13-01T00:00"], "不是 ISO 8601"),
    (["--alarm-email", EMAIL, "--deadline", "next friday"], "is not an ISO 8601 date-time"),
    (["--alarm-email", EMAIL, "--site-domain", "sbdpilot.example.org"], "needs its certificate"),
    (["--alarm-email", EMAIL, "--certificate-arn",
      "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000"], "without --site-domain"),
    (["--alarm-email", EMAIL, "--site-domain", "sbdpilot.example.org", "--certificate-arn",
      "arn:aws:acm:ap-northeast-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000"], "us-east-1"),
    (["--alarm-email", EMAIL, "--site-domain", "https://sbdpilot.example.org/"], "不是主机名"),
    ([], "必须给出 --alarm-email"),
    (["--alarm-email", ""], "needs --alarm-email"),
    (["--alarm-email", "ops at example.org"], "不是电子邮件地址"),
    (["--alarm-email", EMAIL, "--reserved-concurrency", "-1"], "whole number"),
    (["--alarm-email", EMAIL, "--quiet-alarm-minutes", "1441"], "from 0 to 1440"),
    (["--alarm-email", EMAIL, "--quiet-alarm-minutes", "-5"], "0 到 1440"),
    (["--alarm-email", EMAIL, "--quiet-alarm-minutes", "1.5"], "whole number of minutes"),
    (["--alarm-email", EMAIL, "--quiet-alarm-minutes", ""], "whole number of minutes"),
    (["--alarm-email", EMAIL, "--site-domain", DOMAIN, "--server-certificate-id", "bdpilot-cert"],
     "not an IAM server certificate ID"),
    (["--alarm-email", EMAIL, "--site-domain", DOMAIN, "--server-certificate-id",
      "arn:aws:iam::123456789012:server-certificate/cloudfront/bdpilot/cert"], "不是 IAM 服务器证书 ID"),
    (["--alarm-email", EMAIL, "--server-certificate-id", "ASCAEXAMPLE2ZLU6V4OQK"],
     "--server-certificate-id was given without --site-domain"),
    (["--alarm-email", EMAIL, "--site-domain", DOMAIN, "--certificate-arn", ACM,
      "--server-certificate-id", "ASCAEXAMPLE2ZLU6V4OQK"], "not both"),
    (["--alarm-email", EMAIL, "--site-domain", DOMAIN, "--server-certificate-id", "ASCAEXAMPLE2ZLU6V4OQK"],
     "no IAM server certificate with ID ASCAEXAMPLE2ZLU6V4OQK"),
], ids=["deadline-month-13", "deadline-words", "domain-without-certificate", "certificate-without-domain",
        "certificate-outside-us-east-1", "domain-with-scheme", "prod-without-alarm-email", "prod-empty-alarm-email",
        "bad-alarm-email", "negative-concurrency", "quiet-over-a-day", "quiet-negative", "quiet-fraction",
        "quiet-empty", "iam-certificate-name", "iam-certificate-arn", "iam-certificate-without-domain",
        "both-certificate-kinds", "iam-certificate-not-in-account"])
def test_bad_arguments_are_refused_before_anything_is_created(aws: Harness, extra: list[str], message: str) -> None:
    code, _, err = aws.run(*extra)
    assert code == 1 and message in err and "Traceback" not in err
    assert aws.packaged == 0
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


def test_a_domain_on_an_existing_stack_may_reuse_its_certificate(aws: Harness) -> None:
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0000-4000-8000-000000000000"
    assert aws.run("--alarm-email", EMAIL, "--site-domain", "sbdpilot.example.org",
                   "--certificate-arn", certificate)[0] == 0
    code, _, err = aws.run("--site-domain", "apply.example.org")
    assert code == 0, err
    values = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}
    assert values["SiteDomain"] == "apply.example.org" and values["SiteCertificateArn"] == certificate
    # Emptying the certificate while the domain stays is refused.
    code, _, err = aws.run("--certificate-arn", "")
    assert code == 1 and "needs its certificate" in err


def test_a_deadline_is_shown_in_beijing_time(aws: Harness) -> None:
    code, out, err = aws.run("--alarm-email", EMAIL, "--deadline", "2020-12-01T09:00+00:00")
    assert code == 0, err
    assert "deadline: 2020-12-01 17:00 Beijing time" in out
    values = {p["ParameterKey"]: p["ParameterValue"] for p in aws.stack()["Parameters"]}
    assert values["DeadlineOverride"] == "2020-12-01T09:00+00:00"


# ---------------------------------------------------------------- the no-submission alarm


def test_the_quiet_hours_alarm_is_set_kept_and_turned_off(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    assert aws.parameters()["QuietHoursAlarmMinutes"] == "0"  # off unless asked for

    code, out, err = aws.run("--quiet-alarm-minutes", "60")
    assert code == 0, err
    assert aws.parameters()["QuietHoursAlarmMinutes"] == "60"
    assert "60 minutes without an accepted submission" in out and "--quiet-alarm-minutes 0" in out
    # Not given: the stack keeps its value (a deploy for something else must not switch the alarm off).
    aws.zip_content = "v2"
    code, out, err = aws.run()
    assert code == 0, err
    assert aws.parameters()["QuietHoursAlarmMinutes"] == "60" and "No-submission alarm" not in out
    assert aws.run("--quiet-alarm-minutes", "0")[0] == 0
    assert aws.parameters()["QuietHoursAlarmMinutes"] == "0"


def _older_template(template: dict[str, Any]) -> None:
    """The template as it was before it had SiteServerCertificateId and QuietHoursAlarmMinutes."""
    for parameter in ("SiteServerCertificateId", "QuietHoursAlarmMinutes"):
        del template["Parameters"][parameter]
    for condition in ("HasServerCertificate", "HasQuietAlarm"):
        del template["Conditions"][condition]
    template.pop("Rules", None)
    text = json.dumps({k: v for k, v in template.items() if k != "Parameters"})  # descriptions may name them
    assert "SiteServerCertificateId" not in text and "QuietHoursAlarmMinutes" not in text


def test_a_stack_made_before_the_new_parameters_takes_their_defaults(aws: Harness) -> None:
    aws.template(_older_template)
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    assert not {"SiteServerCertificateId", "QuietHoursAlarmMinutes"} & set(aws.parameters())
    aws.template()

    # Keeping "the previous value" of a parameter the stack does not have is refused by CloudFormation.
    code, _, err = aws.run()
    assert code == 0, err
    assert aws.stack()["StackStatus"] == "UPDATE_COMPLETE"
    values = aws.parameters()
    assert values["SiteServerCertificateId"] == "" and values["QuietHoursAlarmMinutes"] == "0"


# ---------------------------------------------------------------- certificates and the edge stack's alarm


def test_an_iam_server_certificate_may_serve_the_domain_outside_china(aws: Harness) -> None:
    certificate_id = aws.server_certificate("bdpilot-site")
    code, _, err = aws.run("--alarm-email", EMAIL, "--site-domain", DOMAIN, "--server-certificate-id", certificate_id)
    assert code == 0, err
    values = aws.parameters()
    assert values["SiteServerCertificateId"] == certificate_id and values["SiteCertificateArn"] == ""

    # Switching to ACM: the IAM certificate has to be dropped explicitly, else both would be set.
    code, _, err = aws.run("--certificate-arn", ACM)
    assert code == 1 and "not both" in err and "drop the stack's current one with --server-certificate-id ''" in err
    code, _, err = aws.run("--certificate-arn", ACM, "--server-certificate-id", "")
    assert code == 0, err
    values = aws.parameters()
    assert values["SiteCertificateArn"] == ACM and values["SiteServerCertificateId"] == ""


@pytest.mark.parametrize(("upload", "message"), [
    ({"path": "/"}, "has path /; CloudFront takes only certificates uploaded with a path under /cloudfront/"),
    ({"path": "/bdpilot/"}, "路径是 /bdpilot/"),
    ({"days": -1}, "expired on"),
], ids=["path-root", "path-not-cloudfront", "expired"])
def test_an_iam_certificate_cloudfront_cannot_use_is_refused_before_anything_is_created(
        aws: Harness, upload: dict[str, Any], message: str) -> None:
    certificate_id = aws.server_certificate("bdpilot-site", **upload)
    code, _, err = aws.run("--alarm-email", EMAIL, "--site-domain", DOMAIN, "--server-certificate-id", certificate_id)
    assert code == 1 and message in err and "Traceback" not in err
    assert aws.packaged == 0
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


def test_an_iam_certificate_about_to_expire_is_pointed_out(aws: Harness) -> None:
    certificate_id = aws.server_certificate("bdpilot-site", days=10)
    code, out, err = aws.run("--alarm-email", EMAIL, "--site-domain", DOMAIN, "--server-certificate-id",
                             certificate_id)
    assert code == 0, err
    assert "certificate: bdpilot-site expires on" in out


def test_the_edge_stack_alarms_the_stacks_address(aws: Harness) -> None:
    assert aws.run("--alarm-email", EMAIL)[0] == 0
    aws.zip_content = "v2"
    code, out, _ = aws.run()  # not repeated: the address the stack keeps, not an empty one
    assert code == 0
    assert aws.edge_calls[-1] == (STAGE, REGION, EMAIL) and "Confirm the SNS" not in out
    assert aws.run("--alarm-email", "oncall@example.org")[0] == 0
    assert aws.edge_calls[-1] == (STAGE, REGION, "oncall@example.org")


# ---------------------------------------------------------------- the China regions


def test_china_deploys_with_its_domain_and_iam_certificate_and_directory_objects(china: Harness) -> None:
    certificate_id = china.server_certificate("bdpilot-site")
    code, out, err = china.run("--alarm-email", EMAIL, "--site-domain", DOMAIN,
                               "--server-certificate-id", certificate_id, "--smtp-url", RELAY)
    assert code == 0, err
    assert china.stack()["StackStatus"] == "CREATE_COMPLETE"
    values = china.parameters()
    assert values["SiteServerCertificateId"] == certificate_id and values["SiteCertificateArn"] == ""
    assert values["SmtpUrl"] == RELAY  # no SES in China: the applicants' e-mails go through the relay
    assert values["SiteDomain"] == DOMAIN and values["EdgeWebAclArn"] == ""
    # No edge stack: us-east-1 is another partition, and nothing was asked of it.
    assert "edge: no CloudFront-scope web ACL" in out
    assert china.session.client("cloudformation", region_name="us-east-1").describe_stacks()["Stacks"] == []
    assert "共 1 封" in out and f"open the 1 e-mail AWS sent to {EMAIL}" in out
    # No CloudFront Function appends index.html: /apply/ is asked of the origin as the key apply/.
    s3, bucket = china.client("s3"), china.outputs()["SiteBucketName"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"index.html", "apply/index.html", "apply/"}  # the root is the DefaultRootObject's
    directory = s3.get_object(Bucket=bucket, Key="apply/")
    assert directory["ContentType"] == "text/html; charset=utf-8"
    assert directory["Body"].read() == s3.get_object(Bucket=bucket, Key="apply/index.html")["Body"].read()
    # Deploying again uploads nothing (the directory objects are compared like any other).
    code, out, err = china.run()
    assert code == 0, err
    assert "site: 0 files uploaded, 0 removed" in out


@pytest.mark.parametrize(("extra", "message"), [
    ([], "ICP"),
    (["--site-domain", DOMAIN], "pass --server-certificate-id"),
    (["--site-domain", DOMAIN, "--certificate-arn", ACM], "has no ACM"),
    (["--site-domain", DOMAIN, "--certificate-arn", ACM, "--server-certificate-id", "ASCAEXAMPLE2ZLU6V4OQK"],
     "不支持 ACM"),
    (["--server-certificate-id", "ASCAEXAMPLE2ZLU6V4OQK"], "备案"),
    (["--site-domain", DOMAIN, "--server-certificate-id", "ASCAEXAMPLE2ZLU6V4OQK", "--smtp-url", ""], "--smtp-url"),
], ids=["no-domain", "domain-without-certificate", "acm", "acm-and-iam", "certificate-without-domain", "no-relay"])
def test_china_refuses_what_cloudfront_there_cannot_do_before_anything_is_created(
        china: Harness, extra: list[str], message: str) -> None:
    code, _, err = china.run("--alarm-email", EMAIL, *extra)
    assert code == 1 and message in err and "Traceback" not in err
    assert china.packaged == 0
    assert china.client("s3").list_buckets()["Buckets"] == []
    assert china.client("cloudformation").describe_stacks()["Stacks"] == []
