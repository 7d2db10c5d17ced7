"""Score every retriever and embedder on the gold question set (``touyan eval``).

A retrieved passage is relevant when it belongs to a gold case and contains one of the
question's evidence strings (eval/gold.py). Unanswerable questions have no relevant passage; they are
scored by how well the top dense score separates them from answerable ones (AUC).
"""
from __future__ import annotations

import statistics
import time

from eval.gold import CATEGORIES, K, Question, Scores
from index.text import fold
from service.answer import Answerer, ExtractiveAnswerer
from service.query import FUSIONS, RETRIEVERS
from service.search import Searcher, open_searcher
from touyan.settings import Settings


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """Chance that an answerable question's top score beats an unanswerable one's."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 3)


def evaluate(searcher: Searcher, questions: list[Question], retriever: str, rerank: Answerer | None = None) -> dict:
    """``rerank``: the answerer whose re-ranking follows the search, as in /search and /ask."""
    by_category: dict[str, Scores] = {}
    overall = Scores()
    latencies, top_answerable, top_unanswerable, unjudged = [], [], [], []
    for q in questions:
        start = time.perf_counter()
        hits = searcher.search(q.question, K, retriever=retriever)
        if rerank is not None:
            hits = rerank.rerank(q.question, hits)
        latencies.append((time.perf_counter() - start) * 1000)
        top = hits[0].dense if hits and hits[0].dense is not None else None
        if q.category == "unanswerable":
            if top is not None:
                top_unanswerable.append(top)
            continue
        if top is not None:
            top_answerable.append(top)
        ranked = [h.chunk.id for h in hits]
        gold = q.answering(searcher.cases, searcher.stored.chunks)
        if not gold:
            unjudged.append(q.id)
        by_category.setdefault(q.category, Scores()).add(ranked, gold)
        overall.add(ranked, gold)
    lengths = sorted(len(c.text) for c in searcher.stored.chunks)
    return {
        "answerable": overall.summary(),
        "by_category": {c: by_category[c].summary() for c in CATEGORIES if c in by_category},
        "unanswerable_auc": auc(top_answerable, top_unanswerable),
        "median_latency_ms": round(statistics.median(latencies), 2),
        "median_passage_chars": lengths[len(lengths) // 2],
        "no_answering_passage": unjudged,
    }


def run_eval(settings: Settings, embedders: list[str], retrievers: list[str], questions: list[Question], progress=None) -> list[dict]:
    """One row per embedder × retriever (hybrid once per fusion method, and the service's fusion
    again re-ranked as /search and /ask re-rank it), each embedder in its own index folder."""
    unknown = [r for r in retrievers if r not in RETRIEVERS]
    if unknown:
        raise ValueError(f"unknown retriever {', '.join(unknown)}: expected some of {', '.join(RETRIEVERS)}")
    rows = []
    for spec in embedders:
        index_dir = settings.index_dir
        if spec != settings.embedder:
            index_dir = index_dir.with_name(f"{index_dir.name}-{fold(spec)}-{settings.sparse}")
        spec_settings = settings.with_overrides(embedder=spec, index_dir=index_dir)
        base = open_searcher(spec_settings, progress)
        for retriever in retrievers:
            if retriever not in base.retrievers:
                continue
            if retriever != "hybrid":
                rows.append({"embedder": spec, "retriever": retriever, **evaluate(base, questions, retriever)})
                continue
            for fusion in FUSIONS:
                searcher = Searcher(base.stored, base.embedder, base.cases, retriever, fusion, base.tokens)
                rows.append({"embedder": spec, "retriever": f"hybrid-{fusion}", **evaluate(searcher, questions, retriever)})
                if fusion == settings.fusion:
                    answerer = ExtractiveAnswerer.for_settings(spec_settings, searcher)
                    rows.append({"embedder": spec, "retriever": f"hybrid-{fusion}+rerank", **evaluate(searcher, questions, retriever, answerer)})
    return rows


def format_table(rows: list[dict]) -> str:
    cols = ["hit@1", "hit@3", "hit@5", "mrr", "ndcg@5"]
    lines = [f"{'embedder':<10} {'retriever':<24} {'category':<12} {'n':>3} " + " ".join(f"{c:>6}" for c in cols)]
    for row in rows:
        for category, s in [("answerable", row["answerable"]), *row["by_category"].items()]:
            lines.append(f"{row['embedder']:<10} {row['retriever']:<24} {category:<12} {s['n']:>3} " + " ".join(f"{s[c]:>6.3f}" for c in cols))
        lines.append(
            f"{'':<10} {'':<24} unanswerable AUC {row['unanswerable_auc']}  median latency {row['median_latency_ms']} ms  median passage {row['median_passage_chars']} chars"
        )
        if row["no_answering_passage"]:  # scored as misses: the corpus or chunking changed under the question set
            lines.append(f"{'':<10} {'':<24} warning: no passage holds the evidence of {', '.join(row['no_answering_passage'])}")
    return "\n".join(lines)
