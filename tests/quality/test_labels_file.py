"""``aggregate_file``: reading, checking and writing label files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crowd_bridge.errors import InputDataError
from crowd_bridge.labels import aggregate_file
from crowd_bridge.refine import RefineConfig

ANSWERS = """item_id,worker_id,answer,work_time_seconds
a,w1,yes,10
a,w2,yes,12
a,w3,no,9
b,w1,no,11
b,w2,no,8
b,w3,no,7
c,w1,yes,5
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_writes_item_label_confidence(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", ANSWERS)
    out = tmp_path / "out" / "labels.csv"
    summary = aggregate_file(answers, out, method="majority")
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["item_id", "label", "confidence"]
    assert frame["label"].tolist() == ["yes", "no", "yes"]
    assert frame["confidence"].round(4).tolist() == [0.6667, 1.0, 1.0]
    assert summary.n_items == 3 and summary.n_workers == 3
    assert summary.label_counts == {"yes": 2, "no": 1}
    assert [p.name for p in out.parent.iterdir()] == ["labels.csv"]


def test_refined_without_items_falls_back_to_crowd(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", ANSWERS)
    gold = write(tmp_path, "gold.csv", "item_id,label\nc,no\n")
    workers = tmp_path / "workers.csv"
    summary = aggregate_file(
        answers, tmp_path / "labels.csv", gold_path=gold, workers_out_path=workers
    )
    frame = pd.read_csv(tmp_path / "labels.csv").set_index("item_id")
    assert summary.method == "crowd"
    assert frame.loc["c", "label"] == "no"
    assert frame.loc["c", "confidence"] == 1.0
    assert pd.read_csv(workers)["seconds_per_answer"].tolist() == [10.0, 10.0, 8.0]


def test_refined_with_items_uses_the_texts(tmp_path: Path) -> None:
    rows = ["item_id,worker_id,answer"]
    items = ["item_id,left,right"]
    for i in range(30):
        same = i % 2
        other = f"Sony DSC-{i}00" if same else f"Bose X{i}"
        items.append(f"p{i},Sony Camera DSC{i}00,{other}")
        for w in range(3):
            rows.append(f"p{i},w{(i + w) % 5},{same if (i + w) % 4 else 1 - same}")
    answers = write(tmp_path, "answers.csv", "\n".join(rows) + "\n")
    items_csv = write(tmp_path, "items.csv", "\n".join(items) + "\n")
    summary = aggregate_file(
        answers,
        tmp_path / "labels.csv",
        items_path=items_csv,
        text_columns=["left", "right"],
        config=RefineConfig(use_encoder=False, head="gbm", n_folds=3),
    )
    assert summary.method == "refined"
    assert summary.n_items == 30
    assert "model_seconds" in summary.details


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("item_id,worker_id,answer\n", "has a header but no answers"),
        ("item_id,answer\na,1\n", r"lacks the column\(s\) \['worker_id'\]"),
        (
            "item_id,worker_id,answer\na,w1,1\nb,w1,0\na,w1,0\n",
            r"same worker on the same item on line\(s\) 2, 4 "
            r"\(e.g. worker w1 on item a\)",
        ),
        ("item_id,worker_id,answer\na,w1,1\nb,,0\n", r"empty worker_id on line\(s\) 3"),
        (
            "item_id,worker_id,answer,work_time_seconds\na,w1,1,fast\n",
            r"work_time_seconds .* line\(s\) 2",
        ),
    ],
)
def test_bad_answers_files_are_named_precisely(
    tmp_path: Path, text: str, message: str
) -> None:
    answers = write(tmp_path, "answers.csv", text)
    with pytest.raises(InputDataError, match=message) as error:
        aggregate_file(answers, tmp_path / "labels.csv", method="majority")
    assert str(answers) in str(error.value)
    assert not (tmp_path / "labels.csv").exists()


def test_answers_outside_the_class_set(tmp_path: Path) -> None:
    answers = write(
        tmp_path, "answers.csv", "item_id,worker_id,answer\na,w1,1\nb,w1,7\n"
    )
    with pytest.raises(
        InputDataError, match=r"\['7'\] outside the classes .* line\(s\) 3"
    ):
        aggregate_file(
            answers, tmp_path / "x.csv", method="dawid-skene", classes=["0", "1"]
        )


def test_missing_file_and_bad_text_columns(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="does not exist"):
        aggregate_file(tmp_path / "nope.csv", tmp_path / "x.csv")
    answers = write(tmp_path, "answers.csv", ANSWERS)
    items = write(tmp_path, "items.csv", "item_id,title\na,x\n")
    with pytest.raises(
        InputDataError, match=r"items file .* lacks the column\(s\) \['body'\]"
    ):
        aggregate_file(
            answers, tmp_path / "x.csv", items_path=items, text_columns=["body"]
        )
    gold = write(tmp_path, "gold.csv", "item_id,label\na,yes\na,no\n")
    with pytest.raises(InputDataError, match="different labels to the same item"):
        aggregate_file(answers, tmp_path / "x.csv", gold_path=gold)


def test_existing_output_survives_a_failed_run(tmp_path: Path) -> None:
    out = write(tmp_path, "labels.csv", "item_id,label,confidence\nold,1,1.0\n")
    bad = write(tmp_path, "answers.csv", "item_id,worker_id\n")
    with pytest.raises(InputDataError):
        aggregate_file(bad, out)
    assert out.read_text() == "item_id,label,confidence\nold,1,1.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.csv", "labels.csv"]


def test_unknown_method(tmp_path: Path) -> None:
    answers = write(tmp_path, "answers.csv", ANSWERS)
    with pytest.raises(InputDataError, match="Unknown method 'best'"):
        aggregate_file(answers, tmp_path / "x.csv", method="best")
