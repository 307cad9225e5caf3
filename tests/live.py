"""The README's local run (`bdpilot serve`) in a subprocess, for browser tests, reliability tests and bench/load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests

from tests.factories import PDF, application, attachments, idempotency_key, uscc

ROOT = Path(__file__).resolve().parent.parent


def build_site(out: Path) -> Path:
    """The site built into a folder of its own (never the working tree's site/)."""
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
                   check=True, cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return out


@dataclass
class LiveRun:
    """The README's local run (`bdpilot serve`) in a subprocess, on free loopback ports."""

    url: str
    target: dict[str, str]
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return (self.data_dir / "serve.log").read_text(errors="replace")

    def store(self) -> Any:
        from bdpilot.store.reader import Reader as Store

        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
        return Store(self.target["table"], self.target["bucket"], session=session,
                     endpoint_url=self.target["aws_endpoint"], units_table=self.target.get("units_table"))


def start_live(site_dir: Path, data_dir: Path, **env: str) -> LiveRun:
    data_dir.mkdir(parents=True, exist_ok=True)
    endpoint = data_dir / "endpoint.json"
    endpoint.unlink(missing_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BDPILOT_", "MOTO_"))}
    environment |= {"BDPILOT_MIN_FILL_SECONDS": "1", **env}
    log = data_dir / "serve.log"
    with log.open("ab") as sink:  # everything the run prints, for tests that read its logs
        process = subprocess.Popen(
            [sys.executable, "-m", "bdpilot.ops.cli", "serve", "--port", "0", "--site", str(site_dir),
             "--data", str(data_dir)],
            env=environment, stdout=sink, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while not endpoint.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"bdpilot serve did not start:\n{log.read_text()}")
        time.sleep(0.1)
    target = json.loads(endpoint.read_text())
    return LiveRun(target["site"], target, data_dir, process)


def stop_live(run: LiveRun) -> None:
    run.process.send_signal(signal.SIGINT)
    try:
        run.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        run.process.kill()


def submit_over_http(base: str, session: requests.Session, company: int, **sections: Any) -> dict[str, Any]:
    """A person over real sockets: the form token, two PDFs posted straight to storage, then the 申报书."""
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
    body = {"application": application(**{"applicant": {"uscc": uscc(company)}, **sections},
                                       attachments=attachments(*ids)),
            "form_token": token, "website": ""}
    reply = session.post(base + "api/submissions", json=body, headers={"Idempotency-Key": idempotency_key()})
    assert reply.status_code == 201, reply.text
    return reply.json()
