"""The staff's storage: listing, counting and reading stored submissions back (`bdpilot admin`, the local run).

Run with credentials that carry the AdminPolicy. A Reader is a Store with the reads added, so the local run and
the tests can use one object for both roles; the public function never imports this module, and its zip does not
hold it (its role could not make these calls anyway).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bdpilot.store.audit import Audit
from bdpilot.store.errors import NotFound, mapped, or_none, unavailable
from bdpilot.store.layout import (
    CONFIG,
    EXPORTS,
    INDEXES,
    attachment_key,
    count_all,
    record_key,
    unmarshal,
    version_of,
)
from bdpilot.store.writer import Store

_KEYS = {"time": "entity", "direction": "direction", "recommender": "recommender"}


@dataclass(frozen=True)
class Version:
    """One stored version of a submission: its number, the SHA-256 stored beside its record, whether current."""

    number: int
    digest: str | None
    current: bool


def session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """An AWS session from the standard credential chain; ProfileNotFound when `profile` is not configured."""
    with mapped():
        return boto3.Session(profile_name=profile, region_name=region)


class Reader(Store):
    # The audit table `bdpilot admin` appends to (the stack's AuditTableName, the local run's audit_table, or
    # BDPILOT_AUDIT_TABLE): None when no target names one.
    audit_table: str | None = None

    @classmethod
    def local(cls, endpoint_url: str, table: str, bucket: str) -> Reader:
        """The local run's store (`bdpilot serve`): its embedded AWS takes any credentials."""
        local = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
        return cls(table, bucket, session=local, endpoint_url=endpoint_url)

    @classmethod
    def from_stack(cls, stack_name: str, *, session: boto3.Session | None = None,
                   endpoint_url: str | None = None) -> Reader:
        """The store a deployed stack created, named by its outputs TableName and SubmissionsBucketName.

        Raises NotFound (what="stack" or "outputs") when there is no such stack or it lacks the outputs."""
        session = session or boto3.Session()
        try:
            cfn = session.client("cloudformation", config=CONFIG,
                                 endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None)
            stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                raise NotFound("StackNotFound", "stack") from exc
            raise unavailable(exc) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])} if stacks else {}
        if "TableName" not in outputs or "SubmissionsBucketName" not in outputs:
            raise NotFound("StackOutputsMissing", "outputs")
        made = cls(outputs["TableName"], outputs["SubmissionsBucketName"], session=session, endpoint_url=endpoint_url,
                   units_table=outputs.get("UnitsTableName"))
        made.audit_table = outputs.get("AuditTableName")
        return made

    def audit(self) -> Audit | None:
        """The audit trail on this target's tables, when it has one."""
        return Audit(self.dynamodb, self.audit_table) if self.audit_table else None

    def caller(self) -> str:
        """Who the credentials belong to (the STS caller ARN; needs no permission), for the audit trail."""
        with mapped():
            client = self._session.client("sts", endpoint_url=self._endpoint, config=CONFIG)
        try:
            return str(client.get_caller_identity()["Arn"])
        except (ClientError, BotoCoreError) as exc:
            raise unavailable(exc) from exc

    # --- the index ----------------------------------------------------------------------------------------

    def get_index(self, reference: str) -> dict[str, Any] | None:
        item = self._get_item(f"SUB#{reference}")
        return unmarshal(item) if item else None

    def _key_condition(self, index: str, key: str | None) -> tuple[str, dict[str, str], dict[str, Any]]:
        names = {"#k": _KEYS[index]}
        values: dict[str, Any] = {":k": {"S": "SUB" if index == "time" else str(key)}}
        return "#k = :k", names, values

    def query(self, index: str, key: str | None = None, *, since: str | None = None, until: str | None = None,
              newest_first: bool = False, page_size: int = 200) -> Iterator[dict[str, Any]]:
        """Index items in received order from one GSI, page by page (never a Scan)."""
        condition, names, values = self._key_condition(index, key)
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
            with mapped():
                page = self.dynamodb.query(**kwargs)
            yield from (unmarshal(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def page(self, index: str, key: str | None = None, *, cursor: str | None = None, limit: int = 50,
             newest_first: bool = True) -> tuple[list[dict[str, Any]], str | None]:
        """One page of index items and an opaque cursor for the next (None after the last). A cursor that is not
        one this query made (forged, or from another index or key) starts from the first page."""
        condition, names, values = self._key_condition(index, key)
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": INDEXES[index], "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first, "Limit": limit,
        }
        start = _start_key(cursor, _KEYS[index], values[":k"]["S"])
        if start:
            kwargs["ExclusiveStartKey"] = start
        with mapped():
            got = self.dynamodb.query(**kwargs)
        last = got.get("LastEvaluatedKey")
        token = base64.urlsafe_b64encode(json.dumps(unmarshal(last)).encode()).decode() if last else None
        return [unmarshal(item) for item in got.get("Items", [])], token

    def count(self, index: str, key: str | None = None, *, since: str | None = None, until: str | None = None,
              equals: dict[str, str] | None = None) -> int:
        """How many index items `query` would yield (Select=COUNT, page by page), optionally only those whose
        attributes equal `equals` (a filter applied after the key condition)."""
        condition, names, values = self._key_condition(index, key)
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
        return count_all(self.dynamodb, kwargs)

    # --- the stored objects -------------------------------------------------------------------------------

    def current_version(self, reference: str) -> int:
        """The version the index names as current (1 for a submission never revised, or with no index item)."""
        return version_of(self.get_index(reference))

    def _version(self, reference: str, version: int | None) -> int:
        return self.current_version(reference) if version is None else version

    def get_record_object(self, reference: str, version: int | None = None) -> tuple[bytes, str | None] | None:
        """record.json's bytes and the SHA-256 written beside it as metadata (from the same GET); None if
        missing. `version` None is the one the index names current (one GetItem more: pass it when known)."""
        key = record_key(reference, self._version(reference, version))

        def read() -> tuple[bytes, str | None]:
            got = self.s3.get_object(Bucket=self.bucket, Key=key)
            return got["Body"].read(), got.get("Metadata", {}).get("sha256")

        return or_none(read)

    def get_record(self, reference: str, version: int | None = None) -> bytes | None:
        found = self.get_record_object(reference, version)
        return found[0] if found else None

    def versions(self, reference: str) -> list[Version]:
        """Every version of a submission, oldest first, with the digest stored beside each record (a HEAD each;
        a missing record has digest None): what staff list, and read with get_record_object(ref, n)."""
        current = self.current_version(reference)
        found = []
        for n in range(1, current + 1):
            key = record_key(reference, n)
            head = or_none(partial(self.s3.head_object, Bucket=self.bucket, Key=key))
            found.append(Version(n, head.get("Metadata", {}).get("sha256") if head else None, n == current))
        return found

    def record_sha256_metadata(self, reference: str, version: int | None = None) -> str | None:
        """The digest stored beside record.json as object metadata when it was written; None if absent."""
        key = record_key(reference, self._version(reference, version))
        head = or_none(lambda: self.s3.head_object(Bucket=self.bucket, Key=key))
        return head.get("Metadata", {}).get("sha256") if head else None

    def attachment_sizes(self, reference: str, version: int | None = None) -> dict[str, int]:
        """The attachments stored for a version of a submission (None: the current one): name (e.g.
        "license-1.pdf") → size in bytes."""
        prefix = attachment_key(reference, "", self._version(reference, version))
        found: dict[str, int] = {}
        with mapped():
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    found[obj["Key"][len(prefix):]] = int(obj["Size"])
        return found

    def read_attachment(self, reference: str, name: str, sink: Any, *, chunk: int = 1 << 20,
                        version: int | None = None) -> int | None:
        """Stream one attachment into a binary file object, chunk by chunk; its size, or None if missing."""
        key = attachment_key(reference, name, self._version(reference, version))

        def stream() -> int:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            size = 0
            for part in body.iter_chunks(chunk):
                sink.write(part)
                size += len(part)
            return size

        return or_none(stream)

    def presign_get(self, key: str, *, expires: int, disposition: str, content_type: str) -> str:
        """A presigned GET for one object (an attachment, an export) that S3 answers with these headers."""
        with mapped():
            return self.s3.generate_presigned_url("get_object", ExpiresIn=expires, Params={
                "Bucket": self.bucket, "Key": key, "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type})

    def put_export(self, name: str, path: str) -> str:
        """Upload a local export file under exports/ (multipart when large); returns its key."""
        key = f"{EXPORTS}{name}"
        try:
            self.s3.upload_file(path, self.bucket, key)
        except (ClientError, BotoCoreError) as exc:
            raise unavailable(exc) from exc
        except Exception as exc:  # boto3 wraps a failed upload's ClientError in S3UploadFailedError
            inner = exc.__cause__ or exc.__context__
            raise unavailable(inner if isinstance(inner, ClientError | BotoCoreError) else exc) from exc
        return key


def _start_key(cursor: str | None, hash_name: str, hash_value: str) -> dict[str, Any] | None:
    """A page cursor back as an ExclusiveStartKey: string attributes only, on the queried partition."""
    if not cursor or len(cursor) > 2048:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        return None
    if not isinstance(key, dict) or key.get(hash_name) != hash_value or \
            not all(isinstance(k, str) and isinstance(v, str) for k, v in key.items()):
        return None
    return {k: {"S": v} for k, v in key.items()}
