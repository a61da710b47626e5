"""Throughput of the bundled MTurk endpoint, driven by plain boto3 over HTTP.

Publishes N HITs (default 10,000) of 16 items each, lets a synthetic crowd
of 3 assignments per HIT work through them on the virtual clock, then reads
everything back the way a campaign does: every page of ListHITs and every
page of ListAssignmentsForHIT, and approves every assignment. Prints one
JSON object with the wall time and rate of each phase.

    python benchmarks/endpoint_throughput.py --hits 10000
"""

from __future__ import annotations

import argparse
import json
import platform
import time
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


def timed(results: dict[str, Any], name: str, count: int, start: float) -> None:
    seconds = time.perf_counter() - start
    results[name] = {
        "count": count,
        "seconds": round(seconds, 2),
        "per_second": round(count / seconds, 1) if seconds else None,
    }


def run(hits: int, workers: int) -> dict[str, Any]:
    crowd = SyntheticCrowd(SyntheticSpec(workers=workers, arrival_mean_s=1800.0))
    config = EndpointConfig(
        clock="virtual", start_time="2026-01-01T00:00:00Z", crowd=crowd, seed=1
    )
    results: dict[str, Any] = {
        "hits": hits,
        "workers": workers,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    with RunningEndpoint(config) as endpoint:
        client = boto3.client(
            "mturk",
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            aws_access_key_id="AKIDBENCHMARK",
            aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1}),
        )

        start = time.perf_counter()
        for n in range(hits):
            client.create_hit(
                MaxAssignments=3,
                LifetimeInSeconds=7 * 86_400,
                AssignmentDurationInSeconds=3600,
                AutoApprovalDelayInSeconds=7 * 86_400,
                Reward="0.12",
                Title="Benchmark HIT",
                Description="Label product pairs.",
                Question=question(n),
                UniqueRequestToken=f"bench-{n}",
            )
        timed(results, "create_hit", hits, start)

        start = time.perf_counter()
        hit_ids = [
            h["HITId"]
            for page in client.get_paginator("list_hits").paginate()
            for h in page["HITs"]
        ]
        timed(results, "list_hits_all_pages", len(hit_ids), start)

        start = time.perf_counter()
        report = endpoint.advance_report(3 * 86_400)
        timed(results, "advance_3_days", report["assignments_submitted"], start)

        start = time.perf_counter()
        assignment_ids = []
        for hit_id in hit_ids:
            for page in client.get_paginator("list_assignments_for_hit").paginate(
                HITId=hit_id
            ):
                assignment_ids += [a["AssignmentId"] for a in page["Assignments"]]
        timed(results, "list_assignments_every_hit", len(assignment_ids), start)

        start = time.perf_counter()
        for assignment_id in assignment_ids:
            client.approve_assignment(AssignmentId=assignment_id)
        timed(results, "approve_assignment", len(assignment_ids), start)

        stats = endpoint.stats()
        results["answers_total"] = stats["answers_total"]
        results["paid_rewards_cents"] = stats["paid_rewards_cents"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(run(args.hits, args.workers), indent=2))


if __name__ == "__main__":
    main()
