"""The README's local run over real sockets: site, API, presigned upload to moto, record read back, restart."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from typing import Any

import requests

from tests.factories import PDF
from tests.live import LiveRun, start_live, stop_live, submit_over_http


def test_site_and_api_over_http(live):
    session = requests.Session()
    home = session.get(live.url)
    assert home.status_code == 200 and "text/html" in home.headers["Content-Type"]
    assert session.get(live.url + "no/such/page/").status_code == 404
    receipt = submit_over_http(live.url, session, 1)
    stored = live.store().get_record(receipt["reference"])
    assert stored is not None and hashlib.sha256(stored).hexdigest() == receipt["digest"]
    assert json.loads(stored) == receipt["record"]
    assert session.get(live.url + "api/submissions").status_code == 405


def test_submissions_survive_a_restart(built_site, tmp_path):
    first = start_live(built_site, tmp_path)
    try:
        receipt = submit_over_http(first.url, requests.Session(), 2)
    finally:
        stop_live(first)
    second = start_live(built_site, tmp_path)
    try:
        stored = second.store().get_record(receipt["reference"])
        assert stored is not None and hashlib.sha256(stored).hexdigest() == receipt["digest"]
        index = second.store().get_index(receipt["reference"])
        assert index is not None and index["digest"] == receipt["digest"]
        # The same applicant is still known after the restart: one project per applicant holds.
        session = requests.Session()
        campaign = session.get(second.url + "api/campaign").json()
        assert campaign["window"]["open"] is True
    finally:
        stop_live(second)


def _admin_list(run: LiveRun) -> str:
    """What `bdpilot admin --local list` prints for this run, as an administrator would see it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BDPILOT_"))}
    done = subprocess.run([sys.executable, "-m", "bdpilot.ops.cli", "admin", "--local", "--local-dir",
                           str(run.data_dir), "list", "--format", "json"],
                          capture_output=True, text=True, env=env, check=True)
    return done.stdout


def _stored(run: LiveRun, *, times: bool = True) -> dict[str, Any]:
    """Every object version (bytes, type, metadata, S3's SHA-256) and every table item the run holds."""
    store = run.store()
    objects = {}
    for page in store.s3.get_paginator("list_object_versions").paginate(Bucket=store.bucket):
        assert not page.get("DeleteMarkers")
        for version in page.get("Versions", []):
            key = version["Key"]
            head = store.s3.head_object(Bucket=store.bucket, Key=key, VersionId=version["VersionId"],
                                        ChecksumMode="ENABLED")
            body = store.s3.get_object(Bucket=store.bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
            objects.setdefault(key, []).append({
                "sha256": hashlib.sha256(body).hexdigest(), "etag": head["ETag"], "type": head["ContentType"],
                "metadata": head["Metadata"], "checksum": head.get("ChecksumSHA256"),
                **({"modified": head["LastModified"]} if times else {})})
    items = store.dynamodb.scan(TableName=store.table, ConsistentRead=True)["Items"]
    return {"objects": objects, "items": sorted(items, key=lambda i: i["pk"]["S"])}


def _reads(run: LiveRun, references: list[str]) -> None:
    """What applicants and an administrator do between writes: none of it may be kept or replayed."""
    session = requests.Session()
    for _ in range(3):
        session.get(run.url + "api/campaign").raise_for_status()
        list(run.store().query("time"))
        for ref in references:
            assert run.store().get_record(ref) is not None
            assert run.store().attachment_sizes(ref)


def _this_start(run: LiveRun) -> str:
    """What the latest start printed (serve.log collects every start in the folder)."""
    return run.log.rsplit("本地运行：", 1)[-1]


def _without_times(objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {key: [{k: v for k, v in version.items() if k != "modified"} for version in versions]
            for key, versions in objects.items()}


def test_restart_keeps_every_byte_and_replays_no_reads(built_site, tmp_path):
    first = start_live(built_site, tmp_path)
    try:
        receipts = [submit_over_http(first.url, requests.Session(), 30 + i) for i in range(2)]
        refs = [r["reference"] for r in receipts]
        _reads(first, refs)
        listing, stored = _admin_list(first), _stored(first, times=False)
    finally:
        first.process.send_signal(signal.SIGKILL)  # no clean stop: the next start must replay this run's writes
        first.process.wait(timeout=10)
    assert [json.loads(line)["reference"] for line in listing.splitlines()] == refs
    assert sum(v["checksum"] is not None for vs in stored["objects"].values() for v in vs) == 4  # the attachments

    # The run's log holds its writes and nothing else: per submission two uploads (POST), two copies and the
    # record (PUT), the reference claim (PutItem) and the commit (TransactWriteItems); and the audit entry of the
    # `admin list` above (PutItem): the administrator's read is recorded, and kept across the restart.
    (log,) = (tmp_path / "writes").glob("*.jsonl")
    killed_log = log.read_bytes()
    entries = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    calls = sorted((e["method"], e["headers"].get("X-Amz-Target", "s3")) for e in entries)
    assert calls == sorted([("POST", "s3")] * 4 + [("PUT", "s3")] * 6
                           + [("POST", "DynamoDB_20120810.PutItem")] * 3
                           + [("POST", "DynamoDB_20120810.TransactWriteItems")] * 2), calls

    second = start_live(built_site, tmp_path)
    try:
        assert "重放了上次未正常停止时的 15 个写请求" in _this_start(second)
        assert _admin_list(second) == listing
        after_kill = _stored(second)
        assert after_kill["items"] == stored["items"]
        assert _without_times(after_kill["objects"]) == stored["objects"]  # replayed writes are new versions' times
        _reads(second, refs)
    finally:
        stop_live(second)
    # A clean stop folds the run's writes into the state: the next start replays nothing at all.
    assert not list((tmp_path / "writes").glob("*.jsonl"))
    # Not even a log the state already covers, left behind by a kill between writing state.json and deleting it.
    log.write_bytes(killed_log)

    third = start_live(built_site, tmp_path)
    try:
        assert "已载入本地数据：10 个对象、10 条表记录。" in _this_start(third)
        assert "重放" not in _this_start(third) and not log.exists()
        assert _admin_list(third) == listing
        assert _stored(third) == after_kill  # byte-identical, down to metadata, S3's SHA-256 and times
        for receipt in receipts:
            for f in receipt["record"]["files"]:
                sink = io.BytesIO()
                third.store().read_attachment(receipt["reference"], f["name"], sink)
                assert sink.getvalue() == PDF and hashlib.sha256(PDF).hexdigest() == f["sha256"]
        # The restored state is live: the guards still refuse a second project, and a new applicant is stored.
        assert third.store().applicant_taken(f"USCC#{receipts[0]['record']['application']['applicant']['uscc']}")
        submit_over_http(third.url, requests.Session(), 40)
    finally:
        stop_live(third)


def test_an_older_recording_is_taken_over_without_its_reads(built_site, tmp_path):
    """Earlier versions recorded every request, reads included, in recording.jsonl beside names.json: the first
    start after an upgrade replays its writes once, keeps them in the state and drops the recording."""
    first = start_live(built_site, tmp_path)
    try:
        receipt = submit_over_http(first.url, requests.Session(), 50)
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    (log,) = (tmp_path / "writes").glob("*.jsonl")
    header, *lines = log.read_text().splitlines()
    writes = [json.loads(line) for line in lines]
    reads = [{**writes[0], "method": "GET", "body": ""},
             {**writes[-1], "headers": {**writes[-1]["headers"], "X-Amz-Target": "DynamoDB_20120810.GetItem"}}]
    assert writes[-1]["headers"]["X-Amz-Target"].endswith("TransactWriteItems")
    (tmp_path / "recording.jsonl").write_text("".join(json.dumps(e) + "\n" for e in [reads[0], *writes, reads[1]]))
    (tmp_path / "names.json").write_text(json.dumps(json.loads(header)["names"]))
    log.unlink()
    (tmp_path / "state.json").unlink(missing_ok=True)

    second = start_live(built_site, tmp_path)
    try:
        assert f"重放了上次未正常停止时的 {len(writes)} 个写请求" in _this_start(second)
        assert not (tmp_path / "recording.jsonl").exists() and not (tmp_path / "names.json").exists()
        stored = second.store().get_record(receipt["reference"])
        assert stored is not None and hashlib.sha256(stored).hexdigest() == receipt["digest"]
        assert second.store().get_index(receipt["reference"])["digest"] == receipt["digest"]
    finally:
        stop_live(second)


def test_staff_invite_prints_a_link_the_local_console_answers_and_a_restart_keeps(built_site, tmp_path):
    """The README's way to a signed-in MIIT view: `bdpilot staff invite --local` prints a one-time link that the
    local run's /staff/* serves; the invitation (staff table) survives a restart like the submissions do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BDPILOT_"))}
    first = start_live(built_site, tmp_path)
    try:
        done = subprocess.run([sys.executable, "-m", "bdpilot.ops.cli", "staff", "invite", "--local-dir",
                               str(first.data_dir), "--email", "Lead@Example.cn", "--name", "张三", "--role", "miit"],
                              capture_output=True, text=True, env=env, check=True)
        (link,) = [line for line in done.stdout.splitlines() if line.startswith("http")]
        assert link.startswith(first.url + "staff/invitation/")
        page = requests.get(link)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"], page.text[:300]
        assert "lead@example.cn" in page.text
    finally:
        stop_live(first)
    second = start_live(built_site, tmp_path)
    try:
        again = requests.get(second.url + link.removeprefix(first.url))
        assert again.status_code == 200 and "lead@example.cn" in again.text
    finally:
        stop_live(second)


def _eml(to: str, subject: str, text: str, date: str) -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "申报系统 <noreply@example.cn>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = date
    message.set_content(text, charset="utf-8")  # base64 or quoted-printable on the wire: the page decodes it
    return bytes(message)


def test_the_outbox_lists_sent_mail_newest_first_and_shows_each_decoded(live):
    """The local run keeps mail as .eml files (bdpilot.store.mailer, outbox mode) in <data>/outbox and shows them
    at /outbox/; a file written here stands for what the mailer writes."""
    folder = live.data_dir / "outbox"
    older, newer = "20191115T020000000000Z-0a1b2c3d.eml", "20191115T030000000000Z-4e5f6a7b.eml"
    (folder / older).write_bytes(_eml("a@example.cn", "申报回执：BD-2020-0001",
                                      "您的申报已受理。\n申报编号：BD-2020-0001", "Fri, 15 Nov 2019 02:00:00 +0000"))
    (folder / newer).write_bytes(_eml("b@example.cn", "退回修改通知", "请在截止时间前修改：https://x/api/receipt?t=abc",
                                      "Fri, 15 Nov 2019 03:00:00 +0000"))
    (folder / "notes.txt").write_text("not a message")
    try:
        page = requests.get(live.url + "outbox/")
        assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "本地发件箱" in page.text and "notes.txt" not in page.text
        # Newest first, with the time in Beijing time, the recipient and the subject linking to the message.
        assert page.text.index("退回修改通知") < page.text.index("申报回执：BD-2020-0001")
        assert "2019年11月15日 11:00:00" in page.text and "b@example.cn" in page.text
        assert f'href="/outbox/{newer}"' in page.text

        shown = requests.get(live.url + f"outbox/{older}")
        assert shown.status_code == 200 and shown.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "主题：申报回执：BD-2020-0001" in shown.text and "收件人：a@example.cn" in shown.text
        assert "您的申报已受理。\n申报编号：BD-2020-0001" in shown.text  # the body, MIME decoded
        assert "base64" not in shown.text and "=?utf-8?" not in shown.text

        for missing in ("outbox/notes.txt", "outbox/..%2Fsecret", "outbox/20191115T020000000000Z-00000000.eml"):
            assert requests.get(live.url + missing).status_code == 404, missing
        # The site's own pages are unaffected; a POST is not the outbox's.
        assert requests.post(live.url + "outbox/").status_code == 405
    finally:
        for name in (older, newer, "notes.txt"):
            (folder / name).unlink(missing_ok=True)
