"""Why the intake refuses a request, as domain exceptions: a stable code, a Chinese message from the catalogue
and the failing fields. Which HTTP status each kind becomes is the web layer's business (bdpilot.web.api.STATUS),
so the intake can be called from anything that is not HTTP (the local seeding, benchmarks, a future console).
"""

from __future__ import annotations

from collections.abc import Iterable

from bdpilot.domain import wording
from bdpilot.domain.errors import FieldError


class Refused(Exception):
    """A request the intake will not take, worded for the person who sent it."""

    def __init__(self, code: str, message: str, fields: Iterable[FieldError] = (), *,
                 retry_after: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.fields = list(fields)
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        """The answer's `error` object, whatever carries it (JSON, or a page listing the fields)."""
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = [f.as_dict() for f in self.fields]
        return {"error": error}


class Unreadable(Refused):
    """The request cannot be read as one: not a JSON object, not UTF-8, no usable Idempotency-Key."""


class TooLarge(Refused):
    """A body or a declared file beyond its limit."""


class Invalid(Refused):
    """Readable, but some fields (listed) cannot be accepted."""


class Unverified(Refused):
    """The form token is forged, expired or missing: the page must be reloaded."""


class Closed(Refused):
    """The submission window has closed."""


class TooFast(Refused):
    """Sent sooner than a person could fill the form; `retry_after` says when it would be taken."""


class AlreadyUsed(Refused):
    """Something that may be used once already was: this applicant's USCC, or this form."""


class Unavailable(Refused):
    """Storage failed; nothing was kept and the same request may be sent again."""


def invalid(path: str, message: str, summary: str = "intake.summary") -> Invalid:
    """One failing field, under the catalogue's summary `summary`."""
    return Invalid("validation_failed", wording.text(summary), [FieldError(path, message)])


def malformed(key: str = "intake.not_an_object") -> Unreadable:
    return Unreadable("malformed", wording.text(key))
