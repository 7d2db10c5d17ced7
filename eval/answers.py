"""Score the answers, as /ask and chat give them, on labelled question sets.

    python -m eval.answers [--questions eval/qa_heldout.jsonl ...] [--chat eval/chat_heldout.jsonl ...] [--json out.json] [--misses]

For answerable questions: how many are answered (``found``), how many answers state every key
fact (``key``: the question's ``key`` facts, or for older sets without them its ``evidence``),
by category (``paraphrase`` is the everyday-words one), and the ranking (hit@1, hit@5, MRR).
For unanswerable ones: how many are refused (``found: false``), by kind and language. For
conversations: how many follow-ups are resolved right (the top passage for the standalone
question is of the gold case) and answered with the key facts. The median /ask time in-process.
With several question sets, ``pooled`` sums them all up as one.

Held-out sets (qa_heldout, chat_heldout, blind) are for reporting only: ``--misses`` lists the
questions an answer got wrong, for reading on training sets, never on held-out ones.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from eval.gold import Question, load_conversations, load_questions
from index.text import fold
from service.answer import Answerer
from service.api.app import make_answerer
from service.api.routers.ask import answer_question
from service.chat import standalone_question
from service.cues import is_latin
from service.search import Searcher, open_searcher
from touyan.settings import Settings

HELD_OUT = ("qa_heldout.jsonl", "qa2_heldout.jsonl", "qa3_heldout.jsonl", "qa4_heldout.jsonl", "qa5_heldout.jsonl", "qa6_heldout.jsonl", "qa7_heldout.jsonl", "qa8_heldout.jsonl", "qa9_heldout.jsonl", "qa10_heldout.jsonl", "qa11_heldout.jsonl", "chat_heldout.jsonl", "chat2_heldout.jsonl", "chat3_heldout.jsonl", "blind.jsonl")


@dataclass(frozen=True)
class Outcome:
    id: str
    category: str
    kind: str | None
    english: bool
    found: bool
    key: bool | None  # the answer states every key fact (None: unanswerable)
    rank: int | None  # of the first answering passage in the top 5 (None: none, or unanswerable)
    confidence: float | None  # that the report answers it (None: no model judged it)
    ms: float
    answer: str


def states(question: Question, text: str) -> bool:
    """Whether the answer text states every key fact (or, without key facts, one evidence string)."""
    held = question.holds_key(text)
    return held if held is not None else any(fold(e) in fold(text) for e in question.evidence)


def outcome(searcher: Searcher, answerer: Answerer, q: Question, asked: str, top_k: int) -> Outcome:
    start = time.perf_counter()
    hits, answer = answer_question(searcher, answerer, asked, top_k)
    ms = (time.perf_counter() - start) * 1000
    unanswerable = q.category == "unanswerable"
    gold = set() if unanswerable else q.answering(searcher.cases, searcher.stored.chunks)
    rank = next((h.rank for h in hits if h.chunk.id in gold), None)
    quoted = "".join(c.quote for c in answer.citations)
    key = None if unanswerable else answer.found and states(q, quoted)
    return Outcome(q.id, q.category, q.kind, is_latin(q.question), answer.found, key, rank, answer.confidence, ms, answer.text)


def share(values: list[bool]) -> dict:
    """The share of true values, with its 95 % Wilson interval: a few hundred questions measure a
    share to ±0.03–0.05, so smaller moves between two runs are not evidence."""
    n = len(values)
    if not n:
        return {"n": 0, "share": None, "ci95": None}
    p, z = sum(values) / n, 1.96
    middle, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"n": n, "share": round(p, 3), "ci95": [round(max(0.0, middle - half), 3), round(min(1.0, middle + half), 3)]}


def summarize(outcomes: list[Outcome]) -> dict:
    answerable = [o for o in outcomes if o.category != "unanswerable"]
    unanswerable = [o for o in outcomes if o.category == "unanswerable"]
    ranks = [o.rank for o in answerable]
    out = {
        "answerable": {
            "answered": share([o.found for o in answerable]),
            "key_fact": share([bool(o.key) for o in answerable]),
            "key_fact_by_category": {c: share([bool(o.key) for o in answerable if o.category == c]) for c in sorted({o.category for o in answerable})},
            "hit@1": round(sum(r == 1 for r in ranks) / len(ranks), 3) if ranks else None,
            "hit@5": round(sum(r is not None for r in ranks) / len(ranks), 3) if ranks else None,
            "mrr": round(sum(1 / r for r in ranks if r) / len(ranks), 3) if ranks else None,
        },
        "unanswerable": {
            "refused": share([not o.found for o in unanswerable]),
            "refused_by_kind": {k: share([not o.found for o in unanswerable if o.kind == k]) for k in sorted({str(o.kind) for o in unanswerable})},
            "refused_english": share([not o.found for o in unanswerable if o.english]),
        },
        "separation": separation(answerable, unanswerable),
        "ask_median_ms": round(statistics.median(o.ms for o in outcomes), 1) if outcomes else None,
    }
    return out


def separation(answerable: list[Outcome], unanswerable: list[Outcome]) -> dict:
    """How well the confidence tells answerable questions from unanswerable ones, whatever the
    threshold: the AUC, and the share refused at the threshold answering 95 % of the answerable
    ones (a point of the curve to compare models by, not what the service does)."""
    pos = [o.confidence for o in answerable if o.confidence is not None]
    neg = [o.confidence for o in unanswerable if o.confidence is not None]
    if not pos or not neg:
        return {"auc": None, "refused_at_answered_95": None, "brier": None, "ece": None}
    auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    threshold = sorted(pos)[int(0.05 * len(pos))]
    return {"auc": round(auc, 3), "refused_at_answered_95": round(sum(n < threshold for n in neg) / len(neg), 3), **calibration(pos, neg)}


# Confidence bins for the calibration error: finer where most confidences fall.
CALIBRATION_BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)


def calibration(pos: list[float], neg: list[float]) -> dict:
    """Whether ``confidence`` means what it says: the Brier score, and the expected calibration
    error (per confidence bin, the gap between the mean confidence and the share answerable,
    weighted by the bin's questions)."""
    pairs = [(c, 1.0) for c in pos] + [(c, 0.0) for c in neg]
    brier = sum((c - y) ** 2 for c, y in pairs) / len(pairs)
    ece = 0.0
    for lo, hi in zip(CALIBRATION_BINS, CALIBRATION_BINS[1:]):
        held = [(c, y) for c, y in pairs if lo <= c < hi or (hi == 1.0 and c == 1.0)]
        if held:
            ece += len(held) / len(pairs) * abs(sum(c for c, _ in held) / len(held) - sum(y for _, y in held) / len(held))
    return {"brier": round(brier, 4), "ece": round(ece, 4)}


def run_questions(searcher: Searcher, answerer: Answerer, path: Path, top_k: int) -> list[Outcome]:
    return [outcome(searcher, answerer, q, q.question, top_k) for q in load_questions(path)]


def run_chat(searcher: Searcher, answerer: Answerer, path: Path, top_k: int) -> dict:
    resolved, keyed, rows = [], [], []
    for c in load_conversations(path):
        question = standalone_question([("user", t) for t in c.turns])
        o = outcome(searcher, answerer, c.last, question, top_k)
        gold = c.last.gold_cases(searcher.cases)
        top = searcher.search(question, 1)
        resolved.append(bool(top) and top[0].chunk.case_id in gold)
        keyed.append(bool(o.key))
        rows.append({"id": c.id, "standalone": question, "resolved": resolved[-1], "key": keyed[-1]})
    return {"resolved": share(resolved), "key_fact": share(keyed), "rows": rows}


def misses(outcomes: list[Outcome]) -> list[dict]:
    wrong = [o for o in outcomes if (o.category == "unanswerable") == o.found or o.key is False]
    return [{k: v for k, v in asdict(o).items() if k in ("id", "category", "kind", "found", "key", "rank", "answer")} for o in wrong]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, nargs="*", default=[Path("eval/qa_train.jsonl")])
    parser.add_argument("--chat", type=Path, nargs="*", default=[])
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--misses", action="store_true", help="list wrong answers (training sets only)")
    args = parser.parse_args(argv)
    if args.misses and any(p.name in HELD_OUT for p in [*args.questions, *args.chat]):
        parser.error("--misses lists wrong answers to read: not on a held-out set")
    settings = Settings()
    searcher = open_searcher(settings, progress=lambda m: print(m, file=sys.stderr))
    answerer = make_answerer(settings, searcher)
    report = {}
    pooled: list[Outcome] = []
    for path in args.questions:
        outcomes = run_questions(searcher, answerer, path, settings.top_k)
        pooled += outcomes
        report[path.name] = summarize(outcomes)
        if args.misses:
            report[path.name]["misses"] = misses(outcomes)
    if len(args.questions) > 1:
        report["pooled"] = summarize(pooled)
    for path in args.chat:
        result = run_chat(searcher, answerer, path, settings.top_k)
        if not args.misses:
            result.pop("rows")
        report[path.name] = result
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
