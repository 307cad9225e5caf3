"""What the function tells its operators: metrics for the deadline-day alarms, and where a bug happened.

Metrics are Powertools Metrics: CloudWatch embedded metric format (EMF) lines in the function's log, turned into
metrics by CloudWatch with no API call. Namespace `bdpilot`, dimension `service=bdpilot`, exactly what the alarms
in infra/template.yaml read (infra/README.md lists them). An alarm matches a metric's dimensions exactly, so
`SubmissionRejected`, the one metric with a second dimension (`reason`), is written as a line of its own and
never lends `reason` to the metrics the alarms watch. Everything is written when the invocation ends (`flush`).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "bdpilot"
SERVICE = "bdpilot"
ACCEPTED = "SubmissionAccepted"
REJECTED = "SubmissionRejected"
UNAVAILABLE = "StorageUnavailable"
UNEXPECTED = "UnexpectedError"
MAIL_SENT = "MailSent"
MAIL_QUEUED = "MailQueued"  # a first attempt failed and the message waits for the scheduled retry
MAIL_FAILED = "MailFailed"  # any failed attempt, first or retried (alarmed)
MAIL_QUEUE_AGE = "MailQueueAge"  # seconds: the oldest message still queued after a retry run (alarmed at 30 min)
COLD_START = "ColdStart"  # one per container start, dimensions function_name and service (not alarmed)

_metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_rejections: list[str] = []
_cold = True
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # functions/bdpilot/


def count(name: str) -> None:
    """One occurrence of `name` (dimension service only), written at the end of the invocation."""
    _metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def rejected(reason: str) -> None:
    """A refused submission; `reason` is the answer's error code (a fixed set: a bounded dimension)."""
    _rejections.append(reason)


def flush(context: Any) -> None:
    """Write this invocation's metrics (nothing when none were counted) and forget them."""
    global _cold
    try:
        if _cold and getattr(context, "function_name", None):
            _single(COLD_START, function_name=context.function_name)
        _cold = False
        for reason in _rejections:
            _single(REJECTED, reason=reason)
        if _metrics.metric_set:
            _metrics.flush_metrics()
    finally:
        _rejections.clear()
        _metrics.clear_metrics()


def now(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """One metric written at once (dimension service only): for code that runs outside a handler that flushes
    (the console sends mail too)."""
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}):
        pass


def _single(name: str, **dimensions: str) -> None:
    """One metric on a line of its own: service plus `dimensions`, shared with no other metric."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


def code_location(exc: BaseException) -> dict[str, str]:
    """Where `exc` was raised: the innermost frame in this package (file:line, function), and the innermost frame
    of all when that is elsewhere (a library). Never the message or local values: those may quote the request.
    (Keys prefixed `error_`: Powertools' own `location` is the logging call's.)"""
    ours = inner = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        inner = (code.co_filename, tb.tb_lineno, code.co_name)
        if code.co_filename.startswith(_PACKAGE):
            ours = inner
        tb = tb.tb_next
    found: dict[str, str] = {"error_type": type(exc).__name__}
    if ours is not None:
        found["error_location"] = f"bdpilot/{ours[0][len(_PACKAGE):]}:{ours[1]}"
        found["error_function"] = ours[2]
    if inner is not None and inner != ours:
        # The last two path parts name a library module without the machine's paths.
        tail = "/".join(inner[0].replace(os.sep, "/").split("/")[-2:])
        found["error_innermost"] = f"{tail}:{inner[1]} in {inner[2]}"
    return found
