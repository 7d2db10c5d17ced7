"""Split newly written questions once into training and held-out halves, before anything is fitted.

    python -m eval.split_questions DRAFT.jsonl [...] --out eval/qa [--seed 14]

Writes ``<out>_train.jsonl`` and ``<out>_heldout.jsonl``. Stratified: within each group of
category, kind (of an unanswerable question) and language, the questions are shuffled with a
fixed seed and dealt alternately, so each half gets its share of every kind. Run once, when a
batch of questions is written; fitting and choosing read only the training half
(eval/RESULTS.md records each split).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

LATIN = re.compile(r"[A-Za-z]")
HAN = re.compile(r"[\u4e00-\u9fff]")


def language(text: str) -> str:
    return "en" if len(LATIN.findall(text)) > len(HAN.findall(text)) else "zh"


def stratum(item: dict) -> tuple:
    text = item["turns"][-1] if "turns" in item else item["question"]
    return item["category"], item.get("kind"), language(text), tuple(item.get("cases", ()))[:1]


def split(items: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for item in items:
        groups[stratum(item)].append(item)
    rng = random.Random(seed)
    train, heldout = [], []
    turn = 0  # carried across groups, so odd-sized groups do not all favour one half
    for key in sorted(groups, key=repr):
        group = groups[key]
        rng.shuffle(group)
        for item in group:
            (train if turn % 2 == 0 else heldout).append(item)
            turn += 1
    order = {id(item): i for i, item in enumerate(items)}
    return sorted(train, key=lambda i: order[id(i)]), sorted(heldout, key=lambda i: order[id(i)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("drafts", nargs="+", type=Path)
    parser.add_argument("--out", required=True, help="prefix of the two files written")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    items = [json.loads(line) for path in args.drafts for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [i["id"] for i in items]
    if len(set(ids)) != len(ids):
        raise SystemExit("duplicate ids in the drafts")
    train, heldout = split(items, args.seed)
    for name, part in (("train", train), ("heldout", heldout)):
        path = Path(f"{args.out}_{name}.jsonl")
        path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in part), encoding="utf-8")
        print(f"{path}: {len(part)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
