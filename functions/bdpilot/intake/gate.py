"""The two checks every write goes through first: a genuine form token, and an open submission window."""

from __future__ import annotations

from datetime import datetime

from bdpilot import settings
from bdpilot.domain import formats, rules, tokens, wording
from bdpilot.intake.refusals import Closed, TooFast, Unverified


def check_token(cfg: settings.Settings, token: object, now: datetime, *, min_seconds: int = 0) -> str:
    """The form token, if this server signed it and it is neither too fresh nor too old (any JSON value may come)."""
    problem = tokens.check(cfg.secret, token, now, min_seconds=min_seconds,
                           max_seconds=settings.TOKEN_MAX_AGE_SECONDS)
    if problem is None:
        return str(token)
    if problem.code == "too_fast":
        raise TooFast("too_fast", wording.text("intake.too_fast", seconds=problem.retry_after),
                      retry_after=problem.retry_after)
    raise Unverified("form_token_invalid", wording.text("intake.token_invalid"))


def require_open(cfg: settings.Settings, now: datetime) -> None:
    if not rules.window(now, cfg.deadline).open:
        raise closed(cfg)


def closed(cfg: settings.Settings) -> Closed:
    deadline = formats.beijing_time(cfg.deadline.isoformat(), seconds=False)
    return Closed("window_closed", wording.text("intake.closed", deadline=deadline))


def admit(cfg: settings.Settings, now: datetime, token: object, *, window: bool = True) -> str:
    """The form token of an upload step (no minimum fill time), and the window when the step writes."""
    checked = check_token(cfg, token, now)
    if window:
        require_open(cfg, now)
    return checked
