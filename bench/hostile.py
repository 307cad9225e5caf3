"""What one hostile request costs, beside a valid submission, measured in one run (issue 11, the cost ceiling).

Every case of the hostile corpus (tests/reliability/hostile_corpus.py: every route, the JSON API, the no-JavaScript
form post and its GET pages) goes through the in-process handler on moto, interleaved round by round with valid
submissions (JSON, and the same 申报书 posted as the plain form), so drift in machine load hits both alike.
Printed: the valid submissions' handler time and answer size, the worst hostile case by each, and their ratios;
any 5xx or any answer over 64 KB is reported and fails the run.

Run: python -m bench.hostile [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import boto3
from moto import mock_aws

from bench import stackenv
from tests.factories import PDF, application, attachments, idempotency_key, uscc
from tests.reliability.hostile_corpus import FORM, MAX_ANSWER_BYTES, Case, corpus, form_body


def _timed(event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    from bdpilot.ops.local import invoke

    start = time.perf_counter()
    result = invoke(event)
    return result, time.perf_counter() - start


def _size(result: dict[str, Any]) -> int:
    return len((result.get("body") or "").encode("utf-8", "surrogatepass"))


def measure(rounds: int) -> tuple[dict[str, list[float]], dict[str, int], dict[str, int]]:
    """Per case (the valid submissions included): handler times, answer size, status."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "BDPILOT_SECRET": "bench-secret",
                       "BDPILOT_MIN_FILL_SECONDS": "0", "BDPILOT_DEADLINE": "2999-01-01T00:00"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from bdpilot.domain import clock
    from bdpilot.intake import submission
    from bdpilot.ops import stack
    from bdpilot.ops.local import invoke, rest_event
    from bdpilot.web import api

    times: dict[str, list[float]] = defaultdict(list)
    sizes: dict[str, int] = {}
    statuses: dict[str, int] = {}
    with mock_aws():
        out = stack.create_stack(boto3.Session(), stack_name="bench-hostile")
        stackenv.use(out)
        api._store.cache_clear()
        store = api.store_for(api.settings.load())
        real_now = clock.now
        clock.now = lambda: real_now() + timedelta(seconds=5)
        serial = 0

        def fresh_form() -> tuple[str, tuple[str, str]]:
            """A form token with two uploads of its own, put where its presigned POSTs would put them."""
            nonlocal serial
            token = json.loads(invoke(rest_event("GET", "/api/campaign"))["body"])["form_token"]
            ids = []
            for kind in "ab":
                serial += 1
                ids.append(f"{serial:016x}{kind * 16}")
                store.s3.put_object(Bucket=store.bucket, Key=f"uploads/{ids[-1]}", Body=PDF,
                                    ContentType="application/pdf", Metadata={"owner": submission.owner_of(token)})
            return token, (ids[0], ids[1])

        def record(name: str, result: dict[str, Any], elapsed: float) -> None:
            times[name].append(elapsed)
            sizes[name] = max(sizes.get(name, 0), _size(result))
            statuses[name] = max(statuses.get(name, 0), result["statusCode"])

        token, ids = fresh_form()
        cases = corpus(token, ids)
        for r in range(rounds + 1):  # round 0 warms every code path and is not counted
            for name, content_type in (("valid submission (JSON)", "application/json"),
                                       ("valid submission (form, no JavaScript)", FORM)):
                valid_token, valid_ids = fresh_form()
                app = application(applicant={"uscc": uscc(2 * r + (content_type == FORM))},
                                  attachments=attachments(*valid_ids))
                body = (json.dumps({"application": app, "form_token": valid_token, "website": ""},
                                   ensure_ascii=False) if content_type != FORM else form_body(app, valid_token))
                result, elapsed = _timed(rest_event("POST", "/api/submissions", body=body, headers={
                    "Content-Type": content_type, "Idempotency-Key": idempotency_key()}))
                assert result["statusCode"] == 201, result["body"][:500]
                if r:
                    record(name, result, elapsed)
            for path in ("/api/apply/uploads", "/api/apply/form"):
                result, elapsed = _timed(Case("", "GET", path, query={"token": token, "a": f"ip:{ids[1]}"}).event())
                if r:
                    record(f"page {path} (genuine token)", result, elapsed)
            for case in cases:
                result, elapsed = _timed(case.event())
                if r:
                    record(case.name, result, elapsed)
        clock.now = real_now
    return times, sizes, statuses


def family(case: Case) -> str:
    """Which valid answer a hostile one is compared with: the JSON API's, the plain form post's, a GET page's."""
    return "page" if case.method == "GET" else "form" if case.content_type == FORM else "json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    times, sizes, statuses = measure(args.rounds)
    median = {name: statistics.median(t) for name, t in times.items()}
    cases = {c.name: family(c) for c in corpus("1.a.b", ("a" * 32, "b" * 32))}
    valid = {"json": "valid submission (JSON)", "form": "valid submission (form, no JavaScript)",
             "page": "page /api/apply/form (genuine token)"}
    errors = [name for name in cases if statuses[name] >= 500]
    oversized = [name for name in cases if sizes[name] > MAX_ANSWER_BYTES]

    print(f"{len(cases)} hostile cases × {args.rounds} rounds, interleaved with valid requests (medians)")
    for name in (*valid.values(), "page /api/apply/uploads (genuine token)"):
        print(f"    {name:48} handler {median[name] * 1000:7.2f} ms   answer {sizes[name]:7,d} B")
    slowest = max(cases, key=median.__getitem__)
    print(f"(a) slowest hostile case vs a valid JSON submission: {slowest}\n"
          f"    {'':48} handler {median[slowest] * 1000:7.2f} ms   ratio {median[slowest] / median[valid['json']]:.2f}"
          "  (target: same order, ≤ 1)")
    print("(b) largest hostile answer of each kind vs the valid answer of that kind (all ≤ 64 KB):")
    for kind, baseline in valid.items():
        largest = max((n for n, k in cases.items() if k == kind), key=sizes.__getitem__)
        print(f"    {kind:5} {largest[:42]:42} answer {sizes[largest]:7,d} B   "
              f"ratio {sizes[largest] / sizes[baseline]:.2f}")
    total = sum(sum(times[name]) for name in cases) / args.rounds
    print(f"(c) the whole corpus, once: {total * 1000:.1f} ms of handler time = "
          f"{total / median[valid['json']]:.1f} valid JSON submissions")
    print(f"(d) 5xx: {len(errors)}   answers over 64 KB: {len(oversized)}")
    for name in errors + oversized:
        print(f"    {name}: {statuses[name]}, {sizes[name]:,d} B")
    if errors or oversized:
        sys.exit(1)


if __name__ == "__main__":
    main()
