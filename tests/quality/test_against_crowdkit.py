"""Our aggregators against crowd-kit's on the same answers.

crowd-kit pins an older scikit-learn, so it is not installed in the project's
venv; these tests run it through ``benchmarks/crowdkit_runner.py`` with the
python of ``.bench-venv`` and are skipped when that venv is missing. Create
it with:

    python3 -m venv .bench-venv
    .bench-venv/bin/pip install crowd-kit==1.4.2 'scikit-learn<1.6' cleanlab
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowd_bridge.aggregation import GLAD, MACE, DawidSkene, MajorityVote

ROOT = Path(__file__).resolve().parents[2]
BENCH_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
RUNNER = ROOT / "benchmarks" / "crowdkit_runner.py"


def _crowdkit_available() -> bool:
    if not BENCH_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(BENCH_PYTHON), "-c", "import crowdkit"], capture_output=True
    )
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _crowdkit_available(), reason="crowd-kit not importable from .bench-venv"
)


def synthetic_answers(seed: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    """600 binary items x 5 answers from 40 workers of mixed quality."""
    rng = np.random.default_rng(seed)
    n_items, n_workers = 600, 40
    truth = (rng.random(n_items) < 0.3).astype(int)
    sensitivity = rng.uniform(0.55, 0.95, n_workers)
    specificity = rng.uniform(0.6, 0.98, n_workers)
    spammers = rng.choice(n_workers, 5, replace=False)
    sensitivity[spammers] = specificity[spammers] = 0.5
    rows = []
    for i in range(n_items):
        for w in rng.choice(n_workers, 5, replace=False):
            right = sensitivity[w] if truth[i] else specificity[w]
            answer = truth[i] if rng.random() < right else 1 - truth[i]
            rows.append((f"i{i}", f"w{w}", int(answer)))
    return pd.DataFrame(rows, columns=["item_id", "worker_id", "answer"]), truth


@pytest.fixture(scope="module")
def crowdkit_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("crowdkit")
    answers, _ = synthetic_answers()
    answers.to_csv(tmp / "answers.csv", index=False)
    job = {
        "mode": "aggregate",
        "answers": str(tmp / "answers.csv"),
        "methods": ["crowdkit_mv", "crowdkit_ds", "crowdkit_glad", "crowdkit_mace"],
    }
    (tmp / "job.json").write_text(json.dumps(job))
    subprocess.run(
        [str(BENCH_PYTHON), str(RUNNER), str(tmp / "job.json"), str(tmp / "out.json")],
        check=True,
        capture_output=True,
        timeout=600,
    )
    out = json.loads((tmp / "out.json").read_text())
    return {
        name: pd.DataFrame(
            {"label": [int(x) for x in r["labels"]], "proba_1": r["proba_1"]},
            index=r["items"],
        )
        for name, r in out.items()
    }


def ours(model_cls: type, **params: float) -> pd.DataFrame:
    answers, _ = synthetic_answers()
    model = model_cls(**params).fit_frame(answers, classes=[0, 1])
    frame = model.result_frame().set_index("item_id")
    frame["proba_1"] = model.probas_[:, 1]
    return frame


def test_dawid_skene_matches_crowdkit(crowdkit_results: dict) -> None:
    theirs = crowdkit_results["crowdkit_ds"]
    mine = ours(DawidSkene, prior_correct=0.0, prior_wrong=0.0).reindex(theirs.index)
    assert (mine["label"] == theirs["label"]).mean() >= 0.995
    assert np.abs(mine["proba_1"] - theirs["proba_1"]).mean() < 0.01


def test_majority_vote_matches_crowdkit(crowdkit_results: dict) -> None:
    theirs = crowdkit_results["crowdkit_mv"]
    mine = ours(MajorityVote).reindex(theirs.index)
    # Five answers per item: never a tie, so labels must agree exactly.
    assert (mine["label"] == theirs["label"]).all()
    np.testing.assert_allclose(mine["proba_1"], theirs["proba_1"])


@pytest.mark.parametrize(
    ("name", "cls"), [("crowdkit_glad", GLAD), ("crowdkit_mace", MACE)]
)
def test_glad_and_mace_agree_with_crowdkit(
    crowdkit_results: dict, name: str, cls: type
) -> None:
    # crowd-kit's MACE is variational Bayes with random restarts and ours is
    # MAP-EM, so labels differ on borderline items; accuracy must not.
    _, truth = synthetic_answers()
    index = [f"i{i}" for i in range(len(truth))]
    theirs = crowdkit_results[name].reindex(index)
    mine = ours(cls).reindex(index)
    assert (mine["label"].astype(int) == theirs["label"]).mean() >= 0.93
    our_acc = (mine["label"].astype(int).to_numpy() == truth).mean()
    their_acc = (theirs["label"].to_numpy() == truth).mean()
    assert our_acc >= their_acc - 0.01


def test_our_dawid_skene_is_at_least_as_accurate(crowdkit_results: dict) -> None:
    _, truth = synthetic_answers()
    theirs = crowdkit_results["crowdkit_ds"]
    index = [f"i{i}" for i in range(len(truth))]
    their_acc = (theirs["label"].reindex(index).to_numpy() == truth).mean()
    our_acc = (ours(DawidSkene)["label"].reindex(index).to_numpy() == truth).mean()
    assert our_acc >= their_acc - 0.005
