"""No personal data in logs: names, phones, e-mails and USCCs never appear, references and outcomes do."""

from __future__ import annotations

import io
import logging

import requests

from tests.factories import application
from tests.live import submit_over_http


def _personal(app: dict) -> list[str]:
    return [app["contact"]["name"], app["contact"]["mobile"], app["contact"]["phone"], app["contact"]["email"],
            app["applicant"]["uscc"], app["applicant"]["legal_representative"], app["applicant"]["name"]]


def test_handler_logs_hold_references_not_people(aws, applicant, capfd, caplog):
    from bdpilot.web import api

    # INFO is what production logs at (POWERTOOLS_LOG_LEVEL); botocore's DEBUG wire logs are never enabled there.
    caplog.set_level(logging.INFO)
    structured = io.StringIO()  # what CloudWatch would receive: Powertools' JSON lines, extras included
    handler = logging.StreamHandler(structured)
    handler.setFormatter(api.logger.registered_formatter)
    logging.getLogger(api.logger.name).addHandler(handler)
    body = applicant.body()
    ok = applicant.submit(body)
    applicant.new_form()
    dup = applicant.submit(applicant.body())
    bad = applicant.submit(applicant.body(contact={"email": "someone@bad"}, applicant={"uscc": "91110000600037341X"}))
    assert (ok.status, dup.status, bad.status) == (201, 409, 422)
    logging.getLogger(api.logger.name).removeHandler(handler)
    out, err = capfd.readouterr()
    logs = structured.getvalue() + out + err + caplog.text
    assert ok.body["reference"] in logs and "duplicate_applicant" in logs
    for value in [*_personal(body["application"]), "someone@bad", "91110000600037341X"]:
        assert value not in logs, value


def test_local_run_logs_hold_no_personal_data(live):
    receipt = submit_over_http(live.url, requests.Session(), 77)
    log = live.log
    assert receipt["reference"] in log
    record = receipt["record"]["application"]
    for value in _personal(record):
        assert value not in log, value
    assert application()["contact"]["mobile"] not in log
