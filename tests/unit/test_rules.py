from datetime import datetime, timedelta

from bdpilot import settings
from bdpilot.domain import campaign, rules


def test_window_closes_at_the_deadline_in_beijing_time():
    deadline = campaign.DEADLINE
    assert rules.window(deadline - timedelta(seconds=1), deadline).open
    assert not rules.window(deadline, deadline).open
    # 2019-11-21 16:30 UTC is already 2019-11-22 00:30 in Beijing.
    utc = datetime(2019, 11, 21, 16, 30, tzinfo=campaign.ZoneInfo("UTC"))
    assert not rules.window(utc, deadline).open
    assert rules.window(utc - timedelta(hours=1), deadline).open


def test_deadline_override_for_a_new_round(monkeypatch):
    monkeypatch.setenv("BDPILOT_SECRET", "x")
    monkeypatch.delenv("BDPILOT_DEADLINE", raising=False)
    assert settings.load().deadline == campaign.DEADLINE
    monkeypatch.setenv("BDPILOT_DEADLINE", "2020-11-30T17:00")
    assert settings.load().deadline == datetime(2020, 11, 30, 17, 0, tzinfo=campaign.TZ)
    monkeypatch.setenv("BDPILOT_DEADLINE", "2020-11-30T09:00+00:00")
    assert settings.load().deadline.astimezone(campaign.TZ).hour == 17


def test_one_project_per_applicant_is_keyed_by_uscc():
    assert rules.applicant_key("91350100M000100Y43") == "USCC#91350100M000100Y43"


def test_quota_use_by_kind():
    uses = {u.recommender: u for u in rules.quota_use({"河北省": 11, "深圳市": 5, "某央企集团": 4, "北京市": 1})}
    assert (uses["河北省"].quota, uses["河北省"].over) == (10, True)
    assert (uses["深圳市"].quota, uses["深圳市"].over) == (5, False)
    assert (uses["某央企集团"].quota, uses["某央企集团"].over) == (3, True)
    assert uses["北京市"].kind is campaign.RecommenderKind.PROVINCE
