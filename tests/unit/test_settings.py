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
