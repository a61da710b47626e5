"""Request checks driven by botocore's own model of the MTurk API.

The model botocore ships for ``mturk`` 2017-01-17 lists, per operation, the
required members, types, lengths, ranges, patterns and enums. Checking every
request against it here means a client that skips botocore's own checks (or
a raw HTTP caller) still gets a RequestError instead of a server fault.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from botocore.loaders import Loader

from crowd_bridge.errors import EndpointRequestError

logger = logging.getLogger(__name__)

SERVICE = "mturk"
TARGET_PREFIX = "MTurkRequesterServiceV20170117"

# MTurk's worker ids match ^A[A-Z0-9]+$. Replayed crowds keep the worker ids
# of their recording ("W169"), so worker ids are only held to letters and
# digits; everything else follows the model as shipped.
PATTERN_OVERRIDES = {"CustomerId": r"^[A-Z0-9]+$"}
# Year 5000 in epoch seconds: later than any HIT can be scheduled.
MAX_EPOCH = 95_617_584_000


@lru_cache(maxsize=1)
def service_model() -> dict[str, Any]:
    """The MTurk service model as botocore ships it."""
    model: dict[str, Any] = Loader().load_service_model(SERVICE, "service-2")
    return model


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _bad(path: str, value: Any, why: str) -> EndpointRequestError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return EndpointRequestError(
        f"The value {shown} is not valid for the parameter {path}: {why}."
    )


class RequestValidator:
    """Checks an operation's input against the service model's shapes."""

    def __init__(self, model: dict[str, Any] | None = None) -> None:
        self._model = model or service_model()
        self._shapes: dict[str, Any] = self._model["shapes"]
        self.operations: frozenset[str] = frozenset(self._model["operations"])

    def validate(self, operation: str, params: Any) -> dict[str, Any]:
        """Check ``params``; timestamps are turned into epoch seconds in place."""
        spec = self._model["operations"][operation]
        shape_name = spec.get("input", {}).get("shape")
        if shape_name is None:
            return {}

        if not isinstance(params, dict):
            raise EndpointRequestError(
                f"The body of a {operation} request must be a JSON object."
            )
        self._structure(params, self._shapes[shape_name], "")
        return params

    def _check(self, value: Any, shape_name: str, path: str) -> Any:
        shape = self._shapes[shape_name]
        if shape_name in PATTERN_OVERRIDES:
            shape = {**shape, "pattern": PATTERN_OVERRIDES[shape_name]}
        kind = shape["type"]
        if kind == "structure":
            if not isinstance(value, dict):
                raise _bad(path, value, "an object is expected")
            self._structure(value, shape, path)
            return value
        if kind == "list":
            return self._list(value, shape, path)
        if kind == "string":
            return self._string(value, shape, path)
        if kind in ("integer", "long"):
            return self._integer(value, shape, path)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _bad(path, value, "true or false is expected")
            return value
        if kind == "timestamp":
            return self._timestamp(value, path)
        if kind in ("double", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _bad(path, value, "a number is expected")
            if not math.isfinite(value):
                raise _bad(path, value, "a finite number is expected")
            return value
        if kind == "map":
            if not isinstance(value, dict):
                raise _bad(path, value, "an object is expected")
            return value
        return value

    def _structure(
        self, value: dict[str, Any], shape: dict[str, Any], path: str
    ) -> None:
        members: dict[str, Any] = shape.get("members", {})
        for name in shape.get("required", []):
            if value.get(name) is None:
                where = f"{path}.{name}" if path else name
                raise EndpointRequestError(f"The parameter {where} is required.")

        for name, member_value in list(value.items()):
            member = members.get(name)
            if member is None:
                # Like AWS services, ignore members this API version lacks.
                logger.debug("Ignoring unknown request member %s%s", path, name)
                continue
            if member_value is None:
                continue
            where = f"{path}.{name}" if path else name
            value[name] = self._check(member_value, member["shape"], where)

    def _list(self, value: Any, shape: dict[str, Any], path: str) -> list[Any]:
        if not isinstance(value, list):
            raise _bad(path, value, "a list is expected")
        if "min" in shape and len(value) < shape["min"]:
            raise _bad(path, value, f"at least {shape['min']} entries are expected")
        if "max" in shape and len(value) > shape["max"]:
            raise _bad(path, value, f"at most {shape['max']} entries are allowed")

        member = shape["member"]["shape"]
        return [
            self._check(item, member, f"{path}.{i + 1}") for i, item in enumerate(value)
        ]

    def _string(self, value: Any, shape: dict[str, Any], path: str) -> str:
        if not isinstance(value, str):
            raise _bad(path, value, "a string is expected")
        if "min" in shape and len(value) < shape["min"]:
            raise _bad(path, value, f"it must be at least {shape['min']} characters")
        if "max" in shape and len(value) > shape["max"]:
            raise _bad(path, value, f"it must be at most {shape['max']} characters")
        if "enum" in shape and value not in shape["enum"]:
            raise _bad(path, value, "it must be one of " + ", ".join(shape["enum"]))
        if "pattern" in shape and not _pattern(shape["pattern"]).search(value):
            raise _bad(path, value, f"it must match {shape['pattern']}")
        return value

    def _integer(self, value: Any, shape: dict[str, Any], path: str) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(path, value, "a whole number is expected")
        if "min" in shape and value < shape["min"]:
            raise _bad(path, value, f"it must be at least {shape['min']}")
        if "max" in shape and value > shape["max"]:
            raise _bad(path, value, f"it must be at most {shape['max']}")
        return value

    def _timestamp(self, value: Any, path: str) -> float:
        epoch = self._epoch(value, path)
        # NaN or a time past year 5000 would corrupt every schedule it enters.
        if not math.isfinite(epoch) or abs(epoch) > MAX_EPOCH:
            raise _bad(path, value, "a finite time before the year 5000 is expected")
        return epoch

    def _epoch(self, value: Any, path: str) -> float:
        if isinstance(value, bool):
            raise _bad(path, value, "a time is expected")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise _bad(
                    path, value, "epoch seconds or ISO 8601 is expected"
                ) from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.timestamp()
        raise _bad(path, value, "a time is expected")


def require_range(name: str, value: int, low: int, high: int) -> None:
    """MTurk's documented bounds that the service model does not carry."""
    if not low <= value <= high:
        raise EndpointRequestError(
            f"The value {value} is not valid for the parameter {name}: it must be "
            f"between {low} and {high}.",
            "AWS.ParameterOutOfRange",
        )


def require_length(
    name: str, value: str | None, most: int, *, in_bytes: bool = False
) -> None:
    """Refuse text longer than MTurk allows (characters, or UTF-8 bytes)."""
    if value is None:
        return
    size = len(value.encode("utf-8")) if in_bytes else len(value)
    if size > most:
        unit = "bytes" if in_bytes else "characters"
        raise EndpointRequestError(
            f"The parameter {name} is {size} {unit} long; at most {most} {unit} "
            "are allowed.",
            "AWS.ParameterOutOfRange",
        )
