"""Each route's request body, bounded by the shape of the contract model that describes it (see domain.bounds).

The shapes are built when a body is first checked: a cold start that answers a GET does not need them.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from bdpilot.domain import wording
from bdpilot.domain.bounds import Obj, check, shape_of
from bdpilot.domain.errors import FieldError, listed
from bdpilot.intake.refusals import Invalid


class Body(NamedTuple):
    shape: Obj
    summary: str  # the refusal's message (a catalogue key) when the body goes beyond its shape


@cache
def body_for(route: str) -> Body | None:
    """The shape of a JSON request body, from the same models that describe the API (bdpilot.web.contract)."""
    from bdpilot.web import contract

    # Each built only for its own route: an upload's check need not walk the whole 申报书.
    if route == "/api/submissions":
        return Body(shape_of(contract.submission_request(), wording.text("intake.body_submission")), "intake.summary")
    if route == "/api/uploads":
        return Body(shape_of(contract.UploadRequest, wording.text("intake.body_upload")), "intake.upload_summary")
    return None


def refused(route: str, payload: Any) -> tuple[str, list[FieldError]] | None:
    """The summary and (at most errors.MAX_LISTED) field errors for a body beyond its route's models, else None.
    A body that is not an object is left to the route, which answers 400."""
    body = body_for(route)
    if body is None or not isinstance(payload, dict):
        return None
    problems = check(payload, body.shape)
    return listed(wording.text(body.summary), problems) if problems else None


def enforce(route: str, payload: Any) -> None:
    """Refuse (Invalid) a body beyond its route's models; see `refused`."""
    found = refused(route, payload)
    if found:
        raise Invalid("validation_failed", *found)
