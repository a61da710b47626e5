"""Runs crowd-kit and cleanlab baselines; executed by the bench venv's python.

crowd-kit pins an older scikit-learn, so it lives in its own virtual
environment (.bench-venv) and this script is the only code that imports it.
It reads a job description (JSON) and writes results (JSON):

* ``{"mode": "aggregate", "answers": CSV, "methods": [...], "pred_probs": NPY?}``
  runs each method on the answers (columns item_id, worker_id, answer) and
  writes per-method labels, probabilities of class 1 and seconds;
* ``{"mode": "scale", "data": NPZ, "n_iter": N}`` runs crowd-kit's
  Dawid-Skene on synthetic coded answers and reports seconds and peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np
import pandas as pd


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


def _aggregate(job: dict) -> dict:
    from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote

    answers = pd.read_csv(job["answers"])
    data = answers.rename(
        columns={"item_id": "task", "worker_id": "worker", "answer": "label"}
    )[["task", "worker", "label"]]
    makers = {
        "crowdkit_mv": lambda: MajorityVote(),
        "crowdkit_ds": lambda: DawidSkene(n_iter=100),
        "crowdkit_glad": lambda: GLAD(n_iter=100),
        "crowdkit_mace": lambda: MACE(n_iter=50, random_state=0),
    }
    out: dict = {}
    for name in job["methods"]:
        if name == "cleanlab_crowdlab":
            out[name] = _crowdlab(answers, job)
            continue
        started = time.perf_counter()
        probas = makers[name]().fit_predict_proba(data)
        seconds = time.perf_counter() - started
        positive = probas.get(1, probas.get("1"))
        out[name] = {
            "items": [str(i) for i in probas.index],
            "labels": [str(x) for x in probas.idxmax(axis=1)],
            "proba_1": positive.tolist() if positive is not None else None,
            "seconds": seconds,
        }
    return out


def _crowdlab(answers: pd.DataFrame, job: dict) -> dict:
    """CROWDLAB consensus, fed with the caller's cross-fitted model probabilities."""
    from cleanlab.multiannotator import get_label_quality_multiannotator

    items = [str(i) for i in json.loads(open(job["items"]).read())]
    wide = answers.assign(item_id=answers["item_id"].astype(str)).pivot(
        index="item_id", columns="worker_id", values="answer"
    )
    wide = wide.reindex(items)
    pred_probs = np.load(job["pred_probs"])
    started = time.perf_counter()
    result = get_label_quality_multiannotator(
        wide, pred_probs, verbose=False, return_annotator_stats=False
    )
    seconds = time.perf_counter() - started
    consensus = result["label_quality"]
    return {
        "items": items,
        "labels": [str(int(x)) for x in consensus["consensus_label"]],
        "proba_1": None,
        "seconds": seconds,
    }


def _scale(job: dict) -> dict:
    from crowdkit.aggregation import DawidSkene

    arrays = np.load(job["data"])
    data = pd.DataFrame(
        {
            "task": arrays["items"],
            "worker": arrays["workers"],
            "label": arrays["labels"],
        }
    )
    baseline = _peak_mib()
    started = time.perf_counter()
    model = DawidSkene(n_iter=job["n_iter"], tol=-1.0).fit(data)
    seconds = time.perf_counter() - started
    labels = model.labels_.sort_index().to_numpy()
    np.save(job["labels_out"], labels)
    return {"seconds": seconds, "peak_mib": _peak_mib(), "baseline_mib": baseline}


def main() -> None:
    job = json.loads(open(sys.argv[1]).read())
    result = _aggregate(job) if job["mode"] == "aggregate" else _scale(job)
    with open(sys.argv[2], "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
