"""What the local run keeps in its data folder, so a restart costs the same whatever was stored before.

  state.json         every version of every object in the submissions bucket and every item of the table, as of
                     the end of write log `through` (bytes in blobs/, once per content, named by SHA-256)
  writes/<n>.jsonl   the state-changing storage requests moto received during run n, as moto's recorder writes
                     them; the first line names run n's bucket and table. Reads are never recorded.

A start loads state.json straight into moto's in-process backends (a boto3 request per object would cost
milliseconds each, ~20 s for 500 submissions), then replays the logs newer than it: only after a run was killed,
and only that run's writes. It then writes a new state.json and deletes the replayed logs; a clean stop does the
same for its own log. Why this design: infra/adr/0005-local-run-state.md.

Only the submissions bucket and the tables are kept (the submissions table, and the staff console's units, staff
and audit tables under "tables", by their stack output names): every other resource comes from
infra/template.yaml again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FORMAT = 1
LEGACY = 0  # the generation of `recording.jsonl`, the every-request recording of earlier versions
# DynamoDB operations that change nothing. Everything else on a table is recorded (an unknown operation is
# treated as a write: replaying a read costs time, losing a write loses data).
_DYNAMODB_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "GetResourcePolicy"}
_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_NOT_REPLAYED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


def _header(headers: Mapping[str, str], name: str) -> str:
    name = name.lower()
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _signed_service(url: str, headers: Mapping[str, str]) -> str | None:
    """The service a SigV4 request names in its credential scope (header or presigned query); None if unsigned."""
    credential = _header(headers, "Authorization").partition("Credential=")[2]
    if not credential:
        credential = (parse_qs(urlsplit(url).query).get("X-Amz-Credential") or [""])[0]
    parts = credential.split(",")[0].split("/")
    return parts[3] if len(parts) >= 5 else None


def is_write(method: str, url: str, headers: Mapping[str, str]) -> bool:
    """Whether a storage request can change the bucket's objects or the table's items."""
    target = _header(headers, "X-Amz-Target")
    if target:
        service, _, operation = target.partition(".")
        return service.startswith("DynamoDB_") and operation not in _DYNAMODB_READS \
            and not operation.startswith(("Describe", "List"))
    if method.upper() in _READ_METHODS:
        return False
    # S3 is addressed by path here; a browser's presigned POST is unsigned, other services post to "/".
    return _signed_service(url, headers) in ("s3", None) and urlsplit(url).path not in ("", "/")


class WriteLog:
    """Makes moto's recorder append only writes, whole lines, to one run's log."""

    def __init__(self, path: Path, names: dict[str, str]) -> None:
        from moto.moto_api import recorder

        self.path = path
        self._recorder = recorder
        self._lock = threading.Lock()  # moto writes an entry and its newline separately: keep threads apart
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as file:
            file.write(json.dumps({"names": names}) + "\n")
        original = type(recorder)._record_request.__get__(recorder)

        def record(request: Any, body: bytes | None = None) -> None:
            if is_write(request.method, request.raw_url, request.headers):
                with self._lock:
                    original(request, body)

        recorder._location = str(path)
        recorder._record_request = record  # type: ignore[method-assign]  # filter moto's recorder to writes
        recorder.start_recording()

    def close(self) -> None:
        self._recorder.stop_recording()
        with self._lock:  # a request being written finishes its line first
            pass


def _generation(path: Path) -> int:
    return LEGACY if path.name == "recording.jsonl" else int(path.stem)


class LocalState:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self.manifest = data_dir / "state.json"
        self.blobs = data_dir / "blobs"
        self.logs = data_dir / "writes"
        self.log: WriteLog | None = None
        self.generation = 0
        self.counts = {"objects": 0, "items": 0, "replayed": 0}

    # --- start and stop ---------------------------------------------------------------------------------------

    def open(self, *, bucket: str, table: str, region: str, moto_url: str,
             tables: Mapping[str, str] | None = None) -> LocalState:
        """Bring the fresh bucket and tables to the stored state, then record this run's writes. `tables`: the
        other tables kept, output name -> today's table name."""
        tables = dict(tables or {})
        names = {"bucket": bucket, "table": table, **tables}
        through = -1
        if self.manifest.exists():
            state = json.loads(self.manifest.read_text())
            through = int(state["through"])
            self._load(state, bucket=bucket, table=table, region=region, tables=tables)
        pending = [p for p in self._log_files() if _generation(p) > through]
        for path in self._log_files():
            if _generation(path) <= through:  # covered already: a kill came between state.json and deleting it
                path.unlink()
                if path.name == "recording.jsonl":
                    (self.dir / "names.json").unlink(missing_ok=True)
        for path in pending:
            self.counts["replayed"] += _replay(path, moto_url, names, self.dir)
        newest = max([through, LEGACY, *(_generation(p) for p in self._log_files())])
        if pending:
            # Fold the replayed writes in now, so the next start does not replay them again.
            self.checkpoint(bucket=bucket, table=table, region=region, through=newest, tables=tables)
        self.generation = newest + 1
        self.log = WriteLog(self.logs / f"{self.generation}.jsonl", names)
        return self

    def close(self, *, bucket: str, table: str, region: str, tables: Mapping[str, str] | None = None) -> None:
        """After moto stopped answering: fold this run's writes into state.json."""
        if self.log:
            self.log.close()
        self.checkpoint(bucket=bucket, table=table, region=region, through=self.generation, tables=tables)

    def checkpoint(self, *, bucket: str, table: str, region: str, through: int,
                   tables: Mapping[str, str] | None = None) -> None:
        """Write state.json (atomically: a kill leaves the old one and the logs) and drop what it covers."""
        objects, digests = self._dump_objects(bucket, region)
        dynamodb = _dynamodb(region)
        items = [item.to_json()["Attributes"] for item in dynamodb.get_table(table).all_items()]
        others = {key: [item.to_json()["Attributes"] for item in dynamodb.get_table(name).all_items()]
                  for key, name in (tables or {}).items()}
        temporary = self.manifest.with_name("state.json.tmp")
        temporary.write_text(json.dumps({"format": FORMAT, "through": through, "objects": objects, "items": items,
                                         "tables": others}, ensure_ascii=False, separators=(",", ":")))
        os.replace(temporary, self.manifest)
        for path in self._log_files():
            if _generation(path) <= through:
                path.unlink()
        (self.dir / "names.json").unlink(missing_ok=True)  # kept by earlier versions beside recording.jsonl
        for blob in self.blobs.iterdir():
            if blob.name not in digests:
                blob.unlink()

    # --- the snapshot -----------------------------------------------------------------------------------------

    def _log_files(self) -> list[Path]:
        files = sorted(self.logs.glob("*.jsonl"), key=_generation) if self.logs.is_dir() else []
        legacy = self.dir / "recording.jsonl"
        return [legacy, *files] if legacy.exists() else files

    def _dump_objects(self, bucket: str, region: str) -> tuple[list[dict[str, Any]], set[str]]:
        self.blobs.mkdir(parents=True, exist_ok=True)
        objects, digests = [], set()
        for name, versions in _s3(region).get_bucket(bucket).keys.lists():
            for version in versions:
                if not hasattr(version, "value"):  # a delete marker
                    objects.append({"key": name, "deleted": True, "last_modified": version.last_modified.isoformat()})
                    continue
                data = version.value
                digest = hashlib.sha256(data).hexdigest()
                blob = self.blobs / digest
                if digest not in digests and not blob.exists():
                    temporary = blob.with_suffix(".tmp")
                    temporary.write_bytes(data)
                    os.replace(temporary, blob)
                digests.add(digest)
                objects.append({
                    "key": name, "sha256": digest, "etag": version.etag.strip('"'),
                    "metadata": dict(version.metadata), "storage": version.storage_class,
                    "checksum": [version.checksum_algorithm, version.checksum_value, version.checksum_type],
                    "redirect": version.website_redirect_location,
                    "last_modified": version.last_modified.isoformat(),
                })
        return objects, digests

    def _load(self, state: dict[str, Any], *, bucket: str, table: str, region: str,
              tables: Mapping[str, str]) -> None:
        if state.get("format") != FORMAT:
            raise RuntimeError(f"{self.manifest}: unknown format {state.get('format')!r}")
        s3 = _s3(region)
        for entry in state["objects"]:
            if entry.get("deleted"):
                s3.delete_object(bucket, entry["key"])
                marker = s3.get_bucket(bucket).keys.getlist(entry["key"])[-1]
                marker.last_modified = datetime.fromisoformat(entry["last_modified"])
                continue
            data = (self.blobs / entry["sha256"]).read_bytes()
            algorithm, value, kind = entry["checksum"]
            key = s3.put_object(bucket, entry["key"], data, storage=entry["storage"], etag=entry["etag"],
                                checksum_value=value, disable_notification=True)
            key.set_metadata(dict(entry["metadata"]))
            key.checksum_algorithm, key.checksum_type = algorithm, kind
            key.website_redirect_location = entry["redirect"]
            key.last_modified = datetime.fromisoformat(entry["last_modified"])
        dynamodb = _dynamodb(region)
        for item in state["items"]:
            dynamodb.put_item(table, item)
        # A state.json from before the staff console has no "tables"; one naming a table not kept is ignored.
        for key, items in state.get("tables", {}).items():
            if key in tables:
                for item in items:
                    dynamodb.put_item(tables[key], item)
        self.counts["objects"], self.counts["items"] = len(state["objects"]), len(state["items"])


def _s3(region: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    return s3_backends[DEFAULT_ACCOUNT_ID][get_partition(region)]


def _dynamodb(region: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]


def _replay(path: Path, moto_url: str, names: dict[str, str], data_dir: Path) -> int:
    """Send a log's writes to today's moto, renamed to today's bucket and table; how many were sent.

    A last line cut short by a kill was never handled by moto either, so it is skipped. The legacy recording
    holds reads too: they are skipped here, never sent."""
    import requests

    lines = path.read_text(errors="replace").splitlines()
    old: dict[str, str] = {}
    if path.name == "recording.jsonl":
        legacy_names = data_dir / "names.json"
        old = json.loads(legacy_names.read_text()) if legacy_names.exists() else {}
    elif lines:
        old = json.loads(lines.pop(0)).get("names", {})
    pairs = [(old[k], names[k]) for k in names if old.get(k) and old[k] != names[k]]
    target = urlsplit(moto_url)
    sent = 0
    with requests.Session() as session:
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            headers = {k: v for k, v in entry["headers"].items() if k.lower() not in _NOT_REPLAYED_HEADERS}
            if not is_write(entry["method"], entry["url"], headers):
                continue
            raw = entry.get("body") or ""
            body = base64.b64decode(raw) if entry.get("body_encoded") else raw.encode()
            url = urlsplit(entry["url"])._replace(scheme=target.scheme, netloc=target.netloc).geturl()
            for before, after in pairs:
                url = url.replace(before, after)
                if _header(headers, "X-Amz-Target"):  # a DynamoDB body names its table; an S3 body is the object
                    body = body.replace(before.encode(), after.encode())
                headers = {k: (v.replace(before, after) if k.lower() == "x-amz-copy-source" else v)
                           for k, v in headers.items()}
            session.request(entry["method"], url, headers=headers, data=body, timeout=60)
            sent += 1
    return sent
