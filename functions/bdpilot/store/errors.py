"""AWS errors in our terms: the one place that reads botocore's exceptions and AWS error codes.

Every failure becomes a `StorageUnavailable` (the public function answers 503 to all of them); its subclasses say
what an operator can do about it (log in, fix the target's name, set a region, start the local run), so the admin
tools choose their words and exit codes without knowing a single AWS code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

T = TypeVar("T")


class StorageUnavailable(Exception):
    """S3 or DynamoDB failed in a way a later retry may fix (throttling, 5xx, timeouts, denied access).
    `str(exc)` is the AWS error code (or botocore's exception name), for the log and the operator."""

    def __init__(self, code: str = "") -> None:
        super().__init__(code)
        self.code = code


class NoCredentials(StorageUnavailable):
    """No usable credentials were found (no profile, no environment, SSO not logged in)."""


class ProfileNotFound(NoCredentials):
    """The named AWS profile is not configured."""


class AccessRefused(StorageUnavailable):
    """AWS refused the credentials: invalid, expired, or without the policy the call needs."""


class NotFound(StorageUnavailable):
    """The target itself does not exist: `what` is "table", "bucket", "stack" or "outputs" (a stack without the
    outputs that name its table and bucket). A missing object is not this: reads answer None for it."""

    def __init__(self, code: str, what: str) -> None:
        super().__init__(code)
        self.what = what


class NoRegion(StorageUnavailable):
    """No AWS region was given or configured."""


class Unreachable(StorageUnavailable):
    """The endpoint could not be reached (network, or a local run that is not running)."""


class Conflict(Exception):
    """A conditional write lost: `what` is "applicant" (the USCC guard), "key" (the Idempotency-Key),
    "form" (the form token was used already) or "reference" (another key holds the reference)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


_NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                   "SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError"}
_REFUSED = {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId",
            "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "SignatureDoesNotMatch",
            "UnauthorizedOperation", "InvalidToken", "403", "AllAccessDisabled"}
_TARGET_MISSING = {"ResourceNotFoundException": "table", "NoSuchBucket": "bucket", "StackNotFound": "stack",
                   "StackOutputsMissing": "outputs"}
_UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ReadTimeoutError"}
# S3's answers for "no such object": GET says NoSuchKey, a HEAD (no error body) only its status.
OBJECT_MISSING = ("404", "NoSuchKey", "NotFound")


def code_of(exc: Exception) -> str:
    """The AWS error code of a ClientError, or the name of any other exception (botocore's own failures)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def unavailable(exc: Exception | str) -> StorageUnavailable:
    """The exception that says what went wrong, from a botocore exception or an error code."""
    code = exc if isinstance(exc, str) else code_of(exc)
    if code == "ProfileNotFound":
        return ProfileNotFound(code)
    if code in _NO_CREDENTIALS:
        return NoCredentials(code)
    if code in _REFUSED:
        return AccessRefused(code)
    if code in _TARGET_MISSING:
        return NotFound(code, _TARGET_MISSING[code])
    if code == "NoRegionError":
        return NoRegion(code)
    if code in _UNREACHABLE:
        return Unreachable(code)
    return StorageUnavailable(code)


def is_code(exc: ClientError, *codes: str) -> bool:
    return exc.response.get("Error", {}).get("Code") in codes


@contextmanager
def mapped() -> Iterator[None]:
    """Turn any botocore failure inside the block into our exceptions."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise unavailable(exc) from exc


CONDITION_FAILED = ("ConditionalCheckFailedException",)


def or_none(call: Callable[[], T], missing: tuple[str, ...] = OBJECT_MISSING) -> T | None:
    """The result of a call, None when it failed with one of the `missing` codes (by default: an S3 object is not
    there; CONDITION_FAILED: a conditional write's condition did not hold); other failures are StorageUnavailable."""
    try:
        return call()
    except ClientError as exc:
        if is_code(exc, *missing):
            return None
        raise unavailable(exc) from exc
    except BotoCoreError as exc:
        raise unavailable(exc) from exc


def written(call: Callable[[], object]) -> bool:
    """Run a conditional write: True when it was written, False when its condition did not hold."""
    return or_none(call, CONDITION_FAILED) is not None
