"""`bdpilot admin`'s exit codes (documented in the README and in `bdpilot admin --help`) and its one error."""

from __future__ import annotations

from bdpilot.console.records.verification import Check
from bdpilot.domain import wording

OK = 0
MISMATCH = 1  # a stored record or attachment does not match what was registered (altered), or the index differs
USAGE = 2  # wrong arguments (argparse's own code)
NOT_FOUND = 3  # no submission with that reference
NO_ACCESS = 4  # no credentials, expired or refused credentials
NO_TARGET = 5  # no such table / bucket / stack, no target configured, local run not running
UNAVAILABLE = 6  # storage failed in a way a retry may fix (network, throttling, service error)
INCOMPLETE = 7  # done, but a record or attachment the index or record lists is missing from storage
LOCAL_FILE = 8  # cannot write the output folder or file
INTERRUPTED = 130


def help_text() -> str:
    """The exit codes in words, for the end of every --help."""
    return wording.text("admin.exits.help", reference=wording.text("common.reference"), **{
        name.lower(): code for name, code in globals().items() if name.isupper() and isinstance(code, int)})


class AdminError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def exit_code(check: Check) -> int:
    return MISMATCH if check.altered else INCOMPLETE if check.missing else OK


def verdict(check: Check) -> str:
    """The verdict as `show` and `verify` print it."""
    return wording.text("admin.verdict.altered" if check.altered else
                        "admin.verdict.missing" if check.missing else "admin.verdict.ok")
