"""Where things are stored, shared by the function's writer and the staff's reader.

Bucket layout:   uploads/<id>                              raw browser uploads (expire after 7 days)
                 submissions/<ref>/record.json             the stored 申报书, canonical JSON
                 submissions/<ref>/attachments/<kind>-<n>.pdf
                 submissions/<ref>/v<n>/record.json      version n >= 2 (a revision), with its attachments under
                 submissions/<ref>/v<n>/attachments/...    v<n>/; version 1 keeps the keys above
                 exports/...                               admin exports
Table items:     SUB#<ref>    the index item admins list and filter (GSIs by time, direction, 推荐单位)
                 USCC#<code>  guard: one project per applicant
                 IDEM#<key>   the first response to an Idempotency-Key, replayed on retries (kept IDEMPOTENCY_DAYS)
                 REF#<ref>    claim on a reference by one Idempotency-Key, taken before any object is written
                 REV#<ref>#<n> claim on version n of a submission by one Idempotency-Key (a revision), likewise
                 FORM#<nonce> a form token that has been used for a stored submission
Units table:     (unit, reference)  one item per submission, written in the same transaction as SUB#<ref>, so
                 a 推荐单位's list is a Query on its own partition (LSI by-time: newest first); see store/units
Staff table:     ACCOUNT#<email>, INVITE#<sha256>, SESSION#<sha256>, THROTTLE#<kind>#<who>; see store/accounts
Audit table:     (day, at)  Beijing date, ISO time + "#" + 8 hex: append-only; see store/audit
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from bdpilot.store.errors import mapped

UPLOADS = "uploads/"
SUBMISSIONS = "submissions/"
EXPORTS = "exports/"
INDEXES = {"time": "by-time", "direction": "by-direction", "recommender": "by-recommender"}
UNITS_BY_TIME = "by-time"  # the units table's LSI: (unit, received_at)

# Lambda has a short budget: fail fast and let the client retry rather than hang.
CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})


def s3_config(endpoint_url: str | None) -> Config:
    """SigV4 always: S3 refuses SigV2 for SSE-KMS objects and for buckets created after June 2020. On AWS the
    bucket's regional virtual-hosted address (https://<bucket>.s3.<region>.amazonaws.com, .com.cn in China):
    the global endpoint answers a bucket elsewhere with a redirect that a browser's form POST cannot follow.
    A local stand-in (an endpoint URL) has no per-bucket host names, so it is addressed by path."""
    return CONFIG.merge(Config(signature_version="s3v4", s3={
        "addressing_style": "path" if endpoint_url else "virtual", "us_east_1_regional_endpoint": "regional"}))


def version_prefix(reference: str, version: int = 1) -> str:
    """Where one version's objects live: version 1 at the submission's own folder (the keys every submission
    had before revisions existed), version n >= 2 in v<n>/ beside it, so no version ever overwrites another."""
    if version < 1:
        raise ValueError(f"version {version} < 1")
    return f"{SUBMISSIONS}{reference}/" + (f"v{version}/" if version > 1 else "")


def record_key(reference: str, version: int = 1) -> str:
    return f"{version_prefix(reference, version)}record.json"


def attachment_key(reference: str, name: str, version: int = 1) -> str:
    return f"{version_prefix(reference, version)}attachments/{name}"


def version_of(index: dict[str, Any] | None) -> int:
    """The current version an index (SUB#) or units item names: absent means 1 (stored before revisions)."""
    value = (index or {}).get("version")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() and int(value) >= 1 else 1


def upload_key(upload_id: str) -> str:
    return f"{UPLOADS}{upload_id}"


def unit_item(index: dict[str, str | int], unit: str) -> dict[str, str]:
    """The units table's item for a submission, from its SUB# index item (the commit and the migration share it).
    The 推荐单位 as the applicant named it stays beside `unit` (they differ for an unlisted unit)."""
    fields = {"reference": "reference", "received_at": "received_at", "direction": "direction",
              "applicant": "unit_name", "uscc": "uscc", "project": "project_name", "status": "status",
              "digest": "digest", "recommender": "recommender"}
    return {"unit": unit, **{name: str(index.get(source) or "") for name, source in fields.items()}}


def marshal(item: dict[str, Any]) -> dict[str, Any]:
    return {k: {"N": str(v)} if isinstance(v, int) else {"S": str(v)} for k, v in item.items()}


def unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v["N"]) if "N" in v else v.get("S") for k, v in item.items()}


def count_all(dynamodb: Any, query: dict[str, Any]) -> int:
    """The items a Query (with Select=COUNT) matches, over every page it takes."""
    kwargs, total = dict(query), 0
    while True:
        with mapped():
            page = dynamodb.query(**kwargs)
        total += page.get("Count", 0)
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
