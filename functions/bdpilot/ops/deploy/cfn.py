"""Creating and updating a CloudFormation stack for `bdpilot deploy`: through a change set that is read before it
is executed, from any state a stack can be left in."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bdpilot.domain import wording
from bdpilot.ops.deploy.checks import DeployError, dangerous_changes, refuse

# States from which an update can start. ROLLBACK_COMPLETE is not one: CloudFormation refuses to update a stack
# whose creation failed; it can only be deleted.
UPDATABLE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
                       "IMPORT_ROLLBACK_COMPLETE"})


@dataclass(frozen=True)
class StackState:
    status: str | None  # None: no such stack
    parameters: dict[str, str] = field(default_factory=dict)  # NoEcho values read back as ****
    stack_id: str | None = None

    @property
    def updatable(self) -> bool:
        return self.status in UPDATABLE


def stack_state(cfn: Any, name: str) -> StackState:
    try:
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    except cfn.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return StackState(None)
        raise
    return StackState(stack["StackStatus"],
                      {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
                      stack["StackId"])


def failure_reasons(cfn: Any, name: str, limit: int = 5) -> list[str]:
    """The first failures of the stack's last operation, oldest first (the later ones are mostly
    'Resource creation cancelled', caused by the first)."""
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]  # newest first
    failed = [e for e in reversed(events) if e["ResourceStatus"].endswith("_FAILED")]
    first = [e for e in failed if "cancelled" not in e.get("ResourceStatusReason", "")] or failed
    return [f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in first[:limit]]


def check_state(cfn: Any, name: str, state: StackState) -> None:
    """Refuse, with what to do, the states that need a person: an operation still running, a failed rollback
    or deletion. (Called before anything is built, and again right before the change set.)"""
    if state.status in (None, "REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE") or state.updatable:
        return
    if state.status.endswith("_IN_PROGRESS"):
        raise refuse(wording.text("ops.cfn.busy", name=name, status=state.status),
                     f"Stack {name} is busy ({state.status}); wait for it to finish and deploy again.")
    if state.status == "UPDATE_ROLLBACK_FAILED":
        raise refuse(wording.text("ops.cfn.rollback_failed", name=name),
                     f"Stack {name} is UPDATE_ROLLBACK_FAILED: fix the cause, run `aws cloudformation "
                     f"continue-update-rollback --stack-name {name}`, then deploy again.")
    raise refuse(wording.text("ops.cfn.stuck", name=name, status=state.status),
                 f"Stack {name} is {state.status} and cannot be deployed to; see its events in the "
                 "CloudFormation console.\n" + "\n".join(failure_reasons(cfn, name)))


def prepare(cfn: Any, name: str) -> tuple[str, StackState]:
    """Bring the stack to a state a change set can start from; return the change set type (CREATE or UPDATE)
    and the stack's state before.

    A stack whose first creation failed stays in ROLLBACK_COMPLETE: it holds no resources (those with
    RetainExceptOnCreate were deleted by the rollback, those with Retain are no longer part of it) and can only
    be deleted, so deploy explains why it failed, deletes it and creates it again (by default: there is nothing
    in it to lose)."""
    state = stack_state(cfn, name)
    check_state(cfn, name, state)
    if state.updatable:
        return "UPDATE", state
    if state.status == "ROLLBACK_COMPLETE":
        reasons = failure_reasons(cfn, name)
        print(wording.text("ops.cfn.first_create_failed", name=name) + "\n"
              f"stack: the first creation of {name} failed and was rolled back (ROLLBACK_COMPLETE); such a stack "
              "cannot be updated, only deleted. Why it failed:\n" + ("\n".join(reasons) or "  (no reason recorded)"))
        print(f"stack: deleting the empty rolled-back stack {name} and creating it again")
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=state.stack_id or name,
                                                     WaiterConfig={"Delay": 10, "MaxAttempts": 180})
    return "CREATE", state  # no stack, a deleted one, or only the change set of an earlier attempt (REVIEW_IN_PROGRESS)


def _changes(cfn: Any, name: str, change_set: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
    changes = list(described.get("Changes", []))
    token = described.get("NextToken")
    while token:
        page = cfn.describe_change_set(StackName=name, ChangeSetName=change_set, NextToken=token)
        changes += page.get("Changes", [])
        token = page.get("NextToken")
    return described, changes


def _outputs(cfn: Any, name: str) -> dict[str, str]:
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def deploy_stack(cfn: Any, name: str, template_url: str | None, parameters: dict[str, str | None], *,
                 template_body: str | None = None, stack_policy: str | None = None,
                 protected: tuple[str, ...] = ()) -> dict[str, str]:
    """Create or update through a change set (what `aws cloudformation deploy` does); return the outputs.
    A parameter given as None keeps its previous value; the template's default when the stack has no such
    parameter yet (CloudFormation refuses UsePreviousValue for a parameter the stack's template lacks, e.g. the
    first update after the template gained it). The template is at template_url, or template_body.
    The change set is read first: one that would remove or replace a resource in `protected` is deleted
    unexecuted and refused. `stack_policy` (JSON) is set on the stack, before an update is executed and right
    after a create (a stack policy guards updates only)."""
    kind, state = prepare(cfn, name)
    # UsePreviousValue means nothing to a stack being created, nor for a parameter the stack does not have.
    have = state.parameters if kind == "UPDATE" else {}
    parameters = {k: v for k, v in parameters.items() if v is not None or k in have}
    params = [{"ParameterKey": k, "UsePreviousValue": True} if v is None else {"ParameterKey": k, "ParameterValue": v}
              for k, v in parameters.items()]
    change_set = f"bdpilot-{time.time_ns()}"
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
            print(f"stack: no changes to {name}")
            return _outputs(cfn, name)
        raise DeployError(f"change set failed: {reason}") from error

    described, changes = _changes(cfn, name, change_set)
    dangerous = dangerous_changes(changes, protected)
    if dangerous:
        cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
        raise refuse(wording.text("ops.cfn.dangerous") + "\n"
                     + "\n".join(dangerous),
                     "Refused: this deploy would remove or replace a resource holding the applications (the change "
                     "set was deleted unexecuted; the stack is unchanged). Migrate the data deliberately instead.")
    if kind == "CREATE":
        print(f"stack: {len(changes)} resources to create")
    for change in changes if kind == "UPDATE" else ():
        resource = change.get("ResourceChange", {})
        replacement = f", replacement: {resource['Replacement']}" if resource.get("Replacement") else ""
        print(f"  {resource.get('Action')} {resource.get('LogicalResourceId')} ({resource.get('ResourceType')}"
              f"{replacement})")
    if kind == "UPDATE" and stack_policy is not None:
        cfn.set_stack_policy(StackName=name, StackPolicyBody=stack_policy)
    print(f"stack: executing {kind.lower()} of {name} (CloudFront can take 5-15 minutes)")
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=described.get("StackId", name),
                                    WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    except Exception as error:
        hint = ("\n" + wording.text("ops.cfn.next_deploy_recreates") + "\nThe next `bdpilot deploy` deletes the "
                "rolled-back empty stack and creates it again." if kind == "CREATE" else "")
        raise DeployError("stack deployment failed:\n" + "\n".join(failure_reasons(cfn, name)) + hint) from error
    if kind == "CREATE" and stack_policy is not None:
        cfn.set_stack_policy(StackName=name, StackPolicyBody=stack_policy)
    return _outputs(cfn, name)
