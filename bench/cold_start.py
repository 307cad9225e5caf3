"""Cold start (issue 15): a fresh process's time to its first answers, as a ratio to the work it cannot avoid.

handler  : a fresh interpreter with Lambda's environment imports bdpilot.web.api (which checks the settings and reads
           the form-token secret from SSM while the container starts), then answers GET /api/campaign and
           POST /api/uploads through bdpilot.web.api.handler — what a visitor's first form load and upload cost
           (the ratio judged). Models are built when first used (a SnapStart snapshot builds them all before),
           so the first submission's own cold cost is reported on a second line: a honeypot post, validated,
           drawn and answered 201 like a stored one, without the storage writes, against a second such post in
           the same process;
baseline : a fresh interpreter runs `import boto3, pydantic` and the bare AWS calls those answers make: the
           SecureString read (ssm get_parameter with decryption), the form-token check (dynamodb get_item) and
           the presigned POST (s3 generate_presigned_post, no request), with the same client settings.

Both talk to the same moto server on loopback (started here, with the stack of infra/template.yaml), so neither
process imports moto. Times are measured inside the child from its first statement (the interpreter's own start
is the same for both). Rounds interleaved, medians. Target: ratio ≤ 1.3.

Bytecode: what ships. `bdpilot deploy` compiles every module in the zip with the runtime's Python (ADR 0022), so
both children read bytecode from a private cache (PYTHONPYCACHEPREFIX, filled by one unmeasured run of each) and
neither compiles anything while measured. `--source` empties that cache and forbids writing it: every module of
both children is compiled from source each time (what a zip without bytecode would cost, libraries included).

SnapStart (ADR 0021): a third child calls bdpilot.web.warmup.prepare() (the before-snapshot hook) before its clock
starts, as a restored environment begins with it done, and reports its first answers and first submission.

Run: python -m bench.cold_start [--rounds N] [--source]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARAMETER = "/bdpilot/bench/form-token-secret"
TARGET = 1.3

HANDLER = r"""
import os, time
if os.environ.get("BENCH_PREPARED"):  # a SnapStart restore: imported and prepared before the snapshot
    import bdpilot.web.api, bdpilot.web.warmup
    bdpilot.web.warmup.prepare()
t0 = time.perf_counter()
import json
import bdpilot.web.api
t1 = time.perf_counter()

class Context:
    function_name = "bdpilot-bench-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bdpilot-bench-api"
    aws_request_id = "bench"

def event(method, path, body=None, **extra):
    headers = {"Content-Type": "application/json", **extra}
    return {"resource": path, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
            "body": body, "isBase64Encoded": False,
            "requestContext": {"resourcePath": path, "httpMethod": method, "path": "/prod" + path, "stage": "prod",
                               "requestId": "bench", "identity": {"sourceIp": "127.0.0.1"},
                               "accountId": "123456789012", "apiId": "bench"}}

campaign = bdpilot.web.api.handler(event("GET", "/api/campaign"), Context())
assert campaign["statusCode"] == 200, campaign
t2 = time.perf_counter()
token = json.loads(campaign["body"])["form_token"]
upload = bdpilot.web.api.handler(event("POST", "/api/uploads", json.dumps(
    {"form_token": token, "filename": "a.pdf", "size": 1000})), Context())
assert upload["statusCode"] == 201, upload
t3 = time.perf_counter()

# The first submission then builds what the first answers did not (the 申报书's validator, its body bounds, the
# print copy): a honeypot post is validated and answered 201 like a stored one, without the storage writes.
from tests.factories import application, attachments, idempotency_key
form = application(attachments=attachments("a" * 32, "b" * 32))
def submit():
    body = json.dumps({"application": form, "form_token": token, "website": "x"}, ensure_ascii=False)
    answer = bdpilot.web.api.handler(event("POST", "/api/submissions", body, **{"Idempotency-Key": idempotency_key()}),
                                     Context())
    assert answer["statusCode"] == 201, answer
t4 = time.perf_counter()
submit()
t5 = time.perf_counter()
submit()
t6 = time.perf_counter()
print("BENCH " + json.dumps({"start": t1 - t0, "campaign": t2 - t1, "upload": t3 - t2, "total": t3 - t0,
                             "submission": t5 - t4, "warm_submission": t6 - t5}))
"""

BASELINE = r"""
import time
t0 = time.perf_counter()
import boto3, pydantic
import os
from botocore.config import Config
t1 = time.perf_counter()
config = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
secret = boto3.client("ssm", config=config).get_parameter(Name=os.environ["PARAMETER"], WithDecryption=True)
t2 = time.perf_counter()
boto3.client("dynamodb", config=config).get_item(TableName=os.environ["BDPILOT_TABLE"], Key={"pk": {"S": "FORM#x"}},
                                                ConsistentRead=True)
s3 = boto3.client("s3", config=config.merge(Config(signature_version="s3v4", s3={"addressing_style": "path"})))
s3.generate_presigned_post(os.environ["BDPILOT_BUCKET"], "uploads/x",
                           Fields={"Content-Type": "application/pdf", "x-amz-meta-owner": "o"},
                           Conditions=[{"Content-Type": "application/pdf"}, {"x-amz-meta-owner": "o"},
                                       ["content-length-range", 1, 20971520]], ExpiresIn=900)
t3 = time.perf_counter()
import json
print("BENCH " + json.dumps({"import": t1 - t0, "ssm": t2 - t1, "store": t3 - t2, "total": t3 - t0}))
"""


def _run(code: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=120)
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("BENCH ")]
    return json.loads(line[len("BENCH "):])


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--source", action="store_true", help="no bytecode: compile every module each time")
    args = parser.parse_args()

    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(credentials)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request to moto
    import boto3
    from moto.server import ThreadedMotoServer

    from bdpilot.ops import stack

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    cache = tempfile.mkdtemp(prefix="bdpilot-bench-pyc-")
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        outputs = stack.create_stack(boto3.Session(), endpoint_url=endpoint, stack_name="bdpilot-bench")
        boto3.client("ssm").put_parameter(Name=PARAMETER, Value="bench-secret-0123456789abcdef",
                                          Type="SecureString")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("BDPILOT_", "AWS_", "POWERTOOLS_"))}
        env = {**base, **credentials, "AWS_ENDPOINT_URL": endpoint, "PARAMETER": PARAMETER,
               "BDPILOT_TABLE": outputs["TableName"], "BDPILOT_BUCKET": outputs["SubmissionsBucketName"],
               "BDPILOT_SECRET_PARAMETER": PARAMETER, "BDPILOT_DEADLINE": "2999-01-01T00:00",
               "BDPILOT_MIN_FILL_SECONDS": "0", "BDPILOT_STAGE": "bench",
               "AWS_LAMBDA_FUNCTION_NAME": "bdpilot-bench-api",
               "POWERTOOLS_SERVICE_NAME": "bdpilot", "POWERTOOLS_METRICS_NAMESPACE": "bdpilot"}
        # Bytecode for both, made once by an unmeasured run that may write it (or, with --source, never kept).
        env["PYTHONPYCACHEPREFIX"] = cache
        writing = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        _run(BASELINE, env if args.source else writing), _run(HANDLER, env if args.source else writing)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        prepared_env = {**env, "BENCH_PREPARED": "1"}
        handler, baseline, prepared = [], [], []
        for _ in range(args.rounds):  # interleaved, so drift in machine load hits all alike
            baseline.append(_run(BASELINE, env))
            handler.append(_run(HANDLER, env))
            prepared.append(_run(HANDLER, prepared_env))
    finally:
        server.stop()
        shutil.rmtree(cache, ignore_errors=True)

    ratio = _median(handler, "total") / _median(baseline, "total")
    print(f"cold start to first answers, medians of {args.rounds} fresh processes each (ms), "
          f"{'every module compiled from source' if args.source else 'bytecode as shipped'}:")
    print(f"  handler : {_median(handler, 'total') * 1e3:6.1f}  = import + settings + SSM "
          f"{_median(handler, 'start') * 1e3:.1f}, GET /api/campaign {_median(handler, 'campaign') * 1e3:.1f}, "
          f"POST /api/uploads {_median(handler, 'upload') * 1e3:.1f}")
    print(f"  baseline: {_median(baseline, 'total') * 1e3:6.1f}  = import boto3, pydantic "
          f"{_median(baseline, 'import') * 1e3:.1f}, ssm get_parameter {_median(baseline, 'ssm') * 1e3:.1f}, "
          f"dynamodb get_item + s3 presign {_median(baseline, 'store') * 1e3:.1f}")
    print(f"  ratio   : {ratio:.2f}  (target ≤ {TARGET}) {'ok' if ratio <= TARGET else 'MISSED'}")
    first = _median(handler, "total") + _median(handler, "submission")
    print(f"  then the first POST /api/submissions: {_median(handler, 'submission') * 1e3:.1f} "
          f"(a second one in the same process {_median(handler, 'warm_submission') * 1e3:.1f}); with it, "
          f"handler / baseline = {first / _median(baseline, 'total'):.2f}")
    print(f"  after prepare() (a SnapStart restore): GET /api/campaign {_median(prepared, 'campaign') * 1e3:.1f}, "
          f"POST /api/uploads {_median(prepared, 'upload') * 1e3:.1f}, first POST /api/submissions "
          f"{_median(prepared, 'submission') * 1e3:.1f} (second {_median(prepared, 'warm_submission') * 1e3:.1f})")


if __name__ == "__main__":
    main()
