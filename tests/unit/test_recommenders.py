"""推荐单位: chosen from the lists (regions, central enterprises), or named in free text only when on neither list;
a free-text name is cleaned and may not pose as a listed unit, so every unit is counted once against its quota."""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from bdpilot.domain import campaign, rules
from bdpilot.domain.application import Application, form_schema
from bdpilot.domain.errors import field_errors
from bdpilot.ops.admin import command, exits, listing
from tests.factories import application

FILES = [{"kind": "license", "upload_id": "0" * 31 + "1", "filename": "执照.pdf"},
         {"kind": "ip", "upload_id": "a" * 32, "filename": "专利.pdf"}]
CETC = "中国电子科技集团有限公司"


def unlisted(name: str) -> dict[str, Any]:
    return application(attachments=FILES, cover={"recommender": campaign.OTHER_RECOMMENDER,
                                                 "recommender_group": campaign.UNLISTED_RECOMMENDER,
                                                 "recommender_other": name})


def central(name: str) -> dict[str, Any]:
    return application(attachments=FILES, cover={"recommender": campaign.OTHER_RECOMMENDER,
                                                 "recommender_group": name})


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Application.model_validate(data)
    return {e.path: e.message for e in field_errors(Application, caught.value)}


# --- the lists ----------------------------------------------------------------------------------------------------

def test_central_enterprises_are_listed_once_by_full_name_with_the_central_quota():
    names = campaign.CENTRAL_ENTERPRISES
    assert 95 <= len(names) <= 98 and len(set(names)) == len(names)
    assert {CETC, "中国航天科技集团有限公司", "国家电网有限公司", "中国船舶集团有限公司"} <= set(names)
    # The predecessors of 中国船舶集团 are not units of their own any more.
    assert not {"中国船舶工业集团有限公司", "中国船舶重工集团有限公司"} & set(names)
    assert all(n.endswith(("公司", "总局")) for n in names)
    assert all(campaign.recommender_kind(n) is campaign.RecommenderKind.CENTRAL for n in names)
    assert {campaign.quota_for(n) for n in names} == {3}
    assert not set(names) & {r.name for r in campaign.RECOMMENDERS}


def test_no_two_listed_units_share_a_key():
    """Otherwise one of them could never be told apart from a look-alike of the other."""
    keys = Counter(rules.name_key(r.name) for r in campaign.LISTED_RECOMMENDERS)
    assert [k for k, n in keys.items() if n > 1] == []


def test_the_schema_offers_the_central_list_only_behind_the_other_choice():
    cover = form_schema()["$defs"]["Cover"]["properties"]
    group = cover["recommender_group"]
    assert group["enum"] == [*campaign.CENTRAL_ENTERPRISES, campaign.UNLISTED_RECOMMENDER]
    assert group["x-required-when"] == {"recommender": campaign.OTHER_RECOMMENDER}
    assert cover["recommender_other"]["x-required-when"] == {"recommender_group": campaign.UNLISTED_RECOMMENDER}
    assert not set(campaign.CENTRAL_ENTERPRISES) & set(cover["recommender"]["enum"])


# --- one enterprise is one unit -----------------------------------------------------------------------------------

def test_a_central_enterprise_is_chosen_and_counted_by_its_listed_name():
    app = Application.model_validate(central(CETC))
    assert app.cover.recommender_name == CETC
    assert errors_of(central("中国电子科技集团")) == {"cover.recommender_group": "请从列表中选择中央企业集团"}


@pytest.mark.parametrize("typed", ["中国电子科技集团", "中国电子科技集团有限公司", "中国电子科技集团公司",
                                   "中国电子科技（集团）有限公司", "中国电子科技集团有限公司\u200b", "电子科技集团"])
def test_a_listed_enterprise_typed_as_free_text_is_refused(typed):
    assert errors_of(unlisted(typed)) == {
        "cover.recommender_other": f"“{CETC}”在中央企业集团列表中：请在“中央企业集团”中直接选择该单位，"
                                   "此处只填写列表以外的单位"}


# --- a region cannot be typed in ----------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "河北省", "河\u200b北省", "\u202e河北省", "河北省\ufeff", "河\u2066北\u2069省", "河 北　省", "河北", "河北 省",
    "河北省工业和信息化厅", "河北工信厅", "河北省人民政府", "（河北省）",
])
def test_a_listed_region_typed_as_free_text_is_refused(typed):
    assert errors_of(unlisted(typed)) == {
        "cover.recommender_other": "“河北省”在推荐单位列表中：请在“推荐单位”中直接选择“河北省”，"
                                   "此处只填写列表以外的单位"}


@pytest.mark.parametrize("typed,listed", [
    ("深圳市大数据中心", "深圳市"), ("新疆生产建设兵团第八师", "新疆生产建设兵团"), ("广西", "广西壮族自治区"),
    ("上海", "上海市"),
])
def test_other_regions_and_cities_are_refused_too(typed, listed):
    problem = rules.unlisted_name_problem(rules.clean_name(typed))
    assert problem is not None and problem.listed is not None and problem.listed.name == listed


@pytest.mark.parametrize("typed", ["中央企业", "其他有关单位", "中央企业集团或其他有关单位", "其他", "无"])
def test_a_category_is_not_a_unit(typed):
    assert errors_of(unlisted(typed)) == {"cover.recommender_other": "请填写推荐单位的全称，而不是单位类别"}


# --- what may be typed, and how it is kept ------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["中国电子信息产业发展研究院", "中国信息通信研究院", "北京航空航天大学",
                                   "中国电子学会", "中国建筑学会", "中国示例电子信息集团有限公司"])
def test_units_on_no_list_may_be_named(typed):
    app = Application.model_validate(unlisted(typed))
    assert app.cover.recommender_name == typed
    assert campaign.recommender_kind(typed) is campaign.RecommenderKind.OTHER


def test_a_typed_name_is_kept_in_one_spelling():
    spellings = ["中国示例数据\u200b协会", " 中国示例数据协会 ", "中国示例\u202e数据协会", "中国 示例 数据协会",
                 "中国示例数据协会\ufeff", "中国示例\u00ad数据协会", "中国示例\t数据\n协会"]
    names = {Application.model_validate(unlisted(s)).cover.recommender_name for s in spellings}
    assert names == {"中国示例数据协会"}
    # NFKC: full-width letters and spaces become plain ones; a space stays only beside a Latin word.
    app = Application.model_validate(unlisted("ＣＣＩＡ　Ｄａｔａ　　联盟"))
    assert app.cover.recommender_name == "CCIA Data 联盟"
    assert app.model_dump()["cover"]["recommender_other"] == "CCIA Data 联盟"


# --- the quota report ---------------------------------------------------------------------------------------------

def counted(*covers: dict[str, Any]) -> dict[str, int]:
    return dict(Counter(Application.model_validate(c).cover.recommender_name for c in covers))


def test_the_report_counts_one_enterprise_once_and_shows_unlisted_units_apart():
    counts = counted(central(CETC), central(CETC), central(CETC), central(CETC),
                     unlisted("中国示例数据协会"), unlisted("中国示例\u200b数据 协会"),
                     application(attachments=FILES, cover={"recommender": "河北省"}))
    assert counts == {CETC: 4, "中国示例数据协会": 2, "河北省": 1}
    uses = rules.quota_use(counts)
    assert [(u.recommender, u.kind, u.listed, u.over) for u in uses] == [
        (CETC, campaign.RecommenderKind.CENTRAL, True, True),
        ("河北省", campaign.RecommenderKind.PROVINCE, True, False),
        # fuller than 河北省 (2 of 3), yet after every listed unit: nobody has verified it
        ("中国示例数据协会", campaign.RecommenderKind.OTHER, False, False),
    ]


def test_admin_stats_prints_unlisted_units_in_a_table_of_their_own():
    items = [{"direction": "3", "recommender": CETC}] * 4 + [{"direction": "6", "recommender": "中国示例数据协会"}] * 2
    # No unit has reviewed anything: the units table answers every unit's state item as absent.
    units = SimpleNamespace(batch_get_item=lambda **kw: {"Responses": {}, "UnprocessedKeys": {}})
    target = SimpleNamespace(store=SimpleNamespace(dynamodb=units, units_table="units"),
                             each=lambda _query, _what: iter(items), aws=lambda _what: contextlib.nullcontext())
    args = command.build_parser().parse_args(["stats"])
    out = io.StringIO()
    assert listing.cmd_stats(target, args, out) == exits.OK  # type: ignore[arg-type]
    text = out.getvalue()
    listed, _, apart = text.partition(f"{campaign.UNLISTED_RECOMMENDER}（列表以外，按申报时填写的名称统计，未经核实）")
    assert CETC in listed and "中国示例数据协会" not in listed
    assert "中国示例数据协会" in apart and CETC not in apart
    # A listed unit receiving more than its quota is normal (it recommends at most the quota): never "超出限额".
    assert "超出限额" not in listed and "没有推荐单位超出限额" in apart
