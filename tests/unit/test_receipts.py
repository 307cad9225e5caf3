"""The signed receipt link (domain.receipts) and the applicant e-mails built from the catalogue (domain.mail)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from bdpilot.domain import campaign, mail, receipts, reference, tokens, wording
from bdpilot.domain.formats import beijing_time
from bdpilot.store.mailer import outbox_name
from tests.factories import application

SECRET = b"test-secret-0123456789"
NOW = datetime(2019, 11, 15, 10, 0, tzinfo=campaign.TZ)
REF = reference.reference_for(SECRET, "key-0123456789abcdef")


def test_a_token_names_its_reference_and_only_url_safe_characters() -> None:
    value = receipts.token(SECRET, REF, NOW)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", value)
    assert receipts.check(SECRET, value, NOW) == REF
    assert receipts.check(SECRET, value, NOW + timedelta(days=receipts.VALID_DAYS - 1)) == REF


@pytest.mark.parametrize("later", [timedelta(days=receipts.VALID_DAYS, seconds=1), timedelta(minutes=-10)])
def test_an_expired_or_future_token_is_refused(later: timedelta) -> None:
    assert receipts.check(SECRET, receipts.token(SECRET, REF, NOW), NOW + later) is None


def test_a_forged_token_is_refused() -> None:
    value = receipts.token(SECRET, REF, NOW)
    other = reference.reference_for(SECRET, "key-fedcba9876543210")
    head, issued, signature = value.split(".")
    forged = [
        receipts.token(b"another-secret-0123456789", REF, NOW),  # signed with another secret
        f"{other}.{issued}.{signature}",  # the signature moved to another reference
        f"{head}.{int(issued, 36) + 86400:x}.{signature}",  # a later issue time
        value[:-1] + ("A" if value[-1] != "A" else "B"),  # one character changed
        f"{head}.{issued}.{signature}x",
    ]
    for bad in forged:
        assert receipts.check(SECRET, bad, NOW) is None, bad


@pytest.mark.parametrize("bad", [None, 1, "", "x" * 500, "BD2020-ＡＡＡＡ.1.x", "\ud800", ".".join(["a"] * 3)])
def test_anything_else_is_refused_without_an_error(bad: object) -> None:
    assert receipts.check(SECRET, bad, NOW) is None


def test_a_form_token_signed_with_the_same_secret_is_no_receipt_token() -> None:
    form = tokens.issue(SECRET, NOW)
    assert receipts.check(SECRET, form, NOW) is None
    # Nor does the receipt key sign what the form token's key signs: the purposes are apart.
    payload = f"{REF}.{receipts._base36(int(NOW.timestamp()))}"
    assert receipts._sign(SECRET, payload) != tokens._sign(SECRET, payload)


def test_the_links_point_at_the_receipt_page_and_the_form() -> None:
    value = receipts.token(SECRET, REF, NOW)
    assert receipts.url("https://example.cn/", value) == f"https://example.cn/api/receipt?t={value}"
    assert receipts.link(SECRET, "https://example.cn", REF, NOW).startswith("https://example.cn/api/receipt?t=BD2020-")
    assert receipts.revise_url("", value) == f"/apply/?revise={value}"


def _record(**extra: object) -> dict[str, object]:
    return {"reference": REF, "received_at": NOW.isoformat(timespec="milliseconds"),
            "application": application(), "files": [], **extra}


def test_the_receipt_mail_says_what_the_receipt_says() -> None:
    record = _record()
    app = record["application"]
    assert isinstance(app, dict)
    body = {"reference": REF, "digest": "ab" * 32, "received_at": record["received_at"], "record": record}
    deadline = datetime(2019, 11, 22, tzinfo=campaign.TZ)
    link = receipts.link(SECRET, "https://example.cn", REF, NOW)
    message = mail.receipt(body, link, deadline)
    assert message.to == app["contact"]["email"]
    assert message.reference == REF and REF in message.subject
    for part in (REF, "ab" * 32, beijing_time(record["received_at"]), beijing_time(deadline, seconds=False), link,
                 app["applicant"]["name"], app["cover"]["project_name"], wording.text("common.digest"),
                 wording.text("common.received_at"), wording.text("mail.receipt.next_paper")):
        assert part in message.text, part
    assert "T10:00:00" not in message.text  # people's time, never ISO


def test_a_revision_receipt_names_its_version() -> None:
    record = _record(version=2, supersedes="cd" * 32)
    body = {"reference": REF, "digest": "ab" * 32, "received_at": record["received_at"], "record": record}
    message = mail.receipt(body, "https://example.cn/api/receipt?t=x", NOW)
    assert message.subject == wording.text("mail.receipt.subject_revised", reference=REF, version=2)
    assert wording.text("mail.receipt.intro_revised", version=2) in message.text


def test_the_returned_mail_carries_the_reason_the_link_and_the_units_deadline() -> None:
    until = datetime(2019, 12, 6, 17, 0, tzinfo=campaign.TZ)
    message = mail.returned(_record(), REF, unit="河北省", reason="请补充知识产权证明。", link="https://x.cn/r",
                            deadline=until)
    assert message.to == mail.contact_of(_record())
    for part in ("河北省", "请补充知识产权证明。", "https://x.cn/r", beijing_time(until, seconds=False), REF):
        assert part in message.text
    assert REF in message.subject


def test_the_resend_mail_carries_the_link_only_to_the_address_on_file() -> None:
    message = mail.resend(_record(), REF, "https://x.cn/r")
    assert message.to == mail.contact_of(_record()) and "https://x.cn/r" in message.text and REF in message.subject


def test_outbox_names_sort_by_utc_time() -> None:
    first, second = outbox_name(NOW), outbox_name(NOW + timedelta(seconds=1))
    assert re.fullmatch(r"20191115T020000000000Z-[0-9a-f]{8}\.eml", first)
    assert first < second
