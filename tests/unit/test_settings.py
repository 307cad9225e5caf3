"""Settings: checked once when the container starts (a bad value fails the start, loudly, naming the setting),
then cheap per request. Before, an unparsable BDPILOT_DEADLINE (the stack's DeadlineOverride) made every call a
500 and nothing failed at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bdpilot import settings
from bdpilot.domain import campaign

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch) -> None:
    for name in settings.NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BDPILOT_SECRET", "unit-secret-0123456789")


@pytest.mark.parametrize("raw", ["2020-13-45T00:00", "tomorrow", "2020-11-30 5pm"])
def test_an_unparsable_deadline_names_the_setting(env, monkeypatch, raw: str) -> None:
    monkeypatch.setenv("BDPILOT_DEADLINE", raw)
    with pytest.raises(settings.SettingsError, match=r"BDPILOT_DEADLINE.*DeadlineOverride.*ISO 8601"):
        settings.load()


@pytest.mark.parametrize("raw", ["ten", "-1", "1.5"])
def test_an_unusable_minimum_fill_time_names_the_setting(env, monkeypatch, raw: str) -> None:
    monkeypatch.setenv("BDPILOT_MIN_FILL_SECONDS", raw)
    with pytest.raises(settings.SettingsError, match="BDPILOT_MIN_FILL_SECONDS"):
        settings.load()


def test_no_secret_at_all_says_where_it_should_come_from(env, monkeypatch) -> None:
    monkeypatch.delenv("BDPILOT_SECRET")
    with pytest.raises(settings.SettingsError, match=r"BDPILOT_SECRET_PARAMETER.*BDPILOT_SECRET"):
        settings.load()


def test_per_request_reads_parse_nothing_again(env, monkeypatch) -> None:
    monkeypatch.setenv("BDPILOT_DEADLINE", "2020-11-30T17:00")
    settings._load.cache_clear()
    parsed = []
    real = settings._deadline
    monkeypatch.setattr(settings, "_deadline", lambda raw: parsed.append(raw) or real(raw))
    first = settings.load()
    assert all(settings.load() is first for _ in range(100))
    assert parsed == ["2020-11-30T17:00"]
    # A changed environment (tests, the local run) is read and checked again.
    monkeypatch.setenv("BDPILOT_DEADLINE", "2020-12-31T17:00")
    assert settings.load().deadline.month == 12
    assert parsed == ["2020-11-30T17:00", "2020-12-31T17:00"]


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter importing the handler as Lambda's runtime does when a container starts."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BDPILOT_", "AWS_"))}
    return subprocess.run([sys.executable, "-c", "import bdpilot.web.api"], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**base, "AWS_LAMBDA_FUNCTION_NAME": "bdpilot-test-api",
                                         "AWS_DEFAULT_REGION": "us-east-1", **env})


def test_a_bad_deadline_fails_the_container_start_loudly() -> None:
    started = _start(BDPILOT_SECRET="unit-secret-0123456789", BDPILOT_DEADLINE="2020-11-31T17:00")
    assert started.returncode != 0
    assert "SettingsError" in started.stderr and "BDPILOT_DEADLINE" in started.stderr
    (line,) = [json.loads(x) for x in started.stdout.splitlines() if x.startswith("{")]
    assert line["level"] == "ERROR" and line["outcome"] == "init_failed"
    assert "DeadlineOverride" in line["problem"] and "2020-11-31T17:00" in line["problem"]


def test_good_settings_start_and_outside_lambda_nothing_is_read_at_import() -> None:
    assert _start(BDPILOT_SECRET="unit-secret-0123456789", BDPILOT_DEADLINE="2020-11-30T17:00").returncode == 0
    # Tests and the local run import the handler before they set their environment.
    outside = subprocess.run([sys.executable, "-c", "import bdpilot.web.api"], capture_output=True, text=True,
                             timeout=60, cwd=ROOT, env={k: v for k, v in os.environ.items()
                                                        if not k.startswith(("BDPILOT_", "AWS_"))})
    assert outside.returncode == 0, outside.stderr


def test_settings_are_built_checked_and_cannot_change() -> None:
    secret = {"BDPILOT_SECRET": "unit-secret-0123456789"}
    built = settings.Settings.from_env({**secret, "BDPILOT_DEADLINE": "2020-11-30T17:00"})
    assert built.deadline.utcoffset() is not None and built.deadline.hour == 17  # Beijing time when none is given
    assert (built.table, built.stage, built.min_fill_seconds) == ("bdpilot-submissions", "local", 10)
    with pytest.raises(AttributeError):
        built.deadline = built.deadline  # type: ignore[misc]
    with pytest.raises(settings.SettingsError, match="BDPILOT_DEADLINE"):
        settings.Settings.from_env({**secret, "BDPILOT_DEADLINE": "2020-11-31"})


SECRET = {"BDPILOT_SECRET": "unit-secret-0123456789"}


def test_review_and_mail_settings_have_local_defaults_and_aws_ones() -> None:
    local = settings.Settings.from_env(SECRET)
    assert local.unit_deadline == campaign.RECOMMENDATION_DEADLINE > local.deadline
    assert local.show_results is campaign.SHOW_RESULTS is False
    assert (local.site_url, local.mail, local.smtp_url) == ("http://127.0.0.1:8000", "outbox", "")
    assert "@" in local.mail_from and local.outbox_dir.name == "bdpilot-outbox"
    aws = settings.Settings.from_env({**SECRET, "BDPILOT_STAGE": "prod", "BDPILOT_SITE_URL": "https://a.example.cn",
                                      "BDPILOT_OUTBOX_DIR": "/tmp/x", "BDPILOT_SHOW_RESULTS": "1"})
    assert (aws.mail, aws.site_url, aws.show_results, str(aws.outbox_dir)) == ("ses", "https://a.example.cn", True,
                                                                                "/tmp/x")


def test_a_new_round_keeps_the_units_window_unless_told_otherwise() -> None:
    moved = settings.Settings.from_env({**SECRET, "BDPILOT_DEADLINE": "2020-11-30T17:00"})
    assert moved.unit_deadline - moved.deadline == campaign.RECOMMENDATION_DEADLINE - campaign.DEADLINE
    told = settings.Settings.from_env({**SECRET, "BDPILOT_DEADLINE": "2020-11-30T17:00",
                                       "BDPILOT_UNIT_DEADLINE": "2020-11-30T17:00"})
    assert told.unit_deadline == told.deadline  # equal is allowed: no review window, but nothing contradictory
    utc = settings.Settings.from_env({**SECRET, "BDPILOT_UNIT_DEADLINE": "2019-12-10T09:00+00:00"})
    assert utc.unit_deadline.utcoffset() is not None and utc.unit_deadline.hour == 9


@pytest.mark.parametrize(("env", "pattern"), [
    ({"BDPILOT_UNIT_DEADLINE": "soon"}, r"BDPILOT_UNIT_DEADLINE.*ISO 8601"),
    ({"BDPILOT_DEADLINE": "2020-11-30T17:00", "BDPILOT_UNIT_DEADLINE": "2020-11-30T16:59"},
     r"BDPILOT_UNIT_DEADLINE.*before.*BDPILOT_DEADLINE"),
    ({"BDPILOT_UNIT_DEADLINE": "2019-11-21T23:59"}, r"BDPILOT_UNIT_DEADLINE.*before"),
    ({"BDPILOT_SHOW_RESULTS": "yes"}, r"BDPILOT_SHOW_RESULTS.*1 or 0"),
    ({"BDPILOT_SHOW_RESULTS": "true"}, "BDPILOT_SHOW_RESULTS"),
    ({"BDPILOT_MAIL": "sendmail"}, r"BDPILOT_MAIL .*ses, smtp, outbox, off"),
    ({"BDPILOT_MAIL": "SES"}, "BDPILOT_MAIL"),
    ({"BDPILOT_MAIL": "smtp"}, r"BDPILOT_MAIL is smtp but BDPILOT_SMTP_URL"),
    ({"BDPILOT_SMTP_URL": "http://relay.example.cn"}, "BDPILOT_SMTP_URL"),
    ({"BDPILOT_SMTP_URL": "smtp://user:pw@relay.example.cn:587"}, r"BDPILOT_SMTP_URL.*SMTP_SECRET_PARAMETER"),
    ({"BDPILOT_SMTP_URL": "smtp://relay.example.cn:port"}, "BDPILOT_SMTP_URL"),
    ({"BDPILOT_SMTP_URL": "smtps://"}, "BDPILOT_SMTP_URL"),
    ({"BDPILOT_SITE_URL": "https://a.example.cn/"}, r"BDPILOT_SITE_URL.*trailing slash"),
    ({"BDPILOT_SITE_URL": "https://a.example.cn/apply"}, "BDPILOT_SITE_URL"),
    ({"BDPILOT_SITE_URL": "ftp://a.example.cn"}, "BDPILOT_SITE_URL"),
    ({"BDPILOT_SITE_URL": "a.example.cn"}, "BDPILOT_SITE_URL"),
    ({"BDPILOT_SITE_URL": "https://a.example.cn?x=1"}, "BDPILOT_SITE_URL"),
    ({"BDPILOT_MAIL_FROM": "nobody"}, "BDPILOT_MAIL_FROM"),
    ({"BDPILOT_MAIL_FROM": "a b@example.cn"}, "BDPILOT_MAIL_FROM"),
])
def test_unusable_review_and_mail_settings_name_the_variable(env: dict[str, str], pattern: str) -> None:
    with pytest.raises(settings.SettingsError, match=pattern):
        settings.Settings.from_env({**SECRET, **env})


def test_smtp_relay_settings_are_kept_as_given() -> None:
    relay = settings.Settings.from_env({**SECRET, "BDPILOT_MAIL": "smtp", "BDPILOT_SMTP_URL": "smtps://relay.cn:465",
                                        "BDPILOT_SMTP_SECRET_PARAMETER": "/bdpilot/prod/smtp",
                                        "BDPILOT_MAIL_FROM": "申报系统 <noreply@example.cn>"})
    assert (relay.mail, relay.smtp_url, relay.smtp_secret_parameter) == ("smtp", "smtps://relay.cn:465",
                                                                         "/bdpilot/prod/smtp")
    assert relay.mail_from == "申报系统 <noreply@example.cn>"
    assert settings.Settings.from_env({**SECRET, "BDPILOT_MAIL": "off"}).mail == "off"


def test_every_new_variable_is_part_of_the_cache_key(env, monkeypatch) -> None:
    first = settings.load()
    monkeypatch.setenv("BDPILOT_SITE_URL", "https://b.example.cn")
    monkeypatch.setenv("BDPILOT_OUTBOX_DIR", "/tmp/other-outbox")
    second = settings.load()
    assert second is not first and second.site_url == "https://b.example.cn"
    assert str(second.outbox_dir) == "/tmp/other-outbox"
