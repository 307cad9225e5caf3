"""The console's reading pages under moto, with two units' real submissions (stored through the public handler),
driven through console.app.handler with real signed-in sessions (accounts signed in through POST /staff/signin):
a unit account sees its own applicants in the list, search, detail, downloads and exports, and gets for the other
unit's references exactly the answer (status, headers, body) a reference that does not exist gets; MIIT sees all
and the audit log."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlparse

import openpyxl
import pytest
import requests

from bdpilot.console import access, app, auth, services
from bdpilot.domain import formats, reference, wording
from tests.conftest import Applicant
from tests.factories import PDF, application, attachments, uscc
from tests.integration.test_console_signin import PASSWORD, Browser, sign_in

HEBEI, SHANXI = "河北省", "山西省"
PASSWORD_HASH = auth.hash_password(PASSWORD)  # one argon2 run for every account of the module


@dataclass
class Seeded:
    refs: dict[str, list[str]]
    names: dict[str, str]  # reference -> applicant name
    usccs: dict[str, str]
    now: Any

    def browser(self, role: str, unit: str | None = None) -> Browser:
        """A browser signed in through the sign-in form as a fresh account of this role (and unit)."""
        email = f"{role}.{len(services.current().accounts.list_accounts())}@example.gov.cn"
        secret = auth.new_totp_secret()
        services.current().accounts.create_account(
            email, name="经办人", role=role, unit=unit, invited_by="test", created_at=formats.beijing_time(self.now()),
            password_hash=PASSWORD_HASH, totp_secret=secret, totp_last_step=auth.totp_step(self.now()) - 10)
        browser = Browser()
        answer = sign_in(browser, email, PASSWORD, auth.totp_code(secret, self.now()))
        assert answer["statusCode"] == 303 and auth.COOKIE in browser.cookies, answer["body"]
        return browser


def get(browser: Browser, path: str, **query: str) -> dict[str, Any]:
    return browser.get(path, query=urlencode(query))


def body(answer: dict[str, Any]) -> str:
    text = answer["body"]
    return base64.b64decode(text).decode("utf-8", "replace") if answer.get("isBase64Encoded") else text


@pytest.fixture
def seeded(aws, now) -> Iterator[Seeded]:
    services.reset()
    applicant = Applicant(aws, now)
    refs: dict[str, list[str]] = {HEBEI: [], SHANXI: []}
    names, usccs = {}, {}
    for i, unit in enumerate([HEBEI, HEBEI, HEBEI, SHANXI]):
        applicant.new_form()
        name, code = f"示例{unit}企业{i}有限公司", uscc(9000 + i)
        payload = {"application": application(cover={"recommender": unit}, applicant={"name": name, "uscc": code},
                                               attachments=attachments(applicant.upload(), applicant.upload())),
                   "form_token": applicant.token, "website": ""}
        reply = applicant.submit(payload)
        assert reply.status == 201, reply.body
        ref = reply.body["reference"]
        refs[unit].append(ref)
        names[ref], usccs[ref] = name, code
    yield Seeded(refs, names, usccs, now)
    services.reset()


def audited(aws) -> list[tuple[str, str]]:
    """The audit table's (action, target) pairs in time order, sign-ins left out."""
    items = aws.dynamodb.scan(TableName=services.current().audit.table)["Items"]
    events = sorted((i["at"]["S"], i["action"]["S"], i.get("target", {}).get("S", "")) for i in items)
    return [(action, target) for _, action, target in events if action != "signin"]


def absent_reference() -> str:
    return reference.reference_for(b"no-such", "no-such-key")


def test_a_unit_lists_and_searches_only_its_own_applicants(seeded: Seeded) -> None:
    hebei = seeded.browser("unit", HEBEI)
    page = get(hebei, "/staff/")
    assert page["statusCode"] == 200
    for ref in seeded.refs[HEBEI]:
        assert ref in page["body"] and seeded.names[ref] in page["body"]
    other = seeded.refs[SHANXI][0]
    assert other not in page["body"] and seeded.names[other] not in page["body"]
    assert "已提交 3 个，推荐名额 10 个" in page["body"]
    # ?unit= is MIIT's choice only: a unit account asking for another unit gets its own list, byte for byte.
    assert get(hebei, "/staff/", unit=SHANXI) == page
    first = seeded.refs[HEBEI][0]
    found = get(hebei, "/staff/", q=seeded.usccs[first][:15])["body"]
    assert first in found and seeded.refs[HEBEI][1] not in found
    assert first in get(hebei, "/staff/", q=seeded.names[first][-8:])["body"]
    # Searching for the other unit's applicant finds what searching for nobody finds.
    missing_name, missing_uscc = "示例不存在的企业有限公司", uscc(9999)
    for q, nobody in ((seeded.names[other], missing_name), (seeded.usccs[other], missing_uscc)):
        foreign, nowhere = get(hebei, "/staff/", q=q), get(hebei, "/staff/", q=nobody)
        assert other not in foreign["body"] and seeded.names[other] not in foreign["body"].replace(q, "")
        assert foreign["body"].replace(q, "Q") == nowhere["body"].replace(nobody, "Q")
    # A cursor into the other unit's partition (as MIIT's pages give them) starts the unit's own list again.
    forged = base64.urlsafe_b64encode(json.dumps(
        {"unit": {"S": SHANXI}, "reference": {"S": other}, "received_at": {"S": "2099"}}).encode()).decode()
    paged = get(hebei, "/staff/", cursor=forged)["body"]
    assert other not in paged and all(ref in paged for ref in seeded.refs[HEBEI])


def test_another_units_reference_is_answered_as_one_that_does_not_exist(seeded: Seeded, aws) -> None:
    hebei, other, missing = seeded.browser("unit", HEBEI), seeded.refs[SHANXI][0], absent_reference()
    for suffix in ("", "/files/license-1.pdf", "/files/ip-1.pdf", "/files/record.json"):
        nowhere = get(hebei, f"/staff/submissions/{missing}{suffix}")
        foreign = get(hebei, f"/staff/submissions/{other}{suffix}")
        assert nowhere["statusCode"] == 404
        assert foreign == nowhere  # status, every header, cookies and body alike
        assert seeded.names[other] not in body(foreign)
    assert audited(aws) == []
    # the owner and MIIT do see it
    assert get(seeded.browser("unit", SHANXI), f"/staff/submissions/{other}")["statusCode"] == 200
    assert get(seeded.browser("miit"), f"/staff/submissions/{other}")["statusCode"] == 200


def test_the_detail_shows_every_field_the_digest_check_and_the_files(seeded: Seeded, aws) -> None:
    ref = seeded.refs[HEBEI][0]
    page = get(seeded.browser("unit", HEBEI), f"/staff/submissions/{ref}")
    assert page["statusCode"] == 200
    text = page["body"]
    assert seeded.names[ref] in text and "钢铁冶炼全流程工业大数据平台" in text and "13800138000" in text
    assert "未被改动" in text and "营业执照.pdf" in text
    assert f"/staff/submissions/{ref}/files/license-1.pdf" in text
    assert audited(aws) == [("view", ref)]


def test_a_download_is_a_short_presigned_get_with_the_original_name(seeded: Seeded, aws) -> None:
    hebei = seeded.browser("unit", HEBEI)
    ref = seeded.refs[HEBEI][1]
    answer = get(hebei, f"/staff/submissions/{ref}/files/license-1.pdf")
    assert answer["statusCode"] == 303
    url = answer["headers"]["Location"]
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["application/pdf"]
    assert "filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.pdf" in query["response-content-disposition"][0]
    got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == PDF
    assert unquote(got.headers["Content-Disposition"].split("filename*=UTF-8''")[1]) == "营业执照.pdf"
    assert audited(aws) == [("download", f"{ref}/license-1.pdf")]
    # a name the record does not list, or not an attachment name at all, is not found
    for name in ("license-9.pdf", "record.json", "..%2Frecord.json"):
        assert get(hebei, f"/staff/submissions/{ref}/files/{name}")["statusCode"] == 404


def _download(answer: dict[str, Any]) -> bytes:
    assert answer["statusCode"] == 303, answer["body"]
    got = requests.get(answer["headers"]["Location"], timeout=30)
    assert got.status_code == 200
    return got.content


def test_an_export_holds_only_what_the_caller_may_see(seeded: Seeded, aws) -> None:
    hebei = seeded.browser("unit", HEBEI)
    for fmt in ("csv", "xlsx"):
        exported = _download(get(hebei, "/staff/export", format=fmt, unit=SHANXI))
        other = seeded.refs[SHANXI][0]
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
            assert sorted(r[0] for r in rows[1:]) == sorted(seeded.refs[HEBEI])
            assert {r[5] for r in rows[1:]} == {wording.text("admin.export.unchecked")}  # tables only
        else:
            book = openpyxl.load_workbook(io.BytesIO(exported))
            cells = {str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row}
            assert set(seeded.refs[HEBEI]) <= cells and other not in cells and seeded.names[other] not in cells
    assert all(k.startswith(f"exports/{HEBEI}/") for k in aws.keys("exports/"))
    assert ("export", f"{HEBEI}.csv") in audited(aws)
    miit = seeded.browser("miit")
    book = openpyxl.load_workbook(io.BytesIO(_download(get(miit, "/staff/export", format="xlsx"))))
    refs = {row[0] for sheet in book.worksheets[1:] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert refs == {r for unit in seeded.refs.values() for r in unit}
    chosen = _download(get(miit, "/staff/export", format="csv", unit=SHANXI)).decode("utf-8-sig")
    assert seeded.refs[SHANXI][0] in chosen and seeded.refs[HEBEI][0] not in chosen
    assert get(miit, "/staff/export", format="zip")["statusCode"] == 404


def test_exports_say_each_submission_s_review_status(seeded: Seeded, aws) -> None:
    """A unit's export and MIIT's export across units: the review's status, not the index's 已受理."""
    import os
    from datetime import datetime

    from bdpilot.domain import campaign
    from bdpilot.domain.review import Decision
    from bdpilot.store.review import Reviews

    returned = seeded.refs[HEBEI][0]
    Reviews(aws.dynamodb, os.environ["BDPILOT_UNITS_TABLE"]).decide(
        HEBEI, returned, 0, Decision("returned", reason="补充材料"), "li@example.cn",
        datetime(2019, 11, 25, tzinfo=campaign.TZ), 10)
    expected = {ref: "退回修改" if ref == returned else "待审核" for unit in seeded.refs.values() for ref in unit}
    for browser in (seeded.browser("unit", HEBEI), seeded.browser("miit")):
        exported = _download(get(browser, "/staff/export", format="csv")).decode("utf-8-sig")
        shown = {r["申报编号"]: r["状态"] for r in csv.DictReader(io.StringIO(exported))}
        assert returned in shown and shown == {ref: expected[ref] for ref in shown}


def test_miit_sees_all_units_chooses_one_and_pages(seeded: Seeded, monkeypatch) -> None:
    from bdpilot.console import listing

    miit, hebei = seeded.browser("miit"), seeded.browser("unit", HEBEI)
    everything = get(miit, "/staff/")["body"]
    assert all(ref in everything for unit in seeded.refs.values() for ref in unit)
    assert f'<option value="{SHANXI}">{SHANXI}</option>' in everything  # names only: no count per unit
    chosen = get(miit, "/staff/", unit=SHANXI)["body"]
    assert seeded.refs[SHANXI][0] in chosen and seeded.refs[HEBEI][0] not in chosen
    assert "已提交 1 个，推荐名额 10 个" in chosen
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    for browser, total in ((miit, 4), (hebei, 3)):
        seen, cursor = [], None
        while True:
            page = get(browser, "/staff/", **({"cursor": cursor} if cursor else {}))["body"]
            if browser is hebei:  # the first page counts exactly (beyond its own items); later ones show no count
                assert ("已提交 3 个，推荐名额 10 个" in page) is (cursor is None)
            seen += [r for unit in seeded.refs.values() for r in unit if f"/staff/submissions/{r}\"" in page]
            links = parse_qs(page.split('rel="next"')[0].rsplit('href="', 1)[-1].split('"')[0]
                             .replace("&amp;", "&").split("?", 1)[-1]) if 'rel="next"' in page else {}
            cursor = links.get("cursor", [None])[0]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == total


def test_over_the_quota_the_count_reads_no_more_than_quota_plus_one(seeded: Seeded, monkeypatch) -> None:
    from bdpilot.domain import campaign

    kind = campaign.RECOMMENDER_KINDS[campaign.RecommenderKind.PROVINCE]
    monkeypatch.setitem(campaign.RECOMMENDER_KINDS, campaign.RecommenderKind.PROVINCE,
                        type(kind)(kind.kind, kind.name, 2))
    hebei = seeded.browser("unit", HEBEI)
    first = get(hebei, "/staff/")["body"]  # the whole list on one page: counted exactly, no COUNT query
    assert "已提交 3 个，推荐名额 2 个" in first and wording.text("staff.list.over_quota") in first
    searched = get(hebei, "/staff/", q=seeded.names[seeded.refs[HEBEI][0]])["body"]
    assert "已提交不少于 3 个，推荐名额 2 个" in searched and wording.text("staff.list.over_quota") in searched
    assert services.current().units.count(HEBEI, upto=3) == 3 and services.current().units.count(HEBEI, upto=2) == 2


def test_the_audit_log_is_for_miit_and_exports_formula_safe(seeded: Seeded, aws) -> None:
    services.current().audit.append({"actor": "a@example.gov.cn", "role": "unit", "unit": HEBEI, "action": "view",
                                     "target": "=HYPERLINK(\"http://x\")", "address": "203.0.113.5",
                                     "outcome": "ok"}, seeded.now())
    hebei = seeded.browser("unit", HEBEI)
    for query in ({}, {"format": "csv"}):
        refused, missing = get(hebei, "/staff/audit", **query), get(hebei, "/staff/nothing", **query)
        assert refused["statusCode"] == 404 and refused == missing
    miit = seeded.browser("miit")
    page = get(miit, "/staff/audit")
    assert page["statusCode"] == 200 and "查看申报书" in page["body"] and "a@example.gov.cn" in page["body"]
    exported = [a for a in audited(aws) if a[0] == "audit_export"]
    rows = list(csv.reader(io.StringIO(_download(get(miit, "/staff/audit", format="csv")).decode("utf-8-sig"))))
    assert [r[5] for r in rows if "HYPERLINK" in r[5]] == ["'=HYPERLINK(\"http://x\")"]
    # Events of one millisecond are ordered by their random suffix: count the export's event, not its place.
    assert len([a for a in audited(aws) if a[0] == "audit_export"]) == len(exported) + 1


def test_signed_out_every_reading_route_sends_to_sign_in(seeded: Seeded) -> None:
    ref = seeded.refs[HEBEI][0]
    for path in ("/staff/", f"/staff/submissions/{ref}", f"/staff/submissions/{ref}/files/license-1.pdf",
                 "/staff/export", "/staff/audit"):
        answer = Browser().get(path)
        assert answer["statusCode"] == 303 and answer["headers"]["Location"].startswith("/staff/signin")
        assert seeded.names[ref] not in answer["body"]


def test_the_download_name_is_rfc_5987_with_an_ascii_fallback() -> None:
    value = access.disposition("营业执照 (副本).pdf")
    assert value == ("attachment; filename=\"_________.pdf\"; "
                     "filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7%20%28%E5%89%AF%E6%9C%AC%29.pdf")
    assert access.disposition('a";b.pdf').startswith('attachment; filename="a__b.pdf"')


def test_every_reading_route_is_registered() -> None:
    patterns = {(r.method, r.pattern.pattern) for r in app.ROUTES}
    assert ("GET", "^/staff/$") in patterns and ("GET", "^/staff/audit$") in patterns
