"""The function's metrics and error reports, read from what the real handler writes (EMF lines and JSON logs),
checked against what the alarms in infra/template.yaml watch: same namespace, name and exactly the same
dimensions (a CloudWatch alarm matches dimensions exactly, so an extra one would leave it blind)."""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

import pytest

from bdpilot.intake import submission
from bdpilot.ops import stack
from bdpilot.store import StorageUnavailable, Store
from bdpilot.web import api, contract, metrics
from tests.conftest import call
from tests.factories import idempotency_key
from tests.integration.test_form_posts import post as form_post


class _Stdout:
    """Whatever sys.stdout is when written to: capsys swaps it per test phase, the Logger's handler keeps its own."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def out(monkeypatch, capsys):
    """Everything the function writes to stdout (its log: EMF lines via print, log lines via the Logger)."""
    monkeypatch.setattr(api.logger.registered_handler, "stream", _Stdout())
    metrics._rejections.clear()

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    read()  # drop what came before the test's own calls
    return read


def emitted(lines: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) for every metric in the EMF lines, as CloudWatch extracts them."""
    found = []
    for line in lines:
        if "_aws" not in line:
            continue
        for directive in line["_aws"]["CloudWatchMetrics"]:
            for names in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    value = line[metric["Name"]]  # EMF allows a number or a list of numbers
                    assert (value if isinstance(value, list) else [value]) == [1.0] and metric["Unit"] == "Count"
                    found.append((directive["Namespace"], metric["Name"], {n: line[n] for n in names}))
    return found


def logs(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "_aws" not in line and "message" in line]


def alarmed() -> dict[str, dict[str, str]]:
    """Metric name → dimensions, for every alarm on the function's own namespace."""
    found = {}
    for resource in stack.load_template()["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and props.get("Namespace") == metrics.NAMESPACE:
            found[props["MetricName"]] = {d["Name"]: d["Value"] for d in props["Dimensions"]}
    return found


SERVICE = {"service": "bdpilot"}


def test_the_alarms_watch_what_the_function_emits() -> None:
    assert alarmed() == {metrics.UNEXPECTED: SERVICE, metrics.UNAVAILABLE: SERVICE, metrics.ACCEPTED: SERVICE,
                         metrics.MAIL_FAILED: SERVICE, metrics.MAIL_QUEUE_AGE: SERVICE}


def test_a_bug_is_counted_located_and_answered_in_chinese(aws, now, out, monkeypatch) -> None:
    """A bug fed into the domain: the applicant gets the ordinary 500, the operators an UnexpectedError metric
    with exactly the alarm's dimensions, and a log line saying where, without the request or the message."""
    def broken(*args: Any) -> Any:
        raise KeyError("张三 13800138000")  # a message quoting personal data must not reach the log

    monkeypatch.setattr(submission.rules, "window", broken)
    reply = call("GET", "/api/campaign")
    assert reply.status == 500
    assert reply.body == {"error": {"code": "internal", "message": api.INTERNAL}}

    lines = out()
    assert (metrics.NAMESPACE, metrics.UNEXPECTED, alarmed()[metrics.UNEXPECTED]) in emitted(lines)
    (error,) = [line for line in logs(lines) if line["level"] == "ERROR"]
    assert error["message"] == "unexpected error" and error["error_type"] == "KeyError"
    # The innermost frame in our package: the line of contract.campaign_state that called the broken function.
    source, first = inspect.getsourcelines(contract.campaign_state)
    line = first + next(i for i, text in enumerate(source) if "rules.window(" in text)
    assert error["error_location"] == f"bdpilot/web/contract.py:{line}"
    assert error["error_function"] == "campaign_state"
    innermost = error["error_innermost"]  # the frame that raised, here a test's
    assert innermost.startswith("integration/test_metrics.py:") and innermost.endswith(" in broken")
    assert error["route"] == "/api/campaign"
    text = json.dumps(lines, ensure_ascii=False)
    assert "张三" not in text and "13800138000" not in text and "Traceback" not in text


def test_storage_failure_is_counted(aws, applicant, out, monkeypatch) -> None:
    body = applicant.body()

    def down(self: Store, key: str) -> Any:
        raise StorageUnavailable("ThrottlingException")

    monkeypatch.setattr(Store, "replay", down)
    out()
    reply = applicant.submit(body)
    assert reply.status == 503
    assert emitted(out()) == [(metrics.NAMESPACE, metrics.UNAVAILABLE, SERVICE)]


def test_a_stored_submission_counts_once_and_its_replay_not_at_all(aws, applicant, out) -> None:
    body, key = applicant.body(), idempotency_key()
    out()
    assert applicant.submit(body, key=key).status == 201
    # The receipt e-mail (written at once) and the submission (at the end of the invocation).
    assert emitted(out()) == [(metrics.NAMESPACE, metrics.MAIL_SENT, SERVICE),
                              (metrics.NAMESPACE, metrics.ACCEPTED, alarmed()[metrics.ACCEPTED])]
    assert applicant.submit(body, key=key).status == 201  # the retry stores nothing and mails nothing
    assert emitted(out()) == []


def test_a_rejected_submission_counts_its_reason_on_a_line_of_its_own(aws, applicant, out) -> None:
    body = applicant.body()
    assert applicant.submit(body).status == 201
    out()
    again = applicant.submit(body)  # same form token: refused
    assert again.status == 409 and again.body["error"]["code"] == "form_token_used"
    found = emitted(out())
    assert found == [(metrics.NAMESPACE, metrics.REJECTED, {**SERVICE, "reason": "form_token_used"})]

    missing = call("POST", "/api/submissions", body)  # no Idempotency-Key
    assert missing.status == 400
    assert emitted(out()) == [(metrics.NAMESPACE, metrics.REJECTED,
                               {**SERVICE, "reason": missing.body["error"]["code"]})]


def test_a_form_post_without_javascript_counts_the_same(aws, now, out) -> None:
    reply = form_post("form_token=nonsense&website=")
    assert reply.status in (400, 403, 422)
    ((namespace, name, dimensions),) = emitted(out())
    assert (namespace, name) == (metrics.NAMESPACE, metrics.REJECTED)
    assert set(dimensions) == {"service", "reason"} and dimensions["reason"]


def test_refusals_elsewhere_are_not_submission_rejections(aws, now, out) -> None:
    reply = call("POST", "/api/uploads", {"form_token": "nonsense", "filename": "a.pdf", "size": 10})
    assert reply.status == 403
    assert emitted(out()) == []
    assert call("GET", "/api/nothing").status == 404
    assert emitted(out()) == []


def test_unexpected_and_rejected_in_one_container_keep_their_own_dimensions(aws, applicant, out, monkeypatch) -> None:
    """Powertools shares dimensions across one flush: a reason must never stick to the next invocation's metrics."""
    assert call("POST", "/api/submissions", applicant.body()).status == 400  # rejected: no key
    monkeypatch.setattr(submission.rules, "window", lambda *a: 1 / 0)
    assert call("GET", "/api/campaign").status == 500
    found = emitted(out())
    assert (metrics.NAMESPACE, metrics.UNEXPECTED, SERVICE) in found
    assert all(dims == SERVICE for _, name, dims in found if name != metrics.REJECTED)


def test_cold_start_is_counted_once_per_container(aws, now, out, monkeypatch) -> None:
    monkeypatch.setattr(metrics, "_cold", True)
    assert call("GET", "/api/campaign").status == 200
    cold = [(name, dims) for _, name, dims in emitted(out()) if name == metrics.COLD_START]
    assert cold == [(metrics.COLD_START, {**SERVICE, "function_name": "bdpilot-public"})]
    assert call("GET", "/api/campaign").status == 200
    assert emitted(out()) == []
