"""Storage: the only module that talks to AWS (S3 for records and files, DynamoDB for the index).

Bucket layout:   uploads/<id>                              raw browser uploads (expire after 7 days)
                 submissions/<ref>/record.json             the stored 申报书, canonical JSON
                 submissions/<ref>/attachments/<kind>-<n>.pdf
                 exports/...                               admin exports
Table items:     SUB#<ref>    the index item admins list and filter (GSIs by time, direction, 推荐单位)
                 USCC#<code>  guard: one project per applicant
                 IDEM#<key>   the first response to an Idempotency-Key, replayed on retries
                 REF#<ref>    claim on a reference by one Idempotency-Key, taken before any object is written
                 FORM#<nonce> a form token that has been used for a stored submission
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

UPLOADS = "uploads/"
SUBMISSIONS = "submissions/"
EXPORTS = "exports/"
INDEXES = {"time": "by-time", "direction": "by-direction", "recommender": "by-recommender"}
IDEMPOTENCY_DAYS = 30

T = TypeVar("T")

# Lambda has a short budget: fail fast and let the client retry rather than hang.
_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})


def s3_config(endpoint_url: str | None) -> Config:
    """SigV4 always: S3 refuses SigV2 for SSE-KMS objects and for buckets created after June 2020. On AWS the
    bucket's regional virtual-hosted address (https://<bucket>.s3.<region>.amazonaws.com, .com.cn in China):
    the global endpoint answers a bucket elsewhere with a redirect that a browser's form POST cannot follow.
    A local stand-in (an endpoint URL) has no per-bucket host names, so it is addressed by path."""
    return _CONFIG.merge(Config(signature_version="s3v4", s3={
        "addressing_style": "path" if endpoint_url else "virtual", "us_east_1_regional_endpoint": "regional"}))


class StorageUnavailable(Exception):
    """S3 or DynamoDB failed in a way a later retry may fix (throttling, 5xx, timeouts, denied access)."""


class Conflict(Exception):
    """A conditional write lost: `what` is "applicant" (the USCC guard), "key" (the Idempotency-Key),
    "form" (the form token was used already) or "reference" (another key holds the reference)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class UploadInfo:
    size: int
    content_type: str
    owner: str
    head: bytes
    etag: str = ""


def record_key(reference: str) -> str:
    return f"{SUBMISSIONS}{reference}/record.json"


def attachment_key(reference: str, name: str) -> str:
    return f"{SUBMISSIONS}{reference}/attachments/{name}"


def upload_key(upload_id: str) -> str:
    return f"{UPLOADS}{upload_id}"


# S3's answers for "no such object": GET says NoSuchKey, a HEAD (no error body) only its status.
_MISSING = ("404", "NoSuchKey", "NotFound")


def _or_none(call: Callable[[], T], missing: tuple[str, ...] = _MISSING) -> T | None:
    """The result of an S3 read, None when the object is missing; other failures are StorageUnavailable."""
    try:
        return call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in missing:
            return None
        raise _unavailable(exc) from exc
    except BotoCoreError as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> StorageUnavailable:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
    return StorageUnavailable(code)


class Store:
    def __init__(self, table: str, bucket: str, *, session: boto3.Session | None = None,
                 endpoint_url: str | None = None) -> None:
        self.table = table
        self.bucket = bucket
        self._session = session or boto3.Session()
        self._endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None

    @cached_property
    def s3(self) -> Any:
        return self._session.client("s3", endpoint_url=self._endpoint, config=s3_config(self._endpoint))

    @cached_property
    def dynamodb(self) -> Any:
        return self._session.client("dynamodb", endpoint_url=self._endpoint, config=_CONFIG)

    # --- public function: uploads -------------------------------------------------------------------------

    def presign_upload(self, upload_id: str, owner: str, *, max_bytes: int, expires: int,
                       redirect: str | None = None) -> dict[str, Any]:
        """A presigned POST that lets a browser put one PDF straight into uploads/ (never through Lambda).
        With `redirect`, S3 sends the browser there afterwards (the upload step that works without JavaScript)."""
        fields = {"Content-Type": "application/pdf", "x-amz-meta-owner": owner}
        conditions: list[Any] = [
            {"Content-Type": "application/pdf"},
            {"x-amz-meta-owner": owner},
            ["content-length-range", 1, max_bytes],
        ]
        if redirect:
            fields["success_action_redirect"] = redirect
            conditions.append({"success_action_redirect": redirect})
        try:
            return self.s3.generate_presigned_post(self.bucket, upload_key(upload_id), Fields=fields,
                                                   Conditions=conditions, ExpiresIn=expires)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def inspect_upload(self, upload_id: str) -> UploadInfo | None:
        """Size, type and owner of an upload, plus its first bytes; None when there is no such upload."""
        key = upload_key(upload_id)
        # Without s3:ListBucket (the function has none, on purpose) S3 answers a HEAD of a missing key with a
        # bare 403 rather than 404.
        head = _or_none(lambda: self.s3.head_object(Bucket=self.bucket, Key=key), (*_MISSING, "403"))
        if head is None:
            return None
        size = int(head["ContentLength"])
        first = b""
        if size:
            try:
                first = self.s3.get_object(Bucket=self.bucket, Key=key, Range="bytes=0-7")["Body"].read()
            except (ClientError, BotoCoreError) as exc:
                raise _unavailable(exc) from exc
        return UploadInfo(size, head.get("ContentType", ""), head.get("Metadata", {}).get("owner", ""), first,
                          head.get("ETag", ""))

    # --- public function: the submission ------------------------------------------------------------------

    def claim_reference(self, reference: str, idempotency_key: str) -> bool:
        """Hold a reference for one Idempotency-Key before anything is written under submissions/<ref>/, so a
        colliding reference can never overwrite another applicant's objects. True when the claim is (or already
        was) this key's; False when another key holds it."""
        try:
            self.dynamodb.put_item(
                TableName=self.table, Item=_marshal({"pk": f"REF#{reference}", "key": idempotency_key}),
                ConditionExpression="attribute_not_exists(pk) OR #k = :k",
                ExpressionAttributeNames={"#k": "key"}, ExpressionAttributeValues={":k": {"S": idempotency_key}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return True

    def copy_upload(self, upload_id: str, reference: str, name: str, etag: str) -> str:
        """Copy a checked upload into the submission; returns the copy's SHA-256 (hex), computed by S3.

        The copy is made only if the upload is still the object that was checked (its ETag), so bytes swapped
        in after the check cannot ride along. S3 computes a SHA-256 of the copy (a POST upload is one part, so
        it is the file's whole-object hash) and it goes into the record, whose digest then covers the file."""
        try:
            result = self.s3.copy_object(
                Bucket=self.bucket, Key=attachment_key(reference, name),
                CopySource={"Bucket": self.bucket, "Key": upload_key(upload_id)}, CopySourceIfMatch=etag,
                ContentType="application/pdf", MetadataDirective="REPLACE", ChecksumAlgorithm="SHA256",
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        checksum = result.get("CopyObjectResult", {}).get("ChecksumSHA256")
        if not checksum:
            raise StorageUnavailable("ChecksumMissing")
        return base64.b64decode(checksum).hex()

    def put_record(self, reference: str, body: bytes, digest: str) -> None:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=record_key(reference), Body=body,
                               ContentType="application/json; charset=utf-8", Metadata={"sha256": digest})
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def _get_item(self, pk: str) -> dict[str, Any] | None:
        try:
            item = self.dynamodb.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        return item.get("Item")

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
               response: dict[str, Any], expires_at: int, form_pk: str, form_expires_at: int) -> None:
        """One transaction, all or nothing: the index item, the applicant guard, the idempotency record and the
        used form token (a token admits one stored submission; a replay is answered before it is checked)."""
        reference = str(index["reference"])
        items = [
            {"pk": f"SUB#{reference}", **index},
            {"pk": guard_pk, "reference": reference, "received_at": index["received_at"]},
            {"pk": f"IDEM#{idempotency_key}", "reference": reference, "request_hash": request_hash,
             "response": json.dumps(response, ensure_ascii=False), "expires_at": expires_at},
            {"pk": form_pk, "expires_at": form_expires_at},
        ]
        try:
            self.dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": _marshal(item),
                         "ConditionExpression": "attribute_not_exists(pk)"}} for item in items
            ])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") != "TransactionCanceledException":
                raise _unavailable(exc) from exc
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if not reasons:  # some endpoints only put the reasons in the message
                message = error.get("Message", "")
                reasons = [r.strip() for r in message[message.find("[") + 1:message.rfind("]")].split(",")]
            failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
            if 2 in failed or 0 in failed:
                raise Conflict("key") from exc
            if 1 in failed:
                raise Conflict("applicant") from exc
            if 3 in failed:
                raise Conflict("form") from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    # --- admin (IAM credentials with AdminPolicy) ----------------------------------------------------------

    def get_index(self, reference: str) -> dict[str, Any] | None:
        item = self._get_item(f"SUB#{reference}")
        return _unmarshal(item) if item else None

    def get_record(self, reference: str) -> bytes | None:
        found = self.get_record_object(reference)
        return found[0] if found else None

    def query(self, index: str, key: str | None = None, *, since: str | None = None, until: str | None = None,
              newest_first: bool = False, page_size: int = 200) -> Iterator[dict[str, Any]]:
        """Index items in received order from one GSI, page by page (never a Scan)."""
        names = {"#k": {"time": "entity", "direction": "direction", "recommender": "recommender"}[index]}
        values: dict[str, Any] = {":k": {"S": "SUB" if index == "time" else str(key)}}
        condition = "#k = :k"
        if since and until:
            condition += " AND #t BETWEEN :a AND :b"
            values |= {":a": {"S": since}, ":b": {"S": until}}
        elif since:
            condition += " AND #t >= :a"
            values[":a"] = {"S": since}
        elif until:
            condition += " AND #t <= :b"
            values[":b"] = {"S": until}
        if since or until:
            names["#t"] = "received_at"
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": INDEXES[index], "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first, "Limit": page_size,
        }
        while True:
            try:
                page = self.dynamodb.query(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise _unavailable(exc) from exc
            yield from (_unmarshal(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- admin tools (bdpilot admin): additions for listing, checking and downloading ---------------------

    @classmethod
    def from_stack(cls, stack_name: str, *, session: boto3.Session | None = None,
                   endpoint_url: str | None = None) -> Store:
        """The store a deployed stack created, named by its outputs TableName and SubmissionsBucketName.

        Raises StorageUnavailable("StackNotFound") when there is no such stack, or the error's code."""
        session = session or boto3.Session()
        cfn = session.client("cloudformation", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
                             config=_CONFIG)
        try:
            stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                raise StorageUnavailable("StackNotFound") from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])} if stacks else {}
        if "TableName" not in outputs or "SubmissionsBucketName" not in outputs:
            raise StorageUnavailable("StackOutputsMissing")
        return cls(outputs["TableName"], outputs["SubmissionsBucketName"], session=session, endpoint_url=endpoint_url)

    def count(self, index: str, key: str | None = None, *, since: str | None = None, until: str | None = None,
              equals: dict[str, str] | None = None) -> int:
        """How many index items `query` would yield (Select=COUNT, page by page), optionally only those whose
        attributes equal `equals` (a filter applied after the key condition)."""
        names = {"#k": {"time": "entity", "direction": "direction", "recommender": "recommender"}[index]}
        values: dict[str, Any] = {":k": {"S": "SUB" if index == "time" else str(key)}}
        condition = "#k = :k"
        if since or until:
            names["#t"] = "received_at"
            values |= {":a": {"S": since or ""}, ":b": {"S": until or "\uffff"}}
            condition += " AND #t BETWEEN :a AND :b"
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": INDEXES[index], "Select": "COUNT",
                                  "KeyConditionExpression": condition}
        filters = []
        for i, (attribute, value) in enumerate(sorted((equals or {}).items())):
            names[f"#f{i}"], values[f":f{i}"] = attribute, {"S": value}
            filters.append(f"#f{i} = :f{i}")
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        kwargs |= {"ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        total = 0
        while True:
            try:
                page = self.dynamodb.query(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise _unavailable(exc) from exc
            total += page.get("Count", 0)
            if "LastEvaluatedKey" not in page:
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def record_sha256_metadata(self, reference: str) -> str | None:
        """The digest stored beside record.json as object metadata when it was written; None if absent."""
        head = _or_none(lambda: self.s3.head_object(Bucket=self.bucket, Key=record_key(reference)))
        return head.get("Metadata", {}).get("sha256") if head else None

    def attachment_sizes(self, reference: str) -> dict[str, int]:
        """The attachments stored for a submission: name (e.g. "license-1.pdf") → size in bytes."""
        prefix = attachment_key(reference, "")
        found: dict[str, int] = {}
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    found[obj["Key"][len(prefix):]] = int(obj["Size"])
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        return found

    def read_attachment(self, reference: str, name: str, sink: Any, *, chunk: int = 1 << 20) -> int | None:
        """Stream one attachment into a binary file object, chunk by chunk; its size, or None if missing."""
        def stream() -> int:
            body = self.s3.get_object(Bucket=self.bucket, Key=attachment_key(reference, name))["Body"]
            size = 0
            for part in body.iter_chunks(chunk):
                sink.write(part)
                size += len(part)
            return size

        return _or_none(stream)

    def put_export(self, name: str, path: str) -> str:
        """Upload a local export file under exports/ (multipart when large); returns its key."""
        key = f"{EXPORTS}{name}"
        try:
            self.s3.upload_file(path, self.bucket, key)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        except Exception as exc:  # boto3 wraps a failed upload's ClientError in S3UploadFailedError
            inner = exc.__cause__ or exc.__context__
            raise _unavailable(inner if isinstance(inner, ClientError | BotoCoreError) else exc) from exc
        return key

    # --- admin: checking what is stored (issue 11) ---------------------------------------------------------

    def get_record_object(self, reference: str) -> tuple[bytes, str | None] | None:
        """record.json's bytes and the SHA-256 written beside it as metadata (from the same GET); None if
        missing."""
        def read() -> tuple[bytes, str | None]:
            got = self.s3.get_object(Bucket=self.bucket, Key=record_key(reference))
            return got["Body"].read(), got.get("Metadata", {}).get("sha256")

        return _or_none(read)


def _marshal(item: dict[str, Any]) -> dict[str, Any]:
    return {k: {"N": str(v)} if isinstance(v, int) else {"S": str(v)} for k, v in item.items()}


def _unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v["N"]) if "N" in v else v.get("S") for k, v in item.items()}
