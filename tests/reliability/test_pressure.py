"""Duplicates under pressure and a server killed mid-submission, against the README's local run.

Which guarantee comes from where: one project per applicant is enforced by DynamoDB's conditional transaction
(`attribute_not_exists` on the USCC# guard item); the read before it only saves work. moto is not safe under
concurrent requests, so the local run serializes calls into the handler (as one Lambda container would) and the
race itself is proven deterministically in tests/integration/test_submissions.py
(test_duplicate_found_only_at_commit_leaves_nothing_indexed).
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import start_live, stop_live
from tests.factories import PDF, application, attachments, idempotency_key, uscc


def _form(base: str) -> tuple[str, list[str]]:
    token = requests.get(base + "api/campaign").json()["form_token"]
    ids = []
    for name in ("a.pdf", "b.pdf"):
        ticket = requests.post(base + "api/uploads", json={"form_token": token, "filename": name,
                                                           "size": len(PDF)}).json()
        requests.post(ticket["url"], data=ticket["fields"], files={"file": (name, PDF, "application/pdf")})
        ids.append(ticket["upload_id"])
    return token, ids


def _post(base: str, token: str, ids: list[str], company: int, key: str | None = None) -> requests.Response:
    body = {"application": application(applicant={"uscc": uscc(company)}, attachments=attachments(*ids)),
            "form_token": token, "website": ""}
    return requests.post(base + "api/submissions", json=body, headers={"Idempotency-Key": key or idempotency_key()},
                         timeout=60)


def test_fifty_concurrent_posts_for_one_applicant(live):
    token, ids = _form(live.url)
    time.sleep(1.1)
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda _: _post(live.url, token, ids, 4242), range(50)))
    statuses = [r.status_code for r in replies]
    assert statuses.count(201) == 1, statuses
    assert all(s in (201, 409, 503) for s in statuses), statuses
    for reply in replies:
        if reply.status_code == 503:  # retryable: the same request again must now say 409
            again = _post(live.url, token, ids, 4242, key=reply.request.headers["Idempotency-Key"])
            assert again.status_code == 409
    store = live.store()
    ref = next(r.json()["reference"] for r in replies if r.status_code == 201)
    items = list(store.query("time"))
    assert [i["reference"] for i in items if i["uscc"] == uscc(4242)] == [ref]
    assert store.applicant_taken(f"USCC#{uscc(4242)}")


def _admin_view_is_whole(run) -> list[str]:
    """Every submission an admin can list has its record (digest matching) and every attachment."""
    store = run.store()
    refs = []
    for item in store.query("time"):
        data = store.get_record(item["reference"])
        assert data is not None, item["reference"]
        assert hashlib.sha256(data).hexdigest() == item["digest"]
        record = json.loads(data)
        keys = store.s3.list_objects_v2(Bucket=store.bucket, Prefix=f"submissions/{item['reference']}/attachments/")
        names = sorted(o["Key"].rsplit("/", 1)[1] for o in keys.get("Contents", []))
        assert names == sorted(f["name"] for f in record["files"])
        refs.append(item["reference"])
    return refs


def test_killed_mid_submission_leaves_nothing_half_written(built_site, tmp_path):
    run = start_live(built_site, tmp_path, BDPILOT_MIN_FILL_SECONDS="0")
    accepted: list[tuple[str, str, str]] = []  # (key, reference, digest) of every 201 the client saw
    stop = threading.Event()

    def applicants() -> None:
        company = 9000
        while not stop.is_set():
            company += 1
            try:
                token, ids = _form(run.url)
                key = idempotency_key()
                reply = _post(run.url, token, ids, company, key)
            except requests.RequestException:
                return
            if reply.status_code == 201:
                accepted.append((key, reply.json()["reference"], reply.json()["digest"]))

    worker = threading.Thread(target=applicants)
    try:
        worker.start()
        time.sleep(4)
        run.process.send_signal(signal.SIGKILL)  # no clean shutdown: the process dies wherever it is
        run.process.wait(timeout=10)
        stop.set()
        worker.join(timeout=30)
    finally:
        stop.set()
    assert accepted, "no submission completed before the kill"

    again = start_live(built_site, tmp_path)
    try:
        visible = _admin_view_is_whole(again)
        # Everything acknowledged before the kill is still there, with the digest the applicant was given.
        for _, ref, digest in accepted:
            assert ref in visible
            assert again.store().get_index(ref)["digest"] == digest
    finally:
        stop_live(again)
