"""The local run: the same handler and storage code as production, against moto's server on loopback.

  browser ──▶ 127.0.0.1:8000  /api/*  → API Gateway REST event → bdpilot.web.api.handler
                              /api/receipt, /api/receipt/* → the same kind of event → bdpilot.web.receipt.handler
                              /staff, /staff/* → the same kind of event → bdpilot.console.app.handler
                              /outbox/ → the e-mails the run "sent" (local only: bdpilot.ops.local.outbox)
                              /*      → the built site/ folder
          ──▶ 127.0.0.1:8001  moto (S3 + DynamoDB + CloudFormation), stack created from infra/template.yaml

Data survives a restart, and a start takes the same time whatever is stored: the bucket's objects and the table's
items are kept in `.local/state.json` + `.local/blobs/`, with a log of the writes since (bdpilot.ops.local.state).
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import os
import secrets
import signal
import tempfile
import threading
import time
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bdpilot.domain import wording
from bdpilot.ops.local.events import LambdaContext, invoke, is_receipt, is_staff, rest_event

if TYPE_CHECKING:
    from bdpilot.ops.local.state import LocalState

__all__ = ["LambdaContext", "LocalRun", "invoke", "is_receipt", "is_staff", "main", "rest_event"]

STACK_NAME = "bdpilot-local"
# The staff console's tables: environment variable -> the stack output naming the table moto created.
STAFF_TABLE_OUTPUTS = {"BDPILOT_UNITS_TABLE": "UnitsTableName", "BDPILOT_STAFF_TABLE": "StaffTableName",
                       "BDPILOT_AUDIT_TABLE": "AuditTableName"}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}


class LocalRun:
    """moto's server, the stack, and the site + API server; `start()` returns once everything answers."""

    def __init__(self, *, site_dir: Path, data_dir: Path | None, host: str = "127.0.0.1", port: int = 8000,
                 moto_port: int = 0, persist: bool = True) -> None:
        self.site_dir = site_dir
        self.data_dir = data_dir
        self.host, self.port, self.moto_port = host, port, moto_port
        self.persist = persist and data_dir is not None
        self.outputs: dict[str, str] = {}
        # moto's backends are not thread-safe; a Lambda container also runs one request at a time.
        self._lock = threading.Lock()
        self._storage = _StorageClock()
        self.state: LocalState | None = None
        self._outbox_temp: tempfile.TemporaryDirectory[str] | None = None

    def _secret(self) -> str:
        if os.environ.get("BDPILOT_SECRET"):
            return os.environ["BDPILOT_SECRET"]
        if self.data_dir is None:
            return secrets.token_hex(32)
        path = self.data_dir / "secret"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip()

    def start(self) -> LocalRun:
        if self.data_dir:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        for key, value in FAKE_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        from moto.server import ThreadedMotoServer

        # A line per storage request would bury the addresses the run prints; the handler logs its own outcomes.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.moto = ThreadedMotoServer(ip_address=self.host, port=self.moto_port, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = self.moto_url

        import boto3

        from bdpilot.domain import clock
        from bdpilot.ops import stack

        session = boto3.Session()
        self.region = session.region_name or FAKE_CREDENTIALS["AWS_DEFAULT_REGION"]
        self.outputs = stack.create_stack(session, endpoint_url=self.moto_url, stack_name=STACK_NAME)
        os.environ["BDPILOT_TABLE"] = self.outputs["TableName"]
        os.environ["BDPILOT_BUCKET"] = self.outputs["SubmissionsBucketName"]
        for variable, output in STAFF_TABLE_OUTPUTS.items():
            os.environ[variable] = self.outputs[output]
        os.environ["BDPILOT_SECRET"] = self._secret()
        os.environ.setdefault("BDPILOT_STAGE", "local")
        # Mail stays on this machine: .eml files the /outbox/ page shows (kept with the data when it persists).
        os.environ.setdefault("BDPILOT_MAIL", "outbox")
        if self.persist and self.data_dir:
            self.outbox_dir = self.data_dir / "outbox"
        else:
            self._outbox_temp = tempfile.TemporaryDirectory(prefix="bdpilot-outbox-")
            self.outbox_dir = Path(self._outbox_temp.name)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        os.environ["BDPILOT_OUTBOX_DIR"] = str(self.outbox_dir)
        if not os.environ.get("BDPILOT_DEADLINE"):
            # The notice's deadline is long past; locally the window stays open so a newcomer can try a post.
            os.environ["BDPILOT_DEADLINE"] = (clock.now() + timedelta(days=30)).isoformat(timespec="minutes")
        if self.persist and self.data_dir:
            from bdpilot.ops.local.state import LocalState

            # Before the API answers and before anyone knows moto's port: nothing else writes meanwhile.
            self.state = LocalState(self.data_dir).open(moto_url=self.moto_url, **self._names())

        self._time_storage()
        self.http = _Server((self.host, self.port), _handler_for(self))
        self.port = self.http.server_address[1]
        # The links in e-mails point at this run (known only now: port 0 picks a free one).
        os.environ["BDPILOT_SITE_URL"] = self.url.rstrip("/")
        self._thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self._thread.start()
        if self.data_dir:
            # `bdpilot admin --local` finds the running stand-in through this file.
            (self.data_dir / "endpoint.json").write_text(json.dumps(self.target(), indent=2))
        return self

    def _names(self) -> dict[str, Any]:
        return {"bucket": self.outputs["SubmissionsBucketName"], "table": self.outputs["TableName"],
                "region": self.region, "tables": {o: self.outputs[o] for o in STAFF_TABLE_OUTPUTS.values()}}

    def target(self) -> dict[str, str]:
        site = f"http://{self.host}:{self.port}/" if hasattr(self, "http") else ""
        return {"aws_endpoint": self.moto_url, "table": self.outputs["TableName"],
                "bucket": self.outputs["SubmissionsBucketName"], "site": site,
                "units_table": self.outputs["UnitsTableName"], "staff_table": self.outputs["StaffTableName"],
                "audit_table": self.outputs["AuditTableName"]}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.moto.stop()
        if self.state:
            # moto no longer answers, so the state written is final; the log it covers goes.
            self.state.close(**self._names())
        if self._outbox_temp:
            self._outbox_temp.cleanup()

    def call_api(self, method: str, path: str, headers: dict[str, str], body: bytes | None,
                 query: str) -> tuple[dict[str, Any], float, float]:
        """The handler's answer, its wall time and the part of it spent waiting on storage (seconds)."""
        with self._lock:
            self._storage.total = 0.0
            start = time.perf_counter()
            result = invoke(rest_event(method, path, headers=headers, body=body, query=query))
            return result, time.perf_counter() - start, self._storage.total

    def _time_storage(self) -> None:
        """Sum the time each storage request spends on the wire, so the run can report the handler's own time."""
        from bdpilot import settings
        from bdpilot.web import api

        store = api.store_for(settings.load())
        for client in (store.s3, store.dynamodb):
            client.meta.events.register("before-send", self._storage.sent)
            client.meta.events.register("response-received", self._storage.received)


class _StorageClock:
    def __init__(self) -> None:
        self.total = 0.0
        self._sent = 0.0

    def sent(self, **_: Any) -> None:
        self._sent = time.perf_counter()

    def received(self, **_: Any) -> None:
        self.total += time.perf_counter() - self._sent


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 resets connections when many applicants post at once
    daemon_threads = True


def _handler_for(run: LocalRun) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "bdpilot-local"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # request lines would repeat what the handler's own logs say

        def _api(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            result, total, storage = run.call_api(self.command, parts.path, dict(self.headers.items()), body,
                                                  parts.query)
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
            self.send_response(result["statusCode"])
            headers = dict(result.get("headers") or {})
            for key, values in (result.get("multiValueHeaders") or {}).items():
                headers.setdefault(key, values[-1] if values else "")
            for key, value in headers.items():
                self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(data)))
            # The handler's own time apart from the storage emulator, for bench/load (W3C Server-Timing).
            self.send_header("Server-Timing", f"app;dur={(total - storage) * 1000:.2f}, "
                                              f"storage;dur={storage * 1000:.2f}")
            self.end_headers()
            self.wfile.write(data)

        def _static(self) -> None:
            path = urlsplit(self.path).path
            target = (run.site_dir / path.lstrip("/")).resolve()
            if run.site_dir.resolve() not in (target, *target.parents):
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            if target.is_dir():
                if not path.endswith("/"):
                    self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                    self.send_header("Location", path + "/")
                    self.end_headers()
                    return
                target = target / "index.html"
            if not target.is_file():
                target, status = run.site_dir / "404.html", HTTPStatus.NOT_FOUND
                if not target.is_file():
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
            else:
                status = HTTPStatus.OK
            data = target.read_bytes()
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
                kind += "; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _outbox(self, path: str) -> None:
            from bdpilot.ops.local import outbox

            found = outbox.answer(run.outbox_dir, path)
            self.send_response(found.status)
            for key, value in found.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(found.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(found.body)

        def _route(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/api/") or is_staff(path):
                self._api()
            elif (path == "/outbox" or path.startswith("/outbox/")) and self.command in ("GET", "HEAD"):
                self._outbox(path)
            elif self.command in ("GET", "HEAD"):
                self._static()
            else:
                self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

        def __getattr__(self, name: str) -> Any:
            # Every HTTP method reaches the router, so the API (not this stand-in) answers unknown ones with 405.
            if name.startswith("do_"):
                return self._route
            raise AttributeError(name)

    return Handler


def main(*, host: str, port: int, site_dir: Path, data_dir: Path, persist: bool = True) -> int:
    if not (site_dir / "index.html").exists():
        print(wording.text("ops.local.no_site", path=f"{site_dir}/index.html"))
        return 1
    run = LocalRun(site_dir=site_dir, data_dir=data_dir, host=host, port=port, persist=persist).start()
    deadline = os.environ["BDPILOT_DEADLINE"]
    print(json.dumps({"site": run.url, "api": run.url + "api/campaign", "aws_endpoint": run.moto_url,
                      "table": run.outputs["TableName"], "bucket": run.outputs["SubmissionsBucketName"]},
                     ensure_ascii=False, indent=2))
    print(wording.text("ops.local.running", url=run.url, deadline=deadline, data_dir=data_dir))
    print(wording.text("ops.local.outbox", url=run.url + "outbox/"))
    if run.state:
        counts = run.state.counts
        print(wording.text("ops.local.loaded", objects=counts["objects"], items=counts["items"])
              + (wording.text("ops.local.replayed", replayed=counts["replayed"]) if counts["replayed"] else "")
              + wording.text("ops.local.loaded_end"))
    print(wording.text("ops.local.stop_hint"))
    # `kill` (SIGTERM) stops as cleanly as Ctrl+C: the state is saved and the next start replays nothing.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        run.stop()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
