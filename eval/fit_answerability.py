"""Fit the answerability model: whether the report answers a question, from the features of
service/answerability.py, on the training questions only.

    python -m eval.fit_answerability [--embedder use] [--sparse e5] [--out service/models/answerability.json]
    python -m eval.fit_answerability --nested    # does the threshold rule answer its share of unseen questions?

Fit the quote model first (eval/fit_quotes.py): the best quote's probability is a feature. The
question-form models (service/question_form.py, dense and characters) are fitted here first, on
the same questions; the answerability model weighs their out-of-fold probabilities. Both files
are written, side by side.

Training questions: eval/qa_train.jsonl, eval/qa2_train.jsonl, eval/qa3_train.jsonl, eval/qa4_train.jsonl, eval/qa5_train.jsonl, eval/qa6_train.jsonl, eval/qa7_train.jsonl, eval/qa8_train.jsonl, eval/qa9_train.jsonl, eval/qa10_train.jsonl, eval/qa11_train.jsonl,
eval/questions.jsonl and eval/heldout.jsonl (read while tuning earlier, so no longer held out).
The held-out sets (qa_heldout … qa11_heldout, blind) are not read. A logistic regression on standardised features;
its regularisation is chosen by 5-fold cross-validated log-loss, and LightGBM's gradient-boosted
trees beside it (``SEEDS`` of them, differing in their seed, averaged), free and with monotone
constraints. Each is cross-validated over ``REPEATS``
shufflings of the folds; in each, the threshold is the highest that still answers
``--answer-rate`` of the answerable questions of the fresh training sets (``FRESH``) out of fold,
and the model's threshold and figures are the means over the shufflings. The model kept is the
one that then refuses most unanswerable training questions. Prints the cross-validated figures; writes the
model with them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eval.gold import load_questions
from service.answer import ExtractiveAnswerer
from service.api.routers.ask import retrieve
from service.answerability import FEATURES, FittedAnswerability, model_name
from service.question import QuestionAnalyzer
from service.question_form import CharModel, dimensions, form_model_name, form_text
from service.question_form import to_json as form_json
from service.fitted import MODELS, BoostedModel, LogisticModel
from service.search import Searcher, open_searcher
from touyan.settings import Settings

TRAINING = ("eval/qa_train.jsonl", "eval/qa2_train.jsonl", "eval/qa3_train.jsonl", "eval/qa4_train.jsonl", "eval/qa5_train.jsonl", "eval/qa6_train.jsonl", "eval/qa7_train.jsonl", "eval/qa8_train.jsonl", "eval/qa9_train.jsonl", "eval/qa10_train.jsonl", "eval/qa11_train.jsonl", "eval/questions.jsonl", "eval/heldout.jsonl")
# Written by people who ran no retriever, as users' questions are; questions.jsonl and heldout.jsonl
# were read while the retrieval was tuned, and look more answerable than new questions do
# (the fit prints the answer rate of each), so the threshold is set on these alone.
FRESH = ("eval/qa_train.jsonl", "eval/qa2_train.jsonl", "eval/qa3_train.jsonl", "eval/qa4_train.jsonl", "eval/qa5_train.jsonl", "eval/qa6_train.jsonl", "eval/qa7_train.jsonl", "eval/qa8_train.jsonl", "eval/qa9_train.jsonl", "eval/qa10_train.jsonl", "eval/qa11_train.jsonl")
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
# The dense question-form model has as many weights as the embedding has dimensions (512) for
# about a thousand questions: strongly regularised. The characters' tf-idf rows are unit-length
# and sparse, so their grid sits higher.
FORM_C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
CHARS_C_GRID = (1.0, 3.0, 10.0, 30.0)
SEED = 14
# Figures and thresholds are averaged over this many shufflings of the 5 folds: one shuffling's
# refusal rate at the threshold moves by ±0.05 with a few hundred questions, enough to pick the
# wrong model. Each shuffling sets its own threshold: the mean of out-of-fold probabilities over
# shufflings varies less than one model's, so a threshold set on it sits too high for the one
# model the service runs (eval/RESULTS.md).
REPEATS = 5
# Boosted models are averaged over this many seeds: one model's row and column sampling flips
# 2.6 % of the out-of-fold decisions from one seed to another, five averaged 1.1 % (eval/RESULTS.md).
SEEDS = 5
# A model of no weights: what FittedAnswerability needs to compute the features before any fit.
UNFITTED = LogisticModel(tuple(FEATURES), (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), (0.0,) * len(FEATURES), 0.0)


def fit_question_form(searcher: Searcher, analyzer: QuestionAnalyzer, questions: list[str], y: np.ndarray) -> tuple[str, dict[str, np.ndarray]]:
    """The question-form models (service/question_form.py) over the masked wording of the training
    questions the answerability model decides (those the report's structure decides never reach
    it): a logistic regression over the dense embedding and one over the character 1–3-grams, each
    C by 5-fold cross-validated log-loss. Returns the models' JSON, and each question's
    out-of-fold probabilities by feature, which the answerability model is fitted on (the
    service's are the models fitted on them all)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [form_text(analyzer.run(q)) for q in questions]
    X = np.vstack([searcher.dense_vector(t) for t in texts])
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    dense = lambda c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    chars = lambda c: make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True), LogisticRegression(C=c, max_iter=5000))
    cv, oof, fitted = {"questions": len(y)}, {}, {}
    for name, model, data, grid in (("question_form", dense, X, FORM_C_GRID), ("question_form_chars", chars, np.array(texts, dtype=object), CHARS_C_GRID)):
        runs = {c: cross_val_predict(model(c), data, y, cv=folds, method="predict_proba")[:, 1] for c in grid}
        best = min(grid, key=lambda c: log_loss(y, runs[c]))
        cv[name] = {"C": best, **{str(c): {"log_loss": round(float(log_loss(y, p)), 4), "auc": round(float(roc_auc_score(y, p)), 4)} for c, p in runs.items()}}
        oof[name], fitted[name] = runs[best], model(best).fit(data, y)
    meta = {"fitted_by": "python -m eval.fit_answerability", "training": list(TRAINING), "cross_validated": cv}
    vectorizer, logistic = fitted["question_form_chars"].named_steps["tfidfvectorizer"], fitted["question_form_chars"].named_steps["logisticregression"]
    char_model = CharModel(
        {gram: int(k) for gram, k in vectorizer.vocabulary_.items()}, tuple(float(v) for v in vectorizer.idf_),
        tuple(float(v) for v in logistic.coef_[0]), float(logistic.intercept_[0]),
    )
    return form_json(as_logistic_model(fitted["question_form"], dimensions(X.shape[1]), 0.5, {}), char_model, meta), oof


def as_logistic_model(pipeline, features: tuple[str, ...], threshold: float, meta: dict) -> LogisticModel:
    """A fitted scaler-and-logistic-regression pipeline as the service's LogisticModel."""
    scaler, logistic = pipeline.named_steps["standardscaler"], pipeline.named_steps["logisticregression"]
    rounded = lambda values: tuple(float(v) for v in np.round(values, 6))
    return LogisticModel(
        features=features, mean=rounded(scaler.mean_), scale=rounded(np.where(scaler.scale_ > 0, scaler.scale_, 1)),
        coef=rounded(logistic.coef_[0]), intercept=round(float(logistic.intercept_[0]), 6), threshold=round(threshold, 6), meta=meta,
    )


def training_rows(searcher: Searcher, settings: Settings) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Features and labels (1 = answerable) of every training question the model decides, as the
    service computes them (questions the report's structure decides are left out); the
    question-form columns are left at 0.5 for ``main`` to fill in out of fold. Also the questions,
    and which rows are of the ``FRESH`` sets."""
    answerer = ExtractiveAnswerer.for_settings(settings, searcher)
    answerer.answerability = None
    answerability = FittedAnswerability(UNFITTED, answerer.analyzer, searcher, lambda question: {"question_form": 0.5, "question_form_chars": 0.5})
    X, y, questions, fresh = [], [], [], []
    for path in TRAINING:
        for q in load_questions(Path(path)):
            hits = answerer.on_named_places(q.question, retrieve(searcher, answerer, q.question, settings.top_k))  # as /ask reads them
            if answerer.decide(q.question, hits)[1] is not None:
                continue
            quotes = answerer.scored(q.question, answerer.pool(q.question, hits)) if answerer.fitted_quotes else []
            values = answerability.features(q.question, hits, quotes)
            X.append([values[f] for f in FEATURES])
            y.append(int(q.category != "unanswerable"))
            questions.append(q.question)
            fresh.append(path in FRESH)
    return np.array(X, dtype=np.float64), np.array(y), questions, np.array(fresh)


# Which way a feature may move the answer, whatever the few hundred training questions happen to
# show: more of the question found, better matches, the expected answer's shape present → more
# likely answered; names or a year the report lacks → less. The rest may go either way.
MONOTONE = {
    "dense_top": 1, "sparse_top": 1, "late_top": 1, "coverage_corpus": 1, "coverage_top1": 1, "coverage_top3": 1, "focus_top3": 1,
    "unknown_entities": -1, "type_in_top3": 1, "year_missing": -1, "detail_in_top3": 1,
    "quote_best": 1, "quote_focus": 1, "quote_late": 1, "quote_type": 1,
    "window_terms": 1, "typed_window_terms": 1, "typed_window_entities": 1,
}


def boosted(monotone: bool = False, seed: int = SEED):
    """Small trees, shrunk and sampled (a few hundred training questions); with ``monotone``, each
    feature may move the answer only the way MONOTONE says."""
    import lightgbm

    constraints = [MONOTONE.get(f, 0) for f in FEATURES] if monotone else None
    return lightgbm.LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=7, min_child_samples=10,
                                   subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0,
                                   monotone_constraints=constraints, random_state=seed, verbose=-1)


class SeedAveraged(ClassifierMixin, BaseEstimator):
    """``SEEDS`` boosted models differing only in their seed, their probabilities averaged."""

    def __init__(self, monotone: bool = False) -> None:
        self.monotone = monotone

    def fit(self, X: np.ndarray, y: np.ndarray) -> SeedAveraged:
        self.models_ = [boosted(self.monotone, SEED + k).fit(X, y) for k in range(SEEDS)]
        self.classes_ = self.models_[0].classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(X) for m in self.models_], axis=0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def threshold_for(probabilities: np.ndarray, y: np.ndarray, answer_rate: float) -> float:
    """The highest threshold answering at least ``answer_rate`` of the answerable questions."""
    answerable = np.sort(probabilities[y == 1])
    k = int(np.floor((1 - answer_rate) * len(answerable)))
    return float(answerable[k])


def at(threshold: float, p: np.ndarray, y: np.ndarray, fresh: np.ndarray) -> dict:
    answered = lambda rows: round(float((p[rows & (y == 1)] >= threshold).mean()), 3)
    return {
        "answered": answered(np.ones_like(fresh)), "answered_fresh": answered(fresh), "answered_tuned": answered(~fresh),
        "refused": round(float((p[y == 0] < threshold).mean()), 3),
    }


def nested_check(X: np.ndarray, y: np.ndarray, fresh: np.ndarray, answer_rate: float, shufflings: int = 4) -> dict:
    """Whether the threshold rule keeps its promise on questions the fit never saw: in each outer
    fold, the threshold is set by the rule on an inner 5-fold CV of the rest, and a model fitted on
    all the rest is applied to the fold. One boosted model per fit (not SEEDS), to keep it quick."""
    answered, refused = [], []
    for s in range(shufflings):
        for train, test in StratifiedKFold(5, shuffle=True, random_state=SEED + 100 + s).split(X, y):
            inner = cross_val_predict(boosted(), X[train], y[train], cv=StratifiedKFold(5, shuffle=True, random_state=SEED + s), method="predict_proba")[:, 1]
            t = threshold_for(inner[fresh[train]], y[train][fresh[train]], answer_rate)
            p = boosted().fit(X[train], y[train]).predict_proba(X[test])[:, 1]
            answered.append(float((p[fresh[test] & (y[test] == 1)] >= t).mean()))
            refused.append(float((p[y[test] == 0] < t).mean()))
    return {"answer_rate": answer_rate, "fresh_answered": round(float(np.mean(answered)), 3),
            "its_standard_error": round(float(np.std(answered) / np.sqrt(len(answered))), 3), "refused": round(float(np.mean(refused)), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", help="embedder spec (env TOUYAN_EMBEDDER); each encoder set has its own model")
    parser.add_argument("--sparse", choices=["e5", "none"], help="e5 token channels or none (env TOUYAN_SPARSE)")
    parser.add_argument("--out", type=Path, help="default service/models/<the model's name for these encoders>.json")
    parser.add_argument("--answer-rate", type=float, default=0.96, help="share of answerable training questions the threshold keeps answering (default 0.96)")
    parser.add_argument("--nested", action="store_true", help="only check the threshold rule by nested cross-validation (prints; writes no model)")
    args = parser.parse_args(argv)
    settings = Settings.from_flags(embedder=args.embedder, sparse=args.sparse)
    searcher = open_searcher(settings, progress=lambda m: print(m, file=sys.stderr))
    out = args.out or MODELS / f"{model_name(searcher.embedder.name, searcher.tokens is not None)}.json"
    X, y, questions, fresh = training_rows(searcher, settings)
    form_model, form = fit_question_form(searcher, searcher.analyzer, questions, y)
    for name, values in form.items():
        X[:, list(FEATURES).index(name)] = values
    if args.nested:
        print(json.dumps(nested_check(X, y, fresh, args.answer_rate)))
        return 0

    def out_of_fold(model) -> list[np.ndarray]:
        return [cross_val_predict(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=SEED + r), method="predict_proba")[:, 1] for r in range(REPEATS)]

    def figures(runs: list[np.ndarray]) -> tuple[float, dict]:
        """The mean threshold over the shufflings, and the mean of each one's figures at its own threshold."""
        thresholds = [threshold_for(p[fresh], y[fresh], args.answer_rate) for p in runs]
        each = [{"log_loss": log_loss(y, p), "auc": roc_auc_score(y, p), **at(t, p, y, fresh)} for t, p in zip(thresholds, runs)]
        mean = {k: round(float(np.mean([e[k] for e in each])), 4) for k in each[0]}
        return float(np.mean(thresholds)), {"threshold": round(float(np.mean(thresholds)), 4), **mean}

    scores = {c: figures(out_of_fold(make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)))) for c in C_GRID}
    best_c = min(scores, key=lambda c: scores[c][1]["log_loss"])
    thresholds = {"logistic": scores[best_c][0]}
    cv = {
        "questions": len(y), "answerable": int(y.sum()), "unanswerable": int((1 - y).sum()), "fresh": int(fresh.sum()),
        "logistic": {"C": best_c, **scores[best_c][1]},
    }
    for name, monotone in (("boosted_trees", False), ("monotone_trees", True)):
        thresholds[name], cv[name] = figures(out_of_fold(SeedAveraged(monotone)))
    kept = max(thresholds, key=lambda name: (cv[name]["refused"], name == "logistic"))
    cv["kept"] = kept
    meta = {"fitted_by": "python -m eval.fit_answerability", "training": list(TRAINING), "cross_validated": cv}
    if kept != "logistic":
        averaged = SeedAveraged(kept == "monotone_trees").fit(X, y)
        model = BoostedModel(tuple(FEATURES), tuple(m.booster_.model_to_string() for m in averaged.models_), round(thresholds[kept], 6), meta)
    else:
        final = make_pipeline(StandardScaler(), LogisticRegression(C=best_c, max_iter=5000)).fit(X, y)
        model = as_logistic_model(final, tuple(FEATURES), thresholds["logistic"], meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(model.to_json() + "\n", encoding="utf-8")
    form_out = out.with_name(form_model_name(out.stem) + ".json")
    form_out.write_text(form_model + "\n", encoding="utf-8")
    print(json.dumps({"question_form": json.loads(form_model)["meta"]["cross_validated"], **cv}, indent=2))
    if isinstance(model, LogisticModel):
        print("weights:", {f: round(float(c), 3) for f, c in zip(FEATURES, model.coef)})
    print(f"wrote {out} and {form_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
