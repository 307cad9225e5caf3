"""Is what is stored what was submitted: one check shared by `verify`, `show`, `download` and `export`.

The record's SHA-256 against the index's digest and the digest stored beside it, the index's summary fields
against the record, and each attachment's size and SHA-256 (hashed as it streams, read once) against the record's
`files`, which the digest covers. What does not match is reported, never passed as genuine: alterations are exit
code 1, missing objects exit code 7.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from bdpilot.console.records.cells import Warnings
from bdpilot.domain import campaign, reference, wording
from bdpilot.domain.application import Application, AttachmentKind
from bdpilot.store.layout import version_of
from bdpilot.store.reader import Reader

ATTACHMENT_NAME = re.compile(rf"^(?:{'|'.join(re.escape(k.value) for k in AttachmentKind)})-[1-9][0-9]{{0,2}}\.pdf$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# The index item's summary fields, each checked against the record (labels: admin.index_field.* or common.*).
INDEX_FIELDS = ("reference", "received_at", "direction", "recommender", "unit_name", "uscc", "project_name",
                "attachments")
_COMMON_LABELS = {"reference": "common.reference", "received_at": "common.received_at"}


def _w(key: str, /, **params: Any) -> str:
    return wording.text(f"admin.check.{key}", **params)


def field_label(name: str) -> str:
    return wording.text(_COMMON_LABELS.get(name, f"admin.index_field.{name}"))


def safe_reference(value: Any) -> str | None:
    """A reference usable as a folder name: only a valid reference (its own alphabet and check character)."""
    return value if isinstance(value, str) and reference.is_valid(value) else None


def safe_attachment_name(value: Any) -> str | None:
    return value if isinstance(value, str) and ATTACHMENT_NAME.fullmatch(value) else None


def attachment_names(record: dict[str, Any]) -> list[str]:
    files = record.get("files")
    return [str(f.get("name")) for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def parse_record(data: bytes) -> dict[str, Any] | None:
    """A stored record.json as a dict, or None when it is not one (damaged or altered in storage)."""
    try:
        record = json.loads(data)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class Check:
    """What checking one stored submission found: alterations (exit code 1) and missing objects (exit code 7)."""

    def __init__(self) -> None:
        self.altered: list[str] = []
        self.missing: list[str] = []
        self.digest_ok = False  # the record's bytes are the ones the index registered
        self.view: dict[str, str] | None = None  # the index fields as the record says them (when it parses)
        self.files: list[dict[str, Any]] = []  # the record's attachments whose entries are well formed

    @property
    def ok(self) -> bool:
        return not self.altered and not self.missing

    @property
    def verdict(self) -> str:
        """The word for the export's 摘要核验 column."""
        return _w("verdict_altered" if self.altered else "verdict_missing" if self.missing else "verdict_ok")

    def problems(self) -> list[str]:
        return self.altered + self.missing

    def report(self, ref: str, warnings: Warnings) -> None:
        for line in self.altered:
            warnings.add(_w("about", ref=ref, line=line), altered=True)
        for line in self.missing:
            warnings.add(_w("about", ref=ref, line=line), missing=True)


class Hashing:
    """A binary file object that hashes and counts what passes through it (to `inner`, or nowhere): an attachment
    is read once, whether it is saved or only checked."""

    def __init__(self, inner: Any = None) -> None:
        self.inner, self.sha, self.size = inner, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.inner.write(data) if self.inner is not None else len(data)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


_COVER: type[BaseModel] = Application.model_fields["cover"].annotation  # type: ignore[assignment]


def index_view(record: dict[str, Any]) -> dict[str, str]:
    """The summary fields the index item must hold, derived from the record as the submission derived them.

    The stored answers are already the models' output, so they are read as stored; only the 推荐单位 as counted
    needs the cover's own rule (`recommender_name`), taken from the model so that the two cannot drift."""
    application = record.get("application")
    cover = _get(application, "cover")
    try:
        recommender = _COVER.model_validate(cover).recommender_name  # type: ignore[attr-defined]
    except (ValidationError, ValueError, TypeError):
        # A cover the current model no longer accepts (or an altered one): read it as stored.
        recommender = _get(cover, "recommender")
        if recommender == campaign.OTHER_RECOMMENDER:
            group = _get(cover, "recommender_group")
            unlisted = getattr(campaign, "UNLISTED_RECOMMENDER", None)
            recommender = group if group and group != unlisted else _get(cover, "recommender_other")
    files = record.get("files")
    values = {"reference": record.get("reference"), "received_at": record.get("received_at"),
              "direction": _get(cover, "direction"), "recommender": recommender,
              "unit_name": _get(application, "applicant", "name"), "uscc": _get(application, "applicant", "uscc"),
              "project_name": _get(cover, "project_name"),
              "attachments": len(files) if isinstance(files, list) else None}
    return {k: "" if v is None else str(v) for k, v in values.items()}


def _record_files(record: dict[str, Any], check: Check) -> list[dict[str, Any]]:
    """The record's attachment entries that can be checked; each malformed one is reported."""
    files = record.get("files")
    if not isinstance(files, list):
        check.altered.append(_w("no_file_list"))
        return []
    good, names = [], set()
    for i, f in enumerate(files, 1):
        name = f.get("name") if isinstance(f, dict) else None
        if not isinstance(f, dict) or safe_attachment_name(name) is None or name in names:
            check.altered.append(_w("bad_file_name", i=i, name=repr(name)))
        elif not isinstance(f.get("size"), int) or isinstance(f.get("size"), bool) or \
                not isinstance(f.get("sha256"), str) or not _SHA256.fullmatch(f["sha256"]):
            check.altered.append(_w("file_unregistered", name=name))
            names.add(name)
        else:
            good.append(f)
            names.add(name)
    return good


def check_record(ref: str, index: dict[str, Any], data: bytes | None, stored_sha256: str | None
                 ) -> tuple[dict[str, Any] | None, Check]:
    """The stored record against its index item and the digest written beside it: (the record if it parses,
    what was found)."""
    check = Check()
    if data is None:
        check.missing.append(_w("record_missing"))
        return None, check
    actual = hashlib.sha256(data).hexdigest()
    check.digest_ok = actual == index.get("digest")
    if not check.digest_ok:
        check.altered.append(_w("digest_mismatch"))
    if stored_sha256 != actual:
        check.altered.append(_w("metadata_mismatch") if stored_sha256 else _w("metadata_missing"))
    record = parse_record(data)
    if record is None:
        check.altered.append(_w("not_a_record"))
        check.digest_ok = False
        return None, check
    if record.get("reference") != ref:
        check.altered.append(_w("other_reference", label=field_label("reference"), found=record.get("reference")))
    view = check.view = index_view(record)
    for name in INDEX_FIELDS:
        held = "" if index.get(name) is None else str(index.get(name))
        if held != view[name]:
            check.altered.append(_w("index_differs", label=field_label(name), held=held, view=view[name]))
    check.files = _record_files(record, check)
    return record, check


def check_attachment(check: Check, entry: dict[str, Any], got: Hashing | None) -> str:
    """One attachment as read against the record's entry; its state in words (for `show`)."""
    name = entry["name"]
    if got is None:
        check.missing.append(_w("file_missing", name=name))
        return _w("state_missing")
    if got.size != entry["size"]:
        check.altered.append(_w("file_size", name=name, size=f"{got.size:,}", registered=f"{entry['size']:,}"))
        return _w("state_size", size=f"{got.size:,}")
    if got.sha.hexdigest() != entry["sha256"]:
        check.altered.append(_w("file_sha", name=name))
        return _w("state_sha")
    return _w("state_ok")


def check_extra(check: Check, record: dict[str, Any] | None, stored: dict[str, int]) -> list[str]:
    """Attachments in storage that the record does not list (nothing to compare with when it did not parse)."""
    if record is None:
        return []
    listed = set(attachment_names(record))
    extra = sorted(name for name in stored if name not in listed)
    for name in extra:
        check.altered.append(_w("file_extra", name=name))
    return extra


def read_attachment(store: Reader, ref: str, name: str, sink: Any = None, version: int | None = None
                    ) -> Hashing | None:
    """Stream one attachment of a version (None: the current one) into `sink`, or only through the hash; None
    when it is missing."""
    hashing = Hashing(sink)
    return None if store.read_attachment(ref, name, hashing, version=version) is None else hashing


@dataclass
class Checked:
    """One submission checked without saving anything (verify, show)."""

    data: bytes | None
    record: dict[str, Any] | None
    check: Check
    states: dict[str, str]  # attachment name → its state in words
    extra: list[str]


def check_stored(store: Reader, ref: str, index: dict[str, Any], version: int | None = None) -> Checked:
    """The record against its index item, then each attachment read once and hashed, then what else is stored.
    `version` None is the version the index names current; an earlier one is checked against the digest its
    successor's record registered ("supersedes"), its summary fields against itself (they may since differ)."""
    current = version_of(index)
    n = current if version is None else version
    got = store.get_record_object(ref, n)
    data, stored_sha = got if got is not None else (None, None)
    expected = index if n == current else _earlier(store, ref, n, data)
    record, check = check_record(ref, expected, data, stored_sha)
    if record is not None and n > 1 and record.get("version") != n:
        check.altered.append(wording.text("revision.check.version", version=n, found=record.get("version")))
    states = {f["name"]: check_attachment(check, f, read_attachment(store, ref, f["name"], version=n))
              for f in check.files}
    extra = check_extra(check, record, store.attachment_sizes(ref, n)) if data is not None else []
    return Checked(data, record, check, states, extra)


def _earlier(store: Reader, ref: str, n: int, data: bytes | None) -> dict[str, Any]:
    """What an earlier version must match: the digest version n + 1 says it supersedes, and its own fields."""
    later = store.get_record_object(ref, n + 1)
    successor = parse_record(later[0]) if later is not None else None
    record = parse_record(data) if data is not None else None
    return {**(index_view(record) if record is not None else {}), "digest": (successor or {}).get("supersedes")}
