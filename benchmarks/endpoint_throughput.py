"""Throughput of the bundled MTurk endpoint beside a bare boto3 baseline.

Publishes N HITs (default 10,000) of 16 items each through plain boto3 over
HTTP, with every call signed and checked (SigV4), lets a synthetic crowd do
3 assignments per HIT on the virtual clock, then lists every page of
ListHITs and the assignments of every HIT, the way a campaign reads them.

The baseline, measured in the same run, makes the same boto3 calls against
a trivial local HTTP server that answers each with a canned copy of the
endpoint's own response: it is what botocore alone costs to build, sign,
send and parse those requests on this machine. The ratio of the two rates
is the share of a client's time the endpoint leaves to the client.

    python benchmarks/endpoint_throughput.py --hits 10000
"""

from __future__ import annotations

import argparse
import json
import platform
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.config import Config

from crowd_bridge.endpoint import (
    EndpointConfig,
    RunningEndpoint,
    SyntheticCrowd,
    SyntheticSpec,
)

ITEMS_PER_HIT = 16
ASSIGNMENTS_PER_HIT = 3
REQUESTER = ("AKIABENCHMARK0000001", "benchmark-secret-not-for-production-use")


def question(hit_number: int) -> str:
    groups = "".join(
        f'<p>Pair {hit_number}-{n}</p><input type="radio" '
        f'name="item-B{hit_number:05d}x{n:02d}" value="0"><input type="radio" '
        f'name="item-B{hit_number:05d}x{n:02d}" value="1">'
        for n in range(ITEMS_PER_HIT)
    )
    return (
        '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/'
        'AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
        f"<HTMLContent><![CDATA[<form>{groups}</form>]]></HTMLContent>"
        "<FrameHeight>0</FrameHeight></HTMLQuestion>"
    )


def hit_request(n: int) -> dict[str, Any]:
    return {
        "MaxAssignments": ASSIGNMENTS_PER_HIT,
        "LifetimeInSeconds": 7 * 86_400,
        "AssignmentDurationInSeconds": 3600,
        "AutoApprovalDelayInSeconds": 7 * 86_400,
        "Reward": "0.12",
        "Title": "Benchmark HIT",
        "Description": "Label product pairs.",
        "Question": question(n),
        "UniqueRequestToken": f"bench-{n}",
    }


def mturk_client(url: str) -> Any:
    return boto3.client(
        "mturk",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=REQUESTER[0],
        aws_secret_access_key=REQUESTER[1],
        config=Config(retries={"total_max_attempts": 1}),
    )


class Phases:
    """Wall time and request count of each phase, and their totals."""

    def __init__(self) -> None:
        self.report: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.seconds = 0.0

    def run(self, name: str, work: Callable[[], int]) -> None:
        start = time.perf_counter()
        requests = work()
        seconds = time.perf_counter() - start
        self.requests += requests
        self.seconds += seconds
        self.report[name] = {
            "requests": requests,
            "seconds": round(seconds, 2),
            "per_second": round(requests / seconds, 1) if seconds else None,
        }

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def capture_bodies(client: Any) -> dict[str, bytes]:
    """Keep the first raw response body of each operation the client calls."""
    bodies: dict[str, bytes] = {}

    def keep(http_response: Any, model: Any, **_: Any) -> None:
        bodies.setdefault(model.name, http_response.content)

    client.meta.events.register("after-call.mturk", keep)
    return bodies


def measure_endpoint(hits: int, workers: int) -> tuple[Phases, dict[str, bytes], Any]:
    crowd = SyntheticCrowd(SyntheticSpec(workers=workers, arrival_mean_s=1800.0))
    config = EndpointConfig(
        clock="virtual",
        start_time="2026-01-01T00:00:00Z",
        crowd=crowd,
        seed=1,
        auth="sigv4",
        requesters=dict([REQUESTER]),
    )
    phases = Phases()
    with RunningEndpoint(config) as endpoint:
        client = mturk_client(endpoint.url)
        bodies = capture_bodies(client)

        def publish() -> int:
            for n in range(hits):
                client.create_hit(**hit_request(n))
            return hits

        hit_ids: list[str] = []

        def list_hits() -> int:
            pages = list(client.get_paginator("list_hits").paginate())
            hit_ids.extend(h["HITId"] for page in pages for h in page["HITs"])
            return len(pages)

        phases.run("create_hit", publish)
        phases.run("list_hits_all_pages", list_hits)

        start = time.perf_counter()
        submitted = endpoint.advance_report(3 * 86_400)["assignments_submitted"]
        crowd_seconds = time.perf_counter() - start

        listed = 0

        def list_assignments() -> int:
            nonlocal listed
            for hit_id in hit_ids:
                page = client.list_assignments_for_hit(HITId=hit_id)
                listed += page["NumResults"]
            return len(hit_ids)

        phases.run("list_assignments_for_hit", list_assignments)
        stats = endpoint.stats()
    extra = {
        "crowd_simulation": {
            "assignments_submitted": submitted,
            "seconds": round(crowd_seconds, 2),
        },
        "assignments_listed": listed,
        "answers_total": stats["answers_total"],
    }
    return phases, bodies, extra


class CannedServer(ThreadingHTTPServer):
    daemon_threads = True
    bodies: dict[str, bytes] = {}


class CannedHandler(BaseHTTPRequestHandler):
    """Answers each operation with the same stored body, doing nothing else."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, delayed ACKs
    # would add 40 ms to every answer and flatter the endpoint.
    disable_nagle_algorithm = True
    server: CannedServer

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's naming)
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        body = self.server.bodies.get(operation, b"{}")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def measure_baseline(hits: int, pages: int, bodies: dict[str, bytes]) -> Phases:
    server = CannedServer(("127.0.0.1", 0), CannedHandler)
    server.bodies = bodies
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    phases = Phases()
    try:
        host, port = server.server_address[:2]
        client = mturk_client(f"http://{host!s}:{port}")

        def publish() -> int:
            for n in range(hits):
                client.create_hit(**hit_request(n))
            return hits

        def list_hits() -> int:
            for _ in range(pages):
                client.list_hits(MaxResults=100)
            return pages

        def list_assignments() -> int:
            for _ in range(hits):
                client.list_assignments_for_hit(HITId="3BENCHMARKHIT0000000000000000")
            return hits

        phases.run("create_hit", publish)
        phases.run("list_hits_all_pages", list_hits)
        phases.run("list_assignments_for_hit", list_assignments)
    finally:
        server.shutdown()
        server.server_close()
    return phases


def run(hits: int, workers: int) -> dict[str, Any]:
    endpoint, bodies, extra = measure_endpoint(hits, workers)
    pages = endpoint.report["list_hits_all_pages"]["requests"]
    baseline = measure_baseline(hits, pages, bodies)
    return {
        "hits": hits,
        "workers": workers,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "endpoint": endpoint.report,
        "baseline_canned_server": baseline.report,
        **extra,
        "endpoint_requests_per_second": round(endpoint.rate, 1),
        "baseline_requests_per_second": round(baseline.rate, 1),
        "ratio": round(endpoint.rate / baseline.rate, 3) if baseline.rate else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=200)
    args = parser.parse_args()
    result = run(args.hits, args.workers)
    print(json.dumps(result, indent=2))
    print(
        f"Endpoint: {result['endpoint_requests_per_second']} requests/s; "
        f"bare boto3 against a canned local server: "
        f"{result['baseline_requests_per_second']} requests/s; "
        f"ratio {result['ratio']} (1.0 would mean the endpoint costs nothing "
        "beyond botocore itself)."
    )


if __name__ == "__main__":
    main()
