"""Load: simulated applicants drive the local run through the whole flow, then every 201 is checked in storage.

Each applicant: GET /api/campaign → two POST /api/uploads, each followed by the presigned POST of a PDF straight
to storage → POST /api/submissions. Loopback only; bounded in count, concurrency and time; stops by itself.

Run: python -m bench.load [--applicants 400] [--concurrency 16] [--max-seconds 300]
The handler's own time comes from the run's Server-Timing header (its wall time less the time its storage
requests spent in the emulator), so the emulator's speed does not count against the target.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.factories import PDF, application, attachments, idempotency_key, uscc
from tests.live import LiveRun, build_site, start_live, stop_live


@dataclass
class Results:
    latency: dict[str, list[float]] = field(default_factory=dict)  # route → client-observed seconds
    app_ms: dict[str, list[float]] = field(default_factory=dict)  # route → handler's own milliseconds
    statuses: Counter = field(default_factory=Counter)
    accepted: list[tuple[str, str, str]] = field(default_factory=list)  # (uscc, reference, digest)
    failures: list[str] = field(default_factory=list)

    def timed(self, route: str, session: requests.Session, method: str, url: str, **kwargs) -> requests.Response:
        start = time.perf_counter()
        reply = session.request(method, url, timeout=60, **kwargs)
        self.latency.setdefault(route, []).append(time.perf_counter() - start)
        self.statuses[f"{route} {reply.status_code}"] += 1
        timing = dict(part.strip().split(";dur=") for part in reply.headers.get("Server-Timing", "").split(",")
                      if ";dur=" in part)
        if "app" in timing:
            self.app_ms.setdefault(route, []).append(float(timing["app"]))
        return reply


def applicant(run: LiveRun, results: Results, n: int, deadline: float) -> None:
    if time.monotonic() > deadline:
        return
    base, session = run.url, requests.Session()
    try:
        token = results.timed("campaign", session, "GET", base + "api/campaign").json()["form_token"]
        ids = []
        for name in ("营业执照.pdf", "专利证书.pdf"):
            ticket = results.timed("uploads", session, "POST", base + "api/uploads",
                                   json={"form_token": token, "filename": name, "size": len(PDF)}).json()
            stored = session.post(ticket["url"], data=ticket["fields"], files={"file": (name, PDF, "application/pdf")},
                                  timeout=60)
            if stored.status_code >= 300:
                results.failures.append(f"storage upload {stored.status_code}")
                return
            ids.append(ticket["upload_id"])
        code = uscc(500_000 + n)
        body = {"application": application(applicant={"uscc": code}, attachments=attachments(*ids)),
                "form_token": token, "website": ""}
        reply = results.timed("submissions", session, "POST", base + "api/submissions", json=body,
                              headers={"Idempotency-Key": idempotency_key()})
        if reply.status_code == 201:
            results.accepted.append((code, reply.json()["reference"], reply.json()["digest"]))
        else:
            results.failures.append(f"submission {reply.status_code}: {reply.text[:200]}")
    except (requests.RequestException, ValueError, KeyError) as exc:
        results.failures.append(f"{type(exc).__name__}: {exc}")


def verify(run: LiveRun, results: Results) -> tuple[int, int]:
    """(lost, duplicated): a 201 without its record or index item, and applicants indexed more than once."""
    store = run.store()
    lost = 0
    for _, ref, digest in results.accepted:
        index = store.get_index(ref)
        record = store.get_record(ref)
        if index is None or record is None or index["digest"] != digest:
            lost += 1
    per_applicant = Counter(item["uscc"] for item in store.query("time"))
    duplicated = sum(n - 1 for n in per_applicant.values() if n > 1)
    return lost, duplicated


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run_load(applicants: int, concurrency: int, max_seconds: float, site: Path | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        site_dir = site if site and (site / "index.html").exists() else build_site(Path(tmp) / "site")
        run = start_live(site_dir, Path(tmp) / "data", BDPILOT_MIN_FILL_SECONDS="0")
        results = Results()
        try:
            deadline = time.monotonic() + max_seconds
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                for n in range(applicants):
                    pool.submit(applicant, run, results, n, deadline)
            elapsed = time.perf_counter() - start
            lost, duplicated = verify(run, results)
        finally:
            stop_live(run)
    server_errors = sum(n for key, n in results.statuses.items() if key.rsplit(" ", 1)[1].startswith("5"))
    print(f"applicants {applicants}, concurrency {concurrency}: {len(results.accepted)} accepted in {elapsed:.1f} s "
          f"= {len(results.accepted) / elapsed:.1f} submissions/s")
    for route, values in results.latency.items():
        own = results.app_ms.get(route, [0.0])
        client = "  ".join(f"p{q} {pct(values, q) * 1000:7.1f}" for q in (50, 95, 99))
        handler = "  ".join(f"p{q} {pct(own, q):5.2f}" for q in (50, 95, 99))
        print(f"  {route:12} n={len(values):5}  client {client} ms   handler's own {handler} ms")
    print(f"  errors {len(results.failures)}  5xx {server_errors}  lost {lost}  duplicated {duplicated}")
    for failure in results.failures[:5]:
        print("   ", failure)
    own = results.app_ms.get("submissions", [0.0])
    return {"accepted": len(results.accepted), "errors": len(results.failures), "server_errors": server_errors,
            "lost": lost, "duplicated": duplicated, "submission_app_p95_ms": pct(own, 95),
            "throughput": len(results.accepted) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applicants", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--site", type=Path, default=Path("site"))
    args = parser.parse_args()
    figures = run_load(args.applicants, args.concurrency, args.max_seconds, args.site)
    ok = not (figures["server_errors"] or figures["lost"] or figures["duplicated"] or figures["errors"])
    print("targets:", "met" if ok and figures["submission_app_p95_ms"] <= 20 else "MISSED",
          "(zero lost, duplicated, 5xx; handler's own p95 ≤ 20 ms)")


if __name__ == "__main__":
    main()
