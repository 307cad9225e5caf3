"""`bdpilot admin`: list, check and download the stored submissions (for MIIT and the 推荐单位' staff).

Thin on purpose: argument parsing, choosing the target, wording and exit codes. Selection, stats and the export
itself are in `bdpilot.ops.export`; every AWS call is in `bdpilot.store`.

The target is chosen by the environment, never by editing code:
  --local [--local-dir DIR]   the local run (`bdpilot serve`), found through DIR/endpoint.json
                              (DIR: --local-dir, else BDPILOT_LOCAL_DIR, else .local)
  --stack NAME                a deployed stack's outputs TableName and SubmissionsBucketName
  otherwise                   BDPILOT_TABLE and BDPILOT_BUCKET
with the standard AWS credential chain (--profile / AWS_PROFILE, environment, SSO, instance role) for AWS.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import secrets
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bdpilot.domain import campaign, reference
from bdpilot.ops import export
from bdpilot.store import StorageUnavailable, Store

# Exit codes (documented in the README and in `bdpilot admin --help`).
OK = 0
MISMATCH = 1  # a stored record or attachment does not match what was registered (altered), or the index differs
USAGE = 2  # wrong arguments (argparse's own code)
NOT_FOUND = 3  # no submission with that reference
NO_ACCESS = 4  # no credentials, expired or refused credentials
NO_TARGET = 5  # no such table / bucket / stack, no target configured, local run not running
UNAVAILABLE = 6  # storage failed in a way a retry may fix (network, throttling, service error)
INCOMPLETE = 7  # done, but a record or attachment the index or record lists is missing from storage
LOCAL_FILE = 8  # cannot write the output folder or file
INTERRUPTED = 130

EXIT_CODES = f"""退出码：
  {OK}  成功
  {MISMATCH}  核验不一致：存储的申报书或附件与提交时登记的不符（被改动、替换或损坏），
     或索引与申报书不符（verify、show、download、export 都会核验）
  {USAGE}  命令行参数错误
  {NOT_FOUND}  没有该受理编号的申报书
  {NO_ACCESS}  没有AWS凭证，或凭证已过期、权限不足
  {NO_TARGET}  数据表、存储桶或堆栈不存在，未指定目标，或本地运行未启动
  {UNAVAILABLE}  存储服务暂时不可用（网络、限流等），可稍后重试
  {INCOMPLETE}  已完成，但申报书或附件在存储中缺失（详见提示；同时有被改动的则为 {MISMATCH}）
  {LOCAL_FILE}  无法写入本地文件或目录
  {INTERRUPTED}  被中断（Ctrl-C）"""

_NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                   "ProfileNotFound", "SSOTokenLoadError", "UnauthorizedSSOTokenError", "TokenRetrievalError"}
_REFUSED = {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId",
            "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "SignatureDoesNotMatch",
            "UnauthorizedOperation", "InvalidToken", "403", "AllAccessDisabled"}
_MISSING = {"ResourceNotFoundException": "table", "NoSuchBucket": "bucket", "StackNotFound": "stack"}
_CONNECT = {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ReadTimeoutError"}


class AdminError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Target:
    store: Store
    where: str  # how the target is named in messages
    local: bool = False

    def explain(self, exc: StorageUnavailable, what: str) -> AdminError:
        """A storage failure in words an administrator can act on."""
        code = str(exc)
        if code in _NO_CREDENTIALS:
            return AdminError(NO_ACCESS, "找不到可用的AWS凭证。请用 --profile 指定配置，或设置 AWS_PROFILE / "
                                         "AWS_ACCESS_KEY_ID 等环境变量，或先运行 aws sso login。"
                                         f"（{code}）")
        if code in _REFUSED:
            return AdminError(NO_ACCESS, f"AWS拒绝了请求：凭证无效、已过期，或没有管理员权限（AdminPolicy）。"
                                         f"目标：{self.where}（{code}）")
        if code in _MISSING or code == "StackOutputsMissing":
            thing = {"table": f"数据表“{self.store.table}”", "bucket": f"存储桶“{self.store.bucket}”",
                     "stack": f"堆栈（{self.where}）"}[_MISSING.get(code, "stack")]
            hint = "请检查 BDPILOT_TABLE / BDPILOT_BUCKET、--stack 或 --region。" if not self.local else \
                "本地运行的数据可能已被重置，请重新启动 bdpilot serve。"
            if code == "StackOutputsMissing":
                return AdminError(NO_TARGET, f"堆栈（{self.where}）没有 TableName / SubmissionsBucketName 输出。")
            return AdminError(NO_TARGET, f"{thing}不存在。{hint}（{code}）")
        if code == "NoRegionError":
            return AdminError(NO_TARGET, "未设置AWS区域：请用 --region 指定，或设置 AWS_REGION / AWS_DEFAULT_REGION。")
        if code in _CONNECT and self.local:
            return AdminError(NO_TARGET, f"无法连接本地运行（{self.where}）。请先在另一个终端运行 bdpilot serve。")
        return AdminError(UNAVAILABLE, f"读取{what}时存储服务出错，请稍后重试。（{code}）")

    @contextmanager
    def aws(self, what: str) -> Iterator[None]:
        try:
            yield
        except StorageUnavailable as exc:
            raise self.explain(exc, what) from exc
        except Exception as exc:
            # botocore errors that escape the store's own handling (e.g. a missing region while signing).
            from botocore.exceptions import BotoCoreError, ClientError

            if isinstance(exc, ClientError):
                code = exc.response.get("Error", {}).get("Code", "")
            elif isinstance(exc, BotoCoreError):
                code = type(exc).__name__
            else:
                raise
            raise self.explain(StorageUnavailable(code), what) from exc

    def each(self, items: Iterator[dict[str, Any]], what: str) -> Iterator[dict[str, Any]]:
        """Iterate a paginated read, translating failures on any page."""
        while True:
            with self.aws(what):
                item = next(items, None)
            if item is None:
                return
            yield item


# ---------------------------------------------------------------------------------------------- target


def target_from(args: argparse.Namespace) -> Target:
    import boto3
    from botocore.exceptions import BotoCoreError

    if args.local or args.local_dir:
        folder = Path(args.local_dir or os.environ.get("BDPILOT_LOCAL_DIR") or ".local")
        endpoint = folder / "endpoint.json"
        try:
            found = json.loads(endpoint.read_text())
            names = found["aws_endpoint"], found["table"], found["bucket"]
        except (OSError, ValueError, KeyError) as exc:
            raise AdminError(NO_TARGET, f"找不到本地运行（{endpoint}）。请先运行 bdpilot serve，或用 --local-dir "
                                        "/ BDPILOT_LOCAL_DIR 指定它的数据目录。") from exc
        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
        url, table, bucket = names
        return Target(Store(table, bucket, session=session, endpoint_url=url), f"本地运行 {url}", local=True)

    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
    except BotoCoreError as exc:
        raise AdminError(NO_ACCESS, f"找不到AWS配置“{args.profile}”。（{type(exc).__name__}）") from exc
    if args.stack:
        probe = Target(Store("?", "?", session=session), f"堆栈 {args.stack}")
        with probe.aws("堆栈输出"):
            store = Store.from_stack(args.stack, session=session)
        return Target(store, f"堆栈 {args.stack}")
    table, bucket = os.environ.get("BDPILOT_TABLE"), os.environ.get("BDPILOT_BUCKET")
    if not table or not bucket:
        raise AdminError(NO_TARGET, "未指定要管理的部署：请使用 --stack 堆栈名，或设置环境变量 BDPILOT_TABLE 和 "
                                    "BDPILOT_BUCKET；管理本地运行请加 --local。")
    return Target(Store(table, bucket, session=session), f"数据表 {table} / 存储桶 {bucket}")


# ---------------------------------------------------------------------------------------------- output helpers


_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# In JSON output: what would act on a terminal or hide text, written as \u escapes (the same JSON value).
_JSON_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]|" + export.INVISIBLE.pattern)
_NON_ASCII = re.compile("[^\x00-\x7f]")


def plain(value: Any) -> str:
    """Stored text made harmless for a terminal: no escape sequences or other control characters, and invisible
    format characters (bidi overrides, zero-width characters) named where they are, e.g. <U+202E>."""
    return export.reveal(_TERMINAL_UNSAFE.sub("", "" if value is None else str(value)))


def _json_escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_text(text: str, out: TextIO) -> str:
    """JSON text made safe for `out`: terminal controls, invisible characters and whatever the output's encoding
    cannot hold (a GBK console) become \\u escapes, so the JSON value is unchanged and nothing is lost."""
    text = _JSON_UNSAFE.sub(lambda m: _json_escape(m.group()), text)
    encoding = (getattr(out, "encoding", None) or "utf-8").lower().replace("_", "-")
    if encoding.startswith(("utf-8", "utf8", "utf-16", "utf-32")):
        return text

    def fit(match: re.Match[str]) -> str:
        try:
            match.group().encode(encoding)
        except (UnicodeEncodeError, LookupError):
            return _json_escape(match.group())
        return match.group()

    return _NON_ASCII.sub(fit, text)


def tolerant(stream: TextIO) -> None:
    """Let a console that cannot show a character print '?' for it instead of failing with a traceback (exit 1,
    which means "altered"): a Chinese Windows console, or PYTHONIOENCODING=gbk, encodes GBK."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None and getattr(stream, "errors", None) == "strict":
        with suppress(ValueError, OSError):  # a stream that cannot change now: leave it
            reconfigure(errors="replace")


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")


def clip(text: str, limit: int) -> str:
    text = _one_line(plain(text))
    if width(text) <= limit:
        return text
    out, used = "", 0
    for ch in text:
        w = width(ch)
        if used + w > limit - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def pad(text: str, size: int) -> str:
    return text + " " * max(0, size - width(text))


def print_table(headers: list[str], rows: list[list[str]], out: TextIO) -> None:
    rows = [[_one_line(c) for c in row] for row in rows]  # a tab or newline in a value would break the columns
    sizes = [max([width(h), *(width(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    print("  ".join(pad(h, s) for h, s in zip(headers, sizes, strict=True)).rstrip(), file=out)
    print("  ".join("-" * s for s in sizes), file=out)
    for row in rows:
        print("  ".join(pad(c, s) for c, s in zip(row, sizes, strict=True)).rstrip(), file=out)


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int | None, label: str, stream: TextIO, enabled: bool) -> None:
        self.total, self.label, self.stream, self.enabled = total, label, stream, enabled
        self.start = self._last = time.monotonic()
        self.done = 0

    def __call__(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and (now - self._last >= 0.1 or done == self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-6)
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
            line = f"\r{self.label} {bar} {self.done}/{self.total} {share:4.0%} {rate:.0f}份/秒"
        else:
            line = f"\r{self.label} {self.done}份 {rate:.0f}份/秒"
        self.stream.write(line)
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------------------------- commands


def filters_from(args: argparse.Namespace) -> export.Filters:
    try:
        since = export.day_bound(args.since, end=False) if args.since else None
        until = export.day_bound(args.until, end=True) if args.until else None
    except ValueError as exc:
        raise AdminError(USAGE, str(exc)) from exc
    if args.recommender and args.recommender.strip() == campaign.OTHER_RECOMMENDER:
        raise AdminError(USAGE, f"“{campaign.OTHER_RECOMMENDER}”是表单上的选项；按推荐单位筛选请写该单位的名称，"
                                "如 --recommender 中国示例集团有限公司")
    if since and until and since > until:
        raise AdminError(USAGE, "--since 晚于 --until，没有符合条件的时间范围")
    return export.Filters(direction=args.direction, recommender=args.recommender, since=since, until=until,
                          status=args.status, newest_first=getattr(args, "desc", False))


LIST_HEADERS = ["受理编号", "提交时间", "方向", "推荐单位", "申报单位", "项目名称", "状态", "附件"]


def _list_row(item: dict[str, Any]) -> list[str]:
    status = str(item.get("status") or "")
    return [plain(item.get("reference")), plain(item.get("received_at"))[:19].replace("T", " "),
            plain(item.get("direction")), plain(item.get("recommender")), plain(item.get("unit_name")),
            plain(item.get("project_name")), export.STATUS_LABELS.get(status, plain(status)),
            plain(item.get("attachments"))]


def cmd_list(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    filters = filters_from(args)
    items = target.each(export.select(target.store, filters), "索引")
    rows: list[list[str]] = []
    writer = csv.writer(out) if args.format == "csv" else None
    if writer:
        writer.writerow(LIST_HEADERS)
    n = 0
    for item in items:
        if args.limit and n >= args.limit:
            break
        n += 1
        if args.format == "json":
            print(json_text(json.dumps(item, ensure_ascii=False, sort_keys=True), out), file=out)
        elif writer:
            writer.writerow([export.csv_text(v) for v in _list_row(item)])
        else:
            row = _list_row(item)
            rows.append([row[0], row[1], row[2], clip(row[3], 16), clip(row[4], 24), clip(row[5], 30), row[6],
                         row[7]])
    if args.format == "table":
        if rows:
            print_table(LIST_HEADERS, rows, out)
        print(f"共{n}份（{filters.describe()}）" + ("，已按 --limit 截断" if args.limit and n >= args.limit else ""),
              file=out)
    return OK


def cmd_stats(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    filters = filters_from(args)
    totals = export.Stats()
    for item in target.each(export.select(target.store, filters), "索引"):
        totals.add(item)
    if args.format == "json":
        print(json_text(json.dumps({
            "total": totals.total,
            "directions": [{"direction": d.number, "label": d.label, "count": totals.directions.get(d.number, 0)}
                           for d in campaign.DIRECTIONS],
            "recommenders": [{"recommender": u.recommender, "kind": u.kind.value, "count": u.count,
                              "quota": u.quota, "over": u.over} for u in totals.quota_rows(every_listed=args.all)],
        }, ensure_ascii=False, indent=2), out), file=out)
        return OK
    print(f"筛选条件：{filters.describe()}    合计：{totals.total}份\n", file=out)
    print_table(["申报方向", "申报数"], [[label, str(n)] for label, n in totals.direction_rows()], out)
    print(file=out)
    uses = totals.quota_rows(every_listed=args.all)
    # Units named in free text are nobody's verified unit: their own table, after the listed ones.
    for listed in (True, False):
        rows = [[clip(u.recommender, 30), str(u.count), str(u.quota), "超出限额" if u.over else ""]
                for u in uses if u.listed is listed]
        if rows and not listed:
            print(f"\n{campaign.UNLISTED_RECOMMENDER}（列表以外，按申报时填写的名称统计，未经核实）：", file=out)
        if rows:
            print_table(["推荐单位", "申报数", "推荐限额", "是否超限"], rows, out)
    over = [u for u in uses if u.over]
    print(f"\n{len(over)}个推荐单位超出限额" if over else "\n没有推荐单位超出限额", file=out)
    return OK


def normalize_reference(raw: str) -> str:
    """What a person types (lower case, spaces, full-width characters) as a checked reference."""
    text = unicodedata.normalize("NFKC", raw).strip().upper().replace(" ", "")
    code = text.replace("-", "").removeprefix(reference.PREFIX)
    if len(code) == 16:  # typed without dashes or without the prefix
        text = reference.format_code(code)
    if not reference.is_valid(text):
        raise AdminError(NOT_FOUND, f"“{plain(raw)}”不是有效的受理编号（格式如 {reference.EXAMPLE}，末位为校验字符），"
                                    "请核对后重新输入")
    return text


def _index(target: Target, ref: str) -> dict[str, Any]:
    with target.aws("索引"):
        index = target.store.get_index(ref)
    if index is None:
        raise AdminError(NOT_FOUND, f"没有受理编号为 {ref} 的申报书（{target.where}）")
    return index


def _checked(target: Target, ref: str) -> tuple[dict[str, Any], export.Checked]:
    """The index item and the submission checked against it: record, every attachment (read and hashed once)."""
    index = _index(target, ref)
    with target.aws("申报书和附件"):
        checked = export.check_stored(target.store, ref, index)
    if checked.data is None:
        raise AdminError(INCOMPLETE, f"索引中有 {ref}，但存储中没有它的 record.json")
    return index, checked


def exit_code(check: export.Check) -> int:
    return MISMATCH if check.altered else INCOMPLETE if check.missing else OK


def _verdict(check: export.Check) -> str:
    return "不一致" if check.altered else "不完整（有文件缺失）" if check.missing else "一致"


def _size(n: Any) -> str:
    return f"{n:,}字节" if isinstance(n, int) else plain(n)


def _write_raw(data: bytes, out: TextIO) -> None:
    """`show --json`: the stored bytes exactly into a file or pipe; on a terminal, the same JSON with what would
    act on the terminal escaped."""
    buffer = getattr(out, "buffer", None)
    if buffer is not None and not out.isatty():
        out.flush()
        buffer.write(data + b"\n")
        buffer.flush()
    else:
        out.write(json_text(data.decode("utf-8", errors="replace"), out) + "\n")


def cmd_show(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ref = normalize_reference(args.reference)
    index, checked = _checked(target, ref)
    check, record = checked.check, checked.record
    if args.json:
        _write_raw(checked.data or b"", out)
        if not check.ok:
            print(f"错误：{ref} 未通过核验（{_verdict(check)}），以上不能作为申报书原件：", file=err)
            for problem in check.problems():
                print(f"  ✗ {plain(problem)}", file=err)
        return exit_code(check)
    if record is None:
        raise AdminError(MISMATCH, f"{ref} 的 record.json 不是有效的申报书JSON，存储的内容可能已损坏或被改动"
                                   f"（可用 verify {ref} 核验，show {ref} --json 查看原文）")
    if not check.ok:
        # First, so that nobody reads what follows as the submission.
        what = "以下内容与提交时登记的不一致，不能作为申报书原件" if check.altered else "有文件缺失"
        print(f"✗✗ 未通过核验：{what} ✗✗", file=out)
        for problem in check.problems():
            print(f"  ✗ {plain(problem)}", file=out)
        print(file=out)
    status = str(index.get("status") or "")
    print(f"受理编号：{ref}", file=out)
    print(f"提交时间：{plain(record.get('received_at'))}", file=out)
    print(f"状态：{export.STATUS_LABELS.get(status, plain(status))}", file=out)
    print(f"数字摘要（SHA-256）：{plain(index.get('digest'))}", file=out)
    section = None
    for col in export.form_columns():
        value = col.value(record)
        if col.kind == "files":
            continue
        if col.section != section:
            section = col.section
            print(f"\n【{section}】", file=out)
        header = col.header.split("/")[-1]
        if col.path[-1] == "direction":
            text = f"{plain(value)}（{export.direction_label(value)}）"
        elif col.kind == "bool":
            text = "是" if value is True else "否"
        else:
            text = plain(value) if value not in (None, "") else "（未填写）"
        lines = text.split("\n")
        print(f"  {header}：{lines[0]}", file=out)
        for line in lines[1:]:
            print(f"    {line}", file=out)
    files = [f for f in record.get("files") or [] if isinstance(f, dict)] if isinstance(record.get("files"), list) \
        else []
    print(f"\n【附件材料】共{len(files)}个", file=out)
    for f in files:
        name = f.get("name")
        state = checked.states.get(name, "记录中的信息不规范，未核验") if isinstance(name, str) else \
            "记录中的信息不规范，未核验"
        print(f"  {plain(f.get('title'))}：{plain(f.get('filename'))} → {plain(name)}，{_size(f.get('size'))}，"
              f"{state}", file=out)
    for name in checked.extra:
        print(f"  （记录中没有）{plain(name)}：存储中多出的文件", file=out)
    print(f"\n核验结果：{_verdict(check)}", file=out)
    return exit_code(check)


def cmd_verify(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ref = normalize_reference(args.reference)
    index, checked = _checked(target, ref)
    check = checked.check
    actual = hashlib.sha256(checked.data or b"").hexdigest()
    problems = list(check.altered)
    print(f"受理编号：{ref}", file=out)
    print(f"索引中登记的摘要：{plain(index.get('digest'))}", file=out)
    print(f"按存储内容重新计算：{actual}", file=out)
    if args.digest:
        given = re.sub(r"[\s:-]", "", args.digest).lower()
        print(f"纸质版上的摘要：{plain(given)}", file=out)
        if given != actual:
            problems.append("纸质版上的摘要与网上存储的申报书不一致")
    for problem in problems + check.missing:
        print(f"✗ {plain(problem)}", file=out)
    if problems:
        print("核验结果：不一致", file=out)
        return MISMATCH
    if check.missing:
        print(f"核验结果：{_verdict(check)}", file=out)
        return INCOMPLETE
    print(f"✓ 申报书与摘要一致，索引与申报书一致，{len(check.files)}个附件齐全且SHA-256一致"
          + ("，与纸质版摘要相符" if args.digest else ""), file=out)
    print("核验结果：一致", file=out)
    return OK


def _fail_local(action: str, path: Path, exc: OSError) -> NoReturn:
    raise AdminError(LOCAL_FILE, f"无法{action}“{path}”：{exc.strerror or exc}")


@dataclass(frozen=True)
class ExportPlan:
    filters: export.Filters
    dest: Path
    as_zip: bool
    stamp: str


def plan_export(args: argparse.Namespace) -> ExportPlan:
    """Every export argument checked before anything is read or written."""
    filters = filters_from(args)
    stamp = datetime.now(campaign.TZ).strftime("%Y%m%d-%H%M%S")
    dest = Path(args.output) if args.output else Path(f"bdpilot-export-{stamp}.zip")
    as_zip = args.zip or dest.suffix.lower() == ".zip"
    if args.upload and not as_zip:
        raise AdminError(USAGE, "--upload 只能用于ZIP导出（-o 以 .zip 结尾或加 --zip）")
    try:
        problem = export.check_destination(dest, as_zip=as_zip, replace=args.force)
    except OSError as exc:
        _fail_local("读取", dest, exc)
    if problem:
        raise AdminError(LOCAL_FILE, problem)
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise AdminError(USAGE, "导出XLSX需要 openpyxl：请运行 pip install 'bdpilot[admin]'") from exc
    return ExportPlan(filters, dest, as_zip, stamp)


def cmd_export(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    plan: ExportPlan = args.plan
    filters, dest = plan.filters, plan.dest
    show = not args.quiet and (args.progress or err.isatty())
    total = None
    if show:
        with target.aws("索引"):
            total = export.count(target.store, filters)
    bar = Progress(total, "导出", err, show)
    try:
        with target.aws("申报书"):
            report = export.export(target.store, filters, dest, as_zip=plan.as_zip,
                                   attachments=not args.no_attachments, progress=bar)
    except OSError as exc:
        _fail_local("写入", dest, exc)
    finally:
        bar.finish()
    uploaded = None
    if args.upload:
        # A key of its own (time and a random part), so no upload ever replaces an earlier one.
        with target.aws("导出上传"):
            uploaded = target.store.put_export(f"{plan.stamp}-{secrets.token_hex(8)}/{dest.name}", str(dest))
    print(f"已导出{report.submissions}份申报书、{report.attachments}个附件到 {dest}", file=out)
    if uploaded:
        print(f"已上传到 s3://{target.store.bucket}/{uploaded}", file=out)
    for line in report.warnings.summary():
        print(f"提示：{plain(line)}", file=err)
    if report.warnings.altered:
        print("错误：有申报书、附件或索引未通过核验（见以上提示，及表格的“摘要核验”列和汇总表）", file=err)
        return MISMATCH
    return INCOMPLETE if report.warnings.incomplete else OK


def cmd_download(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ref = normalize_reference(args.reference)
    index = _index(target, ref)
    dest = Path(args.output or ".")
    try:
        with target.aws("申报书"):
            folder, written, check = export.download(target.store, ref, dest, index)
    except LookupError as exc:
        raise AdminError(INCOMPLETE, f"索引中有 {ref}，但存储中没有它的 record.json") from exc
    except FileExistsError as exc:
        raise AdminError(LOCAL_FILE, f"“{exc.filename}”{exc.strerror}；请换一个目录（-o）") from exc
    except OSError as exc:
        _fail_local("写入", dest, exc)
    if check.altered:
        print(f"错误：{ref} 未通过核验，存储的内容与提交时登记的不一致，不能作为申报书原件。"
              f"已另存到 {folder}（问题见其中的 {export.PROBLEMS_FILE}）：", file=err)
        for problem in check.problems():
            print(f"  ✗ {plain(problem)}", file=err)
        return MISMATCH
    print(f"已下载到 {folder}：{'、'.join(written)}（已核验）", file=out)
    for problem in check.missing:
        print(f"提示：{plain(problem)}", file=err)
    return INCOMPLETE if check.missing else OK


# ---------------------------------------------------------------------------------------------- parser


def _direction(value: str) -> int:
    text = unicodedata.normalize("NFKC", value).strip().removeprefix("方向")
    if not text.isdigit() or int(text) not in campaign.DIRECTIONS_BY_NUMBER:
        raise argparse.ArgumentTypeError(f"方向应为1至{len(campaign.DIRECTIONS)}")
    return int(text)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("应为正整数")
    return int(value)


def _target_options(parser: argparse.ArgumentParser, *, nested: bool) -> None:
    # On subcommands the defaults are SUPPRESS, so `admin --local list` and `admin list --local` both work.
    kw: dict[str, Any] = {"default": argparse.SUPPRESS} if nested else {}
    group = parser.add_argument_group("目标（默认读取环境变量 BDPILOT_TABLE / BDPILOT_BUCKET）")
    group.add_argument("--local", action="store_true", help="管理本地运行（bdpilot serve）的数据", **kw)
    group.add_argument("--local-dir", metavar="目录",
                       help="本地运行的数据目录（默认 BDPILOT_LOCAL_DIR 或 .local）", **kw)
    group.add_argument("--stack", metavar="堆栈名", help="从CloudFormation堆栈的输出读取数据表和存储桶", **kw)
    group.add_argument("--profile", metavar="配置", help="AWS配置名（默认 AWS_PROFILE）", **kw)
    group.add_argument("--region", metavar="区域", help="AWS区域（默认 AWS_REGION / AWS_DEFAULT_REGION）", **kw)


def _filter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("筛选")
    group.add_argument("--direction", "-d", type=_direction, metavar="N", help="申报方向（1–7）")
    group.add_argument("--recommender", "-r", metavar="名称", help="推荐单位（如 河北省，或中央企业集团名称）")
    group.add_argument("--since", metavar="日期", help="提交时间不早于（北京时间，如 2019-11-15 或 2019-11-15T10:00）")
    group.add_argument("--until", metavar="日期", help="提交时间不晚于（日期含当天全天）")
    group.add_argument("--status", metavar="状态", help="状态（received＝已受理）")


_ARGPARSE_WORDS = [
    (r"the following arguments are required: ", "缺少参数："),
    (r"unrecognized arguments: ", "无法识别的参数："),
    (r"argument ([^:]+): invalid choice: (.+?) \(choose from (.+)\)", r"\1 的值 \2 无效（可选：\3）"),
    (r"argument ([^:]+): expected one argument", r"\1 需要一个值"),
    (r"argument ([^:]+): invalid .+ value: (.+)", r"\1 的值 \2 无效"),
    (r"argument ([^:]+): ", r"\1："),
]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse with its own words in Chinese."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, add_help=False, formatter_class=_Formatter, epilog=EXIT_CODES, **kwargs)
        self._positionals.title, self._optionals.title = "参数", "选项"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示帮助并退出")

    def error(self, message: str) -> NoReturn:
        for english, chinese in _ARGPARSE_WORDS:
            message = re.sub(english, chinese, message)
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}：参数错误：{message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bdpilot admin",
                     description="查看、核验和下载已提交的申报书（工业和信息化部及各推荐单位使用）")
    _target_options(parser, nested=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="命令", parser_class=_Parser,
                                     title="命令")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        _target_options(sub, nested=True)
        return sub

    listing = command("list", "按提交时间列出申报书")
    _filter_options(listing)
    listing.add_argument("--desc", action="store_true", help="最新的在前")
    listing.add_argument("--limit", type=_positive, metavar="N", help="最多列出N份")
    listing.add_argument("--format", choices=["table", "csv", "json"], default="table", help="输出格式（默认 table）")

    stats = command("stats", "按方向和推荐单位统计，并与推荐限额（10/5/3）对比")
    _filter_options(stats)
    stats.add_argument("--all", action="store_true", help="列出所有推荐单位（包括尚无申报的）")
    stats.add_argument("--format", choices=["table", "json"], default="table", help="输出格式（默认 table）")

    show = command("show", "查看一份申报书的全部内容、附件和数字摘要")
    show.add_argument("reference", metavar="受理编号")
    show.add_argument("--json", action="store_true", help="原样输出存储的 record.json")

    verify = command("verify", "核验存储的申报书、每个附件和索引是否未被改动（及纸质版上的数字摘要）")
    verify.add_argument("reference", metavar="受理编号")
    verify.add_argument("--digest", metavar="摘要", help="纸质版上印的数字摘要，一并核对")

    exporting = command("export", "导出申报书：XLSX、CSV、每份的JSON和附件，到目录或ZIP")
    _filter_options(exporting)
    exporting.add_argument("--output", "-o", metavar="路径",
                           help="输出位置：以 .zip 结尾则写ZIP，否则写入目录（默认 bdpilot-export-时间.zip）")
    exporting.add_argument("--zip", action="store_true", help="写ZIP（即使路径不以 .zip 结尾）")
    exporting.add_argument("--no-attachments", action="store_true", help="不导出附件PDF")
    exporting.add_argument("--upload", action="store_true",
                           help="导出后把ZIP另存到存储桶的 exports/ 下（每次一个新位置，不覆盖）")
    exporting.add_argument("--force", action="store_true",
                           help="用这次导出整个替换之前的导出（含其他文件的目录不会被替换）")
    exporting.add_argument("--progress", action="store_true", help="即使不是终端也显示进度")
    exporting.add_argument("--quiet", "-q", action="store_true", help="不显示进度")

    download = command("download", "下载一份申报书（record.json 和附件），核验后存到 <目录>/<受理编号>/；"
                                   "未通过核验的另存到 <目录>/<受理编号>-未通过核验/")
    download.add_argument("reference", metavar="受理编号")
    download.add_argument("--output", "-o", metavar="目录", help="下载到哪个目录（默认当前目录）")
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
            raise AdminError(USAGE, "--local 和 --stack 只能选一个")
        if args.command == "export":
            args.plan = plan_export(args)  # before the target is even looked up
        target = target_from(args)
        if args.command in CHECKING:
            return CHECKING[args.command](target, args, out, err)
        return COMMANDS[args.command](target, args, out)
    except AdminError as exc:
        print(f"错误：{exc.message}", file=err)
        return exc.code
    except KeyboardInterrupt:
        print("\n已中断", file=err)
        return INTERRUPTED
    except BrokenPipeError:  # `bdpilot admin list | head`: stop quietly, and keep Python's exit flush quiet too
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return OK
