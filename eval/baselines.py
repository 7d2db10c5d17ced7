"""What the baseline scripts (eval/baseline_*.py) share: passages → cases, the scoring loop, the tables.

Each baseline runs another stack (LlamaIndex, LangChain, txtai) from a venv of its own, so
this module imports nothing beyond the standard library, numpy and the repository's own
modules: it stays importable by Touyan's tests, and every stack is scored by one rule, the
one of `touyan eval` (eval/gold.py): a passage answers a question when its character range
overlaps a paragraph span of a gold case and its text holds an evidence string.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from eval.gold import K, Scores, load_questions
from index.corpus import Corpus, load_corpus

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
QUESTION_FILES = [ROOT / "eval" / name for name in ("questions.jsonl", "heldout.jsonl", "blind.jsonl")]

# A retriever as the scoring loop sees it: question → ids of the passages it returns, best first.
Retrieve = Callable[[str], list[str]]


@dataclass(frozen=True)
class Passage:
    """One unit a stack indexes and returns, with where it lies in the text Touyan's parser read."""

    id: str
    source: str  # file name, a key of Corpus.texts
    start: int | None  # character offsets into Corpus.texts[source]; None when the stack lost them
    end: int | None
    text: str  # the text the stack holds (scored against the evidence strings)


@dataclass(frozen=True)
class Run:
    """What every baseline starts from: its flags, the versions it runs, and the corpus Touyan's parser read."""

    json_path: Path | None
    versions: dict[str, str]
    corpus: Corpus


def prepare(description: str, packages: Iterable[str]) -> Run:
    """Parse ``--json``, quiet the stacks' logging, print the versions, load the corpus (its texts
    are what each stack indexes, so the case spans' offsets refer to them)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    versions = package_versions(packages)
    corpus = load_corpus(SEEDS)
    print(f"documents: {len(corpus.texts)}, cases: {len(corpus.cases)}")
    return Run(args.json, versions, corpus)


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``names`` (and Python's), printed and stored with the results."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = sys.version.split()[0]
    print("versions:", json.dumps(out))
    return out


def passage_cases(passages: Iterable[Passage], corpus: Corpus) -> dict[str, set[str]]:
    """Passage id → ids of the cases one of whose paragraph spans overlaps the passage's range."""
    spans_by_file: dict[str, list[tuple[int, int, str]]] = {}
    for case in corpus.cases:
        for section in case.sections:
            for p in section.paragraphs:
                for s, e in p.spans:
                    spans_by_file.setdefault(case.source, []).append((s, e, case.id))
    out = {}
    for n in passages:
        a, b = n.start, n.end
        spans = spans_by_file.get(n.source, [])
        out[n.id] = {cid for s, e, cid in spans if a is not None and b is not None and s < b and a < e}
    return out


def describe(passages: list[Passage], cases_of: dict[str, set[str]]) -> float:
    """Print the passage count, lengths and case coverage; return the median length in characters."""
    lengths = sorted(len(n.text) for n in passages)
    median = statistics.median(lengths)
    print(f"passages: {len(passages)}; without offsets: {sum(1 for n in passages if n.start is None)}")
    print(f"passage length chars: min {lengths[0]} median {median} max {lengths[-1]}")
    print(f"passages in no case: {sum(1 for v in cases_of.values() if not v)}; "
          f"in 2+ cases: {sum(1 for v in cases_of.values() if len(v) > 1)}")
    return median


def evaluate(retrievers: dict[str, Retrieve], passages: list[Passage], corpus: Corpus,
             files: Iterable[Path] = QUESTION_FILES) -> dict[str, Any]:
    """Score every retriever on every question file, print one table per file, return the results.

    Unanswerable questions are asked (their latency counts) but not scored, as in `touyan eval`;
    only the first K ids a retriever returns count.
    """
    cases_of = passage_cases(passages, corpus)
    median_chars = statistics.median(len(n.text) for n in passages)
    results: dict[str, Any] = {}
    for qfile in files:
        questions = load_questions(qfile)
        answerable = [q for q in questions if q.category != "unanswerable"]
        gold_of, no_gold = {}, []
        for q in answerable:
            gcases = q.gold_cases(corpus.cases)
            gold_of[q.id] = {n.id for n in passages if cases_of[n.id] & gcases and q.holds_evidence(n.text)}
            if not gold_of[q.id]:
                no_gold.append(q.id)
        print(f"\n== {qfile.name}: {len(questions)} questions, {len(answerable)} answerable; "
              f"answerable with zero relevant passages: {len(no_gold)} {no_gold}")
        rows = []
        for name, retrieve in retrievers.items():
            retrieve(questions[0].question)  # warm-up
            scores, lat, per_q = Scores(), [], {}
            for q in questions:
                t = time.perf_counter()
                ranked = retrieve(q.question)
                lat.append((time.perf_counter() - t) * 1000)
                if q.category == "unanswerable":
                    continue
                ranked = ranked[:K]
                scores.add(ranked, gold_of[q.id])
                per_q[q.id] = next((r for r, pid in enumerate(ranked, 1) if pid in gold_of[q.id]), None)
            rows.append({"retriever": name, **scores.summary(), "median_passage_chars": median_chars,
                         "median_latency_ms": round(statistics.median(lat), 2), "first_relevant_rank": per_q})
        print_rows(rows)
        results[qfile.name] = {"questions": len(questions), "answerable": len(answerable),
                               "no_relevant_passage": no_gold, "rows": rows}
    print("load average at end:", os.getloadavg())
    return results


def print_rows(rows: list[dict[str, Any]]) -> None:
    width = max(28, *(len(r["retriever"]) for r in rows))
    print(f"{'retriever':<{width}} {'n':>4} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'chars':>6} {'lat_ms':>8}")
    for r in rows:
        print(f"{r['retriever']:<{width}} {r['n']:>4} {r['hit@1']:>6.3f} {r['hit@5']:>6.3f} {r['mrr']:>6.3f} "
              f"{r['median_passage_chars']:>6} {r['median_latency_ms']:>8.2f}")


def write_json(path: Path | None, results: dict[str, Any]) -> None:
    if path:
        path.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
