"""MIIT's pages under moto, through console.app.handler: the progress dashboard, the recommended projects and
their export, reopening a unit (a reason required, audited); unit accounts get the not-found answer for all."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from html import unescape

from bdpilot.console import services
from tests.integration.test_console_reading import HEBEI, SHANXI, Seeded, audited, seeded
from tests.integration.test_console_recommend import download, propose_two, seen_of
from tests.integration.test_console_review import close_the_review, decide

FIXTURES = (seeded,)  # the submissions of test_console_reading: pytest finds a fixture by module attribute


def submitted_hebei(seeded: Seeded) -> list[str]:
    hebei = seeded.browser("unit", HEBEI)
    ranked = propose_two(seeded, hebei)
    assert decide(hebei, seeded.refs[HEBEI][2], status="rejected", reason="不符合")["statusCode"] == 303
    seen = seen_of(hebei.post("/staff/recommend/submit", {}))
    assert hebei.post("/staff/recommend/submit", {"confirm": "1", "seen": seen})["statusCode"] == 303
    return ranked


def row_of(page: str, unit: str) -> list[str]:
    row = re.search(rf'<tr><th scope="row"><a [^>]*>{unit}</a></th>(.*?)</tr>', page)
    assert row, unit
    return [unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td>(.*?)</td>", row[1])]


def test_the_dashboard_shows_every_unit_and_flags_those_not_submitted(seeded: Seeded, monkeypatch) -> None:
    submitted_hebei(seeded)
    miit = seeded.browser("miit")
    page = miit.get("/staff/progress")
    assert page["statusCode"] == 200
    hebei, shanxi = row_of(page["body"], HEBEI), row_of(page["body"], SHANXI)
    assert hebei[1:4] == ["3", "3", "2 / 10"] and "2019" in hebei[4]
    assert shanxi[1:4] == ["1", "0", "0 / 10"] and shanxi[4] == "未提交"
    totals = page["body"].split("<tfoot>")[1]
    assert "<td>4</td>" in totals and "<td>3</td>" in totals
    direction = json.loads(services.current().reviews.state(HEBEI).summary)["rows"][0]["direction"]
    assert re.search(rf"{re.escape(direction)}</th><td>2</td><td>2</td>", page["body"])
    # as the deadline nears, and once it has passed, the unsubmitted are flagged
    in_two_days = (seeded.now() + timedelta(days=2)).isoformat()
    monkeypatch.setenv("BDPILOT_DEADLINE", in_two_days)
    monkeypatch.setenv("BDPILOT_UNIT_DEADLINE", in_two_days)
    near = miit.get("/staff/progress")["body"]
    assert row_of(near, SHANXI)[4] == "未提交（临近截止）" and 'class="staff-flag"' in near
    close_the_review(monkeypatch, seeded)
    assert row_of(miit.get("/staff/progress")["body"], SHANXI)[4] == "未提交（已逾期）"


def test_recommended_projects_and_their_export(seeded: Seeded, aws) -> None:
    ranked = submitted_hebei(seeded)
    miit = seeded.browser("miit")
    page = miit.get("/staff/recommended")
    assert page["statusCode"] == 200 and all(ref in page["body"] for ref in ranked)
    assert "次推" in page["body"] and seeded.refs[HEBEI][2] not in page["body"]
    exported = download(miit.get("/staff/recommended", query="format=csv")).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))
    assert sorted(r[0] for r in rows[1:]) == sorted(ranked)
    assert ("recommended_export", "recommended.csv") in audited(aws)
    assert miit.get("/staff/recommended", query="format=zip")["statusCode"] == 404


def test_reopening_needs_a_reason_and_is_audited(seeded: Seeded, aws) -> None:
    submitted_hebei(seeded)
    miit = seeded.browser("miit")
    miit.get("/staff/progress")
    empty = miit.post("/staff/units/reopen", {"unit": HEBEI, "reason": "  "})
    assert empty["statusCode"] == 400 and "请填写重新开放的理由" in unescape(empty["body"])
    assert services.current().reviews.state(HEBEI).submitted
    not_yet = miit.post("/staff/units/reopen", {"unit": SHANXI, "reason": "试试"})
    assert not_yet["statusCode"] == 409 and "尚未提交推荐" in not_yet["body"]
    done = miit.post("/staff/units/reopen", {"unit": HEBEI, "reason": "排序需调整"})
    assert done["statusCode"] == 303
    assert not services.current().reviews.state(HEBEI).submitted
    assert ("unit_reopen", HEBEI) in audited(aws)
    unit_page = seeded.browser("unit", HEBEI).get("/staff/recommend")["body"]
    assert "排序需调整" in unit_page and "/staff/recommend/submit" in unit_page


def test_unit_accounts_cannot_reach_miit_pages(seeded: Seeded) -> None:
    submitted_hebei(seeded)
    hebei = seeded.browser("unit", HEBEI)
    missing = hebei.get("/staff/nothing")
    for path, query in (("/staff/progress", ""), ("/staff/recommended", ""), ("/staff/recommended", "format=csv")):
        answer = hebei.get(path, query=query)
        assert answer["statusCode"] == 404 and answer["body"] == missing["body"]
    refused = hebei.post("/staff/units/reopen", {"unit": HEBEI, "reason": "自己开"})
    assert refused["statusCode"] == 404 and services.current().reviews.state(HEBEI).submitted
    nav = hebei.get("/staff/")["body"]
    assert "/staff/recommend" in nav and "/staff/progress" not in nav
