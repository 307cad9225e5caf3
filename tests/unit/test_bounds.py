"""The cost ceiling (bdpilot.domain.bounds) and the client-input parsers around it: limits come from the models, the
walk's work is bounded by the model whatever it is given, and what passes it can be hashed and validated cheaply."""

from __future__ import annotations

import json
from datetime import datetime
from typing import get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bdpilot.domain import bounds, errors, tokens
from bdpilot.domain.application import Application
from bdpilot.domain.campaign import TZ
from bdpilot.intake.refusals import Invalid, Unreadable
from bdpilot.intake.submission import canonical
from bdpilot.web import api, formdata, limits
from bdpilot.web.schemawalk import flatten
from tests.factories import application, attachments

APP = bounds.shape_of(Application)
SURROGATE = "\ud800"


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for info in model.model_fields.values():
        inner = get_args(info.annotation) if get_origin(info.annotation) is list else (info.annotation,)
        for m in inner:
            if isinstance(m, type) and issubclass(m, BaseModel):
                found += _models(m)
    return found


def _shapes(shape: bounds.Shape) -> list[bounds.Shape]:
    if isinstance(shape, bounds.Seq):
        return [shape, *_shapes(shape.item)]
    if isinstance(shape, bounds.Obj):
        return [shape, *(s for child in shape.fields.values() for s in _shapes(child))]
    return [shape]


def test_shapes_follow_the_models():
    objects = [s for s in _shapes(APP) if isinstance(s, bounds.Obj)]
    assert [sorted(o.fields) for o in objects] == [sorted(m.model_fields) for m in _models(Application)]
    assert all(o.closed for o in objects)  # every section refuses unknown keys, so the walk does too
    attachments_limit = next(m.max_length for m in Application.model_fields["attachments"].metadata
                             if hasattr(m, "max_length"))
    assert APP.fields["attachments"] == bounds.Seq("附件材料", APP.fields["attachments"].item, attachments_limit)
    title = APP.fields["cover"].fields["project_name"]
    assert title == bounds.Leaf("项目名称", "string_type", 2 * 60, 60)


def test_a_list_without_a_limit_has_no_shape():
    class Unbounded(BaseModel):
        items: list[int]

    with pytest.raises(TypeError, match="max_length"):
        bounds.shape_of(Unbounded)


def test_a_valid_application_is_within_bounds():
    value = application(attachments=attachments("a" * 32, "b" * 32))
    outcome = bounds.walk(value, APP, "application")
    assert outcome.problems == [] and outcome.visited <= bounds.max_nodes(APP)


def test_the_worst_a_client_can_send_costs_the_models_nodes_not_its_own():
    junk = {f"x{i}": i for i in range(bounds.EXTRA_KEYS)}
    item = {"kind": "ip", "upload_id": "0" * 32, "filename": "a.pdf", **junk}
    value = {name: ({**{k: "x" for k in APP.fields[name].fields}, **junk}  # type: ignore[union-attr]
                    if isinstance(APP.fields[name], bounds.Obj) else None) for name in APP.fields}
    value["attachments"] = [item] * APP.fields["attachments"].max_items  # type: ignore[union-attr]
    value.update(junk)
    outcome = bounds.walk(value, APP)
    assert outcome.problems == []
    assert outcome.visited == bounds.max_nodes(APP)  # the ceiling is exact: every allowance used
    # 60,000 attachments: the list is refused unvisited, so the walk does less than for the 20 it allows.
    big = bounds.walk(dict(value, attachments=[item] * 60_000), APP)
    assert big.visited == outcome.visited - 20 * bounds.max_nodes(APP.fields["attachments"].item)  # type: ignore
    assert [p.message for p in big.problems] == ["附件材料最多20项"]


def test_problems_name_the_field_in_chinese():
    value = application(attachments=[{}] * 21)
    value["cover"]["project_name"] = {"a": {"a": "x"}}
    value["applicant"]["employees"] = "9" * 101
    value["contact"]["name"] = "甲" + SURROGATE
    value["project"] = []
    value["details"].update({f"k{i}": 1 for i in range(9)})
    value["pledge"] = ["on"]
    problems = {p.path: p.message for p in bounds.check(value, APP, "application")}
    assert problems == {
        "application.cover.project_name": "项目名称应为文字",
        "application.applicant.employees": "职工人数应为整数",
        "application.contact.name": "姓名含有无法识别的字符，请删除后重新输入",
        "application.project": "项目基本情况应为一组字段",
        "application.details": "项目详细内容含有9项表单以外的内容，请勿提交表单以外的内容",
        "application.attachments": "附件材料最多20项",
        "application.pledge": "申报单位承诺应为是或否",
    }


def test_a_lone_surrogate_is_found_where_a_section_belongs_too():
    value = dict(application(), cover=SURROGATE, attachments=[SURROGATE])
    assert [(p.path, p.message) for p in bounds.check(value, APP)] == [
        ("cover", "封面信息含有无法识别的字符，请删除后重新输入"),
        ("attachments.0", "附件材料含有无法识别的字符，请删除后重新输入")]


def test_long_text_is_refused_only_past_twice_its_limit():
    within = application()
    within["details"]["background"] = "\r\n" * 3000  # CRLF line breaks: 3,000 to pydantic, 6,000 to the walk
    assert bounds.check(within, APP) == []
    beyond = application()
    beyond["details"]["background"] = "长" * 6001
    assert [p.message for p in bounds.check(beyond, APP)] == ["需求与背景不能超过3000个字（现为6001个字）"]


def test_unknown_keys_reach_pydantic_only_as_harmless_scalars():
    value = application()
    value["cover"].update({"plain": 1, "nested": {"a": 1}, "k" * 65: 1, SURROGATE: 1, "text": SURROGATE})
    assert {p.path for p in bounds.check(value, APP)} == {"cover.nested", "cover." + "k" * 40 + "…", "cover.?",
                                                          "cover.text"}


def test_the_request_envelope_leaves_its_plain_values_to_the_route():
    body = limits.body_for("/api/submissions")
    assert body is not None and not body.shape.closed
    assert bounds.check({"form_token": ["x"], "website": {"a": SURROGATE}, "other": [SURROGATE]}, body.shape) == []
    refused = limits.refused("/api/submissions", {f"k{i}": 1 for i in range(9)})
    assert refused is not None and refused[1][0].message == "提交的内容含有9项表单以外的内容，请勿提交表单以外的内容"
    assert limits.refused("/api/submissions", [SURROGATE]) is None  # not an object: the route answers 400


json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                        st.text(st.characters(categories=["Cs", "Lu", "Lo", "Nd", "Zs", "Cc"]), max_size=8))
json_keys = st.one_of(st.sampled_from(["cover", "applicant", "attachments", "project_name", "kind", "pledge",
                                       "details", "employees"]),
                      st.text(st.characters(categories=["Cs", "Lu", "Nd"]), max_size=6))
json_values = st.recursive(json_leaves, lambda inner: st.one_of(st.lists(inner, max_size=30),
                                                                st.dictionaries(json_keys, inner, max_size=12)),
                           max_leaves=300)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_whatever_passes_the_walk_can_be_hashed_and_validated_within_the_models_cost(value):
    outcome = bounds.walk(value, APP)
    assert outcome.visited <= bounds.max_nodes(APP)
    if outcome.problems or not isinstance(value, dict):
        return
    canonical(value)  # no lone surrogate, nothing deeper than the model
    try:
        Application.model_validate(value)
    except ValidationError as exc:
        assert exc.error_count() <= bounds.max_nodes(APP)


def test_at_most_max_listed_errors_and_how_many_more():
    problems = [errors.FieldError(f"f{i}", "x") for i in range(45)]
    summary, shown = errors.listed("请修改", problems)
    assert summary == "请修改（另有15处问题未列出）" and shown == problems[:errors.MAX_LISTED]
    assert errors.listed("请修改", problems[:30]) == ("请修改", problems[:30])


NOW = datetime(2019, 11, 20, 9, 0, tzinfo=TZ)


@given(st.text(st.characters(categories=["Cs", "Ll", "Nd", "Po", "Lo"]), max_size=80))
def test_any_string_is_a_token_problem_never_an_exception(text):
    problem = tokens.check(b"secret", text, NOW, min_seconds=0, max_seconds=3600)
    assert problem is not None and problem.code == "invalid"


@pytest.mark.parametrize("token", ["1.2.é", f"1.2.{SURROGATE}", "1" * 5000 + "." + "a" * 16 + "." + "0" * 32,
                                   "１２.aaaaaaaaaaaaaaaa." + "0" * 32])
def test_tokens_that_crashed_or_could_are_invalid(token):
    assert tokens.check(b"secret", token, NOW, min_seconds=0, max_seconds=3600) == tokens.TokenProblem("invalid")


def test_form_names_are_no_deeper_than_the_form():
    names = flatten(application(attachments=attachments("a" * 32, "b" * 32)))
    deepest = max(len(n.split(".")) for n in names)
    assert deepest == 1 + bounds.depth(APP) == 4  # application.attachments.0.kind
    formdata.nest([(n, "1") for n in names])
    with pytest.raises(Unreadable) as caught:
        formdata.nest([("application.cover.project_name.a", "1"), ("application." + "a." * 5000 + "a", "1")])
    assert api.status_of(caught.value) == 400


def test_only_ascii_digits_make_a_list():
    assert formdata.nest([("application.attachments.².kind", "ip")]) == {"attachments": {"²": {"kind": "ip"}}}
    assert formdata.nest([("application.attachments." + "9" * 5000 + ".kind", "ip")])["attachments"] == {
        "9" * 5000: {"kind": "ip"}}
    assert formdata.nest([("application.attachments.1.kind", "ip"), ("application.attachments.0.kind", "license")]
                         ) == {"attachments": [{"kind": "license"}, {"kind": "ip"}]}


def test_a_parsed_form_goes_through_the_same_ceiling():
    body = "&".join(f"application.cover.k{i}=1" for i in range(9)).encode()
    with pytest.raises(Invalid) as caught:
        formdata.parse(body, "k" * 20)
    assert api.status_of(caught.value) == 422 and caught.value.fields[0].path == "application.cover"


def test_answers_never_quote_a_huge_key():
    with pytest.raises(ValidationError) as caught:
        Application.model_validate(dict(application(), **{"k" * 10_000: 1}))
    messages = [e.message for e in errors.field_errors(Application, caught.value)]
    assert max(len(m) for m in messages) < 100
    assert json.dumps(messages, ensure_ascii=False).count("k") < 100


def test_no_text_of_the_models_is_longer_than_the_bound_for_unlimited_text() -> None:
    # bounds gives text without a max_length of its own (the form token) fieldtypes.LONG: the models' longest.
    from typing import get_args, get_origin

    from pydantic import BaseModel

    from bdpilot.domain.application import Application
    from bdpilot.domain.bounds import _longest_text
    from bdpilot.domain.fieldtypes import LONG

    longest, models = 0, [Application]
    while models:
        for info in models.pop().model_fields.values():
            longest = max([longest, *(m.max_length for m in info.metadata if hasattr(m, "max_length"))])
            inner = get_args(info.annotation) if get_origin(info.annotation) is list else (info.annotation,)
            models += [m for m in inner if isinstance(m, type) and issubclass(m, BaseModel)]
    assert longest == LONG == _longest_text()
