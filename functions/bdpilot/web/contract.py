"""The public API's contract: every route, and the pydantic models its requests are parsed through and its answers
built with. The OpenAPI document is generated from the same routes and models, so it cannot drift from them.

Requests are parsed here and refused with the intake's exceptions (bdpilot.intake.refusals): the web layer maps
those to HTTP statuses in one table (bdpilot.web.api.STATUS). The 申报书 inside a submission is not validated by
the envelope (SkipValidation): the intake validates it after the form token and the window, so a stale page is
told to reload before it is told what to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SkipValidation,
    ValidationError,
)
from pydantic.json_schema import WithJsonSchema, models_json_schema

from bdpilot import __version__, settings
from bdpilot.domain import campaign, rules, tokens, wording
from bdpilot.domain.errors import FieldError
from bdpilot.domain.reference import PATTERN as REFERENCE
from bdpilot.intake.refusals import Invalid, TooLarge, Unverified, malformed

if TYPE_CHECKING:  # imported by `submission_request`: the first answers need not build the 申报书
    from bdpilot.domain.application import Application


def _says(key: str) -> str:
    return wording.text(f"intake.api.{key}")


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    operation: str  # OpenAPI operationId; its summary is wording's intake.api.summary.<operation>
    answer: str | None = None  # the success model's name (None: a page or a schema, described below)
    request: str | None = None
    errors: tuple[int, ...] = ()
    documented: bool = True  # the /api/apply/ pages answer browsers with HTML: not part of the JSON API


# Every route: the handler registers these, infra/template.yaml must declare them (tests/infra checks), the
# OpenAPI document describes the documented ones. The /api/apply/ pages are the path that works without JavaScript.
ROUTES = (
    Route("/api/campaign", "GET", "getCampaign", "CampaignState"),
    Route("/api/schema", "GET", "getSchema"),
    Route("/api/openapi.json", "GET", "getOpenapi"),
    Route("/api/uploads", "POST", "createUpload", "UploadTicket", "UploadRequest",
          (400, 403, 405, 409, 413, 415, 422, 503)),
    Route("/api/submissions", "POST", "createSubmission", "Receipt", "SubmissionRequest",
          (400, 403, 405, 409, 413, 415, 422, 429, 503)),
    Route("/api/apply/uploads", "GET", "applyUploads", documented=False),
    Route("/api/apply/remove", "POST", "applyRemove", documented=False),  # 移除 on that page: a write is a POST
    Route("/api/apply/form", "GET", "applyForm", documented=False),
)


class Model(BaseModel):
    """Built when first used (or by web.warmup.prepare, before a snapshot): a cold start's first answers need only
    a few."""

    model_config = ConfigDict(defer_build=True)


class Window(Model):
    open: bool
    deadline: str = Field(description=_says("deadline"))
    unit_deadline: str = Field(description=_says("unit_deadline"))
    server_time: str


class DirectionInfo(Model):
    number: int
    category: str
    name: str
    label: str


class CampaignState(Model):
    window: Window
    form_token: str = Field(description=_says("form_token"))
    min_fill_seconds: int
    max_upload_bytes: int
    directions: list[DirectionInfo]


def campaign_state(cfg: settings.Settings, now: datetime) -> CampaignState:
    window = rules.window(now, cfg.deadline)
    return CampaignState(
        window=Window(open=window.open, deadline=window.deadline.isoformat(),
                      unit_deadline=cfg.unit_deadline.isoformat(), server_time=window.now.isoformat()),
        form_token=tokens.issue(cfg.secret, now), min_fill_seconds=cfg.min_fill_seconds,
        max_upload_bytes=settings.MAX_UPLOAD_BYTES,
        directions=[DirectionInfo(number=d.number, category=d.category.name, name=d.name, label=d.label)
                    for d in campaign.DIRECTIONS])


class Request(Model):
    """A request body. `MESSAGES` words a failing field (catalogue keys); `SUMMARY` heads the answer."""

    MESSAGES: ClassVar[dict[str, str]] = {}
    SUMMARY: ClassVar[str] = "intake.summary"

    @classmethod
    def refusal(cls, exc: ValidationError) -> Invalid | TooLarge | Unverified:
        fields = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            message = wording.text(cls.MESSAGES.get(name, "intake.summary"))
            if FieldError(name, message) not in fields:
                fields.append(FieldError(name, message))
        return Invalid("validation_failed", wording.text(cls.SUMMARY), fields)


RequestT = TypeVar("RequestT", bound=Request)


def parse(model: type[RequestT], payload: Any) -> RequestT:
    """`payload` (a JSON value) as `model`, or the refusal its problems call for."""
    if not isinstance(payload, dict):
        raise malformed()
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise model.refusal(exc) from exc


class UploadRequest(Request):
    MESSAGES: ClassVar[dict[str, str]] = {"size": "intake.upload_size", "filename": "intake.upload_filename",
                                          "content_type": "intake.upload_content_type"}
    SUMMARY: ClassVar[str] = "intake.upload_summary"

    form_token: str = Field(strict=True)
    size: int = Field(strict=True, ge=1, le=settings.MAX_UPLOAD_BYTES)
    filename: str = Field(strict=True, max_length=255, pattern=r"(?i)\.pdf$")
    content_type: str | None = Field(default="application/pdf", strict=True, pattern="^application/pdf$")

    @classmethod
    def refusal(cls, exc: ValidationError) -> Invalid | TooLarge | Unverified:
        # A file over the limit is refused as such, whatever else is wrong: it cannot be fixed by renaming.
        if any(e["loc"] == ("size",) and e["type"] == "less_than_equal" for e in exc.errors()):
            return TooLarge("file_too_large", wording.text("intake.upload_too_large"))
        return super().refusal(exc)


def _text_or_none(value: object) -> object:
    return value if isinstance(value, str) else None


class UploadCheck(Request):
    """With `upload_id` instead of filename and size: is this stored upload a usable PDF?"""

    MESSAGES: ClassVar[dict[str, str]] = {"upload_id": "intake.upload_id_invalid"}

    form_token: str = Field(strict=True)
    upload_id: str = Field(strict=True, pattern=r"^[0-9a-f]{32}$")
    title: Annotated[str | None, BeforeValidator(_text_or_none)] = None  # names the file in the message


class UploadChecked(Model):
    ok: Literal[True]
    upload_id: str
    size: int


class UploadTicket(Model):
    upload_id: str
    url: str = Field(description=_says("upload_url"))
    fields: dict[str, str] = Field(description=_says("upload_fields"))
    max_bytes: int
    expires_in: int


class SubmissionRequest(Request):
    model_config = ConfigDict(title="SubmissionRequest")
    MESSAGES: ClassVar[dict[str, str]] = {"application": "intake.missing_application",
                                          "website": "intake.honeypot_missing"}

    # Validated by the intake (see the module's note); `document` describes it as the Application it must be.
    application: Annotated[Application, SkipValidation, WithJsonSchema({"type": "object"})]
    form_token: str = Field(strict=True)
    # No maxLength: a filled honeypot is a valid request that gets a convincing (fake) 201.
    website: str = Field(strict=True, description=_says("honeypot"))

    @classmethod
    def refusal(cls, exc: ValidationError) -> Invalid | TooLarge | Unverified:
        if any(e["loc"] == ("form_token",) for e in exc.errors()):  # as a forged token: reload the page
            return Unverified("form_token_invalid", wording.text("intake.token_invalid"))
        return super().refusal(exc)


@cache
def submission_request() -> type[SubmissionRequest]:
    """SubmissionRequest, its `application` resolved: the 申报书's models are imported when a submission comes."""
    from bdpilot.domain.application import Application

    SubmissionRequest.model_rebuild(_types_namespace={"Application": Application})
    return SubmissionRequest


class Receipt(Model):
    reference: str = Field(pattern=REFERENCE.pattern)
    digest: str = Field(pattern="^[0-9a-f]{64}$", description=_says("digest"))
    received_at: str
    record: dict[str, Any]
    printable: str = Field(description=_says("printable"))
    receipt_url: str | None = Field(default=None, description=_says("receipt_url"))


class FieldProblem(Model):
    path: str
    message: str


class Problem(Model):
    code: str
    message: str
    fields: list[FieldProblem] | None = None
    resend: bool | None = Field(default=None, description=_says("resend"))


class ErrorBody(Model):
    error: Problem


def answer(model: BaseModel) -> dict[str, Any]:
    """An answer's JSON value (fields left unset, like an error's absent `fields`, are left out)."""
    return model.model_dump(mode="json", exclude_unset=True)


# --- the OpenAPI document -----------------------------------------------------------------------------------------



def models() -> tuple[type[BaseModel], ...]:
    """Every model the document describes."""
    from bdpilot.domain.application import Application

    return (Application, CampaignState, UploadRequest, UploadCheck, UploadChecked, UploadTicket, submission_request(),
            Receipt, ErrorBody)


def _ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _operation(route: Route) -> dict[str, Any]:
    retry = {"Retry-After": {"schema": {"type": "integer"}}}
    ok = "201" if route.method == "POST" else "200"
    responses: dict[str, Any] = {ok: {"description": _says({"CampaignState": "state", "UploadTicket": "ticket",
                                                            "Receipt": "receipt"}.get(route.answer or "", "schema")),
                                      "content": _ref(route.answer) if route.answer else {
                                          "application/json": {"schema": {"type": "object"}}}}}
    for code in route.errors:
        responses[str(code)] = {"description": wording.text(f"intake.api.status.{code}"), "content": _ref("ErrorBody"),
                                **({"headers": retry} if code in (429, 503) else {})}
    operation: dict[str, Any] = {"operationId": route.operation, "summary": _says(f"summary.{route.operation}"),
                                 "responses": responses}
    if route.request:
        operation["requestBody"] = {"required": True, "content": _ref(route.request)}
    if route.path == "/api/uploads":
        operation["description"] = _says("upload_check")
        operation["requestBody"]["content"]["application/json"]["schema"] = {"oneOf": [
            {"$ref": "#/components/schemas/UploadRequest"}, {"$ref": "#/components/schemas/UploadCheck"}]}
        responses["200"] = {"description": _says("upload_checked"), "content": _ref("UploadChecked")}
    if route.path == "/api/submissions":
        from bdpilot.intake.submission import IDEMPOTENCY_KEY  # the intake's, needed only for this document

        operation["parameters"] = [{"name": "Idempotency-Key", "in": "header", "required": True,
                                    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern}}]
    return operation


@cache
def document() -> dict[str, Any]:
    _, schemas = models_json_schema([(m, "validation") for m in models()], ref_template="#/components/schemas/{model}")
    schemas["$defs"]["SubmissionRequest"]["properties"]["application"] = {"$ref": "#/components/schemas/Application"}
    paths: dict[str, Any] = {}
    for route in ROUTES:
        if route.documented:
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": wording.text("intake.api.title", title=campaign.ATTACHMENT_TITLE), "version": __version__,
                 "description": wording.text("intake.api.description", notice=campaign.NOTICE.number)},
        "paths": paths,
        "components": {"schemas": schemas["$defs"]},
    }


def document_text() -> str:
    return json.dumps(document(), ensure_ascii=False)
