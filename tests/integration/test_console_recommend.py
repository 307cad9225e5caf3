"""提交推荐 and the 推荐汇总表 under moto, through console.app.handler: a unit's ranked 拟推荐 list, the
confirmation step, the lock, and the printable page and XLSX agreeing with the stored summary and its digest."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from html import unescape
from typing import Any

import openpyxl
import requests

from bdpilot.console import services
from bdpilot.domain import review, wording
from tests.integration.test_console_reading import HEBEI, SHANXI, Seeded, audited, seeded
from tests.integration.test_console_review import close_the_review, decide, item, refused
from tests.integration.test_console_signin import Browser

FIXTURES = (seeded,)  # the submissions of test_console_reading: pytest finds a fixture by module attribute


def propose_two(seeded: Seeded, hebei: Browser) -> list[str]:
    first, second = seeded.refs[HEBEI][:2]
    assert decide(hebei, first, status="proposed", opinion="=HYPERLINK(\"http://x\") 首推", rank="2")[
        "statusCode"] == 303
    assert decide(hebei, second, status="proposed", opinion="次推", rank="1")["statusCode"] == 303
    return [second, first]  # by rank


def seen_of(page: dict[str, Any]) -> str:
    found = re.search(r'name="seen" value="([0-9a-f]+)"', page["body"])
    assert found
    return found[1]


def download(answer: dict[str, Any]) -> bytes:
    assert answer["statusCode"] == 303, answer["body"]
    got = requests.get(answer["headers"]["Location"], timeout=30)
    assert got.status_code == 200
    return got.content


def test_submitting_locks_the_list_and_the_summary_agrees_with_its_digest(seeded: Seeded, aws) -> None:
    hebei = seeded.browser("unit", HEBEI)
    ranked = propose_two(seeded, hebei)
    page = hebei.get("/staff/recommend")
    assert page["statusCode"] == 200 and "拟推荐 2 个 / 推荐名额 10 个" in page["body"]
    assert page["body"].index(ranked[0]) < page["body"].index(ranked[1])
    # the first POST only asks to confirm
    confirm = hebei.post("/staff/recommend/submit", {})
    assert confirm["statusCode"] == 200 and 'name="confirm" value="1"' in confirm["body"]
    assert not services.current().reviews.state(HEBEI).submitted
    seen = seen_of(confirm)
    # a change between the confirmation and the submission: refused as stale
    third = seeded.refs[HEBEI][2]
    assert decide(hebei, third, status="rejected", reason="不符合")["statusCode"] == 303
    assert decide(hebei, ranked[1], status="proposed", opinion="改过的意见", rank="2")["statusCode"] == 303
    stale = hebei.post("/staff/recommend/submit", {"confirm": "1", "seen": seen})
    refused(stale, "stale")
    assert not services.current().reviews.state(HEBEI).submitted
    seen = seen_of(hebei.post("/staff/recommend/submit", {}))
    done = hebei.post("/staff/recommend/submit", {"confirm": "1", "seen": seen})
    assert done["statusCode"] == 303 and done["headers"]["Location"] == "/staff/recommend?done=submitted"
    state = services.current().reviews.state(HEBEI)
    assert state.submitted and state.summary_digest == review.summary_digest(json.loads(state.summary))
    stored = json.loads(state.summary)
    assert [r["reference"] for r in stored["rows"]] == ranked and stored["unit"] == HEBEI

    # the printable page: every stored row, in order, the digest, a stamp box, print styles
    printable = hebei.get("/staff/recommend/summary")
    text = unescape(printable["body"])
    assert printable["statusCode"] == 200 and state.summary_digest in text and 'class="staff-stamp"' in text
    cells = [unescape(c) for c in re.findall(r"<td>(.*?)</td>", printable["body"])]
    width = 8
    assert [cells[i:i + width] for i in range(0, len(cells), width)] == [
        [str(r[k]) for k in ("rank", "reference", "project", "direction", "applicant", "uscc", "total_investment",
                             "opinion")] for r in stored["rows"]]
    assert 'class="staff-noprint"' in printable["body"]
    # the XLSX: the same rows and the same digest; the opinion that looks like a formula stays text
    book = openpyxl.load_workbook(io.BytesIO(download(hebei.get("/staff/recommend/summary.xlsx"))))
    sheet = book.active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    header_at = next(i for i, row in enumerate(values) if row[1] == wording.text("common.reference"))
    rows = [row for row in values[header_at + 1:] if row[1]]
    # the investment is a number in the spreadsheet (3200 for the stored "3200.00"): compared as a decimal
    assert [[str(v) for v in row[:6]] + [Decimal(str(row[6])), row[7]] for row in rows[:len(stored["rows"])]] == [
        [str(r[k]) for k in ("rank", "reference", "project", "direction", "applicant", "uscc")]
        + [Decimal(r["total_investment"]), r["opinion"]] for r in stored["rows"]]
    assert len(rows) == len(stored["rows"]) + 1  # and the digest's row
    assert [wording.text("common.digest"), state.summary_digest] == values[-1][:2]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    # the list is locked: a decision and a second submission are refused
    assert 'name="rev"' not in hebei.get(f"/staff/submissions/{third}")["body"]
    refused(decide(hebei, third, rev=str(item(HEBEI, third)["rev"]), status="proposed", opinion="晚了", rank="3"),
            "list_submitted")
    refused(hebei.post("/staff/recommend/submit", {"confirm": "1", "seen": seen}), "list_submitted")
    actions = [a for a in audited(aws) if a[0] in ("recommend_submit", "summary_view", "summary_download")]
    # the stale try, the submission, the refused second one (the fixed test clock gives them one time: sorted)
    assert sorted(actions) == sorted([("recommend_submit", HEBEI)] * 3 + [("summary_view", HEBEI),
                                                                          ("summary_download", HEBEI)])


def test_nothing_to_submit_and_after_the_deadline(seeded: Seeded, monkeypatch) -> None:
    hebei = seeded.browser("unit", HEBEI)
    hebei.get("/staff/")
    refused(hebei.post("/staff/recommend/submit", {}), "nothing_to_submit")
    assert decide(hebei, seeded.refs[HEBEI][0], status="proposed", opinion="好", rank="1")["statusCode"] == 303
    seen = seen_of(hebei.post("/staff/recommend/submit", {}))
    close_the_review(monkeypatch, seeded)
    page = hebei.get("/staff/recommend")["body"]
    assert wording.text("staff.recommend.closed") in page and "/staff/recommend/submit" not in page
    answer = hebei.post("/staff/recommend/submit", {"confirm": "1", "seen": seen})
    assert answer["statusCode"] == 409 and not services.current().reviews.state(HEBEI).submitted


def test_the_summary_is_the_units_own_and_miit_may_choose(seeded: Seeded) -> None:
    hebei, shanxi, miit = (seeded.browser("unit", HEBEI), seeded.browser("unit", SHANXI), seeded.browser("miit"))
    propose_two(seeded, hebei)
    seen = seen_of(hebei.post("/staff/recommend/submit", {}))
    assert hebei.post("/staff/recommend/submit", {"confirm": "1", "seen": seen})["statusCode"] == 303
    own = shanxi.get("/staff/recommend/summary", query=f"unit={HEBEI}")
    assert wording.text("staff.summary.not_submitted") in own["body"] and seeded.refs[HEBEI][0] not in own["body"]
    assert shanxi.get("/staff/recommend/summary.xlsx")["statusCode"] == 404
    assert seeded.refs[HEBEI][0] not in shanxi.get("/staff/recommend", query=f"unit={HEBEI}")["body"]
    chosen = miit.get("/staff/recommend/summary", query=f"unit={HEBEI}")
    assert chosen["statusCode"] == 200 and seeded.refs[HEBEI][0] in chosen["body"]
    assert 'name="confirm"' not in miit.get("/staff/recommend", query=f"unit={HEBEI}")["body"]
    assert miit.post("/staff/recommend/submit", {"confirm": "1"})["statusCode"] == 404
