"""`bdpilot`: run the product locally, administer submissions, deploy to AWS."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "admin":
        from bdpilot.ops import admin

        return admin.main(argv[1:])
    if argv and argv[0] == "deploy":
        from bdpilot.ops import deploy

        return deploy.main(argv[1:])

    parser = argparse.ArgumentParser(prog="bdpilot", description="2020年大数据产业发展试点示范项目申报")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="本地运行网站和接口（内置AWS模拟，无需账号）")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--site", type=Path, default=Path("site"), help="mkdocs build 的输出目录")
    serve.add_argument("--data", type=Path, default=Path(".local"), help="本地数据目录（重启后保留）")
    serve.add_argument("--fresh", action="store_true", help="不载入、不保存本地数据")
    commands.add_parser("admin", help="管理已提交的申报书（bdpilot admin --help）")
    commands.add_parser("deploy", help="部署到AWS（bdpilot deploy --help）")
    args = parser.parse_args(argv)

    if args.command == "serve":
        from bdpilot.ops import local

        return local.main(host=args.host, port=args.port, site_dir=args.site, data_dir=args.data,
                          persist=not args.fresh)
    return 2


if __name__ == "__main__":
    sys.exit(main())
