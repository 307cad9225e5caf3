"""The 申报书 (application form) as pydantic models: the one description of every field.

The site's form, server validation, the JSON Schema / OpenAPI, the printable copy and the admin export columns
are all derived from these classes. Titles are what a person reads; `description` is the help text under a field;
`x-widget` tells the form which control to draw. The kinds of answer (text, codes, money, dates) and their
Field() helpers are in fieldtypes.py; every message is the wording catalogue's (see errors.py).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, model_validator

from bdpilot.domain import campaign, errors, formats, rules, wording

# Re-exported: the attachment kinds and limits are the 申报书's, kept apart so the upload step needs no models.
from bdpilot.domain.attachments import (
    ATTACHMENT_KINDS,
    MAX_ATTACHMENTS_PER_KIND,
    MAX_UPLOAD_BYTES,
    AttachmentKind,
)
from bdpilot.domain.fieldtypes import (
    ADDRESS,
    CONTROL,
    NAME,
    SHORT,
    SUMMARY,
    Count,
    Email,
    Landline,
    Mobile,
    Money,
    PastDate,
    Postcode,
    Section,
    Text,
    Uscc,
    code,
    long_text,
    money,
    refuse,
    text,
)


class UnitNature(StrEnum):
    STATE_OWNED = "国有企业"
    PRIVATE = "民营企业"
    FOREIGN = "外资企业"
    JOINT = "中外合资企业"
    INSTITUTION = "事业单位"
    RESEARCH = "科研院所"
    UNIVERSITY = "高等院校"
    ASSOCIATION = "社会团体"
    OTHER = "其他"


DIRECTION_VALUES = [d.number for d in campaign.DIRECTIONS]
RECOMMENDER_VALUES = [r.name for r in campaign.RECOMMENDERS] + [campaign.OTHER_RECOMMENDER]
RECOMMENDER_GROUP_VALUES = [*campaign.CENTRAL_ENTERPRISES, campaign.UNLISTED_RECOMMENDER]


def _direction(value: int) -> int:
    if value not in campaign.DIRECTIONS_BY_NUMBER:
        raise refuse("choice")
    return value


def _recommender(value: str) -> str:
    if value not in RECOMMENDER_VALUES:
        raise refuse("choice")
    return value


def _recommender_group(value: str) -> str:
    if value and value not in RECOMMENDER_GROUP_VALUES:
        raise refuse("choice")
    return value


def _unlisted_name(value: Any) -> Any:
    # Stored and counted in one spelling: "河\u200b北省" or "ＡＢＣ　公司" would otherwise be units of their own.
    return rules.clean_name(value) if isinstance(value, str) else value


def _not_listed(value: str) -> str:
    problem = rules.unlisted_name_problem(value) if value else None
    if problem:
        raise refuse(problem.code, **({"name": problem.listed.name} if problem.listed else {}))
    return value


class Cover(Section):
    model_config = ConfigDict(title="封面信息")

    project_name: Annotated[Text, text("项目名称", SHORT, "与申报书封面一致，不超过60字")]
    direction: Annotated[int, AfterValidator(_direction), Field(
        title="申报方向",
        description="每个项目限申报1个方向",
        json_schema_extra={"x-widget": "select", "enum": DIRECTION_VALUES,
                           "x-labels": [d.label for d in campaign.DIRECTIONS]},
    )]
    recommender: Annotated[Text, AfterValidator(_recommender), Field(
        title="推荐单位",
        description="所在省、自治区、直辖市、计划单列市、副省级省会城市或新疆生产建设兵团；"
                    f"由中央企业集团或其他有关单位推荐的，选择最后一项“{campaign.OTHER_RECOMMENDER}”",
        json_schema_extra={"x-widget": "select", "enum": RECOMMENDER_VALUES},
    )]
    recommender_group: Annotated[Text, AfterValidator(_recommender_group), Field(
        title="中央企业集团",
        description="推荐本项目的中央企业集团；不在列表中的有关单位，选择最后一项并填写单位名称",
        json_schema_extra={"x-widget": "select", "enum": RECOMMENDER_GROUP_VALUES,
                           "x-labels": [*campaign.CENTRAL_ENTERPRISES,
                                        wording.text("labels.unlisted_option",
                                                     name=campaign.UNLISTED_RECOMMENDER)],
                           "x-required-when": {"recommender": campaign.OTHER_RECOMMENDER}},
    )] = ""
    recommender_other: Annotated[str, BeforeValidator(_unlisted_name), AfterValidator(_not_listed), Field(
        title="其他有关单位名称",
        description=f"仅当上一项选择“{campaign.UNLISTED_RECOMMENDER}”时填写推荐单位的全称；"
                    "列表中已有的推荐单位请从列表中选择",
        max_length=NAME,
        json_schema_extra={"x-widget": "text",
                           "x-required-when": {"recommender_group": campaign.UNLISTED_RECOMMENDER}},
    )] = ""

    @model_validator(mode="after")
    def _named_once(self) -> Cover:
        # Each answer only where the one before it asks for it, so a unit is named exactly one way.
        central = self.recommender == campaign.OTHER_RECOMMENDER
        unlisted = central and self.recommender_group == campaign.UNLISTED_RECOMMENDER
        names = {"other": campaign.OTHER_RECOMMENDER, "unlisted": campaign.UNLISTED_RECOMMENDER}
        if central and not self.recommender_group:
            raise refuse("group_required", field="recommender_group", **names)
        if not central and self.recommender_group:
            raise refuse("forbidden_when", field="recommender_group")
        if unlisted and not self.recommender_other:
            raise refuse("other_required", field="recommender_other", **names)
        if not unlisted and self.recommender_other:
            raise refuse("forbidden_when", field="recommender_other")
        return self

    @property
    def recommender_name(self) -> str:
        """The 推荐单位 as admins count it against its quota: the region, the central enterprise, or the cleaned
        name of an unlisted unit."""
        if self.recommender != campaign.OTHER_RECOMMENDER:
            return self.recommender
        if self.recommender_group == campaign.UNLISTED_RECOMMENDER:
            return self.recommender_other
        return self.recommender_group


class Applicant(Section):
    model_config = ConfigDict(title="申报单位基本情况")

    name: Annotated[Text, text("单位名称", NAME, "与营业执照一致")]
    uscc: Annotated[Uscc, code("统一社会信用代码", formats.USCC_PATTERN, "uscc_format", "18位，见营业执照",
                               widget="uscc")]
    nature: Annotated[UnitNature, Field(title="单位性质", json_schema_extra={"x-widget": "select"})]
    founded: Annotated[PastDate, Field(title="成立时间", json_schema_extra={"x-widget": "date"})]
    registered_capital: Annotated[Money, money("注册资本（万元）")]
    registered_address: Annotated[Text, text("注册地址", ADDRESS)]
    mailing_address: Annotated[Text, text("通讯地址", ADDRESS)]
    postcode: Annotated[Postcode, code("邮政编码", formats.POSTCODE_PATTERN, "postcode", max_length=12)]
    legal_representative: Annotated[Text, text("法定代表人", 50)]
    employees: Annotated[Count, Field(title="职工人数", ge=1, le=10_000_000, json_schema_extra={"x-widget": "integer"})]
    rd_staff: Annotated[Count, Field(title="研发人员数", ge=0, le=10_000_000,
                                   description="不超过职工人数", json_schema_extra={"x-widget": "integer"})]
    revenue: Annotated[Money, money("上年度营业收入（万元）")]
    profit: Annotated[Money, money("上年度利润（万元）", "亏损填负数", ge=None)]
    rd_investment: Annotated[Money, money("上年度研发投入（万元）")]
    main_business: Annotated[Text, long_text("主营业务", "主要产品、服务及市场情况，不超过500字", SUMMARY)]

    @model_validator(mode="after")
    def _rd_within_staff(self) -> Applicant:
        if self.rd_staff > self.employees:
            raise refuse("rd_staff_exceeds", field="rd_staff")
        return self


class Contact(Section):
    model_config = ConfigDict(title="项目联系人")

    name: Annotated[Text, text("姓名", 50)]
    position: Annotated[Text, text("职务", 50)]
    mobile: Annotated[Mobile, code("手机", formats.MOBILE_PATTERN, "mobile", widget="tel", max_length=20)]
    phone: Annotated[Landline, code("固定电话", formats.LANDLINE_PATTERN, "landline", "含区号，如010-88692450",
                                    widget="tel")]
    email: Annotated[Email, code("电子邮箱", formats.EMAIL_PATTERN, "email", widget="email", max_length=254)]


class Project(Section):
    model_config = ConfigDict(title="项目基本情况")

    start_date: Annotated[date, Field(title="项目开始时间", json_schema_extra={"x-widget": "date"})]
    end_date: Annotated[date, Field(title="项目结束时间", json_schema_extra={"x-widget": "date"})]
    total_investment: Annotated[Money, money("项目总投资（万元）", ge=None, gt=0)]
    summary: Annotated[Text, long_text("项目简介", "项目目标、主要内容和预期成效，不超过500字", SUMMARY)]

    @model_validator(mode="after")
    def _ends_after_start(self) -> Project:
        if self.end_date <= self.start_date:
            raise refuse("end_before_start", field="end_date")
        return self


class Details(Section):
    model_config = ConfigDict(title="项目详细内容")

    background: Annotated[Text, long_text("需求与背景", "项目要解决的问题、行业现状和需求，不超过3000字")]
    solution: Annotated[Text, long_text("建设内容与技术方案", "总体架构、主要功能、关键技术路线，不超过3000字")]
    innovation: Annotated[Text, long_text("技术先进性与创新性", "与国内外同类技术的比较和创新点，不超过3000字")]
    patents: Annotated[Count, Field(title="发明专利数（项）", ge=0, le=100_000,
                                  json_schema_extra={"x-widget": "integer"})]
    software_copyrights: Annotated[Count, Field(title="软件著作权数（项）", ge=0, le=100_000,
                                              json_schema_extra={"x-widget": "integer"})]
    ip: Annotated[Text, long_text("自主知识产权情况", "与本项目相关的专利、软件著作权等，列明名称和编号，不超过3000字")]
    benefits: Annotated[Text, long_text("应用成效", "量化的经济效益和社会效益，不超过3000字")]
    demonstration: Annotated[Text, long_text("示范推广价值", "可复制、可推广的经验和推广计划，不超过3000字")]
    security: Annotated[Text, long_text("数据安全保障", "数据安全管理制度和技术保障措施，不超过3000字")]

    @model_validator(mode="after")
    def _owns_ip(self) -> Details:
        # The notice: 申报项目要求拥有自主知识产权.
        if self.patents + self.software_copyrights < 1:
            raise refuse("ip_required", field="software_copyrights")
        return self


def _filename(value: Any) -> Any:
    # Only a label for people: path parts and odd characters go, so it can never steer where a file is written.
    if isinstance(value, str):
        value = re.split(r"[\\/]", value)[-1]
        value = CONTROL.sub("", value).strip(" .")
    return value


class Attachment(Section):
    model_config = ConfigDict(title="附件")

    kind: Annotated[AttachmentKind, Field(title="附件类型")]
    upload_id: Annotated[str, Field(title="上传编号", pattern=r"^[0-9a-f]{32}$")]
    filename: Annotated[str, BeforeValidator(_filename), Field(title="文件名", min_length=1, max_length=120)]


def _attachments(items: list[Attachment]) -> list[Attachment]:
    kinds = [a.kind for a in items]
    for kind, (title, required) in ATTACHMENT_KINDS.items():
        if required and kind not in kinds:
            raise refuse("attachment_missing", kind=title)
        if kinds.count(kind) > MAX_ATTACHMENTS_PER_KIND:
            raise refuse("attachment_too_many", kind=title)
    if len({a.upload_id for a in items}) != len(items):
        raise refuse("attachment_repeated")
    return items


class Application(Section):
    """2020年大数据产业发展试点示范项目申报书."""

    model_config = ConfigDict(title="2020年大数据产业发展试点示范项目申报书")

    cover: Annotated[Cover, Field(title="封面信息")]
    applicant: Annotated[Applicant, Field(title="申报单位基本情况")]
    contact: Annotated[Contact, Field(title="项目联系人")]
    project: Annotated[Project, Field(title="项目基本情况")]
    details: Annotated[Details, Field(title="项目详细内容")]
    attachments: Annotated[list[Attachment], AfterValidator(_attachments), Field(
        title="附件材料",
        description=f"PDF格式，每个文件不超过{formats.size_text(MAX_UPLOAD_BYTES)}；营业执照和知识产权证明必须上传",
        max_length=len(ATTACHMENT_KINDS) * MAX_ATTACHMENTS_PER_KIND,
        json_schema_extra={"x-widget": "attachments",
                           "x-kinds": [{"kind": k.value, "title": t, "required": r}
                                       for k, (t, r) in ATTACHMENT_KINDS.items()]},
    )]
    pledge: Annotated[bool, Field(
        title="申报单位承诺",
        description="本单位承诺所填报的申报信息及附件材料真实、准确、完整，纸质版材料与网上填报内容一致，"
                    "并对其真实性负责。",
        json_schema_extra={"x-widget": "pledge"},
    )]

    @model_validator(mode="after")
    def _pledged(self) -> Application:
        if not self.pledge:
            raise refuse("missing.pledge", field="pledge")
        return self


@cache
def form_schema() -> dict[str, Any]:
    """The JSON Schema of the 申报书, as the site's form and `/api/schema` publish it. Built once per process
    (≈ 3 ms, which every stored submission's printable copy used to pay): shared, so callers only read it."""
    schema = Application.model_json_schema()
    # The browser words a failing field as the server does; the standing figures are filled in already.
    schema["x-messages"] = {key: template for name in errors.SECTIONS
                            for key, template in wording.published(name).items()}
    return schema
