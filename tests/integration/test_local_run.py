"""The README's local run over real sockets: site, API, presigned upload to moto, record read back, restart."""

from __future__ import annotations

import hashlib
import json

import requests

from tests.live import start_live, stop_live, submit_over_http


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
