"""Submission API benchmarks, each a ratio measured in one run (issue: accept applications).

(a) cold start: a fresh interpreter importing the handler module vs one importing only boto3 and pydantic, both
    reading bytecode as the zip ships it (ADR 0022: a private PYTHONPYCACHEPREFIX filled by one unmeasured run);
    bench.cold_start measures the first answers too;
(b) one valid, full 申报书 through the in-process handler vs the bare store calls it makes, same moto;
(c) validation of a full 申报书 alone.

Run: python -m bench.api [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

import boto3
from moto import mock_aws

from bench import stackenv
from tests.factories import PDF, application, attachments, idempotency_key, uscc


def _cold(code: str, rounds: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_start(rounds: int) -> tuple[float, float]:
    env_code = "import os; os.environ.setdefault('BDPILOT_SECRET', 'x'); "
    with tempfile.TemporaryDirectory(prefix="bdpilot-bench-pyc-") as cache:
        writing = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        writing["PYTHONPYCACHEPREFIX"] = cache
        env = {**writing, "PYTHONDONTWRITEBYTECODE": "1"}
        _cold(env_code + "import boto3, pydantic", 1, writing)  # bytecode, and the OS file cache, for both
        _cold(env_code + "import bdpilot.web.api", 1, writing)
        base, handler = [], []
        for _ in range(rounds):  # interleaved, so drift in machine load hits both alike
            base.append(_cold(env_code + "import boto3, pydantic", 1, env))
            handler.append(_cold(env_code + "import bdpilot.web.api", 1, env))
    return statistics.median(handler), statistics.median(base)


def handler_vs_store(rounds: int) -> tuple[float, float]:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "BDPILOT_SECRET": "bench-secret",
                       "BDPILOT_MIN_FILL_SECONDS": "0", "BDPILOT_DEADLINE": "2999-01-01T00:00"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from bdpilot.domain import clock
    from bdpilot.intake import submission
    from bdpilot.ops import stack
    from bdpilot.ops.local import invoke, rest_event
    from bdpilot.web import api

    with mock_aws():
        out = stack.create_stack(boto3.Session(), stack_name="bench")
        stackenv.use(out)
        api._store.cache_clear()
        store = api.store_for(api.settings.load())

        def upload(name: str, owner: str) -> None:
            store.s3.put_object(Bucket=store.bucket, Key=f"uploads/{name}", Body=PDF, ContentType="application/pdf",
                                Metadata={"owner": owner})

        real_now = clock.now
        clock.now = lambda: real_now() + timedelta(seconds=5)
        handler_times, store_times = [], []
        for i in range(rounds):
            # A form token admits one stored submission: each round is a fresh form.
            token = json.loads(invoke(rest_event("GET", "/api/campaign"))["body"])["form_token"]
            ids = [f"{i:016x}{'a' * 16}", f"{i:016x}{'b' * 16}"]
            for upload_id in ids:
                upload(upload_id, submission.owner_of(token))
            body = json.dumps({"application": application(applicant={"uscc": uscc(i)},
                                                          attachments=attachments(*ids)),
                               "form_token": token, "website": ""}, ensure_ascii=False)
            event = rest_event("POST", "/api/submissions", body=body,
                               headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key()})
            start = time.perf_counter()
            result = invoke(event)
            handler_times.append(time.perf_counter() - start)
            assert result["statusCode"] == 201, result["body"]
            record = json.loads(result["body"])

            # The same calls, bare: what the handler cannot avoid doing.
            ref = f"BARE{i}"
            data = json.dumps(record["record"], ensure_ascii=False).encode()
            start = time.perf_counter()
            store.replay(f"bare-key-{i:08d}")
            store.form_used(f"FORM#bare{i}")
            etags = [store.inspect_upload(upload_id).etag for upload_id in ids]
            store.applicant_taken(f"USCC#bare{i}")
            store.claim_reference(ref, f"bare-key-{i:08d}")
            for n, upload_id in enumerate(ids):
                store.copy_upload(upload_id, ref, f"x-{n}.pdf", etags[n])
            store.put_record(ref, data, "0" * 64)
            store.commit({"reference": ref, "entity": "SUB", "received_at": "2019", "direction": "1",
                          "recommender": "北京市"}, f"USCC#bare{i}", f"bare-key-{i:08d}", "h", {"r": ref}, 0,
                         f"FORM#bare{i}", 0, "北京市")
            store_times.append(time.perf_counter() - start)
        clock.now = real_now
    return statistics.median(handler_times[5:]), statistics.median(store_times[5:])


def validation(rounds: int) -> float:
    from bdpilot.domain.application import Application

    data = application(attachments=attachments("a" * 32, "b" * 32))
    Application.model_validate(data)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        Application.model_validate(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    handler_import, base_import = cold_start(max(10, args.rounds // 4))
    handler, bare = handler_vs_store(args.rounds)
    validate = validation(args.rounds * 20)
    print(f"(a) cold import   handler module {handler_import * 1000:7.1f} ms  vs  boto3+pydantic "
          f"{base_import * 1000:7.1f} ms   ratio {handler_import / base_import:.2f}  (target ≤ 1.30)")
    print(f"(b) submission    handler        {handler * 1000:7.2f} ms  vs  bare store calls "
          f"{bare * 1000:7.2f} ms   ratio {handler / bare:.2f}  (target ≤ 1.25)")
    print(f"(c) validation    full 申报书     {validate * 1e6:7.0f} µs  median  (target ≤ 1000 µs)")


if __name__ == "__main__":
    main()
