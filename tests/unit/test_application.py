"""Every field rule of the 申报书, with valid and invalid examples, and every cross-field rule."""

import ast
import string
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bdpilot.domain import application as application_module
from bdpilot.domain import campaign, fieldtypes, rules, wording
from bdpilot.domain.application import MAX_ATTACHMENTS_PER_KIND, Application, form_schema
from bdpilot.domain.errors import TEMPLATES, field_errors
from tests.factories import application

UPLOAD = "0" * 31 + "1"
FILES = [{"kind": "license", "upload_id": UPLOAD, "filename": "执照.pdf"},
         {"kind": "ip", "upload_id": "a" * 32, "filename": "专利.pdf"}]


def full(**sections):
    return application(**{"attachments": FILES, **sections})


def errors_of(data) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Application.model_validate(data)
    return {e.path: e.message for e in field_errors(Application, caught.value)}


def test_valid_application_normalizes():
    app = Application.model_validate(full(applicant={"uscc": " ９１３５０１００m000100y43 ", "revenue": 12.5,
                                                     "postcode": "０６３０００"},
                                          contact={"mobile": "138 0013 8000", "email": "Contact@Example.COM"}))
    assert app.applicant.uscc == "91350100M000100Y43"
    assert str(app.applicant.revenue) == "12.50"
    assert app.applicant.postcode == "063000"
    assert app.contact.mobile == "13800138000"
    assert app.contact.email == "contact@example.com"
    dumped = app.model_dump(mode="json")
    assert dumped["applicant"]["revenue"] == "12.50" and dumped["cover"]["direction"] == 3


@pytest.mark.parametrize("section,field,value,expected", [
    ("cover", "project_name", "", "请填写项目名称"),
    ("cover", "project_name", "项" * 61, "项目名称不能超过60个字（现为61个字）"),
    ("cover", "direction", 8, "请从列表中选择申报方向"),
    ("cover", "direction", [1, 2], "申报方向应为整数"),
    ("cover", "recommender", "火星省", "请从列表中选择推荐单位"),
    ("applicant", "uscc", "91350100M000100Y44", "统一社会信用代码校验位不正确，请核对营业执照上的代码"),
    ("applicant", "uscc", "1234", "统一社会信用代码应为18位数字或大写字母（不含I、O、S、V、Z），如91350100M000100Y43"),
    ("applicant", "nature", "个体户", "请从列表中选择单位性质"),
    ("applicant", "founded", "2019-02-30", "成立时间应为有效日期，如2020-01-31"),
    ("applicant", "founded", "", "请填写成立时间"),
    ("applicant", "registered_capital", "1.234", "注册资本（万元）最多保留两位小数"),
    ("applicant", "registered_capital", "-1", "注册资本（万元）不能小于0"),
    ("applicant", "registered_capital", "一百", "注册资本（万元）应为数字"),
    ("applicant", "postcode", "10004", "邮政编码应为6位数字"),
    ("applicant", "employees", 0, "职工人数不能小于1"),
    ("applicant", "employees", "十", "职工人数应为整数"),
    ("applicant", "main_business", "字" * 501, "主营业务不能超过500个字（现为501个字）"),
    ("contact", "mobile", "12800138000", "请输入11位手机号码，如13800138000"),
    ("contact", "phone", "88692450", "请输入带区号的固定电话，如010-88692450，分机号用“-”连接"),
    ("contact", "email", "name@", "请输入有效的电子邮箱地址，如name@example.com"),
    ("project", "total_investment", "0", "项目总投资（万元）应大于0"),
    ("project", "summary", "字" * 501, "项目简介不能超过500个字（现为501个字）"),
    ("details", "background", "字" * 3001, "需求与背景不能超过3000个字（现为3001个字）"),
    ("details", "solution", "含\x00控制字符", "建设内容与技术方案含有不可见的控制字符，请删除后重试"),
])
def test_field_rules(section, field, value, expected):
    assert errors_of(full(**{section: {field: value}})) == {f"{section}.{field}": expected}


@pytest.mark.parametrize("section,field,value", [
    ("contact", "phone", "010-88692450"), ("contact", "phone", "0755-12345678-123"),
    ("contact", "phone", "021 6666 8888"),
    ("contact", "mobile", "19912345678"), ("applicant", "profit", "-99.5"), ("details", "background", "字" * 3000),
    ("cover", "project_name", "项" * 60), ("applicant", "founded", date.today().isoformat()),
])
def test_boundary_values_are_accepted(section, field, value):
    Application.model_validate(full(**{section: {field: value}}))


def test_all_failing_fields_are_reported_at_once():
    errors = errors_of(full(cover={"project_name": ""}, applicant={"uscc": "x"}, contact={"email": "bad"},
                            details={"security": ""}))
    assert set(errors) == {"cover.project_name", "applicant.uscc", "contact.email", "details.security"}


@pytest.mark.parametrize("sections,path,message", [
    ({"project": {"start_date": "2020-01-01", "end_date": "2020-01-01"}}, "project.end_date",
     "项目结束时间应晚于开始时间"),
    ({"applicant": {"employees": 10, "rd_staff": 11}}, "applicant.rd_staff", "研发人员数不能超过职工人数"),
    ({"applicant": {"founded": (date.today() + timedelta(days=2)).isoformat()}}, "applicant.founded",
     "成立时间不能晚于今天"),
    ({"details": {"patents": 0, "software_copyrights": 0}}, "details.software_copyrights",
     "申报项目应拥有自主知识产权：发明专利数和软件著作权数至少有一项大于0"),
    ({"cover": {"recommender": campaign.OTHER_RECOMMENDER}}, "cover.recommender_group",
     "选择“中央企业集团或其他有关单位”时请选择中央企业集团；不在列表中的有关单位选择“其他有关单位”"),
    ({"cover": {"recommender": campaign.OTHER_RECOMMENDER, "recommender_group": campaign.UNLISTED_RECOMMENDER}},
     "cover.recommender_other", "选择“其他有关单位”时请填写推荐单位名称"),
    ({"cover": {"recommender_other": "某集团"}}, "cover.recommender_other", "推荐单位已从列表中选择，此项应留空"),
    ({"cover": {"recommender_group": "中国电子科技集团有限公司"}}, "cover.recommender_group",
     "推荐单位已从列表中选择，此项应留空"),
    ({"cover": {"recommender": campaign.OTHER_RECOMMENDER, "recommender_group": "中国电子科技集团有限公司",
                "recommender_other": "某集团"}}, "cover.recommender_other", "推荐单位已从列表中选择，此项应留空"),
    ({"pledge": False}, "pledge", "请阅读并勾选申报单位承诺"),
])
def test_cross_field_rules(sections, path, message):
    data = full()
    for section, value in sections.items():
        data[section] = {**data[section], **value} if isinstance(value, dict) else value
    assert errors_of(data) == {path: message}


def test_other_recommender_by_name():
    app = Application.model_validate(full(cover={"recommender": campaign.OTHER_RECOMMENDER,
                                                 "recommender_group": campaign.UNLISTED_RECOMMENDER,
                                                 "recommender_other": "中国示例集团有限公司"}))
    assert app.cover.recommender_name == "中国示例集团有限公司"
    assert campaign.quota_for(app.cover.recommender_name) == 3


@pytest.mark.parametrize("files,message", [
    ([FILES[1]], "请上传营业执照（或法人证书）（PDF格式）"),
    ([FILES[0]], "请上传知识产权证明（PDF格式）"),
    ([FILES[0], FILES[1], {**FILES[1], "kind": "other"}], "同一个文件不能重复添加"),
])
def test_attachment_rules(files, message):
    assert errors_of(full(attachments=files)) == {"attachments": message}


def test_attachment_names_are_labels_only():
    app = Application.model_validate(full(attachments=[{**FILES[0], "filename": "../../etc/passwd.pdf"}, FILES[1]]))
    assert app.attachments[0].filename == "passwd.pdf"
    assert errors_of(full(attachments=[{**FILES[0], "upload_id": "../x"}, FILES[1]])) == {
        "attachments.0.upload_id": "上传编号格式不正确"}


def test_unknown_fields_are_refused():
    assert errors_of(full(cover={"extra": 1})) == {"cover.extra": "表单中没有“extra”这一项，请勿提交表单以外的内容"}


def test_schema_carries_titles_help_widgets_and_messages():
    schema = form_schema()
    cover = schema["$defs"]["Cover"]
    assert cover["properties"]["direction"]["enum"] == [d.number for d in campaign.DIRECTIONS]
    assert cover["properties"]["direction"]["x-labels"][0].startswith("方向1")
    assert len(cover["properties"]["recommender"]["enum"]) == len(campaign.RECOMMENDERS) + 1
    assert len(cover["properties"]["recommender_group"]["enum"]) == len(campaign.CENTRAL_ENTERPRISES) + 1
    uscc = schema["$defs"]["Applicant"]["properties"]["uscc"]
    assert uscc["title"] == "统一社会信用代码" and uscc["x-messages"]["pattern"].startswith("统一社会信用代码")
    assert schema["$defs"]["Project"]["properties"]["summary"]["maxLength"] == 500
    assert schema["$defs"]["Details"]["properties"]["background"]["x-widget"] == "textarea"
    assert schema["x-messages"]["missing"] == "请填写{title}"
    assert set(schema["required"]) >= {"cover", "applicant", "contact", "project", "details", "attachments", "pledge"}


def test_too_many_files_of_one_kind_names_the_standing_limit():
    many = [{**FILES[0], "upload_id": f"{i:032x}"} for i in range(MAX_ATTACHMENTS_PER_KIND + 1)]
    assert errors_of(full(attachments=[*many, FILES[1]])) == {
        "attachments": f"营业执照（或法人证书）最多上传{MAX_ATTACHMENTS_PER_KIND}个文件"}


def _raised_kinds() -> set[str]:
    """Every error kind the models and the rules raise, read from their source."""
    kinds = set()
    for module in (application_module, fieldtypes, rules):
        for node in ast.walk(ast.parse(Path(module.__file__).read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("refuse", "NameProblem") and isinstance(node.args[0], ast.Constant)):
                kinds.add(node.args[0].value)
    return kinds


def test_every_kind_the_models_raise_is_worded_in_the_catalogue():
    kinds = _raised_kinds()
    assert {"control_chars", "group_required", "recommender_listed_central", "missing.pledge"} <= kinds
    assert kinds <= TEMPLATES.keys(), sorted(kinds - TEMPLATES.keys())


def test_the_browser_gets_every_template_with_the_standing_figures_filled_in():
    published = form_schema()["x-messages"]
    assert published.keys() == TEMPLATES.keys()
    assert published["attachment_too_many"] == f"{{kind}}最多上传{MAX_ATTACHMENTS_PER_KIND}个文件"
    figures = wording.figures().keys()
    for key, template in published.items():
        # What the browser fills in itself (the title, limits from the schema) is left; the figures are not.
        assert _placeholders(template) == _placeholders(TEMPLATES[key]) - figures, key


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
