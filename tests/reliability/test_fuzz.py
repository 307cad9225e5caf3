"""Fuzz the API from its own OpenAPI document with schemathesis, against the README's local run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote_from_bytes

CHECKS_NOT_APPLICABLE = [
    "positive_data_acceptance",  # schema-valid bodies still need a live form token and real uploads
    "use_after_free", "ensure_resource_availability",  # no resources are created, read and deleted by id
    "ignored_auth", "object_level_authorization",  # the public API has no authentication to bypass
]


def test_schemathesis_finds_nothing(built_site, tmp_path):
    from tests.conftest import start_live, stop_live

    run = start_live(built_site, tmp_path / "data", BDPILOT_MIN_FILL_SECONDS="0")
    try:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "st"), "run", run.url + "api/openapi.json",
             "--checks", "all", "--exclude-checks", ",".join(CHECKS_NOT_APPLICABLE),
             "--mode", "all", "--max-examples", "600", "--seed", "20191122", "--workers", "1",
             "--generation-database", "none", "--no-color", "--report", "junit",
             "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,
        )
    finally:
        stop_live(run)
    output = result.stdout + result.stderr
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= 1000, output[-3000:]
    assert result.returncode == 0, output[-6000:]
    assert "Server error" not in output
    server_log = run.log
    assert '"outcome":"error"' not in server_log


def test_the_hostile_corpus_over_http_finds_nothing(built_site, tmp_path):
    """The same hostile corpus as tests/reliability/test_hostile_corpus.py, as bytes on the wire to the README's
    local run: its HTTP layer and the handler together answer every case below 500 and within 64 KB."""
    import requests

    from tests.conftest import start_live, stop_live
    from tests.reliability.hostile_corpus import MAX_ANSWER_BYTES, corpus

    def wire(text: str) -> bytes:
        return text.encode("utf-8", "surrogatepass")  # a lone surrogate goes out as the bytes a client can send

    run = start_live(built_site, tmp_path / "data", BDPILOT_MIN_FILL_SECONDS="0")
    failures = []
    try:
        token = requests.get(run.url + "api/campaign", timeout=10).json()["form_token"]
        for case in corpus(token, ("0" * 32, "1" * 32)):
            event = case.event()
            query = "&".join(f"{quote_from_bytes(wire(k))}={quote_from_bytes(wire(v))}"
                             for k, v in (case.query or {}).items())
            body = wire(case.body) if isinstance(case.body, str) else case.body
            reply = requests.request(case.method, run.url + case.path.lstrip("/") + (f"?{query}" if query else ""),
                                     data=body, headers=event["headers"], timeout=30)
            if reply.status_code >= 500 or len(reply.content) > MAX_ANSWER_BYTES:
                failures.append(f"{case.name}: {reply.status_code}, {len(reply.content)} bytes")
    finally:
        stop_live(run)
    assert failures == [], "\n".join(failures)
    assert '"outcome":"error"' not in run.log
