"""Qualification requirements: MTurk's system types, validation and matching.

A HIT's requirements are checked when it is created (shape and comparator
rules, as MTurk documents them) and again each time a worker tries to accept
it (the worker's scores against each requirement).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from .model import Qualification, Worker

LOCALE = "00000000000000000071"
NUMBER_HITS_APPROVED = "00000000000000000040"
PERCENT_ASSIGNMENTS_APPROVED = "000000000000000000L0"
ADULT = "00000000000000000060"
MASTERS = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"
MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"


@dataclass(frozen=True)
class SystemType:
    name: str
    description: str


SYSTEM_TYPES: dict[str, SystemType] = {
    LOCALE: SystemType(
        "Worker_Locale", "The location of the worker, as ISO 3166 codes."
    ),
    NUMBER_HITS_APPROVED: SystemType(
        "Worker_NumberHITsApproved",
        "The number of HITs of all requesters the worker had approved.",
    ),
    PERCENT_ASSIGNMENTS_APPROVED: SystemType(
        "Worker_PercentAssignmentsApproved",
        "The share of the worker's submitted assignments that were approved.",
    ),
    ADULT: SystemType("Worker_Adult", "The worker agreed to see adult content."),
    MASTERS: SystemType("Masters", "Workers who excel across many requesters."),
    MASTERS_SANDBOX: SystemType(
        "Masters (sandbox)", "The sandbox's Masters qualification."
    ),
}

_ONE_INTEGER = {"LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo"}
_ONE_VALUE = {"EqualTo", "NotEqualTo"}
_SET = {"In", "NotIn"}
_PRESENCE = {"Exists", "DoesNotExist"}
MAX_REQUIREMENTS = 10
MAX_SET_INTEGERS = 15
MAX_SET_LOCALES = 30


@dataclass(frozen=True)
class Score:
    """A worker's value for one qualification type, if they have it at all."""

    has: bool
    integer: int | None = None
    locale: Mapping[str, str] | None = None


NO_SCORE = Score(has=False)


def system_score(qualification_type_id: str, worker: Worker) -> Score:
    """The simulated value of a system qualification for ``worker``."""
    if qualification_type_id == LOCALE:
        locale = {"Country": worker.country}
        if worker.subdivision:
            locale["Subdivision"] = worker.subdivision
        return Score(True, locale=locale)
    if qualification_type_id == NUMBER_HITS_APPROVED:
        return Score(True, integer=worker.hits_approved)
    if qualification_type_id == PERCENT_ASSIGNMENTS_APPROVED:
        return Score(True, integer=worker.percent_approved)
    if qualification_type_id in (MASTERS, MASTERS_SANDBOX):
        return Score(True, integer=1) if worker.masters else NO_SCORE
    if qualification_type_id == ADULT:
        return Score(True, integer=1) if worker.adult else NO_SCORE
    return NO_SCORE


def granted_score(qualification: Qualification | None) -> Score:
    """The value a requester granted, unless it was revoked."""
    if qualification is None or qualification.status != "Granted":
        return NO_SCORE
    return Score(True, qualification.integer_value, qualification.locale)


def requires_masters(requirements: list[dict[str, Any]]) -> bool:
    """Whether any requirement is on a Masters qualification."""
    wanted = (MASTERS, MASTERS_SANDBOX)
    return any(r["QualificationTypeId"] in wanted for r in requirements)


def guards_preview(requirement: Mapping[str, Any]) -> bool:
    """Whether workers who fail ``requirement`` may not even preview the HIT."""
    guarded = requirement.get("ActionsGuarded")
    if guarded is not None:
        return bool(guarded in ("PreviewAndAccept", "DiscoverPreviewAndAccept"))
    return bool(requirement.get("RequiredToPreview", False))


def validate_requirements(
    requirements: list[dict[str, Any]],
    type_is_usable: Callable[[str], bool],
) -> None:
    """Refuse requirements MTurk would refuse, naming the offending one."""
    if len(requirements) > MAX_REQUIREMENTS:
        raise EndpointRequestError(
            f"A HIT can have at most {MAX_REQUIREMENTS} QualificationRequirements; "
            f"{len(requirements)} were given."
        )

    for position, requirement in enumerate(requirements, start=1):
        _validate_one(position, requirement, type_is_usable)


def _validate_one(
    position: int,
    requirement: dict[str, Any],
    type_is_usable: Callable[[str], bool],
) -> None:
    type_id = requirement["QualificationTypeId"]
    comparator = requirement["Comparator"]
    integers = requirement.get("IntegerValues") or []
    locales = requirement.get("LocaleValues") or []
    where = f"QualificationRequirement {position} ({type_id}, {comparator})"

    if not type_is_usable(type_id):
        raise EndpointRequestError(
            f"{where}: the QualificationType {type_id} does not exist or is "
            "not active.",
            "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        )

    if integers and locales:
        raise EndpointRequestError(
            f"{where}: give IntegerValues or LocaleValues, not both."
        )
    if "ActionsGuarded" in requirement and "RequiredToPreview" in requirement:
        raise EndpointRequestError(
            f"{where}: ActionsGuarded replaces the deprecated RequiredToPreview; "
            "give only ActionsGuarded."
        )
    if type_id == LOCALE and integers:
        raise EndpointRequestError(
            f"{where}: the Worker_Locale type takes LocaleValues, not IntegerValues."
        )
    if type_id != LOCALE and locales:
        raise EndpointRequestError(
            f"{where}: LocaleValues can only be used with Worker_Locale ({LOCALE})."
        )

    if comparator in _PRESENCE:
        if integers or locales:
            raise EndpointRequestError(
                f"{where}: {comparator} compares no value; drop the values."
            )
    elif comparator in _ONE_INTEGER:
        if len(integers) != 1:
            raise EndpointRequestError(
                f"{where}: {comparator} needs exactly one IntegerValue."
            )
    elif comparator in _ONE_VALUE:
        if len(integers) + len(locales) != 1:
            raise EndpointRequestError(
                f"{where}: {comparator} needs exactly one IntegerValue or LocaleValue."
            )
    elif comparator in _SET:
        if not (integers or locales):
            raise EndpointRequestError(f"{where}: {comparator} needs values.")
        if len(integers) > MAX_SET_INTEGERS or len(locales) > MAX_SET_LOCALES:
            raise EndpointRequestError(
                f"{where}: {comparator} takes at most {MAX_SET_INTEGERS} "
                f"IntegerValues or {MAX_SET_LOCALES} LocaleValues."
            )


def _locale_matches(score: Mapping[str, str] | None, wanted: Mapping[str, Any]) -> bool:
    if score is None or score.get("Country") != wanted.get("Country"):
        return False
    subdivision = wanted.get("Subdivision")
    return subdivision is None or score.get("Subdivision") == subdivision


def meets(requirement: Mapping[str, Any], score: Score) -> bool:
    """Whether a worker with ``score`` satisfies one requirement."""
    comparator = requirement["Comparator"]
    if comparator == "Exists":
        return score.has
    if comparator == "DoesNotExist":
        return not score.has
    if not score.has:
        # MTurk compares values only for workers who hold the qualification.
        return False

    locales = requirement.get("LocaleValues") or []
    if locales:
        hit = any(_locale_matches(score.locale, wanted) for wanted in locales)
        return hit if comparator in ("EqualTo", "In") else not hit

    integers = requirement.get("IntegerValues") or []
    if score.integer is None:
        return False
    value = score.integer
    if comparator == "In":
        return value in integers
    if comparator == "NotIn":
        return value not in integers

    bound: int = integers[0]
    return {
        "LessThan": value < bound,
        "LessThanOrEqualTo": value <= bound,
        "GreaterThan": value > bound,
        "GreaterThanOrEqualTo": value >= bound,
        "EqualTo": value == bound,
        "NotEqualTo": value != bound,
    }[comparator]
