"""The console's storage in moto: the units item written by the commit, UnitIndex reads kept to one unit,
staff accounts with their one-time conditions, and the append-only audit trail."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from bdpilot.domain import campaign
from bdpilot.store import Conflict, Store
from bdpilot.store.accounts import Accounts
from bdpilot.store.audit import Audit
from bdpilot.store.units import UnitIndex
from tests.factories import idempotency_key, uscc

T0 = datetime(2019, 11, 20, 9, 0, tzinfo=campaign.TZ)


def _units_items(aws) -> list[dict[str, Any]]:
    return aws.dynamodb.scan(TableName=os.environ["BDPILOT_UNITS_TABLE"], ConsistentRead=True)["Items"]


class Counting:
    """The DynamoDB client, counting the items each Query read (ScannedCount) and returned."""

    def __init__(self, client: Any) -> None:
        self.client, self.scanned, self.returned = client, [], []

    def query(self, **kwargs: Any) -> Any:
        page = self.client.query(**kwargs)
        self.scanned.append(page["ScannedCount"])
        self.returned.append(page["Count"])
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


# --- the units item in the commit ------------------------------------------------------------------------------

def test_a_stored_submission_has_its_units_item(aws, applicant):
    reply = applicant.submit()
    assert reply.status == 201, reply.body
    (item,) = _units_items(aws)
    ref = reply.body["reference"]
    assert {k: v["S"] for k, v in item.items()} == {
        "unit": "河北省", "reference": ref, "received_at": reply.body["received_at"],
        "direction": str(reply.body["record"]["application"]["cover"]["direction"]),
        "applicant": reply.body["record"]["application"]["applicant"]["name"],
        "uscc": reply.body["record"]["application"]["applicant"]["uscc"],
        "project": reply.body["record"]["application"]["cover"]["project_name"], "status": "received",
        "digest": reply.body["digest"], "recommender": "河北省"}
    assert UnitIndex(aws.dynamodb, os.environ["BDPILOT_UNITS_TABLE"]).get("河北省", ref)["digest"] == reply.body[
        "digest"]


def test_a_replay_writes_no_second_units_item(aws, applicant):
    body, key = applicant.body(), idempotency_key()
    assert applicant.submit(body, key=key).status == 201
    again = applicant.submit(body, key=key)
    assert again.status == 201
    assert len(_units_items(aws)) == 1


def test_an_unlisted_unit_goes_to_the_unlisted_partition(aws, applicant):
    cover = {"recommender": campaign.OTHER_RECOMMENDER, "recommender_group": campaign.UNLISTED_RECOMMENDER,
             "recommender_other": "某某　行业协会"}
    reply = applicant.submit(applicant.body(cover=cover))
    assert reply.status == 201, reply.body
    (item,) = _units_items(aws)
    assert item["unit"]["S"] == campaign.UNLISTED_RECOMMENDER
    assert item["recommender"]["S"] == "某某行业协会"  # cleaned as the intake cleans it


def _commit(store: Store, ref: str, *, guard: str | None = None, key: str | None = None,
            form: str | None = None, unit: str = "河北省") -> None:
    index = {"reference": ref, "entity": "SUB", "received_at": T0.isoformat(), "direction": "1",
             "recommender": unit, "unit_name": "甲公司", "uscc": "X", "project_name": "P", "status": "received",
             "digest": "0" * 64}
    store.commit(index, guard or f"USCC#{ref}", key or f"key-{ref}", "h", {"reference": ref}, 0,
                 form or f"FORM#{ref}", 0, unit)


@pytest.mark.parametrize(("clash", "cause"), [
    ("reference", "key"), ("guard", "applicant"), ("key", "key"), ("form", "form"), ("unit_item", "key")])
def test_each_lost_condition_names_its_cause_and_leaves_nothing(aws, clash, cause):
    store = Store(aws.table, aws.bucket)
    _commit(store, "FIRST")
    units = UnitIndex(aws.dynamodb, store.units_table)
    if clash == "unit_item":  # a units item alone under the reference (as a migration could leave it)
        units.add({"unit": "河北省", "reference": "SECOND", "received_at": T0.isoformat()})
    before = (len(aws.items()), len(_units_items(aws)))
    kwargs = {"reference": {}, "guard": {"guard": "USCC#FIRST"}, "key": {"key": "key-FIRST"},
              "form": {"form": "FORM#FIRST"}, "unit_item": {}}[clash]
    with pytest.raises(Conflict) as lost:
        _commit(store, "FIRST" if clash == "reference" else "SECOND", **kwargs)
    assert lost.value.what == cause
    assert (len(aws.items()), len(_units_items(aws))) == before


def test_a_commit_without_its_units_table_fails_whole(aws, monkeypatch):
    monkeypatch.setenv("BDPILOT_UNITS_TABLE", "no-such-table")
    store = Store(aws.table, aws.bucket)
    with pytest.raises(Exception):  # noqa: B017 - any failure will do: what matters is that nothing was written
        _commit(store, "LONELY")
    assert aws.items() == []


# --- UnitIndex ---------------------------------------------------------------------------------------------------

def _seed(units: UnitIndex, unit: str, n: int, *, name: str = "公司") -> list[str]:
    refs = []
    for i in range(n):
        ref = f"{unit[:1]}{i:05d}"
        assert units.add({"unit": unit, "reference": ref, "received_at": (T0 + timedelta(minutes=i)).isoformat(),
                          "applicant": f"{name}{i}", "uscc": uscc(hash(unit) % 1000 * 10000 + i), "status": "received"})
        refs.append(ref)
    return refs


@pytest.fixture
def index(aws) -> UnitIndex:
    return UnitIndex(aws.dynamodb, os.environ["BDPILOT_UNITS_TABLE"])


def test_a_units_list_pages_newest_first_through_its_own_partition_only(aws, index):
    mine = _seed(index, "河北省", 120)
    _seed(index, "山西省", 300)
    counting = Counting(aws.dynamodb)
    units = UnitIndex(counting, index.table)
    seen, cursor, pages = [], None, 0
    while True:
        items, cursor = units.list("河北省", cursor, 50)
        seen += [i["reference"] for i in items]
        pages += 1
        if cursor is None:
            break
    assert seen == list(reversed(mine))
    assert pages == 3
    # Items read per page = items shown, whatever 山西省 holds.
    assert counting.scanned[:2] == [50, 50] and counting.scanned == counting.returned
    assert index.count("河北省") == 120 and index.count("山西省") == 300 and index.count("北京市") == 0


def test_a_cursor_of_another_unit_or_forged_starts_over(index):
    _seed(index, "河北省", 30)
    _seed(index, "山西省", 30)
    first, _ = index.list("河北省", None, 10)
    _, theirs = index.list("山西省", None, 10)
    assert theirs is not None
    assert index.list("河北省", theirs, 10)[0] == first
    # The same cursor with only the unit changed to the caller's stays inside the caller's partition.
    key = json.loads(base64.urlsafe_b64decode(theirs))
    key["unit"]["S"] = "河北省"
    forged = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
    assert all(i["unit"] == "河北省" for i in index.list("河北省", forged, 10)[0])
    for junk in ("", "%%%", "bm90IGpzb24=", base64.urlsafe_b64encode(b'{"unit":{"N":"1"}}').decode(), "A" * 5000):
        assert index.list("河北省", junk, 10)[0] == first


def test_get_answers_only_for_the_units_own_reference(index):
    (hebei,) = _seed(index, "河北省", 1)
    (shanxi,) = _seed(index, "山西省", 1)
    assert index.get("河北省", hebei)["reference"] == hebei
    assert index.get("河北省", shanxi) is None
    assert index.get("河北省", "NOSUCH") is None


def test_search_by_name_or_uscc_prefix_within_the_unit(aws, index):
    _seed(index, "河北省", 40, name="河北科技")
    _seed(index, "山西省", 40, name="河北科技")  # the same names elsewhere never show
    names = [i["applicant"] for i in index.search("河北省", "科技1")[0]]
    assert sorted(names) == sorted(["河北科技1"] + [f"河北科技{n}" for n in range(10, 20)])
    first = index.get("河北省", "河00007")
    found, _ = index.search("河北省", first["uscc"][:17].lower())
    assert [i["reference"] for i in found] == ["河00007"]
    assert all(i["unit"] == "河北省" for i in index.search("河北省", "河北")[0])
    assert index.search("河北省", "不存在")[0] == []


def test_search_reads_bounded_pages_and_goes_on_by_cursor(aws, index, monkeypatch):
    from bdpilot.store import units as units_module

    monkeypatch.setattr(units_module, "SEARCH_PAGE", 10)
    _seed(index, "河北省", 45, name="甲")
    counting = Counting(aws.dynamodb)
    units = UnitIndex(counting, index.table)
    found, cursor, rounds = [], None, 0
    while True:
        items, cursor = units.search("河北省", "甲", cursor, limit=7)
        assert len(items) <= 7
        found += [i["reference"] for i in items]
        rounds += 1
        if cursor is None:
            break
    assert found == [f"河{i:05d}" for i in reversed(range(45))]
    assert max(counting.scanned) <= 10 and rounds >= 45 // 7
    # A search that matches nothing still reads at most SEARCH_PAGES pages per call.
    counting.scanned.clear()
    assert units.search("河北省", "无此")[0] == [] and len(counting.scanned) <= units_module.SEARCH_PAGES


# --- accounts ----------------------------------------------------------------------------------------------------

@pytest.fixture
def accounts(aws) -> Accounts:
    return Accounts(aws.dynamodb, os.environ["BDPILOT_STAFF_TABLE"])


def _account(accounts: Accounts, email: str = "Li@Example.cn", **extra: Any) -> bool:
    return accounts.create_account(email, name="李四", role="unit", unit="河北省", invited_by="miit@example.cn",
                                   created_at=T0.isoformat(), **extra)


def test_an_account_is_created_once_and_read_back(accounts):
    assert _account(accounts, password_hash="$argon2id$x")
    assert not _account(accounts, "li@example.cn", password_hash="$argon2id$other")
    got = accounts.get_account("LI@example.cn")
    assert got["password_hash"] == "$argon2id$x" and got["unit"] == "河北省" and got["disabled"] is False
    assert accounts.get_account("nobody@example.cn") is None
    assert accounts.set_password("li@example.cn", "$argon2id$new")
    assert not accounts.set_password("nobody@example.cn", "$argon2id$new")
    assert accounts.get_account("nobody@example.cn") is None  # no account made by an update
    assert accounts.set_disabled("li@example.cn", True) and accounts.get_account("li@example.cn")["disabled"]
    assert accounts.set_disabled("li@example.cn", False) and not accounts.get_account("li@example.cn")["disabled"]


def test_list_accounts_holds_no_secrets(accounts):
    _account(accounts, "b@example.cn", password_hash="h", totp_secret="S", recovery={"r1"})
    _account(accounts, "a@example.cn")
    accounts.create_session("s" * 64, email="a@example.cn", role="unit", unit="河北省", created_at=1, csrf="c",
                            expires_at=2)
    listed = accounts.list_accounts()
    assert [a["email"] for a in listed] == ["a@example.cn", "b@example.cn"]
    assert not {"password_hash", "totp_secret", "recovery"} & {k for a in listed for k in a}


def test_a_totp_step_is_used_once_and_never_an_earlier_one(accounts):
    _account(accounts)
    assert accounts.set_totp("li@example.cn", "SECRET", {"a" * 64, "b" * 64}, last_step=100)
    assert not accounts.use_totp_step("li@example.cn", 100)  # the confirming code cannot sign in
    assert accounts.use_totp_step("li@example.cn", 101)
    assert not accounts.use_totp_step("li@example.cn", 101)
    assert not accounts.use_totp_step("li@example.cn", 100)
    assert accounts.use_totp_step("li@example.cn", 102)
    assert not accounts.use_totp_step("nobody@example.cn", 500)


def test_a_recovery_code_is_used_once(accounts):
    _account(accounts)
    accounts.set_totp("li@example.cn", "SECRET", {"a" * 64, "b" * 64}, last_step=0)
    assert accounts.use_recovery_code("li@example.cn", "a" * 64)
    assert not accounts.use_recovery_code("li@example.cn", "a" * 64)
    assert not accounts.use_recovery_code("li@example.cn", "c" * 64)
    assert accounts.get_account("li@example.cn")["recovery"] == {"b" * 64}
    assert accounts.use_recovery_code("li@example.cn", "b" * 64)
    assert not accounts.use_recovery_code("li@example.cn", "b" * 64)


def test_an_invitation_is_consumed_once_and_not_after_it_expired(accounts):
    invite = {"email": "Wang@example.cn", "name": "王五", "role": "unit", "unit": "河北省",
              "invited_by": "miit@example.cn"}
    assert accounts.create_invitation("t1", **invite, expires_at=1000)
    assert not accounts.create_invitation("t1", **invite, expires_at=5000)
    got = accounts.consume_invitation("t1", now=999)
    assert got is not None and got["email"] == "wang@example.cn" and got["unit"] == "河北省"
    assert accounts.consume_invitation("t1", now=999) is None
    accounts.create_invitation("t2", **invite, expires_at=1000)
    assert accounts.consume_invitation("t2", now=1000) is None
    assert accounts.consume_invitation("unknown", now=0) is None


def test_sessions_are_touched_and_revoked(accounts):
    for sid, email in (("s1", "li@example.cn"), ("s2", "li@example.cn"), ("s3", "wang@example.cn")):
        assert accounts.create_session(sid, email=email, role="unit", unit="河北省", created_at=10, csrf="c" + sid,
                                       expires_at=99)
    assert not accounts.create_session("s1", email="x@example.cn", role="miit", unit=None, created_at=0, csrf="x",
                                       expires_at=1)
    assert accounts.get_session("s1")["csrf"] == "cs1"
    assert accounts.touch_session("s1", 20) and accounts.get_session("s1")["last_seen"] == 20
    accounts.revoke_session("s1")
    assert accounts.get_session("s1") is None and not accounts.touch_session("s1", 30)
    assert accounts.get_session("s1") is None  # touching a revoked session does not bring it back
    assert accounts.revoke_sessions("LI@example.cn") == 1
    assert accounts.get_session("s2") is None and accounts.get_session("s3") is not None


def test_failures_count_atomically_in_a_window_and_clear(accounts):
    assert [accounts.record_failure("account", "li@example.cn", 1000 + i, 900) for i in range(5)] == [1, 2, 3, 4, 5]
    accounts.lock("account", "li@example.cn", 1900)
    got = accounts.get_throttle("account", "LI@example.cn")
    assert got["failures"] == 5 and got["since"] == 1000 and got["locked_until"] == 1900
    assert accounts.record_failure("account", "li@example.cn", 1000 + 900, 900) == 1  # a new window
    assert accounts.record_failure("address", "192.0.2.1", 1000, 900) == 1
    accounts.clear_throttle("account", "li@example.cn")
    assert accounts.get_throttle("account", "li@example.cn") is None
    assert accounts.get_throttle("address", "192.0.2.1")["failures"] == 1
    with pytest.raises(ValueError):
        accounts.record_failure("other", "x", 0, 1)


# --- audit -------------------------------------------------------------------------------------------------------

@pytest.fixture
def audit(aws) -> Audit:
    return Audit(aws.dynamodb, os.environ["BDPILOT_AUDIT_TABLE"])


def test_audit_appends_and_reads_back_newest_first_across_days(audit):
    for i in range(6):
        audit.append({"actor": "li@example.cn", "role": "unit", "unit": "河北省", "action": "view",
                      "target": f"R{i}", "secret": "dropped"}, T0 - timedelta(hours=10 * i))
    items, cursor = audit.recent(days=3, limit=4, now=T0)
    assert [i["target"] for i in items] == ["R0", "R1", "R2", "R3"]
    assert "secret" not in items[0] and items[0]["expires_at"] > T0.timestamp() + 365 * 86400
    more, end = audit.recent(days=3, limit=4, cursor=cursor, now=T0)
    # R5 happened 50 hours before T0 (09:00 on the 20th): the 18th, still within three Beijing days.
    assert [i["target"] for i in more] == ["R4", "R5"] and end is None
    assert [i["target"] for i in audit.recent(days=1, limit=10, now=T0)[0]] == ["R0"]
    assert audit.recent(days=3, limit=4, cursor="forged", now=T0)[0] == items


def test_two_events_in_one_millisecond_both_stay(audit):
    a = audit.append({"action": "sign_in"}, T0)
    b = audit.append({"action": "sign_in"}, T0)
    assert a["day"] == b["day"] == "2019-11-20" and a["at"] != b["at"]
    assert a["at"].startswith("2019-11-20T09:00:00.000+08:00#")
    assert len(audit.recent(days=1, now=T0)[0]) == 2


def test_an_audit_item_is_never_overwritten(aws, audit, monkeypatch):
    from bdpilot.store import audit as audit_module

    monkeypatch.setattr(audit_module.secrets, "token_hex", lambda n: "0" * 8)
    audit.append({"action": "first"}, T0)
    with pytest.raises(audit_module.StorageUnavailable):
        audit.append({"action": "second"}, T0)
    assert [i["action"] for i in audit.recent(days=1, now=T0)[0]] == ["first"]


def test_storage_failures_are_ours(aws):
    from bdpilot.store.errors import NotFound

    client = boto3.client("dynamodb")
    with pytest.raises(NotFound):
        UnitIndex(client, "missing").list("河北省")
    with pytest.raises(NotFound):
        Accounts(client, "missing").get_account("a@example.cn")
    with pytest.raises(NotFound):
        Audit(client, "missing").append({"action": "x"}, T0)
