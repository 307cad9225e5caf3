"""A staff session for the console benches, made as the invitation and sign-in pages make one."""

from __future__ import annotations

from typing import Any


def session_cookie(now: Any, email: str, name: str, role: str, unit: str | None) -> str:
    """Create an account and a signed-in session for it; the session cookie's value."""
    from bdpilot.console import auth, services
    from bdpilot.domain import formats

    accounts = services.current().accounts
    accounts.create_account(email, name=name, role=role, unit=unit, invited_by="bench",
                            created_at=formats.beijing_time(now), password_hash=auth.hash_password("长城 长江 黄河"),
                            totp_secret=auth.new_totp_secret(), totp_last_step=auth.totp_step(now))
    session_id = auth.token()
    created = auth.epoch(now)
    accounts.create_session(auth.digest(session_id), email=email, role=role, unit=unit, created_at=created,
                            csrf=auth.token(), expires_at=auth.session_expiry(created))
    return session_id
