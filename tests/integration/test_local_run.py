"""The README's local run over real sockets: site, API, presigned upload to moto, record read back, restart."""

from __future__ import annotations

import hashlib
import json
import time

import requests

from tests.conftest import start_live, stop_live
from tests.factories import PDF, application, attachments, idempotency_key, uscc


def _submit(base: str, session: requests.Session, company: int) -> dict:
    campaign = session.get(base + "api/campaign").json()
    assert campaign["window"]["open"] is True
    token = campaign["form_token"]
    ids = []
    for name in ("营业执照.pdf", "专利.pdf"):
        ticket = session.post(base + "api/uploads", json={"form_token": token, "filename": name, "size": len(PDF)})
        assert ticket.status_code == 201, ticket.text
        ticket = ticket.json()
        # The browser posts the file straight to storage, never through the function.
        uploaded = requests.post(ticket["url"], data=ticket["fields"], files={"file": (name, PDF, "application/pdf")})
        assert uploaded.status_code in (200, 201, 204), uploaded.text
        ids.append(ticket["upload_id"])
    time.sleep(1.1)  # the local run asks for one second between opening the form and posting it
    body = {"application": application(applicant={"uscc": uscc(company)}, attachments=attachments(*ids)),
            "form_token": token, "website": ""}
    reply = session.post(base + "api/submissions", json=body, headers={"Idempotency-Key": idempotency_key()})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_site_and_api_over_http(live):
    session = requests.Session()
    home = session.get(live.url)
    assert home.status_code == 200 and "text/html" in home.headers["Content-Type"]
    assert session.get(live.url + "no/such/page/").status_code == 404
    receipt = _submit(live.url, session, 1)
    stored = live.store().get_record(receipt["reference"])
    assert stored is not None and hashlib.sha256(stored).hexdigest() == receipt["digest"]
    assert json.loads(stored) == receipt["record"]
    assert session.get(live.url + "api/submissions").status_code == 405


def test_submissions_survive_a_restart(built_site, tmp_path):
    first = start_live(built_site, tmp_path)
    try:
        receipt = _submit(first.url, requests.Session(), 2)
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
