"""Campaign files are validated whole before anything is stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from crowd_bridge.campaign import load_campaign, parse_duration
from crowd_bridge.cli import app
from crowd_bridge.errors import ConfigError, InputDataError
from crowd_bridge.pipeline.register import plan_hits, request_token

DATA = Path(__file__).resolve().parent / "data"


runner = CliRunner()


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "campaign"
    shutil.copytree(DATA / "small", folder)
    return folder


def edit(folder: Path, **changes: object) -> Path:
    path = folder / "campaign.yaml"
    config = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        target = config
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[part]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    path.write_text(yaml.safe_dump(config))
    return path


def test_small_campaign_loads_with_items_and_gold(campaign_dir: Path) -> None:
    campaign = load_campaign(campaign_dir / "campaign.yaml")

    assert len(campaign.items) == 51
    assert sum(item.gold_label is not None for item in campaign.items) == 7
    assert campaign.reward_cents == 50
    assert campaign.budget_cents == 1000
    assert campaign.auto_approval_delay_seconds == 3 * 86400
    assert campaign.classes == ["1", "0"]
    assert campaign.items[0].fields["left_name"]


def test_items_of_one_group_share_a_hit(campaign_dir: Path) -> None:
    campaign = load_campaign(campaign_dir / "campaign.yaml")

    plan = plan_hits(campaign)

    groups = {item.item_id: item.group_key for item in campaign.items}
    assert [len(hit) for hit in plan] == [17, 17, 17]
    for hit in plan:
        assert len({groups[item_id] for item_id in hit}) == 1


def test_hits_short_of_gold_get_gold_from_the_pool(campaign_dir: Path) -> None:
    edit(campaign_dir, items_per_hit=5, gold__per_hit=2)
    campaign = load_campaign(campaign_dir / "campaign.yaml")
    gold = {item.item_id for item in campaign.items if item.gold_label}

    plan = plan_hits(campaign)

    assert all(sum(item_id in gold for item_id in hit) >= 2 for hit in plan)
    assert sum(len(hit) for hit in plan) > 51


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"reward": "-0.50"}, "field 'reward'"),
        ({"reward": "0.9752"}, "at most two decimals"),
        (
            {
                "review__bonus_tiers": [
                    {
                        "name": "top",
                        "min_gold_accuracy": 0.9,
                        "min_gold_answers": 5,
                        "amount": "0.9752",
                    }
                ]
            },
            "review.bonus_tiers.top': '0.9752' is not a dollar amount",
        ),
        ({"template": "nope.html.j2"}, "no template 'nope.html.j2'"),
        ({"items__id_column": "missing_column"}, "lacks column(s) missing_column"),
        ({"assignments_per_hit": None}, "field 'assignments_per_hit': is required"),
        ({"colour": "blue"}, "field 'colour': is not a campaign setting"),
        ({"lifetime": "10s"}, "outside 30..31536000"),
        ({"schedule": "hourly.yaml"}, "no schedule 'hourly.yaml'"),
        ({"budget": "1.00"}, "cannot pay for one HIT ($1.80"),
        ({"review__approve_after": "4d"}, "make approve_after shorter"),
        ({"review__block_below_accuracy": 0.7}, "Lower block_below_accuracy"),
        ({"gold__per_hit": 17}, "make per_hit smaller than items_per_hit"),
        (
            {"qualifications": [{"type": "NotAQual", "comparator": "Exists"}]},
            "'NotAQual' is neither a system qualification",
        ),
        (
            {"qualifications": [{"type": "Locale", "comparator": "In"}]},
            "Locale compares locales",
        ),
    ],
)
def test_bad_campaign_is_refused_with_the_field_named(
    campaign_dir: Path, change: dict[str, object], expected: str
) -> None:
    path = edit(campaign_dir, **change)

    with pytest.raises((ConfigError, InputDataError)) as raised:
        load_campaign(path)

    assert expected in str(raised.value)


def test_gold_file_with_unknown_item_names_the_row(campaign_dir: Path) -> None:
    gold = campaign_dir / "gold.csv"
    gold.write_text(gold.read_text() + "P99999,1\n")

    with pytest.raises(InputDataError) as raised:
        load_campaign(campaign_dir / "campaign.yaml")

    assert "row 9" in str(raised.value)
    assert "'P99999' is not in the items file" in str(raised.value)


def test_gold_label_outside_the_task_labels_is_refused(campaign_dir: Path) -> None:
    gold = campaign_dir / "gold.csv"
    gold.write_text(gold.read_text().replace("P00590,0", "P00590,maybe"))

    with pytest.raises(InputDataError, match="'maybe' is not one of the task's labels"):
        load_campaign(campaign_dir / "campaign.yaml")


def test_duplicate_item_ids_are_refused(campaign_dir: Path) -> None:
    items = campaign_dir / "items.csv"
    lines = items.read_text().splitlines()
    items.write_text("\n".join([*lines, lines[1]]) + "\n")

    with pytest.raises(InputDataError, match="row 53: item id 'P00039' repeats row 2"):
        load_campaign(campaign_dir / "campaign.yaml")


def test_cli_validate_exits_non_zero_and_stores_nothing(
    campaign_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = edit(campaign_dir, reward="-1")
    database = tmp_path / "state.db"
    monkeypatch.setenv("CROWD_BRIDGE_DATABASE_URL", f"sqlite:///{database}")

    validated = runner.invoke(app, ["campaign", "validate", str(path)])
    registered = runner.invoke(app, ["campaign", "register", str(path)])

    assert validated.exit_code == 2
    assert "reward" in validated.output
    assert registered.exit_code == 2
    assert not database.exists()


def test_cli_validate_reports_the_plan(campaign_dir: Path) -> None:
    result = runner.invoke(
        app, ["campaign", "validate", str(campaign_dir / "campaign.yaml")]
    )

    assert result.exit_code == 0, result.output
    assert "51 items (7 gold) in 3 HITs" in " ".join(result.output.split())


def test_numbers_and_integer_label_keys_read_as_text(campaign_dir: Path) -> None:
    path = edit(campaign_dir, reward=0.25, budget=20)
    text = path.read_text().replace("'0': Different", "0: Different")
    path.write_text(text.replace("'1': Same", "1: Same"))

    campaign = load_campaign(path)

    assert campaign.reward_cents == 25
    assert campaign.budget_cents == 2000
    assert set(campaign.classes) == {"0", "1"}


def test_without_groups_gold_fills_each_hit_to_its_size(campaign_dir: Path) -> None:
    edit(campaign_dir, items__group_column=None, items_per_hit=5, gold__per_hit=1)
    campaign = load_campaign(campaign_dir / "campaign.yaml")
    gold = {item.item_id for item in campaign.items if item.gold_label}

    plan = plan_hits(campaign)

    assert len(plan) == 11  # 44 items to label, four to a HIT
    assert all(len(hit) == 5 for hit in plan[:-1])
    assert all(sum(item_id in gold for item_id in hit) == 1 for hit in plan)


def test_durations() -> None:
    assert parse_duration("90", field="x") == 90
    assert parse_duration("30m", field="x") == 1800
    assert parse_duration("7d", field="x") == 604800
    with pytest.raises(ConfigError, match="x: '1 week' is not a duration"):
        parse_duration("1 week", field="x")


def test_request_tokens_are_stable_and_short() -> None:
    first = request_token("campaign", "hit", "1")

    assert first == request_token("campaign", "hit", "1")
    assert first != request_token("campaign", "hit", "2")
    assert len(first) <= 64
