"""A small CloudFormation evaluator for the infrastructure tests: what a template becomes in a given region with
given parameters (conditions, Rules, Fn::If, Ref, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, AWS::NoValue).

Attributes of resources (Fn::GetAtt, a Ref to a resource) stay symbolic: `<Logical>` and `<Logical.Attribute>`.
It implements what CloudFormation documents for these functions, no more; anything else fails loudly.
"""

from __future__ import annotations

import re
from typing import Any

import boto3

ACCOUNT = "123456789012"
# Values for the parameters without a default (what `bdpilot deploy` always passes).
REQUIRED_PARAMETERS: dict[str, str] = {
    "OriginVerifySecret": "o" * 32,
    "CodeBucket": "bdpilot-artifacts",
    "CodeKey": "prod/function/0.zip",
    "StaffCodeKey": "prod/staff/0.zip",
    "ReceiptCodeKey": "prod/receipt/0.zip",
    "MailQueueCodeKey": "prod/mailqueue/0.zip",
}
STACK_UUID = "51af3dc0-da77-11e4-872e-1234567db123"
NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


def partition_of(region: str) -> str:
    return boto3.Session().get_partition_for_region(region)


class Stack:
    """The template as CloudFormation would see it in `region` with `parameters` (defaults fill the rest)."""

    def __init__(self, template: dict[str, Any], region: str, parameters: dict[str, Any] | None = None,
                 stack_name: str = "bdpilot-prod", stack_uuid: str = STACK_UUID) -> None:
        self.template = template
        self.region = region
        partition = partition_of(region)
        self.values: dict[str, Any] = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        }
        self.values.update(REQUIRED_PARAMETERS)
        self.values.update(parameters or {})
        missing = [n for n, v in self.values.items() if v is None]
        assert not missing, f"no value for {missing}"
        self.values.update({
            "AWS::Region": region,
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{ACCOUNT}:stack/{stack_name}/{stack_uuid}",
            "AWS::NoValue": NO_VALUE,
        })
        self._conditions: dict[str, bool] = {}

    # ---------------------------------------------------------------- conditions and rules

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def rule_failures(self) -> list[str]:
        """AssertDescription of every failing assertion of every rule that applies (CloudFormation refuses the
        stack before creating anything when this is not empty)."""
        failures = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            failures += [a["AssertDescription"] for a in rule["Assertions"] if not self.value(a["Assert"])]
        return failures

    # ---------------------------------------------------------------- resources

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources this stack would create (their Condition holds), intrinsics resolved."""
        out = {}
        for name, resource in self.template["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            out[name] = {**resource, "Properties": self.value(resource.get("Properties", {}))}
        return out

    # ---------------------------------------------------------------- intrinsic functions

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        assert name in self.template["Resources"], f"Ref to unknown {name}"
        return f"<{name}>"

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))

        def one(match: re.Match[str]) -> str:
            name = match[1]
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                return f"<{name}>"
            value = self.ref(name)
            return str(value).lower() if isinstance(value, bool) else str(value)

        return _SUB.sub(one, text)


def _if(stack: Stack, arg: list[Any]) -> Any:
    name, yes, no = arg
    return stack.value(yes if stack.condition(name) else no)


def _get_att(stack: Stack, arg: Any) -> str:
    target = arg if isinstance(arg, str) else ".".join(arg)
    assert target.split(".", 1)[0] in stack.template["Resources"], target
    return f"<{target}>"


_FUNCTIONS = {
    "Ref": lambda s, a: s.ref(a),
    "Condition": lambda s, a: s.condition(a),
    "Fn::If": _if,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda s, a: s.sub(a),
    "Fn::Join": lambda s, a: a[0].join(str(v) for v in s.value(a[1])),
    "Fn::Select": lambda s, a: s.value(a[1])[int(s.value(a[0]))],
    "Fn::Split": lambda s, a: s.value(a[1]).split(a[0]),
    "Fn::Equals": lambda s, a: str(s.value(a[0])) == str(s.value(a[1])),
    "Fn::Not": lambda s, a: not s.value(a[0]),
    "Fn::And": lambda s, a: all(s.value(x) for x in a),
    "Fn::Or": lambda s, a: any(s.value(x) for x in a),
    "Fn::Contains": lambda s, a: s.value(a[1]) in s.value(a[0]),
}
