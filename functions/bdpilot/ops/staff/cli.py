"""`bdpilot staff`: invite staff to the console, migrate stored submissions to the units table.

  bdpilot staff invite --email E --name N --role miit|unit [--unit U] [--local | --stack NAME] [--site URL]
  bdpilot staff migrate [--local | --stack NAME] [--units-table T]          (bdpilot.ops.staff.migrate)

An invitation is the console's own (the same INVITE# item MIIT's accounts page writes): a random token whose
SHA-256 alone is stored, valid for console.auth.INVITATION_SECONDS and consumed by its first use. This is how the
first MIIT account comes to exist, locally and on AWS (the operator needs the stack's StaffAdminPolicy there);
the invitation is audited like one made in the console. The link is printed once and never stored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bdpilot.domain import clock, wording
from bdpilot.ops.admin.exits import NO_TARGET, UNAVAILABLE, USAGE

OPERATOR = "bdpilot staff invite"  # invited_by / actor of an invitation made from the command line
LOCAL_SITE = "http://127.0.0.1:8000/"
MAX_NAME = 50


class StaffCommandError(Exception):
    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def _w(key: str, **params: Any) -> str:
    return wording.text(f"ops.staff.{key}", **params)


@dataclass(frozen=True)
class Deployment:
    """Where the staff tables are, and the site the invitation link points at."""

    dynamodb: Any
    staff_table: str
    audit_table: str | None
    site: str | None


def deployment(args: argparse.Namespace) -> Deployment:
    """The local run (.local/endpoint.json), a deployed stack (its outputs) or the environment's table names."""
    import boto3

    if args.local or args.local_dir:
        folder = Path(args.local_dir or os.environ.get("BDPILOT_LOCAL_DIR") or ".local")
        try:
            found = json.loads((folder / "endpoint.json").read_text())
            endpoint, staff = found["aws_endpoint"], found["staff_table"]
        except (OSError, ValueError, KeyError):
            raise StaffCommandError(wording.text("admin.target.no_local", endpoint=folder / "endpoint.json"),
                                    NO_TARGET) from None
        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
        return Deployment(session.client("dynamodb", endpoint_url=endpoint), staff, found.get("audit_table"),
                          args.site or found.get("site") or LOCAL_SITE)
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    if args.stack:
        cfn = session.client("cloudformation")
        (stack,) = cfn.describe_stacks(StackName=args.stack)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if "StaffTableName" not in outputs:
            raise StaffCommandError(_w("no_staff_table"), NO_TARGET)
        site = args.site or outputs.get("StaffUrl", "").removesuffix("staff/") or None
        return Deployment(session.client("dynamodb"), outputs["StaffTableName"], outputs.get("AuditTableName"),
                          site)
    staff = os.environ.get("BDPILOT_STAFF_TABLE")
    if not staff:
        raise StaffCommandError(_w("no_staff_table"), NO_TARGET)
    return Deployment(session.client("dynamodb"), staff, os.environ.get("BDPILOT_AUDIT_TABLE"),
                      args.site or os.environ.get("BDPILOT_SITE_URL") or None)


def check(args: argparse.Namespace) -> tuple[str, str, str, str | None]:
    """The invitation's email, name, role and unit, as the console's own form checks them."""
    from bdpilot.console.accounts import EMAIL, units

    email, name = args.email.strip().lower(), args.name.strip()
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise StaffCommandError(_w("bad_email", email=args.email))
    if not name or len(name) > MAX_NAME:
        raise StaffCommandError(_w("bad_name", limit=MAX_NAME))
    unit = (args.unit or "").strip() or None
    if args.role == "unit":
        if not unit:
            raise StaffCommandError(_w("unit_needed"))
        if unit not in units():
            choices = wording.text("common.list_separator").join(units())
            raise StaffCommandError(_w("bad_unit", unit=unit, choices=choices))
    elif unit:
        raise StaffCommandError(_w("unit_for_miit"))
    return email, name, args.role, unit


def invite(args: argparse.Namespace, out: TextIO) -> int:
    from bdpilot.console import auth
    from bdpilot.store.accounts import Accounts
    from bdpilot.store.audit import Audit
    from bdpilot.store.errors import mapped

    email, name, role, unit = check(args)
    with mapped():  # boto3's errors (no such stack, no credentials) as StorageUnavailable
        where = deployment(args)
    if not where.site:
        raise StaffCommandError(_w("no_site"), NO_TARGET)
    accounts = Accounts(where.dynamodb, where.staff_table)
    if accounts.get_account(email):
        raise StaffCommandError(_w("exists", email=email), 1)
    token = auth.token()
    now = clock.now()
    accounts.create_invitation(auth.digest(token), email=email, name=name, role=role, unit=unit,
                               invited_by=OPERATOR, expires_at=int(now.timestamp()) + auth.INVITATION_SECONDS)
    if where.audit_table:
        Audit(where.dynamodb, where.audit_table).append(
            {"actor": OPERATOR, "role": "operator", "unit": unit or "", "action": "invite", "target": email,
             "address": "", "outcome": "ok"}, now)
    link = where.site.rstrip("/") + f"/staff/invitation/{token}"
    print(_w("invited", name=name, email=email, role=role, hours=auth.INVITATION_SECONDS // 3600), file=out)
    print(link, file=out)
    print(_w("invited_hint"), file=out)
    return 0


def parser() -> argparse.ArgumentParser:
    from bdpilot.ops.admin.command import _target_options
    from bdpilot.ops.staff.migrate import add_migrate_parser

    root = argparse.ArgumentParser(prog="bdpilot staff", description=_w("description"))
    commands = root.add_subparsers(dest="command", required=True)
    inviting = commands.add_parser("invite", help=_w("invite"), description=_w("invite"))
    inviting.add_argument("--email", required=True, help=_w("email"))
    inviting.add_argument("--name", required=True, help=_w("name"))
    inviting.add_argument("--role", required=True, choices=("miit", "unit"), help=_w("role"))
    inviting.add_argument("--unit", help=_w("unit"))
    inviting.add_argument("--site", help=_w("site"))
    _target_options(inviting, nested=False)
    inviting.set_defaults(run=lambda args: invite(args, sys.stdout))
    add_migrate_parser(commands)
    return root


def main(argv: list[str], err: TextIO | None = None) -> int:
    from bdpilot.store.errors import StorageUnavailable

    args = parser().parse_args(argv)
    err = err or sys.stderr
    if (getattr(args, "local", False) or getattr(args, "local_dir", None)) and getattr(args, "stack", None):
        print(wording.text("admin.error", message=wording.text("admin.cli.local_and_stack")), file=err)
        return USAGE
    try:
        return int(args.run(args))
    except StaffCommandError as exc:
        print(wording.text("admin.error", message=exc.message), file=err)
        return exc.code
    except StorageUnavailable as exc:
        print(wording.text("admin.error", message=_w("writing") + f": {exc}"), file=err)
        return UNAVAILABLE
