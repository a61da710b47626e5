"""Build the demo campaign's items and gold files from the raw Abt-Buy data.

The raw files in ``data/`` are the real MTurk answers as published (see
``data/README.md``). This script joins each pair with its two product records
into ``items.csv`` and draws at most 800 gold items from the dev truth into
``gold.csv``. It is run once by a maintainer; its outputs are committed.

Gold is drawn with at least one item in each original HIT, so every worker
meets gold, and with matches over-represented (about 30%) because a worker who
always answers "different" would otherwise look 88% accurate on gold.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GOLD_LIMIT = 800
GOLD_MATCH_SHARE = 0.3
SEED = 20261204


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main() -> None:
    products = {row["record_id"]: row for row in read_csv(DATA / "products.csv")}
    pairs = read_csv(DATA / "pairs.csv")
    truth = {
        row["pair_id"]: row["is_match"] for row in read_csv(DATA / "truth_dev.csv")
    }
    original_hit = {}
    for row in read_csv(DATA / "answers.csv"):
        original_hit.setdefault(row["pair_id"], row["hit_id"])

    # One row per pair with both records side by side.
    columns = ["pair_id", "original_hit"]
    for side in ("left", "right"):
        columns += [
            f"{side}_{name}" for name in ("shop", "name", "description", "price")
        ]
    with (HERE / "items.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for pair in pairs:
            row = {
                "pair_id": pair["pair_id"],
                "original_hit": original_hit[pair["pair_id"]],
            }
            for side, key in (("left", "left_record_id"), ("right", "right_record_id")):
                record = products[pair[key]]
                for name in ("shop", "name", "description", "price"):
                    row[f"{side}_{name}"] = record[name]
            writer.writerow(row)

    # At least one gold item per original HIT, then fill up to the limit with
    # matches over-represented.
    rng = random.Random(SEED)
    by_hit: dict[str, list[str]] = defaultdict(list)
    for pair_id in sorted(truth):
        by_hit[original_hit[pair_id]].append(pair_id)
    gold: set[str] = set()
    for hit_id in sorted(by_hit):
        candidates = by_hit[hit_id]
        matches = [p for p in candidates if truth[p] == "1"]
        pool = matches if matches and rng.random() < GOLD_MATCH_SHARE else candidates
        gold.add(rng.choice(pool))
    remaining_matches = sorted(p for p in truth if truth[p] == "1" and p not in gold)
    rng.shuffle(remaining_matches)
    wanted_matches = int(GOLD_LIMIT * GOLD_MATCH_SHARE)
    have_matches = sum(truth[p] == "1" for p in gold)
    gold.update(remaining_matches[: max(0, wanted_matches - have_matches)])
    rest = sorted(p for p in truth if p not in gold)
    rng.shuffle(rest)
    gold.update(rest[: GOLD_LIMIT - len(gold)])

    with (HERE / "gold.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pair_id", "is_match"])
        for pair_id in sorted(gold):
            writer.writerow([pair_id, truth[pair_id]])


if __name__ == "__main__":
    main()
