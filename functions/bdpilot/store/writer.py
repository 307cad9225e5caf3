"""The public function's storage: what taking in a submission needs, and nothing that reads submissions back.

The function's role may presign uploads, inspect and copy them, write the record and commit the index in one
transaction; it can never list or read stored submissions. The staff's reads are in `bdpilot.store.reader`, which
the function does not import and its zip does not hold.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bdpilot.store.errors import (
    OBJECT_MISSING,
    Conflict,
    StorageUnavailable,
    mapped,
    or_none,
    unavailable,
    written,
)
from bdpilot.store.layout import CONFIG, attachment_key, marshal, record_key, s3_config, unit_item, upload_key

# How long an Idempotency-Key's first response is replayed (the IDEM# item's TTL): a client retrying later gets
# a fresh submission attempt, which the applicant guard still refuses.
IDEMPOTENCY_DAYS = 30
# After this long a revision's claim on a version (REV#) is a dead request's: far beyond the function's timeout.
CLAIM_STALE_SECONDS = 15 * 60
# The units table when none is named (BDPILOT_UNITS_TABLE, the stack's UnitsTable).
UNITS_TABLE = "bdpilot-units"


class UploadInfo(NamedTuple):
    size: int
    content_type: str
    owner: str
    head: bytes
    etag: str = ""
    filename: str = ""  # the original file name of a no-JavaScript upload, "" for the JSON API's
    modified: datetime | None = None
    source: str = ""  # a no-JavaScript upload's slot: the ETag of the file it holds (or held, when emptied)


class Store:
    def __init__(self, table: str, bucket: str, *, session: boto3.Session | None = None,
                 endpoint_url: str | None = None, units_table: str | None = None) -> None:
        self.table = table
        self.bucket = bucket
        self.units_table = units_table or os.environ.get("BDPILOT_UNITS_TABLE") or UNITS_TABLE
        self._session = session or boto3.Session()
        self._endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None

    @cached_property
    def s3(self) -> Any:
        with mapped():  # a missing region surfaces here, on first use
            return self._session.client("s3", endpoint_url=self._endpoint, config=s3_config(self._endpoint))

    @cached_property
    def dynamodb(self) -> Any:
        with mapped():
            return self._session.client("dynamodb", endpoint_url=self._endpoint, config=CONFIG)

    def _get_item(self, pk: str) -> dict[str, Any] | None:
        with mapped():
            item = self.dynamodb.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True)
        return item.get("Item")

    # --- uploads ------------------------------------------------------------------------------------------

    def presign_upload(self, upload_id: str, owner: str, *, max_bytes: int, expires: int,
                       redirect: str | None = None, named: bool = False) -> dict[str, Any]:
        """A presigned POST that lets a browser put one PDF straight into uploads/ (never through Lambda).
        With `redirect`, S3 sends the browser there afterwards (the upload step that works without JavaScript).
        `named` stores the file under uploads/<id>/<the browser's file name> (S3's ${filename}; the policy then
        only fixes the key's uploads/<id>/ prefix), so the redirect's `key` tells the page the original name."""
        fields = {"Content-Type": "application/pdf", "x-amz-meta-owner": owner}
        conditions: list[Any] = [
            {"Content-Type": "application/pdf"},
            {"x-amz-meta-owner": owner},
            ["content-length-range", 1, max_bytes],
        ]
        if redirect:
            fields["success_action_redirect"] = redirect
            conditions.append({"success_action_redirect": redirect})
        with mapped():
            key = upload_key(upload_id) + ("/${filename}" if named else "")  # boto3 adds the starts-with rule
            return self.s3.generate_presigned_post(self.bucket, key, Fields=fields,
                                                   Conditions=conditions, ExpiresIn=expires)

    def inspect_upload(self, upload_id: str, key: str | None = None) -> UploadInfo | None:
        """Size, type, owner and file name (see `file_upload`) of an upload, plus its first bytes; None when there
        is no such upload. `key` names a no-JavaScript upload where S3 stored it (uploads/<id>/<file name>)."""
        key = key or upload_key(upload_id)
        # Without s3:ListBucket (the function has none, on purpose) S3 answers a HEAD of a missing key with a
        # bare 403 rather than 404.
        head = or_none(lambda: self.s3.head_object(Bucket=self.bucket, Key=key), (*OBJECT_MISSING, "403"))
        if head is None:
            return None
        size = int(head["ContentLength"])
        first = b""
        if size:
            with mapped():
                first = self.s3.get_object(Bucket=self.bucket, Key=key, Range="bytes=0-7")["Body"].read()
        meta = head.get("Metadata", {})
        return UploadInfo(size, head.get("ContentType", ""), meta.get("owner", ""), first, head.get("ETag", ""),
                          unquote(meta.get("filename", "")), head.get("LastModified"), meta.get("source", ""))

    def file_upload(self, key: str, upload_id: str, owner: str, filename: str, etag: str) -> None:
        """Copy a checked no-JavaScript upload from where S3 stored it (`key`) to uploads/<id>, the key a
        submission reads, with its file name (percent-encoded: S3 metadata is ASCII) and its ETag (`source`). Only
        the object that was checked is copied."""
        with mapped():
            self.s3.copy_object(
                Bucket=self.bucket, Key=upload_key(upload_id), CopySource={"Bucket": self.bucket, "Key": key},
                CopySourceIfMatch=etag, ContentType="application/pdf", MetadataDirective="REPLACE",
                Metadata={"owner": owner, "filename": quote(filename, safe=""), "source": etag.strip('"')},
            )

    def withdraw_upload(self, upload_id: str, owner: str, source: str) -> None:
        """Empty uploads/<id> (the function may not delete): an empty upload is no attachment, and never a PDF.
        `source` (the removed file's) tells a later look at the removed file's redirect that it was removed."""
        with mapped():
            self.s3.put_object(Bucket=self.bucket, Key=upload_key(upload_id), Body=b"", ContentType="application/pdf",
                               Metadata={"owner": owner, "source": source})

    # --- the submission -----------------------------------------------------------------------------------

    def claim_reference(self, reference: str, idempotency_key: str) -> bool:
        """Hold a reference for one Idempotency-Key before anything is written under submissions/<ref>/, so a
        colliding reference can never overwrite another applicant's objects. True when the claim is (or already
        was) this key's; False when another key holds it."""
        return written(lambda: self.dynamodb.put_item(
            TableName=self.table, Item=marshal({"pk": f"REF#{reference}", "key": idempotency_key}),
            ConditionExpression="attribute_not_exists(pk) OR #k = :k",
            ExpressionAttributeNames={"#k": "key"}, ExpressionAttributeValues={":k": {"S": idempotency_key}},
        ))

    def copy_upload(self, upload_id: str, reference: str, name: str, etag: str, version: int = 1) -> str:
        """Copy a checked upload into the submission; returns the copy's SHA-256 (hex), computed by S3.

        The copy is made only if the upload is still the object that was checked (its ETag), so bytes swapped
        in after the check cannot ride along. S3 computes a SHA-256 of the copy (a POST upload is one part, so
        it is the file's whole-object hash) and it goes into the record, whose digest then covers the file."""
        with mapped():
            result = self.s3.copy_object(
                Bucket=self.bucket, Key=attachment_key(reference, name, version),
                CopySource={"Bucket": self.bucket, "Key": upload_key(upload_id)}, CopySourceIfMatch=etag,
                ContentType="application/pdf", MetadataDirective="REPLACE", ChecksumAlgorithm="SHA256",
            )
        checksum = result.get("CopyObjectResult", {}).get("ChecksumSHA256")
        if not checksum:
            raise StorageUnavailable("ChecksumMissing")
        return base64.b64decode(checksum).hex()

    def put_record(self, reference: str, body: bytes, digest: str, version: int = 1) -> None:
        with mapped():
            self.s3.put_object(Bucket=self.bucket, Key=record_key(reference, version), Body=body,
                               ContentType="application/json; charset=utf-8", Metadata={"sha256": digest})

    def applicant_taken(self, guard_pk: str) -> bool:
        return self._get_item(guard_pk) is not None

    def replay(self, idempotency_key: str) -> tuple[str, dict[str, Any]] | None:
        """The request hash and first response stored under an Idempotency-Key, if any."""
        item = self._get_item(f"IDEM#{idempotency_key}")
        if item is None:
            return None
        return item["request_hash"]["S"], json.loads(item["response"]["S"])

    def form_used(self, form_pk: str) -> bool:
        return self._get_item(form_pk) is not None

    def commit(self, index: dict[str, str | int], guard_pk: str, idempotency_key: str, request_hash: str,
               response: dict[str, Any], expires_at: int, form_pk: str, form_expires_at: int, unit: str) -> None:
        """One transaction, all or nothing: the index item, the applicant guard, the idempotency record (kept
        until `expires_at`, see IDEMPOTENCY_DAYS), the used form token (a token admits one stored
        submission; a replay is answered before it is checked) and the 推荐单位's item in the units table, so
        that item exists exactly when the submission does."""
        reference = str(index["reference"])
        items: list[dict[str, Any]] = [
            {"pk": f"SUB#{reference}", **index},
            {"pk": guard_pk, "reference": reference, "received_at": index["received_at"]},
            {"pk": f"IDEM#{idempotency_key}", "reference": reference, "request_hash": request_hash,
             "response": json.dumps(response, ensure_ascii=False), "expires_at": expires_at},
            {"pk": form_pk, "expires_at": form_expires_at},
        ]
        puts: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": marshal(item), "ConditionExpression": "attribute_not_exists(pk)"}}
            for item in items
        ]
        puts.append({"Put": {"TableName": self.units_table, "Item": marshal(unit_item(index, unit)),
                             "ConditionExpression": "attribute_not_exists(#r)",
                             "ExpressionAttributeNames": {"#r": "reference"}}})
        try:
            self.dynamodb.transact_write_items(TransactItems=puts)
        except ClientError as exc:
            raise _lost(exc) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc

    # --- a revision (a new version of a stored submission) ---------------------------------------------------

    def claim_version(self, reference: str, version: int, idempotency_key: str, now: int) -> bool:
        """Hold version `version` of a submission for one Idempotency-Key before anything is written under its
        v<n>/ folder, so two revisions racing for the same version never mix their objects. A claim older than
        CLAIM_STALE_SECONDS (its request long dead) may be taken over. True when the claim is this key's."""
        return written(lambda: self.dynamodb.put_item(
            TableName=self.table,
            Item=marshal({"pk": f"REV#{reference}#{version}", "key": idempotency_key, "at": now,
                          "expires_at": now + IDEMPOTENCY_DAYS * 86400}),
            ConditionExpression="attribute_not_exists(pk) OR #k = :k OR #at < :stale",
            ExpressionAttributeNames={"#k": "key", "#at": "at"},
            ExpressionAttributeValues={":k": {"S": idempotency_key}, ":stale": {"N": str(now - CLAIM_STALE_SECONDS)}},
        ))

    def copy_kept(self, reference: str, kept: tuple[str, int], name: str, version: int, sha256: str) -> str:
        """Copy an attachment the applicant kept, `kept` = (its name, its version), to `name` in `version`
        (numbering may move: kept files and new ones are numbered per kind again); returns the copy's
        SHA-256 (computed by S3), which must be the one the earlier record registered, else KeptAltered: a file
        changed in storage is never carried into a new version as if it were the one submitted."""
        with mapped():
            result = self.s3.copy_object(
                Bucket=self.bucket, Key=attachment_key(reference, name, version),
                CopySource={"Bucket": self.bucket, "Key": attachment_key(reference, *kept)},
                ContentType="application/pdf", MetadataDirective="REPLACE", ChecksumAlgorithm="SHA256",
            )
        checksum = result.get("CopyObjectResult", {}).get("ChecksumSHA256")
        if not checksum:
            raise StorageUnavailable("ChecksumMissing")
        copied = base64.b64decode(checksum).hex()
        if copied != sha256:
            raise KeptAltered(kept[0])
        return copied

    def commit_revision(self, reference: str, version: int, index: dict[str, str | int], units_update: dict[str, Any],
                        idempotency_key: str, request_hash: str, response: dict[str, Any], expires_at: int,
                        form_pk: str, form_expires_at: int) -> None:
        """One transaction, all or nothing, that makes version `version` current: the SUB# item updated with
        `index` (condition: it still names version - 1), the units item (`units_update`, a TransactItem: status
        back to received, version, digest, rev + 1, history), the idempotency record, the used form token, and a
        check that this key still holds the version's claim. Until it succeeds the previous version stays
        current; the objects under v<n>/ are unreferenced. Conflict("version"|"status"|"key"|"form")."""
        names = {"#v": "version", **{f"#f{i}": k for i, k in enumerate(index)}}
        values = {":prev": {"N": str(version - 1)},
                  **{f":f{i}": marshal({"v": v})["v"] for i, v in enumerate(index.values())}}
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(index)))
        same = "#v = :prev" + (" OR attribute_not_exists(#v)" if version == 2 else "")
        items: list[dict[str, Any]] = [
            {"Update": {"TableName": self.table, "Key": {"pk": {"S": f"SUB#{reference}"}},
                        "UpdateExpression": f"SET {sets}", "ConditionExpression": f"attribute_exists(pk) AND ({same})",
                        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}},
            units_update,
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)", "Item": marshal({
                "pk": f"IDEM#{idempotency_key}", "reference": reference, "request_hash": request_hash,
                "response": json.dumps(response, ensure_ascii=False), "expires_at": expires_at})}},
            {"Put": {"TableName": self.table, "Item": marshal({"pk": form_pk, "expires_at": form_expires_at}),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"ConditionCheck": {"TableName": self.table, "Key": {"pk": {"S": f"REV#{reference}#{version}"}},
                                "ConditionExpression": "#k = :k", "ExpressionAttributeNames": {"#k": "key"},
                                "ExpressionAttributeValues": {":k": {"S": idempotency_key}}}},
        ]
        try:
            self.dynamodb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            raise _lost(exc, {0: "version", 4: "version", 1: "status", 2: "key", 3: "form"}) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc


class KeptAltered(Exception):
    """A kept attachment's copy does not hash to what the earlier record registered: `name` is its stored name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def with_fields(update: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """An Update TransactItem (e.g. Reviews.revised_update's) that also sets `fields`: the summary a revision may
    change (project, applicant, direction), so the unit's list shows the current version."""
    inner = dict(update["Update"])
    expression = str(inner["UpdateExpression"])
    if not expression.startswith("SET "):
        raise ValueError("an Update with a SET clause first")
    sets = ", ".join(f"#x{i} = :x{i}" for i in range(len(fields)))
    inner["UpdateExpression"] = f"SET {sets}, {expression[4:]}"
    inner["ExpressionAttributeNames"] = {**inner["ExpressionAttributeNames"],
                                         **{f"#x{i}": k for i, k in enumerate(fields)}}
    inner["ExpressionAttributeValues"] = {**inner["ExpressionAttributeValues"],
                                          **{f":x{i}": {"S": v} for i, v in enumerate(fields.values())}}
    return {"Update": inner}


def _lost(exc: ClientError, which: dict[int, str] | None = None) -> Exception:
    """Which of commit's five conditions failed, as a Conflict; anything else is StorageUnavailable. The units
    item (4) shares the SUB# item's reference, which one Idempotency-Key holds: it stands with 0 for "key".
    `which` names a Conflict for each item of another transaction (commit_revision's), first failure first."""
    error = exc.response.get("Error", {})
    if error.get("Code") != "TransactionCanceledException":
        return unavailable(exc)
    reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
    if not reasons:  # some endpoints only put the reasons in the message
        message = error.get("Message", "")
        reasons = [r.strip() for r in message[message.find("[") + 1:message.rfind("]")].split(",")]
    failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
    if which is not None:
        return Conflict(which[failed[0]]) if failed and failed[0] in which else unavailable(exc)
    if 2 in failed or 0 in failed or 4 in failed:
        return Conflict("key")
    if 1 in failed:
        return Conflict("applicant")
    if 3 in failed:
        return Conflict("form")
    return unavailable(exc)
