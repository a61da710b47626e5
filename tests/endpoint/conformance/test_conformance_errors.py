"""Bad input of every kind gets MTurk's or AWS's error, never a server fault."""

from __future__ import annotations

import json
import random
import string
from typing import Any

import pytest
from botocore.loaders import Loader
from conformance_kit import Target, hit_args

MODEL = Loader().load_service_model("mturk", "service-2")
SHAPES: dict[str, Any] = MODEL["shapes"]
OPERATIONS = sorted(MODEL["operations"])
# Anything a careless or hostile client might send where a value belongs.
ODD_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    2**63,
    1.5,
    1e308,
    "",
    "x" * 5000,
    "\u0000\ud7ff\ufffd",
    "1e400",
    [],
    {},
    [{"deep": [[[]]]}],
    {"Nested": {"Nested": {"Nested": None}}},
]


def answer_is_an_error_document(reply: Any) -> dict[str, Any]:
    """A refusal: 4xx with a JSON body naming the error type."""
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:300])
    body: dict[str, Any] = reply.json()
    assert body.get("__type"), body
    return body


def test_unknown_targets_and_broken_bodies(target: Target) -> None:
    unknown = target.post("MakeCoffee", b"{}")
    answer_is_an_error_document(unknown)
    foreign = target.post("ListHITs", b"{}", target="DynamoDB_20120810.ListTables")
    answer_is_an_error_document(foreign)

    for body in [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe\x00garbage",
        b'{"MaxResults": "ten"}',
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({"MaxResults": float("nan")}).encode(),
    ]:
        reply = target.post("ListHITs", body)
        assert answer_is_an_error_document(reply)["__type"] == "RequestError", body[:40]


def test_huge_bodies_are_refused(target: Target) -> None:
    huge = json.dumps({**hit_args(), "Question": "x" * (3 * 1024 * 1024)}).encode()
    answer_is_an_error_document(target.post("CreateHIT", huge))


def test_wrong_json_types_are_request_errors(target: Target) -> None:
    # Sent raw: boto3 would refuse to serialise some of these at all.
    for wrong in [
        {"MaxAssignments": "three"},
        {"Reward": 0.12},
        {"LifetimeInSeconds": None},
        {"QualificationRequirements": {"Comparator": "Exists"}},
        {"QualificationRequirements": [{"Comparator": "Sometimes"}]},
        {"QualificationRequirements": ["Exists"]},
        {"Keywords": ["a", "b"]},
        {"AutoApprovalDelayInSeconds": True},
        {"MaxAssignments": 2.5},
    ]:
        body = json.dumps({**hit_args(), **wrong}).encode()
        reply = target.post("CreateHIT", body)
        assert answer_is_an_error_document(reply)["__type"] == "RequestError", wrong


def test_bad_signatures_are_aws_errors(target: Target) -> None:
    wrong = target.post("ListHITs", b"{}", secret="not-the-secret")
    assert answer_is_an_error_document(wrong)["__type"] == "InvalidSignatureException"
    unsigned = target.http.post(
        target.url + "/",
        headers={"X-Amz-Target": "MTurkRequesterServiceV20170117.ListHITs"},
        content=b"{}",
    )
    answer_is_an_error_document(unsigned)


def random_text(rng: random.Random, low: int = 0, high: int = 40) -> str:
    # Letters, digits and spaces only: never a URL or ARN a notification
    # could be sent to.
    alphabet = string.ascii_letters + string.digits + " "
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def value_for(shape_name: str, rng: random.Random, depth: int = 0) -> Any:
    """A value for a model shape: usually plausible, sometimes plain wrong."""
    if rng.random() < 0.12:
        return rng.choice(ODD_VALUES)

    shape = SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = shape.get("members", {})
        required = set(shape.get("required", []))
        chosen = [n for n in members if n in required or rng.random() < 0.5]
        return {
            name: value_for(members[name]["shape"], rng, depth + 1) for name in chosen
        }
    if kind == "list":
        if depth > 4:
            return []
        member = shape["member"]["shape"]
        return [value_for(member, rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "string":
        if "enum" in shape:
            return rng.choice(shape["enum"])
        if shape_name == "CurrencyAmount":
            return rng.choice(["0.12", "1", "0.001", "-1", "1.5"])
        if shape.get("pattern", "").startswith("^A"):
            return "A" + random_text(rng, 1, 20).replace(" ", "").upper()
        if "pattern" in shape:
            return random_text(rng, 1, 30).replace(" ", "").upper() or "X"
        return random_text(rng)
    if kind in ("integer", "long"):
        return rng.randint(shape.get("min", -10) - 5, shape.get("max", 10**9) + 5)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "timestamp":
        return rng.choice(
            [1_767_225_600, 1_767_225_600.5, "2026-01-01T00:00:00Z", "soon"]
        )
    return None


@pytest.mark.parametrize("operation", OPERATIONS)
def test_fuzzed_input_never_faults(target: Target, operation: str) -> None:
    rng = random.Random(f"conformance:{operation}")
    input_shape = MODEL["operations"][operation].get("input", {}).get("shape")
    for _ in range(6):
        params = value_for(input_shape, rng) if input_shape else {}
        reply = target.post(operation, json.dumps(params).encode())
        if reply.status_code == 200:
            assert isinstance(reply.json(), dict)
            continue
        body = answer_is_an_error_document(reply)
        assert body["__type"] == "RequestError", (operation, params, body)
