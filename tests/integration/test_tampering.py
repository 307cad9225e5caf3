"""Tampering that every tool reports (issue 11, finding 8).

Six alterations of stored data, each against the four commands that read a submission — `verify`, `show`,
`download`, `export` — make 24 cells. In each, the command must report the alteration with the documented exit
code (1 altered, 7 missing), and `show`/`download` must never print or save an altered submission as genuine.
Submissions go in through the real API, whose records carry each attachment's SHA-256 under the digest.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from bdpilot import store
from bdpilot.intake.submission import canonical, digest
from bdpilot.ops.admin import exits
from bdpilot.store import reader
from tests.conftest import Applicant
from tests.factories import PDF, attachments, uscc
from tests.integration.test_admin import run

LICENSE = PDF + b"% license of the applicant\n"


@dataclass
class Pair:
    target: str  # the submission that is altered
    control: str  # one beside it that nobody touches
    digest: str


def _submit(aws, now, n: int) -> dict:  # type: ignore[no-untyped-def]
    person = Applicant(aws, now)
    files = attachments(person.upload(LICENSE), person.upload(PDF + b"% ip\n"))
    reply = person.submit(person.body(attachments=files, applicant={"uscc": uscc(9100 + n)},
                                      cover={"direction": 3, "recommender": "河北省"}))
    assert reply.status == 201, reply.body
    assert all(len(f["sha256"]) == 64 for f in reply.body["record"]["files"])  # the contract this relies on
    return reply.body


@pytest.fixture
def pair(aws, now) -> Pair:
    first, second = _submit(aws, now, 1), _submit(aws, now, 2)
    return Pair(first["reference"], second["reference"], first["digest"])


# ---------------------------------------------------------------------------------------------- alterations


def _record(aws, ref: str) -> tuple[dict, dict[str, str]]:  # type: ignore[no-untyped-def]
    got = aws.s3.get_object(Bucket=aws.bucket, Key=store.record_key(ref))
    return json.loads(got["Body"].read()), got["Metadata"]


def edit_record(aws, ref: str) -> None:  # type: ignore[no-untyped-def]
    """Someone with write access changes a figure and keeps the object's old digest metadata."""
    record, metadata = _record(aws, ref)
    record["application"]["applicant"]["revenue"] = "999999.00"
    aws.s3.put_object(Bucket=aws.bucket, Key=store.record_key(ref), Body=canonical(record), Metadata=metadata)


def replace_record(aws, ref: str) -> None:  # type: ignore[no-untyped-def]
    """A whole new record, canonical, with a digest beside it that matches its new bytes."""
    record, _ = _record(aws, ref)
    record["application"]["cover"]["project_name"] = "另一个项目"
    body = canonical(record)
    aws.s3.put_object(Bucket=aws.bucket, Key=store.record_key(ref), Body=body, Metadata={"sha256": digest(body)})


def forge_attachment(aws, ref: str) -> None:  # type: ignore[no-untyped-def]
    """Another PDF of exactly the same size in place of the license."""
    key = store.attachment_key(ref, "license-1.pdf")
    old = aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read()
    forged = (b"%PDF-1.4\n% forged\n" + b"0" * len(old))[:len(old)]
    assert len(forged) == len(old) and forged != old
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=forged, ContentType="application/pdf")


def grow_attachment(aws, ref: str) -> None:  # type: ignore[no-untyped-def]
    key = store.attachment_key(ref, "license-1.pdf")
    old = aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read()
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=old + b"% appended page\n", ContentType="application/pdf")


def delete_attachment(aws, ref: str) -> None:  # type: ignore[no-untyped-def]
    aws.s3.delete_object(Bucket=aws.bucket, Key=store.attachment_key(ref, "license-1.pdf"))


def move_index(aws, ref: str) -> None:  # type: ignore[no-untyped-def]
    """The index item's 推荐单位 changed in DynamoDB: the submission would count in 北京市's export and stats."""
    aws.dynamodb.update_item(TableName=aws.table, Key={"pk": {"S": f"SUB#{ref}"}},
                             UpdateExpression="SET recommender = :r", ExpressionAttributeValues={":r": {"S": "北京市"}})


ALTERATIONS: dict[str, tuple[Callable[..., None], int]] = {
    "record-edited": (edit_record, exits.MISMATCH),
    "record-replaced-with-its-own-digest": (replace_record, exits.MISMATCH),
    "attachment-forged-same-size": (forge_attachment, exits.MISMATCH),
    "attachment-grown": (grow_attachment, exits.MISMATCH),
    "attachment-deleted": (delete_attachment, exits.INCOMPLETE),
    "index-recommender-moved": (move_index, exits.MISMATCH),
}


# ---------------------------------------------------------------------------------------------- the commands


def verify(pair: Pair, tmp: Path, code: int) -> list[str]:
    got, out, _ = run("verify", pair.target)
    wrong = [f"exit {got}"] if got != code else []
    if "核验结果：一致" in out or "✗" not in out:
        wrong.append("verify says it matches")
    if run("verify", pair.control)[0] != exits.OK:
        wrong.append("the untouched submission fails")
    return wrong


def show(pair: Pair, tmp: Path, code: int) -> list[str]:
    got, out, err = run("show", pair.target)
    wrong = [f"exit {got}"] if got != code else []
    # The warning comes first, before any of the content.
    if not out.startswith("✗✗ 未通过核验") or "核验结果：一致" in out:
        wrong.append("show prints it as genuine")
    got, _, err = run("show", pair.target, "--json")
    if got != code or "未通过核验" not in err:
        wrong.append(f"show --json: exit {got}, no warning")
    return wrong


def download(pair: Pair, tmp: Path, code: int) -> list[str]:
    got, _, err = run("download", pair.target, "-o", str(tmp))
    wrong = [f"exit {got}"] if got != code else []
    genuine = tmp / pair.target
    if code == exits.MISMATCH:
        if genuine.exists():
            wrong.append("saved under its own name as if genuine")
        apart = tmp / f"{pair.target}-未通过核验"
        if not (apart / "核验问题.txt").is_file() or "未通过核验" not in err:
            wrong.append("not saved apart with its problems")
    elif (genuine / "license-1.pdf").exists() or "存储中缺少附件 license-1.pdf" not in err:
        wrong.append("the missing file is not reported")
    return wrong


def _csv_rows(archive: zipfile.ZipFile) -> dict[str, dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(archive.read("submissions.csv").decode("utf-8-sig"))))
    return {r["申报编号"]: r for r in rows}


def export(pair: Pair, tmp: Path, code: int) -> list[str]:
    got, _, err = run("export", "-o", str(tmp / "all.zip"))
    wrong = [f"exit {got}"] if got != code else []
    if f"{pair.target}：" not in err or pair.control in err:
        wrong.append("warnings do not name the altered submission (alone)")
    with zipfile.ZipFile(tmp / "all.zip") as archive:
        rows = _csv_rows(archive)
    if rows[pair.target]["摘要核验"] == "一致" or rows[pair.control]["摘要核验"] != "一致":
        wrong.append(f"摘要核验 column: {rows[pair.target]['摘要核验']}")
    return wrong


COMMANDS: dict[str, Callable[[Pair, Path, int], list[str]]] = {
    "verify": verify, "show": show, "download": download, "export": export,
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("alteration", list(ALTERATIONS))
def test_every_alteration_is_reported_by_every_command(pair, aws, tmp_path, alteration, command):
    assert run("verify", pair.target, "--digest", pair.digest)[0] == exits.OK  # whole before (and see below)
    alter, code = ALTERATIONS[alteration]
    alter(aws, pair.target)
    wrong = COMMANDS[command](pair, tmp_path / "after", code)
    assert wrong == [], f"{alteration} × {command}: {wrong}"


def test_an_index_moved_to_another_unit_stays_out_of_its_export_and_stats(pair, aws, tmp_path):
    move_index(aws, pair.target)
    # 北京市's export: the index offers the submission, the record says 河北省: left out, and reported.
    code, _, err = run("export", "-o", str(tmp_path / "bj.zip"), "-r", "北京市")
    assert code == exits.MISMATCH
    assert f"{pair.target}：索引中的推荐单位（北京市）与申报书（河北省）不一致" in err and "未导出" in err
    with zipfile.ZipFile(tmp_path / "bj.zip") as archive:
        assert _csv_rows(archive) == {} and not [n for n in archive.namelist() if pair.target in n]
    # Everything: it is exported, flagged, and counted where its record says it belongs.
    code, _, err = run("export", "-o", str(tmp_path / "all"), "--no-attachments")
    assert code == exits.MISMATCH and pair.target in err
    book = openpyxl.load_workbook(tmp_path / "all" / "submissions.xlsx")
    summary = [[c for c in row if c is not None] for row in book["汇总"].iter_rows(values_only=True)]
    assert ["河北省", 2, 10] in summary and not [r for r in summary if r[:1] == ["北京市"]]


def test_an_attachment_the_record_does_not_list_is_reported(pair, aws, tmp_path):
    aws.s3.put_object(Bucket=aws.bucket, Key=store.attachment_key(pair.target, "other-1.pdf"), Body=PDF)
    for argv in (["verify", pair.target], ["show", pair.target], ["download", pair.target, "-o", str(tmp_path)],
                 ["export", "-o", str(tmp_path / "x.zip")]):
        code, out, err = run(*argv)
        assert code == exits.MISMATCH and "多出记录中没有的附件 other-1.pdf" in out + err, argv


def test_a_digest_check_reads_each_attachment_once(pair, aws, tmp_path, monkeypatch):
    reads: list[str] = []
    real = reader.Reader.read_attachment

    def counting(self, reference, name, sink, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(name)
        return real(self, reference, name, sink, **kwargs)

    monkeypatch.setattr(reader.Reader, "read_attachment", counting)
    for argv in (["verify", pair.target], ["show", pair.target], ["download", pair.target, "-o", str(tmp_path)],
                 ["export", "-o", str(tmp_path / "x.zip"), "-r", "河北省"]):
        reads.clear()
        assert run(*argv)[0] == exits.OK, argv
        per_submission = 2 if argv[0] != "export" else 4
        assert sorted(reads) == sorted(["ip-1.pdf", "license-1.pdf"] * (per_submission // 2)), argv
