"""Each route's request body, bounded by the shape of the contract model that describes it (see domain.bounds).

The contract is imported when a body is first checked: a cold start that answers a GET does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from bdpilot.domain.bounds import Obj, check, shape_of
from bdpilot.domain.errors import FieldError, listed


@dataclass(frozen=True)
class Body:
    shape: Obj
    summary: str  # the Rejection's message when the body goes beyond its shape


@cache
def body_for(route: str) -> Body | None:
    """The shape of a JSON request body, from the same models that describe the API (bdpilot.web.contract)."""
    from bdpilot.web import contract

    bodies = {"/api/submissions": Body(shape_of(contract.SubmissionRequest, "提交的内容"),
                                       "申报书有需要修改的地方，请按提示修改后重新提交"),
              "/api/uploads": Body(shape_of(contract.UploadRequest, "上传申请"), "无法上传该文件")}
    return bodies.get(route)


def refused(route: str, payload: Any) -> tuple[str, list[FieldError]] | None:
    """The summary and (at most errors.MAX_LISTED) field errors for a body beyond its route's models, else None.
    A body that is not an object is left to the route, which answers 400."""
    body = body_for(route)
    if body is None or not isinstance(payload, dict):
        return None
    problems = check(payload, body.shape)
    return listed(body.summary, problems) if problems else None
