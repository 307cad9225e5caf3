"""SnapStart's hooks (infra/adr/0021-snapstart.md), in a fresh interpreter as Lambda's managed runtime runs them:
bdpilot.web.api registers them with `snapshot_restore_py` (here a stand-in that records what is registered),
the before-snapshot hook builds what the first requests would, calling no AWS API, and a first submission after
it builds nothing more. The stack is the template's, in moto, inside the child."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HOOKS = '''
BEFORE, AFTER = [], []


def register_before_snapshot(func, *args, **kwargs):
    BEFORE.append(func)
    return func


def register_after_restore(func, *args, **kwargs):
    AFTER.append(func)
    return func
'''

CHILD = r'''
import json, os, random, sys
import boto3
from moto import mock_aws

def state():
    """bdpilot's modules, the size of each of its caches, and which of its models are built."""
    from pydantic import BaseModel
    caches, stack = {}, [BaseModel]
    for name, module in list(sys.modules.items()):
        if name.startswith("bdpilot"):
            for attr, value in list(vars(module).items()):
                if callable(getattr(value, "cache_info", None)) and value.__module__.startswith("bdpilot"):
                    caches[f"{value.__module__}.{value.__qualname__}"] = value.cache_info().currsize
    built = []
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("bdpilot") and sub.__pydantic_complete__:
                built.append(f"{sub.__module__}.{sub.__qualname__}")
    return {"modules": sorted(m for m in sys.modules if m.startswith("bdpilot")), "caches": caches,
            "built": sorted(set(built))}

out = {}
with mock_aws():
    import requests
    from bdpilot.ops import stack
    from bdpilot.ops.local import invoke, rest_event  # the test's own helpers, imported before anything is compared
    from tests.factories import PDF, application, attachments, idempotency_key
    outputs = stack.create_stack(boto3.Session(), stack_name="bdpilot-snapshot")
    os.environ.update(BDPILOT_TABLE=outputs["TableName"], BDPILOT_BUCKET=outputs["SubmissionsBucketName"],
                      BDPILOT_UNITS_TABLE=outputs["UnitsTableName"], AWS_LAMBDA_FUNCTION_NAME="bdpilot-test-api")
    import snapshot_restore_py as hooks
    from bdpilot.web import api  # what the runtime does at init
    from bdpilot import settings
    from bdpilot.web import contract, limits, metrics, warmup
    out["registered"] = [[f.__module__, f.__name__] for f in hooks.BEFORE], [[f.__module__, f.__name__]
                                                                              for f in hooks.AFTER]
    calls = []
    settings.aws_session().events.register("before-call", lambda model, **_: calls.append(model.name))
    out["before"] = state()
    for hook in reversed(hooks.BEFORE):  # as the runtime runs them
        hook()
    out["prepared"] = state()
    out["calls_in_prepare"] = list(calls)
    out["cold"] = metrics._cold
    out["models"] = {f"{m.__module__}.{m.__qualname__}": m.__pydantic_complete__ for m in warmup.models()}
    out["request_model"] = contract.submission_request.cache_info().currsize
    out["bodies"] = limits.body_for.cache_info().currsize, len(contract.ROUTES)
    store = api.store_for(settings.load())
    out["clients"] = sorted(k for k in ("s3", "dynamodb") if k in vars(store))

    seed = random.getstate()
    for hook in hooks.AFTER:
        hook()
    out["reseeded"] = random.getstate() != seed

    # An applicant: the form, two uploads, a stored submission (with its receipt e-mail, to the outbox).
    def call(method, path, body=None, headers=None):
        headers = {"Content-Type": "application/json", **(headers or {})}
        reply = invoke(rest_event(method, path, headers=headers, body=json.dumps(body, ensure_ascii=False)
                                  if body is not None else None))
        return reply["statusCode"], json.loads(reply["body"])

    status, campaign = call("GET", "/api/campaign")
    token, uploaded = campaign["form_token"], []
    for _ in range(2):
        status, ticket = call("POST", "/api/uploads", {"form_token": token, "filename": "a.pdf", "size": len(PDF)})
        posted = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("a.pdf", PDF)}, timeout=30)
        assert posted.status_code == 204, posted.text
        uploaded.append(ticket["upload_id"])
    body = {"application": application(attachments=attachments(*uploaded)), "form_token": token, "website": ""}
    out["status"] = call("POST", "/api/submissions", body, {"Idempotency-Key": idempotency_key()})[0]
    out["submitted"] = state()
    out["outbox"] = len(os.listdir(os.environ["BDPILOT_OUTBOX_DIR"]))

    # Harmless twice; with SES, the mail client too (created, not called).
    made = len(calls)
    os.environ["BDPILOT_MAIL"] = "ses"
    hooks.BEFORE[0]()
    from bdpilot.store import mailer
    out["ses_client"] = mailer._client.cache_info().currsize
    out["calls_in_second_prepare"] = calls[made:]
print("RESULT " + json.dumps(out))
'''


def test_prepare_builds_before_the_snapshot_what_a_first_submission_would(tmp_path: Path) -> None:
    (tmp_path / "snapshot_restore_py.py").write_text(HOOKS, encoding="utf-8")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "BDPILOT_"))}
    env |= {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "BDPILOT_SECRET": "test-secret-0123456789", "BDPILOT_MIN_FILL_SECONDS": "0",
            "BDPILOT_DEADLINE": "2099-01-01T00:00", "BDPILOT_OUTBOX_DIR": str(outbox)}
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    out = json.loads(line.removeprefix("RESULT "))

    assert out["registered"] == [[["bdpilot.web.warmup", "prepare"]], [["bdpilot.web.warmup", "reseed"]]]
    before, prepared, submitted = out["before"], out["prepared"], out["submitted"]
    # Built before the snapshot: the submission path's modules, every model, the bodies' bounds, the clients.
    assert {"bdpilot.intake.submission", "bdpilot.domain.application", "bdpilot.web.printcopy",
            "bdpilot.web.mailqueue"} <= set(prepared["modules"]) - set(before["modules"])
    assert out["models"] and all(out["models"].values()), out["models"]
    assert "bdpilot.web.contract.SubmissionRequest" in prepared["built"]
    assert out["request_model"] == 1 and out["bodies"][0] == out["bodies"][1]
    assert out["clients"] == ["dynamodb", "s3"]
    # Without asking AWS anything, and without running the handler (a restored environment's first request is
    # still counted as a cold start).
    assert out["calls_in_prepare"] == [] and out["cold"] is True
    assert out["reseeded"]

    # The first submission is stored and mailed, and builds nothing the hook had not built.
    assert out["status"] == 201 and out["outbox"] == 1
    assert submitted["modules"] == prepared["modules"]
    assert submitted["built"] == prepared["built"]
    caches = prepared["caches"]
    assert {k: (caches.get(k), v) for k, v in submitted["caches"].items() if caches.get(k) != v} == {}

    # Again, with SES: the mail client is made too, still without a call.
    assert out["ses_client"] == 1 and out["calls_in_second_prepare"] == []
