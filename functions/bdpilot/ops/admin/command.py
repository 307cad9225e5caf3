"""`bdpilot admin`: the command line (arguments, dispatch, exit codes) for MIIT and the 推荐单位' staff.

Thin on purpose: each command is in `listing` (list, stats), `inspecting` (show, verify) or `saving` (export,
download); the target in `target`; every AWS call in `bdpilot.store.reader`; every word in the catalogue
(`wording/admin.toml`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from typing import Any, NoReturn, TextIO

from bdpilot.domain import campaign, review, wording
from bdpilot.ops.admin import exits
from bdpilot.ops.admin.exits import INTERRUPTED, OK, USAGE, AdminError
from bdpilot.ops.admin.inspecting import cmd_show, cmd_verify
from bdpilot.ops.admin.listing import cmd_list, cmd_stats
from bdpilot.ops.admin.saving import cmd_download, cmd_export, plan_export
from bdpilot.ops.admin.target import target_from
from bdpilot.ops.admin.terminal import tolerant


def _w(key: str, /, **params: Any) -> str:
    return wording.text(f"admin.cli.{key}", **params)


def _direction(value: str) -> int:
    text = unicodedata.normalize("NFKC", value).strip().removeprefix(_w("direction_prefix"))
    if not text.isdigit() or int(text) not in campaign.DIRECTIONS_BY_NUMBER:
        raise argparse.ArgumentTypeError(_w("bad_direction", n=len(campaign.DIRECTIONS)))
    return int(text)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(_w("bad_positive"))
    return int(value)


def _target_options(parser: argparse.ArgumentParser, *, nested: bool) -> None:
    # On subcommands the defaults are SUPPRESS, so `admin --local list` and `admin list --local` both work.
    kw: dict[str, Any] = {"default": argparse.SUPPRESS} if nested else {}
    group = parser.add_argument_group(_w("target_group"))
    group.add_argument("--local", action="store_true", help=_w("local"), **kw)
    group.add_argument("--local-dir", metavar=_w("folder"), help=_w("local_dir"), **kw)
    group.add_argument("--stack", metavar=_w("stack_name"), help=_w("stack"), **kw)
    group.add_argument("--profile", metavar=_w("profile_name"), help=_w("profile"), **kw)
    group.add_argument("--region", metavar=_w("region_name"), help=_w("region"), **kw)


def _filter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(_w("filter_group"))
    group.add_argument("--direction", "-d", type=_direction, metavar="N",
                       help=_w("direction", n=len(campaign.DIRECTIONS)))
    group.add_argument("--recommender", "-r", metavar=_w("name"), help=_w("recommender"))
    group.add_argument("--since", metavar=_w("date"), help=_w("since", received_at=wording.text("common.received_at")))
    group.add_argument("--until", metavar=_w("date"), help=_w("until", received_at=wording.text("common.received_at")))
    # The review's status (the units table), worded as the console words it.
    statuses = wording.text("admin.filters.joiner").join(
        _w("status_choice", code=s, label=review.status_label(s)) for s in review.STATUSES)
    group.add_argument("--status", metavar=_w("status_name"), choices=review.STATUSES,
                       help=_w("status", statuses=statuses))


def _argparse_words() -> list[tuple[str, str]]:
    """argparse's English messages (patterns) and their Chinese (replacements), in order."""
    w = wording.section("admin.argparse")
    return [
        (r"the following arguments are required: ", w["required"]),
        (r"unrecognized arguments: ", w["unrecognized"]),
        (r"argument ([^:]+): invalid choice: (.+?) \(choose from (.+)\)", w["invalid_choice"]),
        (r"argument ([^:]+): expected one argument", w["expected_one"]),
        (r"argument ([^:]+): invalid .+ value: (.+)", w["invalid_value"]),
        (r"argument ([^:]+): ", w["argument"]),
    ]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, _w("usage") if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse with its own words in Chinese."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs |= {"add_help": False, "formatter_class": _Formatter, "epilog": exits.help_text()}
        super().__init__(*args, **kwargs)
        self._positionals.title, self._optionals.title = _w("positionals"), _w("optionals")
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help=_w("help"))

    def error(self, message: str) -> NoReturn:
        for english, chinese in _argparse_words():
            message = re.sub(english, chinese, message)
        self.print_usage(sys.stderr)
        self.exit(USAGE, _w("error", prog=self.prog, message=message) + "\n")


def build_parser() -> argparse.ArgumentParser:
    reference = wording.text("common.reference")
    parser = _Parser(prog="bdpilot admin", description=_w("description"))
    _target_options(parser, nested=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar=_w("command"), parser_class=_Parser,
                                     title=_w("commands"))

    def command(name: str, **params: Any) -> argparse.ArgumentParser:
        text = _w(f"{name}.help", **params)
        sub = commands.add_parser(name, help=text, description=text)
        _target_options(sub, nested=True)
        return sub

    listing = command("list")
    _filter_options(listing)
    listing.add_argument("--desc", action="store_true", help=_w("list.desc"))
    listing.add_argument("--limit", type=_positive, metavar="N", help=_w("list.limit"))
    listing.add_argument("--format", choices=["table", "csv", "json"], default="table", help=_w("format"))

    stats = command("stats", quotas="/".join(dict.fromkeys(
        str(k.quota) for k in campaign.RECOMMENDER_KINDS.values())))
    _filter_options(stats)
    stats.add_argument("--all", action="store_true", help=_w("stats.all"))
    stats.add_argument("--format", choices=["table", "json"], default="table", help=_w("format"))

    show = command("show", digest=wording.text("common.digest"))
    show.add_argument("reference", metavar=reference)
    show.add_argument("--json", action="store_true", help=_w("show.json"))

    verify = command("verify", digest=wording.text("common.digest"))
    verify.add_argument("reference", metavar=reference)
    verify.add_argument("--digest", metavar=_w("verify.metavar"), help=_w("verify.digest",
                                                                             digest=wording.text("common.digest")))

    exporting = command("export")
    _filter_options(exporting)
    exporting.add_argument("--output", "-o", metavar=_w("path"), help=_w("export.output"))
    exporting.add_argument("--zip", action="store_true", help=_w("export.zip"))
    exporting.add_argument("--no-attachments", action="store_true", help=_w("export.no_attachments"))
    exporting.add_argument("--upload", action="store_true", help=_w("export.upload"))
    exporting.add_argument("--force", action="store_true", help=_w("export.force"))
    exporting.add_argument("--progress", action="store_true", help=_w("export.progress"))
    exporting.add_argument("--quiet", "-q", action="store_true", help=_w("export.quiet"))

    download = command("download", reference=reference,
                       suffix=wording.text("admin.download.altered_suffix"))
    download.add_argument("reference", metavar=reference)
    download.add_argument("--output", "-o", metavar=_w("folder"), help=_w("download.output"))
    return parser


COMMANDS: dict[str, Callable[..., int]] = {
    "list": cmd_list, "stats": cmd_stats,
}
CHECKING: dict[str, Callable[..., int]] = {
    "show": cmd_show, "verify": cmd_verify, "export": cmd_export, "download": cmd_download,
}


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    if out is None or err is None:
        tolerant(sys.stdout)
        tolerant(sys.stderr)
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        if (args.local or args.local_dir) and args.stack:
            raise AdminError(USAGE, _w("local_and_stack"))
        if args.command == "export":
            args.plan = plan_export(args)  # before the target is even looked up
        target = target_from(args)
        target.record(args)
        if args.command in CHECKING:
            return CHECKING[args.command](target, args, out, err)
        return COMMANDS[args.command](target, args, out)
    except AdminError as exc:
        print(wording.text("admin.error", message=exc.message), file=err)
        return exc.code
    except KeyboardInterrupt:
        print(wording.text("admin.interrupted"), file=err)
        return INTERRUPTED
    except BrokenPipeError:  # `bdpilot admin list | head`: stop quietly, and keep Python's exit flush quiet too
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return OK
