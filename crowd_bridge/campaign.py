"""Campaign files: what a requester writes, validated before anything is stored.

A campaign is a YAML file. Paths inside it are relative to the file. Loading
checks the configuration, the items file and the gold file together and
raises one ``ConfigError`` or ``InputDataError`` that names the file, the
field or row, and the fix; nothing reaches the state database before that.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crowd_bridge.errors import ConfigError, InputDataError
from crowd_bridge.money import FeeSchedule, parse_dollars

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "hit_templates"
SCHEDULE_DIR = Path(__file__).resolve().parent.parent / "schedules"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_CAMPAIGN_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

# MTurk's system qualification types, by the names requesters use.
SYSTEM_QUALIFICATIONS = {
    "Masters": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH",
    "NumberHITsApproved": "00000000000000000040",
    "Locale": "00000000000000000071",
    "PercentAssignmentsApproved": "000000000000000000L0",
}
MASTERS_TYPE_IDS = {"2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"}


def parse_duration(value: str | int, *, field: str) -> int:
    """Seconds from ``90``, ``"30m"``, ``"12h"`` or ``"7d"``."""
    if isinstance(value, int):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(
            f"{field}: {value!r} is not a duration; write seconds or a number "
            "followed by s, m, h or d (for example 3d)."
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _amount_text(value: object) -> object:
    """Let ``reward: 0.25`` (a YAML number) stand for the text "0.25"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return value


class TaskConfig(_Strict):
    kind: Literal["binary", "categorical"] = "binary"
    question: str = Field(min_length=1)
    labels: dict[str, str] = Field(min_length=2)
    instructions: str = ""

    @field_validator("labels", mode="before")
    @classmethod
    def _keys_as_text(cls, labels: object) -> object:
        # YAML reads `1: Same product` with an integer key; it means "1".
        if isinstance(labels, dict):
            return {str(key): value for key, value in labels.items()}
        return labels

    @field_validator("labels")
    @classmethod
    def _binary_has_two(cls, labels: dict[str, str]) -> dict[str, str]:
        for value in labels:
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
                raise ValueError(
                    f"label value {value!r} may only use letters, digits, '_', '.' "
                    "and '-' (it is what the form sends back)"
                )
        return labels


class ItemsConfig(_Strict):
    path: str
    id_column: str
    fields: list[str] = Field(min_length=1)
    text_columns: list[str] = Field(default_factory=list)
    group_column: str | None = None


class GoldConfig(_Strict):
    path: str
    id_column: str
    label_column: str
    per_hit: int = Field(default=1, ge=0, le=20)


class QualificationConfig(_Strict):
    type: str
    comparator: Literal[
        "LessThan",
        "LessThanOrEqualTo",
        "GreaterThan",
        "GreaterThanOrEqualTo",
        "EqualTo",
        "NotEqualTo",
        "Exists",
        "DoesNotExist",
        "In",
        "NotIn",
    ]
    values: list[int] = Field(default_factory=list)
    locales: list[str] = Field(default_factory=list)
    actions_guarded: Literal[
        "Accept", "PreviewAndAccept", "DiscoverPreviewAndAccept"
    ] = "Accept"

    def to_api(self) -> dict[str, Any]:
        """The QualificationRequirement structure the Requester API takes."""
        type_id = SYSTEM_QUALIFICATIONS.get(self.type, self.type)
        requirement: dict[str, Any] = {
            "QualificationTypeId": type_id,
            "Comparator": self.comparator,
            "ActionsGuarded": self.actions_guarded,
        }
        if self.values:
            requirement["IntegerValues"] = list(self.values)
        if self.locales:
            requirement["LocaleValues"] = [_locale(text) for text in self.locales]
        return requirement


def _locale(text: str) -> dict[str, str]:
    country, _, subdivision = text.partition("-")
    locale = {"Country": country}
    if subdivision:
        locale["Subdivision"] = subdivision
    return locale


class BonusTier(_Strict):
    """A bonus per approved assignment for workers whose gold accuracy is proven."""

    name: str
    min_gold_accuracy: float = Field(ge=0, le=1)
    min_gold_answers: int = Field(ge=1)
    amount: str

    _amount = field_validator("amount", mode="before")(_amount_text)


class ReviewConfig(_Strict):
    """When to approve, reject, block and bonus, and on what evidence."""

    min_gold_answers: int = Field(default=5, ge=1)
    reject_below_accuracy: float = Field(default=0.5, ge=0, le=1)
    block_below_accuracy: float = Field(default=0.4, ge=0, le=1)
    approve_after: str = "1h"
    bonus_tiers: list[BonusTier] = Field(default_factory=list)
    extra_assignments_below_confidence: float = Field(default=0.0, ge=0, le=1)
    max_extra_assignments_per_hit: int = Field(default=0, ge=0, le=10)


class CampaignConfig(_Strict):
    name: str
    title: str = Field(min_length=1, max_length=128)
    description: str = Field(min_length=1, max_length=2000)
    keywords: str = Field(default="", max_length=1000)
    task: TaskConfig
    items: ItemsConfig
    template: str
    items_per_hit: int = Field(ge=1, le=200)
    gold: GoldConfig | None = None
    assignments_per_hit: int = Field(ge=1, le=1_000_000)
    reward: str
    budget: str
    lifetime: str | int = "7d"
    assignment_duration: str | int = "1h"
    auto_approval_delay: str | int = "3d"
    qualifications: list[QualificationConfig] = Field(
        default_factory=list, max_length=10
    )
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    schedule: str = "default.yaml"
    endpoint_url: str | None = None

    _amounts = field_validator("reward", "budget", mode="before")(_amount_text)

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, name: str) -> str:
        if not _CAMPAIGN_NAME.match(name):
            raise ValueError(
                "use 1-40 lower-case letters, digits, '-' or '_', starting with a "
                "letter or digit"
            )
        return name


@dataclass(frozen=True)
class CampaignItem:
    item_id: str
    fields: dict[str, str]
    group_key: str | None
    gold_label: str | None


@dataclass(frozen=True)
class Campaign:
    """A validated campaign with its items, ready to register."""

    config: CampaignConfig
    source: Path
    items: list[CampaignItem]
    reward_cents: int
    budget_cents: int
    lifetime_seconds: int
    assignment_duration_seconds: int
    auto_approval_delay_seconds: int
    approve_after_seconds: int
    bonus_cents: dict[str, int]

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def classes(self) -> list[str]:
        return list(self.config.task.labels)

    @property
    def masters(self) -> bool:
        return any(
            SYSTEM_QUALIFICATIONS.get(q.type, q.type) in MASTERS_TYPE_IDS
            for q in self.config.qualifications
        )

    def config_json(self) -> str:
        return json.dumps(self.config.model_dump(mode="json"), sort_keys=True)

    def fingerprint(self) -> str:
        """A digest of the configuration and every item, to spot edits."""
        digest = hashlib.sha256(self.config_json().encode())
        for item in self.items:
            digest.update(
                json.dumps([item.item_id, item.fields, item.gold_label]).encode()
            )
        return digest.hexdigest()


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file with its items and gold files."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"{source}: no such campaign file.")
    try:
        with source.open(encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of campaign settings.")
    try:
        config = CampaignConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe_validation(source, error)) from None

    def where(field: str) -> str:
        return f"{source}: field '{field}'"

    reward_cents = parse_dollars(config.reward, field=where("reward"))
    if reward_cents < 1:
        raise ConfigError(f"{where('reward')}: the reward must be at least 0.01.")
    budget_cents = parse_dollars(config.budget, field=where("budget"))
    bonus_cents = {
        tier.name: parse_dollars(
            tier.amount, field=where(f"review.bonus_tiers.{tier.name}")
        )
        for tier in config.review.bonus_tiers
    }
    lifetime = parse_duration(config.lifetime, field=where("lifetime"))
    duration = parse_duration(
        config.assignment_duration, field=where("assignment_duration")
    )
    auto_approval = parse_duration(
        config.auto_approval_delay, field=where("auto_approval_delay")
    )
    approve_after = parse_duration(
        config.review.approve_after, field=where("review.approve_after")
    )
    _check_range(where("lifetime"), lifetime, 30, 31_536_000)
    _check_range(where("assignment_duration"), duration, 30, 31_536_000)
    _check_range(where("auto_approval_delay"), auto_approval, 0, 2_592_000)

    _check_consistency(where, config, approve_after, auto_approval)
    _check_budget(where, config, reward_cents, budget_cents)

    template = TEMPLATE_DIR / config.template
    if not template.is_file():
        known = ", ".join(sorted(p.name for p in TEMPLATE_DIR.glob("*.j2")))
        raise ConfigError(
            f"{where('template')}: no template {config.template!r} in {TEMPLATE_DIR}; "
            f"choose one of: {known}."
        )
    if not (SCHEDULE_DIR / config.schedule).is_file():
        known = ", ".join(sorted(p.name for p in SCHEDULE_DIR.glob("*.yaml")))
        raise ConfigError(
            f"{where('schedule')}: no schedule {config.schedule!r} in {SCHEDULE_DIR}; "
            f"choose one of: {known}."
        )

    items = _read_items(source, config)
    if config.gold is not None:
        items = _attach_gold(source, config, items)
    return Campaign(
        config=config,
        source=source,
        items=items,
        reward_cents=reward_cents,
        budget_cents=budget_cents,
        lifetime_seconds=lifetime,
        assignment_duration_seconds=duration,
        auto_approval_delay_seconds=auto_approval,
        approve_after_seconds=approve_after,
        bonus_cents=bonus_cents,
    )


def _check_consistency(
    where: Callable[[str], str],
    config: CampaignConfig,
    approve_after: int,
    auto_approval: int,
) -> None:
    """Settings that are each valid but contradict one another."""
    if approve_after >= auto_approval:
        raise ConfigError(
            f"{where('review.approve_after')}: review waits {approve_after} s but "
            f"the endpoint approves on its own after {auto_approval} s; make "
            "approve_after shorter than auto_approval_delay."
        )
    review = config.review
    if review.block_below_accuracy > review.reject_below_accuracy:
        raise ConfigError(
            f"{where('review.block_below_accuracy')}: blocking at "
            f"{review.block_below_accuracy} is stricter than rejecting at "
            f"{review.reject_below_accuracy}; a worker must not be blocked for "
            "work that would be approved. Lower block_below_accuracy."
        )
    if config.gold is not None and config.gold.per_hit >= config.items_per_hit:
        raise ConfigError(
            f"{where('gold.per_hit')}: {config.gold.per_hit} gold items leave no "
            f"room in HITs of {config.items_per_hit} items; make per_hit smaller "
            "than items_per_hit."
        )
    for number, requirement in enumerate(config.qualifications):
        field = where(f"qualifications.{number}")
        type_id = SYSTEM_QUALIFICATIONS.get(requirement.type, requirement.type)
        if requirement.type not in SYSTEM_QUALIFICATIONS and not re.fullmatch(
            r"[A-Z0-9]{20,40}", requirement.type
        ):
            raise ConfigError(
                f"{field}: {requirement.type!r} is neither a system qualification "
                f"({', '.join(SYSTEM_QUALIFICATIONS)}) nor a QualificationTypeId."
            )
        needs_values = requirement.comparator not in ("Exists", "DoesNotExist")
        if type_id == SYSTEM_QUALIFICATIONS["Locale"]:
            if needs_values and not requirement.locales:
                raise ConfigError(f"{field}: Locale compares locales; list them.")
        elif needs_values and not requirement.values:
            raise ConfigError(
                f"{field}: {requirement.comparator} needs values to compare with."
            )


def _check_budget(
    where: Callable[[str], str],
    config: CampaignConfig,
    reward_cents: int,
    budget_cents: int,
) -> None:
    masters = any(
        SYSTEM_QUALIFICATIONS.get(q.type, q.type) in MASTERS_TYPE_IDS
        for q in config.qualifications
    )
    size = config.assignments_per_hit
    hit_cost = size * FeeSchedule().assignment_cost(reward_cents, size, masters=masters)
    if budget_cents < hit_cost:
        raise ConfigError(
            f"{where('budget')}: ${budget_cents / 100:,.2f} cannot pay for one HIT "
            f"(${hit_cost / 100:,.2f}: {size} assignments at the reward plus the "
            "platform fee); raise the budget or lower the reward."
        )


def _check_range(where: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{where}: {value} s is outside {low}..{high} seconds.")


def _describe_validation(source: Path, error: ValidationError) -> str:
    lines = [f"{source}: the campaign has {error.error_count()} problem(s):"]
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"]
        if problem["type"] == "missing":
            message = "is required; add it"
        elif problem["type"] == "extra_forbidden":
            message = "is not a campaign setting; remove it or check its spelling"
        lines.append(f"  field '{field}': {message}")
    return "\n".join(lines)


def _read_csv(path: Path, columns: list[str], what: str) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputDataError(f"{path}: the {what} file does not exist.")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [name for name in columns if name not in header]
        if missing:
            raise InputDataError(
                f"{path}: the {what} file lacks column(s) {', '.join(missing)}; "
                f"its columns are {', '.join(header) or '(none)'}."
            )
        rows = list(reader)
    if not rows:
        raise InputDataError(f"{path}: the {what} file has no rows.")
    return rows


def _read_items(source: Path, config: CampaignConfig) -> list[CampaignItem]:
    spec = config.items
    path = (source.parent / spec.path).resolve()
    wanted = [spec.id_column, *spec.fields, *spec.text_columns]
    if spec.group_column:
        wanted.append(spec.group_column)
    rows = _read_csv(path, list(dict.fromkeys(wanted)), "items")
    items: list[CampaignItem] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        item_id = (row[spec.id_column] or "").strip()
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,120}", item_id):
            raise InputDataError(
                f"{path}, row {line}: item id {item_id!r} in column "
                f"'{spec.id_column}' must be 1-120 letters, digits, '_', '.', ':' "
                "or '-'."
            )
        if item_id in seen:
            raise InputDataError(
                f"{path}, row {line}: item id {item_id!r} repeats row {seen[item_id]}; "
                "each item must appear once."
            )
        seen[item_id] = line
        fields = {
            name: row[name] or ""
            for name in dict.fromkeys(spec.fields + spec.text_columns)
        }
        group = (row[spec.group_column] or None) if spec.group_column else None
        items.append(CampaignItem(item_id, fields, group, None))
    return items


def _attach_gold(
    source: Path, config: CampaignConfig, items: list[CampaignItem]
) -> list[CampaignItem]:
    spec = config.gold
    assert spec is not None
    path = (source.parent / spec.path).resolve()
    rows = _read_csv(path, [spec.id_column, spec.label_column], "gold")
    known = {item.item_id for item in items}
    labels = config.task.labels
    gold: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        item_id = (row[spec.id_column] or "").strip()
        label = (row[spec.label_column] or "").strip()
        if item_id not in known:
            raise InputDataError(
                f"{path}, row {line}: gold item {item_id!r} is not in the items file; "
                "remove the row or add the item."
            )
        if label not in labels:
            raise InputDataError(
                f"{path}, row {line}: gold label {label!r} is not one of the task's "
                f"labels ({', '.join(labels)})."
            )
        if item_id in gold:
            raise InputDataError(f"{path}, row {line}: gold item {item_id!r} repeats.")
        gold[item_id] = label
    return [
        CampaignItem(item.item_id, item.fields, item.group_key, gold.get(item.item_id))
        for item in items
    ]
