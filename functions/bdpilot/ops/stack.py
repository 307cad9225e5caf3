"""Create the stack of infra/template.yaml in moto's CloudFormation (local run and tests).

There is one template. Local mode and tests create it in moto so that their buckets and tables are the ones
production gets; the only difference is MOTO_SKIPPED_TYPES, applied to the parsed template at load time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

TEMPLATE_PATH = Path(__file__).resolve().parents[3] / "infra" / "template.yaml"

# Resource types moto 5.2's CloudFormation cannot create, or that make no sense without AWS behind them.
# moto implements no model for CloudFront, WAFv2, CloudWatch alarms, SNS subscriptions, S3 bucket policies or
# API Gateway stages, validators and gateway responses: it would skip them with a warning and then fail on, or
# silently drop, references to them. (tests/infra/test_stack_in_moto.py checks this list against moto's own.)
# The Lambda function is skipped on purpose: moto can create it, but only from a code zip already in S3, and
# locally the handler runs in-process anyway; its Permission exists only to attach to it, and so does its
# published Version (moto can publish one; moto has no Alias at all). The mail queue's EventBridge schedule
# targets a function, so it goes too (moto refuses a target that is not an ARN).
# Kept resources that refer to a skipped one get the placeholder `moto-skipped-<LogicalId>` instead (e.g. the
# CORS origin of the submissions bucket when SiteDomain is empty); outputs that refer to one are left out.
MOTO_SKIPPED_TYPES: frozenset[str] = frozenset(
    {
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::ResponseHeadersPolicy",
        "AWS::CloudFront::OriginRequestPolicy",
        "AWS::CloudFront::Function",
        "AWS::S3::BucketPolicy",
        "AWS::WAFv2::WebACL",
        "AWS::WAFv2::WebACLAssociation",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::GatewayResponse",
        "AWS::CloudWatch::Alarm",
        "AWS::SNS::Subscription",
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::Events::Rule",
        "AWS::WAFv2::LoggingConfiguration", "AWS::CloudFront::CloudFrontOriginAccessIdentity", "AWS::ApiGateway::Account",  # noqa: E501
    }
)

LOCAL_PARAMETERS: dict[str, str] = {
    "Stage": "local",
    # The function is skipped in moto, so its code location is never read.
    "CodeBucket": "moto-no-code",
    "CodeKey": "none.zip",
    "StaffCodeKey": "none.zip",
    "ReceiptCodeKey": "none.zip",
    "MailQueueCodeKey": "none.zip",
    # Read only by CloudFront and the API's web ACL, both skipped in moto.
    "OriginVerifySecret": "local-only-origin-verify-secret-not-for-production",
}


# ---------------------------------------------------------------- template loading


def _cfn_loader() -> type:
    """A SafeLoader that reads CloudFormation's short intrinsic tags (!Ref, !GetAtt, !Sub...) as long form."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "Condition":
            return {"Condition": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", construct)
    return Loader


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, intrinsic functions in long form (`Ref`, `Fn::GetAtt`, ...)."""
    import yaml

    return yaml.load(path.read_text(encoding="utf-8"), Loader=_cfn_loader())  # a SafeLoader subclass


# ---------------------------------------------------------------- the moto filter

_SUB_VAR = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _placeholder(logical_id: str) -> str:
    return f"moto-skipped-{logical_id}"


def _references(node: Any) -> set[str]:
    """Logical ids (or parameters) a piece of template refers to through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add((value.split(".", 1) if isinstance(value, str) else value)[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found.update(_SUB_VAR.findall(text))
                found.update(_references(value if isinstance(value, str) else value[1]))
            else:
                found.update(_references(value))
    elif isinstance(node, list):
        for item in node:
            found.update(_references(item))
    return found


def _replace(node: Any, skipped: set[str]) -> Any:
    """Replace references to skipped resources with their placeholder string."""
    if isinstance(node, list):
        return [_replace(item, skipped) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref" and value in skipped:
            return _placeholder(value)
        if key == "Fn::GetAtt":
            target = (value.split(".", 1) if isinstance(value, str) else value)[0]
            if target in skipped:
                return _placeholder(target)
        if key == "Fn::Sub":
            text, variables = (value, None) if isinstance(value, str) else value
            text = _SUB_VAR.sub(lambda m: _placeholder(m[1]) if m[1] in skipped else m[0], text)
            return {key: text if variables is None else [text, _replace(variables, skipped)]}
    return {key: _replace(value, skipped) for key, value in node.items()}


def for_moto(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the template without MOTO_SKIPPED_TYPES (see there for what happens to references)."""
    resources = template["Resources"]
    skipped = {name for name, res in resources.items() if res["Type"] in MOTO_SKIPPED_TYPES}
    kept: dict[str, Any] = {}
    for name, resource in resources.items():
        if name in skipped:
            continue
        resource = _replace(resource, skipped)
        depends = resource.get("DependsOn")
        if depends is not None:
            depends = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in skipped]
            if depends:
                resource["DependsOn"] = depends
            else:
                del resource["DependsOn"]
        kept[name] = resource
    outputs = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if not _references(output) & skipped
    }
    return {**template, "Resources": kept, "Outputs": outputs}


# ---------------------------------------------------------------- what moto's CloudFormation ignores


def _apply_ignored_properties(
    session: boto3.Session, endpoint_url: str | None, stack_name: str, template: Mapping[str, Any]
) -> None:
    """moto's CloudFormation applies only encryption and tags to buckets and skips a table's TTL: set the
    template's versioning, public access block and TTL through the service APIs, so local behaves alike.
    (CORS is left out: its origin is the production site's, not the local server's.)"""
    cfn = session.client("cloudformation", endpoint_url=endpoint_url)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }
    for name, resource in template["Resources"].items():
        props, target = resource.get("Properties", {}), physical.get(name)
        if target is None:
            continue
        if resource["Type"] == "AWS::S3::Bucket":
            if "VersioningConfiguration" in props:
                s3.put_bucket_versioning(Bucket=target, VersioningConfiguration=props["VersioningConfiguration"])
            if "PublicAccessBlockConfiguration" in props:
                s3.put_public_access_block(
                    Bucket=target, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
                )
        elif resource["Type"] == "AWS::DynamoDB::Table" and "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(TableName=target, TimeToLiveSpecification=props["TimeToLiveSpecification"])


# ---------------------------------------------------------------- stack creation


def _outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def create_stack(
    session: boto3.Session,
    *,
    endpoint_url: str | None = None,
    stack_name: str = "bdpilot-local",
    parameters: Mapping[str, str] | None = None,
    template_path: Path = TEMPLATE_PATH,
) -> dict[str, str]:
    """Create the stack (or find it already created) in a moto CloudFormation endpoint; return its outputs.

    `endpoint_url` is the moto server's URL, or None inside `moto.mock_aws()`. The outputs hold at least
    TableName, SubmissionsBucketName and SiteBucketName.
    """
    cfn = session.client("cloudformation", endpoint_url=endpoint_url)
    try:
        (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except cfn.exceptions.ClientError as error:
        if "does not exist" not in str(error):
            raise
    else:
        if stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return _outputs(stack)
        raise RuntimeError(f"stack {stack_name} exists in state {stack['StackStatus']}")

    values = {**LOCAL_PARAMETERS, **(parameters or {})}
    template = for_moto(load_template(template_path))
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    except Exception as error:
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events if "FAILED" in
                   e["ResourceStatus"]]
        raise RuntimeError(f"stack {stack_name} was not created: {reasons or error}") from error
    _apply_ignored_properties(session, endpoint_url, stack_name, template)
    (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    return _outputs(stack)
