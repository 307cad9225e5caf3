"""Which deployment `bdpilot admin` reads, chosen by the environment, never by editing code:

  --local [--local-dir DIR]   the local run (`bdpilot serve`), found through DIR/endpoint.json
                              (DIR: --local-dir, else BDPILOT_LOCAL_DIR, else .local)
  --stack NAME                a deployed stack's outputs TableName and SubmissionsBucketName
  otherwise                   BDPILOT_TABLE and BDPILOT_BUCKET
with the standard AWS credential chain (--profile / AWS_PROFILE, environment, SSO, instance role) for AWS.
Storage failures arrive as the store's own exceptions; here they become words and exit codes.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bdpilot.domain import wording
from bdpilot.ops.admin.exits import NO_ACCESS, NO_TARGET, UNAVAILABLE, AdminError
from bdpilot.store import reader
from bdpilot.store.errors import AccessRefused, NoCredentials, NoRegion, NotFound, StorageUnavailable, Unreachable
from bdpilot.store.reader import Reader


def _w(key: str, /, **params: Any) -> str:
    return wording.text(f"admin.target.{key}", **params)


@dataclass
class Target:
    store: Reader
    where: str  # how the target is named in messages
    local: bool = False

    def explain(self, exc: StorageUnavailable, what: str) -> AdminError:
        """A storage failure in words an administrator can act on."""
        code = str(exc)
        if isinstance(exc, NoCredentials):
            return AdminError(NO_ACCESS, _w("no_credentials", code=code))
        if isinstance(exc, AccessRefused):
            return AdminError(NO_ACCESS, _w("refused", where=self.where, code=code))
        if isinstance(exc, NotFound):
            if exc.what == "outputs":
                return AdminError(NO_TARGET, _w("no_outputs", where=self.where))
            thing = {"table": _w("table", name=self.store.table), "bucket": _w("bucket", name=self.store.bucket),
                     "stack": _w("stack", where=self.where)}[exc.what]
            hint = _w("hint_local") if self.local else _w("hint_aws")
            return AdminError(NO_TARGET, _w("missing", thing=thing, hint=hint, code=code))
        if isinstance(exc, NoRegion):
            return AdminError(NO_TARGET, _w("no_region"))
        if isinstance(exc, Unreachable) and self.local:
            return AdminError(NO_TARGET, _w("local_unreachable", where=self.where))
        return AdminError(UNAVAILABLE, _w("unavailable", what=what, code=code))

    @contextmanager
    def aws(self, what: str) -> Iterator[None]:
        """Storage failures inside the block as an AdminError; `what` names what was being read."""
        try:
            yield
        except StorageUnavailable as exc:
            raise self.explain(exc, what) from exc

    def record(self, args: argparse.Namespace) -> None:
        """Append what this command is about to read to the audit trail, before it reads anything: an access
        that cannot be audited does not happen. The actor is the OS user locally, the AWS caller elsewhere."""
        with self.aws(_w("writing_audit")):
            actor = getpass.getuser() if self.local else self.store.caller()  # first: are there credentials?
            audit = self.store.audit()
            if audit is None:
                raise AdminError(NO_TARGET, _w("no_audit", where=self.where))
            audit.append({"actor": f"admin:{actor}", "role": "admin", "action": f"admin.{args.command}",
                          "target": scope(args), "outcome": "started"})

    def each(self, items: Iterator[dict[str, Any]], what: str) -> Iterator[dict[str, Any]]:
        """Iterate a paginated read, translating failures on any page."""
        while True:
            with self.aws(what):
                item = next(items, None)
            if item is None:
                return
            yield item


AUDITED_ARGUMENTS = ("reference", "direction", "recommender", "since", "until", "status")


def scope(args: argparse.Namespace) -> str:
    """What a command reads, as its arguments say (a reference, or the filters of a list or export)."""
    return " ".join(f"{name}={value}" for name in AUDITED_ARGUMENTS if (value := getattr(args, name, None)))


def target_from(args: argparse.Namespace) -> Target:
    if args.local or args.local_dir:
        folder = Path(args.local_dir or os.environ.get("BDPILOT_LOCAL_DIR") or ".local")
        endpoint = folder / "endpoint.json"
        try:
            found = json.loads(endpoint.read_text())
            url, table, bucket = found["aws_endpoint"], found["table"], found["bucket"]
        except (OSError, ValueError, KeyError) as exc:
            raise AdminError(NO_TARGET, _w("no_local", endpoint=endpoint)) from exc
        store = Reader.local(url, table, bucket)
        store.audit_table = found.get("audit_table")
        store.units_table = found.get("units_table") or store.units_table
        return Target(store, _w("where_local", url=url), local=True)

    try:
        session = reader.session(args.profile, args.region)
    except StorageUnavailable as exc:
        raise AdminError(NO_ACCESS, _w("no_profile", profile=args.profile, code=exc)) from exc
    if args.stack:
        where = _w("where_stack", stack=args.stack)
        probe = Target(Reader("?", "?", session=session), where)
        with probe.aws(_w("stack_outputs")):
            store = Reader.from_stack(args.stack, session=session)
        return Target(store, where)
    table, bucket = os.environ.get("BDPILOT_TABLE"), os.environ.get("BDPILOT_BUCKET")
    if not table or not bucket:
        raise AdminError(NO_TARGET, _w("none"))
    store = Reader(table, bucket, session=session)
    store.audit_table = os.environ.get("BDPILOT_AUDIT_TABLE") or None
    return Target(store, _w("where_names", table=table, bucket=bucket))
