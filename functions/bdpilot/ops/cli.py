"""`bdpilot`: run the product locally, administer submissions, deploy to AWS."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bdpilot.domain import wording


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "admin":
        from bdpilot.ops.admin import command as admin

        return admin.main(argv[1:])
    if argv and argv[0] == "staff":
        from bdpilot.ops.staff import cli as staff

        return staff.main(argv[1:])
    if argv and argv[0] == "deploy":
        from bdpilot.ops import deploy

        return deploy.main(argv[1:])

    w = wording.section("admin.bdpilot")
    parser = argparse.ArgumentParser(prog="bdpilot", description=w["description"])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help=w["serve"])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--site", type=Path, default=Path("site"), help=w["site"])
    serve.add_argument("--data", type=Path, default=Path(".local"), help=w["data"])
    serve.add_argument("--fresh", action="store_true", help=w["fresh"])
    commands.add_parser("admin", help=w["admin"])
    commands.add_parser("deploy", help=w["deploy"])
    commands.add_parser("staff", help=wording.text("ops.staff.description"))
    args = parser.parse_args(argv)

    if args.command == "serve":
        from bdpilot.ops import local

        return local.main(host=args.host, port=args.port, site_dir=args.site, data_dir=args.data,
                          persist=not args.fresh)
    return 2


if __name__ == "__main__":
    sys.exit(main())
