"""Fit the quote model: which candidate sentence states what was asked, from the features of
service/quotes.py, on the training questions only.

    python -m eval.fit_quotes [--out service/models/quotes.json]

Training questions: the answerable ones of eval/fit_answerability.py's ``TRAINING`` sets. Candidates are the sentences of the passages the answerer reads, retrieved
as the service retrieves them; a sentence is a positive when it states one of the question's
key facts (or, for a question without key facts, holds one of its evidence strings). A
logistic regression; its regularisation is chosen by 5-fold cross-validation grouped by
question, on how often the top-scored sentence is a positive, averaged over ``REPEATS``
shufflings of the folds (the held-out sets are not read).
Prints that figure beside the word-count scoring it replaces.

It also fits the weight with which the answerer re-ranks the first passages by their best
sentence's probability (``ExtractiveAnswerer.rerank``): the sentences of the first
``RERANK_DEPTH`` passages of every answerable training question are scored out of fold (the model
refitted on the other folds' questions, over ``REPEATS`` shufflings of the folds), and the
weight kept is the one giving the best mean MRR (then hit@1) of the re-ranked passages; 0 when
none beats the search's own order. Writes the model
with that weight (``meta.rerank_weight``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eval.fit_answerability import TRAINING
from eval.gold import Question, Scores, load_questions
from index.text import fold
from service.answer import RERANK_DEPTH, ExtractiveAnswerer, best_per_passage, reranked
from service.fitted import MODELS, LogisticModel
from service.quotes import FEATURES, features
from service.search import open_searcher
from touyan.settings import Settings

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
RERANK_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
# C's and the re-ranking weight's figures are means over this many shufflings of the question folds.
REPEATS = 5


def positive(question: Question, sentence: str) -> bool:
    text = fold(sentence)
    if question.key:
        return any(fold(alt) in text for item in question.key for alt in ([item] if isinstance(item, str) else item))
    return any(fold(e) in text or (len(text) >= 8 and text in fold(e)) for e in question.evidence)


def top1(scores: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Share of questions whose best-scored candidate is a positive."""
    hits = []
    for g in np.unique(groups):
        rows = groups == g
        hits.append(y[rows][np.argmax(scores[rows])])
    return float(np.mean(hits))


def shuffled_groups(groups: np.ndarray, seed: int) -> list[int]:
    """The questions renumbered in a shuffled order: GroupKFold deals them into folds by it."""
    names = np.unique(groups)
    order = dict(zip(names, np.random.default_rng(seed).permutation(len(names))))
    return [order[g] for g in groups]


def rerank_weight(searcher, answerer: ExtractiveAnswerer, c: float) -> tuple[float, dict]:
    """The re-ranking weight with the best out-of-fold MRR (then hit@1) on the training questions, and each weight's figures."""
    X, y, groups, passages, lists = [], [], [], [], []
    for path in TRAINING:
        for q in load_questions(Path(path)):
            if q.category == "unanswerable":
                continue
            gold = q.answering(searcher.cases, searcher.stored.chunks)
            hits = searcher.search(q.question, RERANK_DEPTH)
            candidates = answerer.candidates(q.question, hits)
            if not candidates or not any(h.chunk.id in gold for h in hits):
                continue
            X += [[r[f] for f in FEATURES] for r in features(answerer.analyzer.run(q.question), candidates)]
            y += [positive(q, cand.text) for cand in candidates]
            groups += [q.id] * len(candidates)
            passages += [cand.hit.chunk.id for cand in candidates]
            lists.append((q.id, [(h.chunk.id, h.score, h.chunk.id in gold) for h in hits]))
    X, y, groups = np.array(X), np.array(y, dtype=int), np.array(groups)
    runs: dict[float, list[dict]] = {w: [] for w in RERANK_WEIGHTS}
    for seed in range(REPEATS):  # which questions share a fold moves a weight's MRR as much as the weight does
        p = np.zeros(len(y))
        for train, test in GroupKFold(5).split(X, y, shuffled_groups(groups, seed)):
            p[test] = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        best = best_per_passage(((g, chunk_id), prob) for g, chunk_id, prob in zip(groups, passages, p))
        for w in RERANK_WEIGHTS:
            scores = Scores()
            for qid, hits in lists:
                order = reranked([score for _, score, _ in hits], [best.get((qid, chunk_id), 0.0) for chunk_id, _, _ in hits], w)
                scores.add([hits[i][0] for i in order], {chunk_id for chunk_id, _, gold in hits if gold})
            runs[w].append(scores.summary())
    figures = {str(w): {m: round(float(np.mean([r[m] for r in runs[w]])), 4) for m in ("hit@1", "mrr")} for w in RERANK_WEIGHTS}
    chosen = max(RERANK_WEIGHTS, key=lambda w: (figures[str(w)]["mrr"], figures[str(w)]["hit@1"], -w))
    return chosen, {"questions": len(lists), "by_weight": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS / "quotes.json")
    args = parser.parse_args(argv)
    settings = Settings()
    searcher = open_searcher(settings, progress=lambda m: print(m, file=sys.stderr))
    answerer = ExtractiveAnswerer.for_settings(settings, searcher)
    X, y, groups, baseline = [], [], [], []
    for path in TRAINING:
        for q in load_questions(Path(path)):
            if q.category == "unanswerable":
                continue
            hits = answerer.on_named_places(q.question, searcher.search(q.question, settings.top_k))
            pool = hits if answerer.wants_several(q.question) else hits[: answerer.passages]
            candidates = answerer.candidates(q.question, pool)
            labels = [positive(q, c.text) for c in candidates]
            if not any(labels):  # retrieval missed: nothing to learn about quoting
                continue
            rows = features(answerer.analyzer.run(q.question), candidates)
            words = answerer._word_scored(q.question, pool, answerer.terms(q.question))
            by_span = {(s.hit.chunk.id, s.start, s.end): s.score for s in words}
            baseline.append(labels[int(np.argmax([by_span.get((c.hit.chunk.id, c.start, c.end), 0.0) for c in candidates]))])
            X += [[r[f] for f in FEATURES] for r in rows]
            y += labels
            groups += [q.id] * len(candidates)
    X, y, groups = np.array(X), np.array(y, dtype=int), np.array(groups)

    results = {}
    for c in C_GRID:
        runs = []
        for seed in range(REPEATS):  # one split's top-sentence share moves by more than C does
            scores = np.zeros(len(y))
            for train, test in GroupKFold(5).split(X, y, shuffled_groups(groups, seed)):
                model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)).fit(X[train], y[train])
                scores[test] = model.predict_proba(X[test])[:, 1]
            runs.append(top1(scores, y, groups))
        results[c] = float(np.mean(runs))
    best_c = max(results, key=lambda c: (results[c], -c))
    cv = {
        "questions": int(len(np.unique(groups))), "candidates": int(len(y)), "positives": int(y.sum()),
        "top_sentence_states_the_fact": {"fitted": round(results[best_c], 3), "word_scoring": round(float(np.mean(baseline)), 3)},
        "C": best_c, "by_C": {str(c): round(v, 3) for c, v in results.items()},
    }
    weight, cv["rerank"] = rerank_weight(searcher, answerer, best_c)
    final = make_pipeline(StandardScaler(), LogisticRegression(C=best_c, max_iter=5000)).fit(X, y)
    scaler, logistic = final.named_steps["standardscaler"], final.named_steps["logisticregression"]
    model = LogisticModel(
        features=tuple(FEATURES), mean=tuple(scaler.mean_.round(6)), scale=tuple(np.where(scaler.scale_ > 0, scaler.scale_, 1).round(6)),
        coef=tuple(logistic.coef_[0].round(6)), intercept=round(float(logistic.intercept_[0]), 6),
        meta={"fitted_by": "python -m eval.fit_quotes", "training": list(TRAINING), "cross_validated": cv, "rerank_weight": weight},
    )
    args.out.write_text(model.to_json() + "\n", encoding="utf-8")
    print(json.dumps(cv, indent=2))
    print("weights:", {f: round(float(c), 3) for f, c in zip(FEATURES, model.coef)})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
