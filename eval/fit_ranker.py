"""Fit a ranker over hybrid search's features and compare it with the hand-set fusion.

    python -m eval.fit_ranker [--out service/models/ranker.json]

Features: Searcher.rank_features (each channel's scaled score, the cue matches). Labels: whether
a pooled passage answers the question (eval/gold.py). Fitted on the training questions
(eval/qa_train.jsonl, eval/questions.jsonl, eval/heldout.jsonl): a logistic regression, its
regularisation chosen by 5-fold cross-validation grouped by question on MRR, with LightGBM's
LambdaMART and the hand-set fusion's own thirteen constants fitted by coordinate ascent
(``fit_weights``) cross-validated beside it. Then both the fitted ranker and the hand-set fusion rank
the held-out questions (eval/qa_heldout.jsonl, eval/blind.jsonl), and the script says which is
better there. Issue 14: the ranker is kept only if it beats the hand-set fusion held out; it
writes the model only then (or with --write-anyway).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eval.fit_answerability import TRAINING
from eval.gold import load_questions
from service.fitted import MODELS, LogisticModel
from service.search import (
    BONUS,
    CHANNELS,
    RANK_FEATURES,
    SENTENCE_WEIGHT,
    WEIGHTS,
    Searcher,
    open_searcher,
)
from touyan.settings import Settings

HELD_OUT = ("eval/qa_heldout.jsonl", "eval/qa2_heldout.jsonl", "eval/qa3_heldout.jsonl", "eval/qa4_heldout.jsonl", "eval/qa5_heldout.jsonl", "eval/qa6_heldout.jsonl", "eval/qa7_heldout.jsonl", "eval/qa8_heldout.jsonl", "eval/qa9_heldout.jsonl", "eval/qa10_heldout.jsonl", "eval/qa11_heldout.jsonl", "eval/blind.jsonl")
C_GRID = (0.01, 0.1, 1.0, 10.0)


def rows(searcher: Searcher, paths: tuple[str, ...]):
    X, y, groups, order = [], [], [], []
    for path in paths:
        for q in load_questions(Path(path)):
            if q.category == "unanswerable":
                continue
            gold = q.answering(searcher.cases, searcher.stored.chunks)
            features = searcher.rank_features(q.question, searcher.channel_lists(q.question))
            hand = searcher._fuse(q.question, searcher.channel_lists(q.question))
            for i, f in features.items():
                X.append([f[n] for n in RANK_FEATURES])
                y.append(int(searcher.stored.chunks[i].id in gold))
                groups.append(q.id)
                order.append(hand[i])
    return np.array(X), np.array(y), np.array(groups), np.array(order)


def spans(groups: np.ndarray) -> list[slice]:
    """Each question's rows (``rows`` appends a question's passages together)."""
    starts = [0, *np.flatnonzero(groups[1:] != groups[:-1]) + 1, len(groups)]
    return [slice(a, b) for a, b in itertools.pairwise(starts)]


def ranking(scores: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict:
    """hit@1, hit@5 and MRR of ranking each question's pooled passages by ``scores``."""
    h1, h5, rr = [], [], []
    for rows_ in spans(groups):
        ranked = y[rows_][np.argsort(-scores[rows_], kind="stable")]
        first = int(np.argmax(ranked)) + 1 if ranked.any() else None
        h1.append(first == 1)
        h5.append(first is not None and first <= 5)
        rr.append(1 / first if first else 0.0)
    return {"hit@1": round(float(np.mean(h1)), 3), "hit@5": round(float(np.mean(h5)), 3), "mrr": round(float(np.mean(rr)), 3)}


HAND_SET = np.array([WEIGHTS.get(c, SENTENCE_WEIGHT if c == "sentence" else 0.0) for c in CHANNELS] + list(BONUS.values()))
WEIGHT_GRID = np.round(np.arange(0.0, 1.0001, 0.05), 2)


def fused(X: np.ndarray, groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Searcher._fuse's weighted fusion with ``weights`` (channels, then bonuses) for every row:
    each question's cue bonuses are shares of its best channel sum."""
    n = len(CHANNELS)
    base = X[:, :n] @ weights[:n]
    out = np.empty(len(X))
    for rows_ in spans(groups):
        out[rows_] = base[rows_] + base[rows_].max() * (X[rows_, n:] @ weights[n:])
    return out


def fit_weights(X: np.ndarray, y: np.ndarray, groups: np.ndarray, passes: int = 3) -> np.ndarray:
    """The fusion's constants by coordinate ascent from the hand-set ones, steps of 0.05, on MRR + hit@1 / 2."""
    def gain(w: np.ndarray) -> float:
        m = ranking(fused(X, groups, w), y, groups)
        return m["mrr"] + m["hit@1"] / 2

    best, score = HAND_SET.copy(), gain(HAND_SET)
    for _ in range(passes):
        moved = False
        for j in range(len(best)):
            for v in WEIGHT_GRID:
                trial = best.copy()
                trial[j] = v
                if (s := gain(trial)) > score + 1e-9:
                    best, score, moved = trial, s, True
        if not moved:
            break
    return best


def logistic(c: float):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS / "ranker.json")
    parser.add_argument("--write-anyway", action="store_true")
    args = parser.parse_args(argv)
    searcher = open_searcher(Settings(), progress=lambda m: print(m, file=sys.stderr))
    X, y, groups, hand = rows(searcher, TRAINING)

    cv, folds = {}, list(GroupKFold(5).split(X, y, groups))
    for c in C_GRID:
        scores = np.zeros(len(y))
        for train, test in folds:
            scores[test] = logistic(c).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        cv[c] = ranking(scores, y, groups)
    best_c = max(cv, key=lambda c: (cv[c]["mrr"], cv[c]["hit@1"]))
    import lightgbm

    lambdamart = np.zeros(len(y))
    for train, test in folds:
        order = train[np.argsort(groups[train], kind="stable")]  # LambdaMART takes each question's rows together
        _, sizes = np.unique(groups[order], return_counts=True)
        model = lightgbm.LGBMRanker(n_estimators=200, learning_rate=0.05, num_leaves=7, min_child_samples=5, verbose=-1)
        model.fit(X[order], y[order], group=sizes)
        lambdamart[test] = model.predict(X[test])
    weighted = np.zeros(len(y))
    for train, test in folds:
        weighted[test] = fused(X[test], groups[test], fit_weights(X[train], y[train], groups[train]))
    report = {
        "training_cv": {
            "hand_set_fusion": ranking(hand, y, groups), "logistic": {"C": best_c, **cv[best_c]},
            "lambdamart": ranking(lambdamart, y, groups), "fitted_weights": ranking(weighted, y, groups),
        },
        "fitted_weights": dict(zip(RANK_FEATURES, fit_weights(X, y, groups).round(2).tolist())),
    }

    final = logistic(best_c).fit(X, y)
    scaler, lr = final.named_steps["standardscaler"], final.named_steps["logisticregression"]
    model = LogisticModel(
        features=RANK_FEATURES, mean=tuple(scaler.mean_.round(6)), scale=tuple(np.where(scaler.scale_ > 0, scaler.scale_, 1).round(6)),
        coef=tuple(lr.coef_[0].round(6)), intercept=round(float(lr.intercept_[0]), 6),
        meta={"fitted_by": "python -m eval.fit_ranker", "training": list(TRAINING)},
    )
    Xh, yh, gh, handh = rows(searcher, HELD_OUT)
    fitted_h = final.predict_proba(Xh)[:, 1]
    report["held_out"] = {"hand_set_fusion": ranking(handh, yh, gh), "fitted_logistic": ranking(fitted_h, yh, gh)}
    better = report["held_out"]["fitted_logistic"]["mrr"] > report["held_out"]["hand_set_fusion"]["mrr"]
    report["kept"] = "fitted" if better else "hand-set fusion"
    model.meta.update(report)
    print(json.dumps(report, indent=2))
    if better or args.write_anyway:
        args.out.write_text(model.to_json() + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
