"""The OpenAPI document of the public API, generated from the same pydantic models that validate requests."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from bdpilot import __version__
from bdpilot.domain import campaign
from bdpilot.domain.application import Application
from bdpilot.domain.reference import PATTERN as REFERENCE


class Window(BaseModel):
    open: bool
    deadline: str = Field(description="截止时间（ISO 8601，北京时间）")
    server_time: str


class DirectionInfo(BaseModel):
    number: int
    category: str
    name: str
    label: str


class CampaignState(BaseModel):
    window: Window
    form_token: str = Field(description="防机器人令牌：提交申报书和申请上传时带回")
    min_fill_seconds: int
    max_upload_bytes: int
    directions: list[DirectionInfo]


class UploadRequest(BaseModel):
    form_token: str
    filename: str = Field(max_length=255, pattern=r"(?i)\.pdf$")
    size: int = Field(ge=1, le=20 * 1024 * 1024)
    content_type: str = Field(default="application/pdf", pattern="^application/pdf$")


class UploadTicket(BaseModel):
    upload_id: str
    url: str = Field(description="浏览器以 multipart/form-data POST 到此地址")
    fields: dict[str, str] = Field(description="随文件一并提交的表单字段，file 字段放在最后")
    max_bytes: int
    expires_in: int


class SubmissionRequest(BaseModel):
    model_config = ConfigDict(title="SubmissionRequest")

    application: Application
    form_token: str
    # No maxLength: a filled honeypot is a valid request that gets a convincing (fake) 201.
    website: str = Field(description="防机器人字段：必须存在且为空，填写了内容的请求不会被保存")


class Receipt(BaseModel):
    reference: str = Field(pattern=REFERENCE.pattern)
    digest: str = Field(pattern="^[0-9a-f]{64}$", description="record 规范化JSON的SHA-256，纸质版打印此值")
    received_at: str
    record: dict[str, Any]


class FieldProblem(BaseModel):
    path: str
    message: str


class Problem(BaseModel):
    code: str
    message: str
    fields: list[FieldProblem] | None = None


class ErrorBody(BaseModel):
    error: Problem


def _response(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    if headers:
        out["headers"] = headers
    return out


def _errors(*codes: int) -> dict[str, Any]:
    retry = {"Retry-After": {"schema": {"type": "integer"}}}
    text = {400: "请求格式错误", 403: "申报已截止或令牌无效", 405: "方法不允许", 409: "该申报主体已提交",
            413: "内容过大", 415: "内容类型错误", 422: "字段校验失败（每个字段一条）", 429: "提交过快",
            503: "存储暂不可用，稍后重试"}
    return {str(c): _response(text[c], "ErrorBody", retry if c in (429, 503) else None) for c in codes}


@cache
def document() -> dict[str, Any]:
    models = [CampaignState, UploadRequest, UploadTicket, SubmissionRequest, Receipt, ErrorBody]
    _, schemas = models_json_schema([(m, "validation") for m in models],
                                    ref_template="#/components/schemas/{model}")
    body = {"required": True, "content": {"application/json": {"schema": {}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{campaign.ATTACHMENT_TITLE} 接口", "version": __version__,
                 "description": f"{campaign.NOTICE.number} 在线申报的公共接口"},
        "paths": {
            "/api/campaign": {"get": {"operationId": "getCampaign", "summary": "申报窗口状态和防机器人令牌",
                                      "responses": {"200": _response("当前状态", "CampaignState")}}},
            "/api/schema": {"get": {"operationId": "getSchema", "summary": "申报书的JSON Schema",
                                    "responses": {"200": {"description": "JSON Schema",
                                                          "content": {"application/json": {"schema": {
                                                              "type": "object"}}}}}}},
            "/api/uploads": {"post": {
                "operationId": "createUpload", "summary": "申请上传一个PDF附件",
                "requestBody": {**body, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/UploadRequest"}}}},
                "description": "请求体带 upload_id（而非 filename、size）时，检查该上传是否为可用的PDF：200 可用，"
                               "422 不可用（error.message 为原因）。",
                "responses": {"201": _response("预签名上传表单", "UploadTicket"),
                              "200": {"description": "带 upload_id 时：该上传是可用的PDF", "content": {
                                  "application/json": {"schema": {"type": "object"}}}},
                              **_errors(400, 403, 405, 413, 415, 422, 503)}}},
            "/api/submissions": {"post": {
                "operationId": "createSubmission", "summary": "提交申报书",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,128}$"}}],
                "requestBody": {**body, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SubmissionRequest"}}}},
                "responses": {"201": _response("已受理：编号、摘要和规范化记录", "Receipt"),
                              **_errors(400, 403, 405, 409, 413, 415, 422, 429, 503)}}},
        },
        "components": {"schemas": schemas["$defs"]},
    }


def document_text() -> str:
    return json.dumps(document(), ensure_ascii=False)
