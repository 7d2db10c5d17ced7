"""Score every retriever and embedder on the gold question set (``touyan eval``).

A retrieved passage is relevant when it belongs to a gold case and contains one of the
question's evidence strings. Unanswerable questions have no relevant passage; they are
scored by how well the top dense score separates them from answerable ones (AUC).
"""
from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from index.text import fold
from service.search import FUSIONS, Searcher, open_searcher
from touyan.settings import Settings

QUESTIONS = Path(__file__).with_name("questions.jsonl")
CATEGORIES = ("fact", "paraphrase", "multi", "english", "unanswerable")
K = 5


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    category: str
    cases: list[str]
    evidence: list[str]
    answer: str = ""


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    with path.open(encoding="utf-8") as f:
        return [Question(**json.loads(line)) for line in f if line.strip()]


def _squash(text: str) -> str:
    return "".join(text.split())


def relevant_chunks(q: Question, searcher: Searcher) -> set[str]:
    """Ids of the passages that answer ``q``: in a gold case and holding an evidence string."""
    cases = {c.id for c in searcher.cases if any(fold(key) in fold(c.title) for key in q.cases)}
    evidence = [_squash(e) for e in q.evidence]
    return {c.id for c in searcher.stored.chunks if c.case_id in cases and any(e in _squash(c.text) for e in evidence)}


@dataclass
class Scores:
    hit1: list[float] = field(default_factory=list)
    hit3: list[float] = field(default_factory=list)
    hit5: list[float] = field(default_factory=list)
    mrr: list[float] = field(default_factory=list)
    ndcg5: list[float] = field(default_factory=list)

    def add(self, ranked: list[str], gold: set[str]) -> None:
        first = next((r for r, cid in enumerate(ranked, 1) if cid in gold), None)
        self.hit1.append(float(first is not None and first <= 1))
        self.hit3.append(float(first is not None and first <= 3))
        self.hit5.append(float(first is not None and first <= 5))
        self.mrr.append(1 / first if first else 0.0)
        dcg = sum(1 / math.log2(r + 1) for r, cid in enumerate(ranked[:K], 1) if cid in gold)
        ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(gold), K) + 1))
        self.ndcg5.append(dcg / ideal if ideal else 0.0)

    def summary(self) -> dict:
        n = len(self.hit1)
        mean = lambda xs: round(sum(xs) / n, 3) if n else None  # noqa: E731
        return {"n": n, "hit@1": mean(self.hit1), "hit@3": mean(self.hit3), "hit@5": mean(self.hit5), "mrr": mean(self.mrr), "ndcg@5": mean(self.ndcg5)}


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """Chance that an answerable question's top score beats an unanswerable one's."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 3)


def evaluate(searcher: Searcher, questions: list[Question], retriever: str) -> dict:
    by_category: dict[str, Scores] = {}
    overall = Scores()
    latencies, top_answerable, top_unanswerable = [], [], []
    for q in questions:
        start = time.perf_counter()
        hits = searcher.search(q.question, K, retriever=retriever)
        latencies.append((time.perf_counter() - start) * 1000)
        top = hits[0].dense if hits and hits[0].dense is not None else None
        if q.category == "unanswerable":
            if top is not None:
                top_unanswerable.append(top)
            continue
        if top is not None:
            top_answerable.append(top)
        ranked = [h.chunk.id for h in hits]
        gold = relevant_chunks(q, searcher)
        by_category.setdefault(q.category, Scores()).add(ranked, gold)
        overall.add(ranked, gold)
    lengths = sorted(len(c.text) for c in searcher.stored.chunks)
    return {
        "answerable": overall.summary(),
        "by_category": {c: by_category[c].summary() for c in CATEGORIES if c in by_category},
        "unanswerable_auc": auc(top_answerable, top_unanswerable),
        "median_latency_ms": round(statistics.median(latencies), 2),
        "median_passage_chars": lengths[len(lengths) // 2],
    }


def run_eval(settings: Settings, embedders: list[str], retrievers: list[str], questions: list[Question], progress=None) -> list[dict]:
    """One row per embedder × retriever (hybrid once per fusion method), each embedder in its own index folder."""
    rows = []
    for spec in embedders:
        index_dir = settings.index_dir
        if spec != settings.embedder:
            index_dir = index_dir.with_name(f"{index_dir.name}-{fold(spec)}-{settings.sparse}")
        base = open_searcher(settings.with_overrides(embedder=spec, index_dir=index_dir), progress)
        for retriever in retrievers:
            if retriever in ("sparse", "late") and base.tokens is None:
                continue
            if retriever != "hybrid":
                rows.append({"embedder": spec, "retriever": retriever, **evaluate(base, questions, retriever)})
                continue
            for fusion in FUSIONS:
                searcher = Searcher(base.stored, base.embedder, base.cases, retriever, fusion, base.tokens)
                rows.append({"embedder": spec, "retriever": f"hybrid-{fusion}", **evaluate(searcher, questions, retriever)})
    return rows


def format_table(rows: list[dict]) -> str:
    cols = ["hit@1", "hit@3", "hit@5", "mrr", "ndcg@5"]
    lines = [f"{'embedder':<10} {'retriever':<16} {'category':<12} {'n':>3} " + " ".join(f"{c:>6}" for c in cols)]
    for row in rows:
        for category, s in [("answerable", row["answerable"]), *row["by_category"].items()]:
            lines.append(f"{row['embedder']:<10} {row['retriever']:<16} {category:<12} {s['n']:>3} " + " ".join(f"{s[c]:>6.3f}" for c in cols))
        lines.append(
            f"{'':<10} {'':<16} unanswerable AUC {row['unanswerable_auc']}  median latency {row['median_latency_ms']} ms  median passage {row['median_passage_chars']} chars"
        )
    return "\n".join(lines)
