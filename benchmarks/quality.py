"""Label quality and aggregation speed, measured on the bundled Abt-Buy data.

Run with ``make bench-quality`` (or ``.venv/bin/python benchmarks/quality.py``).

1. Quality: every aggregator and the model-assisted refinement on the real
   crowd answers of the Abt-Buy product-matching campaign. Up to 800 pairs
   drawn (seeded) from the dev truth serve as gold items; accuracy and
   match-class F1 are measured on the remaining dev pairs only.
2. Baselines, when ``.bench-venv`` has crowd-kit and cleanlab: crowd-kit's
   majority vote, Dawid-Skene, GLAD and MACE on the same answers, and
   cleanlab's CROWDLAB fed with our cross-fitted model probabilities.
3. Scale: our Dawid-Skene against crowd-kit's on a synthetic campaign of
   5,000,000 answers (1,000,000 items x 5, 3 classes, 2,000 workers with
   random confusion matrices, 10% spammers), each in its own subprocess so
   that peak memory (VmHWM) is measured fairly; both run the same
   number of EM rounds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crowd_bridge.aggregation import (  # noqa: E402
    GLAD,
    MACE,
    DawidSkene,
    MajorityVote,
    OneCoin,
)
from crowd_bridge.refine import RefineConfig, refine_labels  # noqa: E402

DATA = ROOT / "examples" / "abt_buy" / "data"
BENCH_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
RUNNER = ROOT / "benchmarks" / "crowdkit_runner.py"
FIELDS = ("name", "description", "price")


def load_abt_buy(n_gold: int = 800, seed: int = 0) -> dict:
    """Answers, pair texts, seeded gold draw and the held-out evaluation truth."""
    products = pd.read_csv(DATA / "products.csv", dtype=str).set_index("record_id")
    products = products.fillna("")
    pairs = pd.read_csv(DATA / "pairs.csv", dtype=str)
    answers = pd.read_csv(DATA / "answers.csv", dtype={"pair_id": str})
    answers = answers.rename(columns={"pair_id": "item_id"})
    truth = pd.read_csv(DATA / "truth_dev.csv", dtype={"pair_id": str})
    left = products.loc[pairs["left_record_id"], list(FIELDS)].to_numpy()
    right = products.loc[pairs["right_record_id"], list(FIELDS)].to_numpy()
    texts = {
        pid: tuple(lrow) + tuple(rrow)
        for pid, lrow, rrow in zip(pairs["pair_id"], left, right, strict=True)
    }
    rng = np.random.default_rng(seed)
    gold_rows = rng.choice(len(truth), size=min(n_gold, len(truth)), replace=False)
    gold = dict(
        zip(
            truth["pair_id"].iloc[gold_rows],
            truth["is_match"].iloc[gold_rows],
            strict=True,
        )
    )
    held_out = truth.drop(truth.index[gold_rows]).set_index("pair_id")["is_match"]
    return {"answers": answers, "texts": texts, "gold": gold, "truth": held_out}


def score(labels: pd.Series, truth: pd.Series) -> tuple[float, float]:
    """Accuracy and F1 of class 1 on the evaluation pairs."""
    predicted = labels.reindex(truth.index).astype(int).to_numpy()
    actual = truth.to_numpy().astype(int)
    tp = int(((predicted == 1) & (actual == 1)).sum())
    fp = int(((predicted == 1) & (actual == 0)).sum())
    fn = int(((predicted == 0) & (actual == 1)).sum())
    return float((predicted == actual).mean()), 2 * tp / max(2 * tp + fp + fn, 1)


def quality(data: dict, crowdkit: bool) -> None:
    answers, gold, truth = data["answers"], data["gold"], data["truth"]
    print(
        f"Abt-Buy: {len(answers)} answers, {answers['item_id'].nunique()} pairs, "
        f"{len(gold)} gold pairs; evaluated on {len(truth)} dev pairs not in gold"
    )
    print(f"{'method':52s} {'accuracy':>9s} {'match F1':>9s} {'seconds':>8s}")
    rows: list[tuple[str, float, float, float]] = []

    def report(name: str, labels: pd.Series, seconds: float) -> None:
        acc, f1 = score(labels, truth)
        rows.append((name, acc, f1, seconds))
        print(f"{name:52s} {acc:9.4f} {f1:9.4f} {seconds:8.2f}", flush=True)

    aggregators = [
        ("majority vote", MajorityVote(), True),
        ("one-coin EM", OneCoin(), True),
        ("MACE", MACE(), True),
        ("GLAD", GLAD(), True),
        (
            "Dawid-Skene, classic (no priors, no gold)",
            DawidSkene(prior_correct=0.0, prior_wrong=0.0),
            False,
        ),
        (
            "Dawid-Skene, classic + gold",
            DawidSkene(prior_correct=0.0, prior_wrong=0.0),
            True,
        ),
        ("Dawid-Skene, Dirichlet priors + gold", DawidSkene(), True),
    ]
    for name, model, use_gold in aggregators:
        started = time.perf_counter()
        model.fit_frame(answers, classes=[0, 1], gold=gold if use_gold else None)
        result = model.result_frame().set_index("item_id")["label"]
        report(f"ours: {name}", result, time.perf_counter() - started)

    refined = None
    variants = [
        ("refined (default: MiniLM + lexical, gbm+mlp)", RefineConfig(), gold),
        ("refined, gbm head only", RefineConfig(head="gbm"), gold),
        ("refined, mlp head only", RefineConfig(head="mlp"), gold),
        ("refined, lexical only (no encoder)", RefineConfig(use_encoder=False), gold),
        ("refined, weights not fitted on gold", RefineConfig(fit_weights=False), gold),
        ("refined without any gold", RefineConfig(), None),
    ]
    for name, config, use_gold in variants:
        started = time.perf_counter()
        out = refine_labels(answers, data["texts"], use_gold, [0, 1], config)
        seconds = time.perf_counter() - started
        report(f"ours: {name}", out.labels.set_index("item_id")["label"], seconds)
        if refined is None:
            refined = out
            info = out.info
            print(
                f"    evidence weights: crowd {info.get('crowd_weight', 1):.2f}, "
                f"model {info.get('model_weight', 1):.2f}"
            )
    if crowdkit:
        run_crowdkit(data, refined, report)


def run_crowdkit(data: dict, refined, report) -> None:  # noqa: ANN001
    if not BENCH_PYTHON.exists():
        print("(crowd-kit baselines skipped: .bench-venv not found)")
        return
    labels = refined.labels
    with tempfile.TemporaryDirectory() as tmp:
        answers_csv = Path(tmp) / "answers.csv"
        data["answers"][["item_id", "worker_id", "answer"]].to_csv(
            answers_csv, index=False
        )
        items_json = Path(tmp) / "items.json"
        items_json.write_text(json.dumps([str(i) for i in labels["item_id"]]))
        probs = labels[["model_proba_0", "model_proba_1"]].to_numpy()
        np.save(Path(tmp) / "probs.npy", probs)
        job = {
            "mode": "aggregate",
            "answers": str(answers_csv),
            "items": str(items_json),
            "pred_probs": str(Path(tmp) / "probs.npy"),
            "methods": [
                "crowdkit_mv",
                "crowdkit_ds",
                "crowdkit_glad",
                "crowdkit_mace",
                "cleanlab_crowdlab",
            ],
        }
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job_path.write_text(json.dumps(job))
        proc = subprocess.run(
            [str(BENCH_PYTHON), str(RUNNER), str(job_path), str(out_path)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print("(crowd-kit baselines failed:)\n" + proc.stderr[-2000:])
            return
        results = json.loads(out_path.read_text())
    for name, result in results.items():
        series = pd.Series(result["labels"], index=result["items"]).astype(int)
        title = {
            "crowdkit_mv": "crowd-kit: majority vote",
            "crowdkit_ds": "crowd-kit: Dawid-Skene",
            "crowdkit_glad": "crowd-kit: GLAD",
            "crowdkit_mace": "crowd-kit: MACE",
            "cleanlab_crowdlab": "cleanlab: CROWDLAB with our model",
        }[name]
        report(title, series, result["seconds"])


def _peak_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    ``VmHWM`` belongs to the process's own address space, so unlike
    ``ru_maxrss`` (which Linux carries over from the parent across fork and
    exec) it is not inflated by whatever the launching process had loaded.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_synthetic(path: Path, n_items: int, per_item: int, seed: int = 0) -> None:
    """Synthetic campaign: random confusion matrices, 10% uniform spammers."""
    rng = np.random.default_rng(seed)
    n_workers, n_classes = 2000, 3
    truth = rng.choice(n_classes, size=n_items, p=[0.5, 0.3, 0.2])
    confusions = rng.dirichlet(np.ones(n_classes), size=(n_workers, n_classes))
    skill = rng.uniform(0.5, 0.95, size=n_workers)
    eye = np.eye(n_classes)[None]
    confusions = skill[:, None, None] * eye + (1 - skill[:, None, None]) * confusions
    spammers = rng.random(n_workers) < 0.1
    confusions[spammers] = 1.0 / n_classes
    items = np.repeat(np.arange(n_items), per_item)
    workers = rng.integers(0, n_workers, size=len(items))
    cumulative = confusions[workers, truth[items]].cumsum(axis=1)
    labels = (rng.random(len(items))[:, None] > cumulative).sum(axis=1)
    np.savez(path, items=items, workers=workers, labels=labels, truth=truth)


def scale_child(data_path: str, out_path: str, n_iter: int) -> None:
    """Our Dawid-Skene on the synthetic campaign, run in a fresh process."""
    arrays = np.load(data_path)
    items, workers, labels = arrays["items"], arrays["workers"], arrays["labels"]
    baseline = _peak_mib()
    started = time.perf_counter()
    model = DawidSkene(max_iter=n_iter, tol=0.0, prior_correct=0, prior_wrong=0)
    model.fit(items, workers, labels)
    seconds = time.perf_counter() - started
    peak = _peak_mib()
    accuracy = float((model.labels_ == arrays["truth"]).mean())
    Path(out_path).write_text(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mib": peak,
                "baseline_mib": baseline,
                "accuracy": accuracy,
            }
        )
    )


def scale(n_items: int, per_item: int, n_iter: int, crowdkit: bool) -> None:
    print(
        f"\nScale: {n_items * per_item:,} answers ({n_items:,} items x {per_item}, "
        f"3 classes, 2,000 workers), {n_iter} EM rounds each"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "synthetic.npz"
        make_synthetic(data_path, n_items, per_item)
        ours_out = Path(tmp) / "ours.json"
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--scale-child",
                str(data_path),
                str(ours_out),
                str(n_iter),
            ],
            check=True,
        )
        ours = json.loads(ours_out.read_text())
        print(
            f"ours:      {ours['seconds']:7.2f} s, "
            f"peak RSS {ours['peak_mib']:7.0f} MiB "
            f"(of which {ours['baseline_mib']:.0f} MiB before fitting), "
            f"accuracy vs truth {ours['accuracy']:.4f}"
        )
        if not crowdkit or not BENCH_PYTHON.exists():
            print("(crowd-kit comparison skipped: .bench-venv not found)")
            return
        job_path, ck_out = Path(tmp) / "job.json", Path(tmp) / "ck.json"
        labels_out = Path(tmp) / "ck_labels.npy"
        job_path.write_text(
            json.dumps(
                {
                    "mode": "scale",
                    "data": str(data_path),
                    "n_iter": n_iter,
                    "labels_out": str(labels_out),
                }
            )
        )
        subprocess.run(
            [str(BENCH_PYTHON), str(RUNNER), str(job_path), str(ck_out)], check=True
        )
        theirs = json.loads(ck_out.read_text())
        truth = np.load(data_path)["truth"]
        their_acc = float((np.load(labels_out, allow_pickle=True) == truth).mean())
        print(
            f"crowd-kit: {theirs['seconds']:7.2f} s, "
            f"peak RSS {theirs['peak_mib']:7.0f} MiB "
            f"(of which {theirs['baseline_mib']:.0f} MiB before fitting), "
            f"accuracy vs truth {their_acc:.4f}"
        )
        ours_extra = ours["peak_mib"] - ours["baseline_mib"]
        their_extra = theirs["peak_mib"] - theirs["baseline_mib"]
        print(
            f"speed-up {theirs['seconds'] / ours['seconds']:.1f}x; peak RSS ratio "
            f"{theirs['peak_mib'] / ours['peak_mib']:.1f}x; memory added while fitting "
            f"{their_extra:.0f} MiB vs {ours_extra:.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-crowdkit", action="store_true")
    parser.add_argument("--scale-items", type=int, default=1_000_000)
    parser.add_argument("--scale-per-item", type=int, default=5)
    parser.add_argument("--scale-iter", type=int, default=20)
    parser.add_argument("--scale-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if args.scale_child:
        scale_child(args.scale_child[0], args.scale_child[1], int(args.scale_child[2]))
        return
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.skip_quality:
        quality(load_abt_buy(), crowdkit=not args.skip_crowdkit)
    if not args.skip_scale:
        scale(
            args.scale_items,
            args.scale_per_item,
            args.scale_iter,
            crowdkit=not args.skip_crowdkit,
        )


if __name__ == "__main__":
    main()
