"""Whether the report answers a question: the features a fitted model (eval/fit_answerability.py)
weighs into ``found`` and a calibrated ``confidence``.

Each feature is a number computed from the question's analysis (service/question.py) and the
passages retrieved for it; ``FEATURES`` says what each one means. The model over them (today
LightGBM's boosted trees; eval/fit_answerability.py keeps whichever kind refuses most out of fold)
is fitted on the training questions only and committed as service/models/answerability.json.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.bm25 import BM25
from index.embed import USEEmbedder
from index.text import fold
from index.tokenize import normalize
from service.fitted import Classifier, load_classifier
from service.question import (
    QuestionAnalysis,
    QuestionAnalyzer,
    detail_shape,
    holds_type,
    weighted_share,
)
from service.question_form import QuestionForm, form_model_name
from service.quotes import ScoredQuote
from service.search import Hit, Searcher

log = logging.getLogger("touyan.answer")
DEFAULT_EMBEDDER = USEEmbedder.name

# Passages whose text counts as "retrieved" for the coverage features.
TOP = 3

FEATURES: dict[str, str] = {
    "dense_top": "best dense cosine among the passages",
    "dense_gap": "how far the best dense cosine stands above the second",
    "sparse_top": "best sparse (e5 latent-term) cosine",
    "sparse_gap": "its lead over the second",
    "late_top": "best late-interaction score (mean best token match)",
    "late_gap": "its lead over the second",
    "bm25_share": "the best BM25 score as a share of what a passage holding every question word once would score",
    "coverage_corpus": "weighted share of the question's content words found anywhere in the report",
    "coverage_top1": "weighted share of them in the first passage (with its case and section titles)",
    "coverage_top3": "weighted share of them in the first three passages",
    "focus_top3": "weighted share of the focus words (the asked detail, beside the named subject) in the first three passages",
    "unknown_entities": "places, organisations and people the question names and the report never does (at most 3)",
    "type_checked": "1 when the expected answer type has a shape a text can be checked for (a count, a date, a person …)",
    "type_in_top3": "1 when such an answer (a count in the asked measure word, a date, a name …) is in the first three passages",
    "year_missing": "1 when the question names a year none of the first three passages names",
    "detail_asked": "1 when the question asks for a detail of a known shape (an age, a telephone number, an address, a sum of money, an area, a population)",
    "detail_in_top3": "1 when the first three passages hold something of that shape",
    "asks_part": "1 when the question states a whole and asks for a part of it (54家…中，…有几家？, the other eight …): reports seldom break their totals down",
    "question_form": "how answerable the question's wording is, with the report's own words masked: from its dense embedding (service/question_form.py)",
    "question_form_chars": "the same from its character 1–3-grams",
    "english": "1 for a question in English",
    "english_dense": "dense_top for an English question, else 0: cross-lingual cosines run on another scale",
    "english_sparse": "sparse_top for an English question, else 0",
    "english_late": "late_top for an English question, else 0",
    "terms": "log(1 + the number of content words)",
    "focus_match_min": "for each focus word, its e5 tokens' best cosine with any token of the first three passages: the lowest (an asked detail nothing there resembles)",
    "focus_match_mean": "the same, averaged over the focus words by their weight",
    "quote_best": "the quote model's best probability that a sentence of the passages states what was asked",
    "quote_focus": "focus_around of that sentence: the asked detail's words in it or next to it",
    "quote_late": "late interaction of the question with that sentence",
    "quote_type": "that sentence holds an answer of the expected type (1/0)",
    "window_terms": "the most of the question's content words (weighted) one candidate sentence with its neighbours holds",
    "typed_window_terms": "the same over the sentences holding an answer of the expected type (0 when none does; 1 when the type has no shape)",
    "typed_window_entities": "the share of the question's named entities in the window of such a sentence (1 when the question names none or the type has no shape)",
}


@dataclass(frozen=True)
class Evidence:
    """What the features are computed from."""

    analysis: QuestionAnalysis
    hits: list[Hit]
    bm25: BM25
    question_terms: list[str]  # the BM25 tokens of the question
    quotes: list[ScoredQuote]  # the candidate sentences, scored by the quote model
    token_starts: np.ndarray  # where each of the question's e5 tokens begins in it
    token_best: np.ndarray  # each one's best cosine with a token of the first three passages
    form: dict[str, float]  # the question-form models' probabilities, by feature


def features(e: Evidence) -> dict[str, float]:
    a, hits = e.analysis, e.hits
    top = [normalize(f"{h.chunk.case_title}\n{h.chunk.section}\n{h.chunk.text}") for h in hits[:TOP]]
    english = float(a.language == "en")
    dense, sparse, late = (_top_and_gap(hits, lambda h, c=c: getattr(h, c)) for c in ("dense", "sparse", "late"))
    ideal = sum(e.bm25.idf(t) for t in set(e.question_terms)) or 1.0
    checked = [holds_type(a, text) for text in top]
    best = max(e.quotes, key=lambda q: q.probability, default=None)
    detail = detail_shape(a.text)
    return {
        "dense_top": dense[0], "dense_gap": dense[1],
        "sparse_top": sparse[0], "sparse_gap": sparse[1],
        "late_top": late[0], "late_gap": late[1],
        "bm25_share": max((h.bm25 or 0.0 for h in hits), default=0.0) / ideal,
        "coverage_corpus": a.coverage,
        "coverage_top1": weighted_share(a.terms, lambda t: bool(top) and t.held_in(top[0], normalize)),
        "coverage_top3": weighted_share(a.terms, lambda t: any(t.held_in(text, normalize) for text in top)),
        "focus_top3": weighted_share(a.focus, lambda t: any(t.held_in(text, normalize) for text in top)),
        "unknown_entities": float(min(len(a.unknown), 3)),
        "type_checked": float(any(c is not None for c in checked)),
        "type_in_top3": float(any(c for c in checked)),
        "year_missing": float(bool(a.years) and not any(str(y) in text for y in a.years for text in top)),
        "detail_asked": float(detail is not None),
        "detail_in_top3": float(detail is not None and any(detail.search(h.chunk.text) for h in hits[:TOP])),
        "asks_part": float(a.asks_part),
        **e.form,
        "english": english,
        "english_dense": english * dense[0], "english_sparse": english * sparse[0], "english_late": english * late[0],
        "terms": math.log1p(len(a.terms)),
        **focus_matches(a, e.token_starts, e.token_best),
        "quote_best": best.probability if best else 0.0,
        "quote_focus": best.features["focus_around"] if best else 0.0,
        "quote_late": best.features["late"] if best else 0.0,
        "quote_type": best.features["type"] if best else 0.0,
        **windows(a, e.quotes),
    }


def windows(a: QuestionAnalysis, quotes: list[ScoredQuote]) -> dict[str, float]:
    """How much of the question one place in the text holds: a sentence with the sentences either
    side. A detail the report does not give leaves the subject's words together in one place but
    no answer of the asked type among them."""
    entities = [fold(e.text) for e in a.entities]
    best_terms = best_typed = 0.0
    best_entities = 0.0 if entities else 1.0
    checked = False
    for q in quotes:
        c = q.candidate
        around = fold(c.before + c.text + c.after)
        share = weighted_share(a.terms, lambda t, around=around: t.held_in(around))
        best_terms = max(best_terms, share)
        if q.features["type_checked"]:
            checked = True
            if q.features["type"]:
                best_typed = max(best_typed, share)
                if entities:
                    best_entities = max(best_entities, sum(e in around for e in entities) / len(entities))
    if not checked:
        return {"window_terms": best_terms, "typed_window_terms": 1.0, "typed_window_entities": 1.0}
    return {"window_terms": best_terms, "typed_window_terms": best_typed, "typed_window_entities": best_entities}


def focus_matches(a: QuestionAnalysis, starts: np.ndarray, best: np.ndarray) -> dict[str, float]:
    """How well the focus words' own tokens find a match in the passages: each word's tokens are
    those beginning inside it in the question; a word is scored by their mean best cosine."""
    scored = []
    for term in a.focus:
        at = a.text.lower().find(term.text.lower())
        inside = (starts >= at) & (starts < at + len(term.text)) if at >= 0 else np.zeros(len(starts), bool)
        if inside.any():
            scored.append((term.weight, float(best[inside].mean())))
    if not scored:
        return {"focus_match_min": 1.0, "focus_match_mean": 1.0}
    total = sum(w for w, _ in scored)
    return {"focus_match_min": min(v for _, v in scored), "focus_match_mean": sum(w * v for w, v in scored) / total}


def _top_and_gap(hits: list[Hit], score: Callable[[Hit], float | None]) -> tuple[float, float]:
    values = sorted((v for h in hits if (v := score(h)) is not None), reverse=True)
    if not values:
        return 0.0, 0.0
    return values[0], values[0] - (values[1] if len(values) > 1 else 0.0)


class FittedAnswerability:
    """The fitted model over ``features``: the probability that the report answers the question."""

    def __init__(self, model: Classifier, analyzer: QuestionAnalyzer, searcher: Searcher, form: Callable[[str], dict[str, float]]) -> None:
        self.model = model
        self.threshold = model.threshold
        self.analyzer = analyzer
        self.searcher = searcher
        self.form = form  # the question-form probabilities (eval/fit_answerability.py gives out-of-fold ones)

    @classmethod
    def for_searcher(cls, searcher: Searcher, analyzer: QuestionAnalyzer) -> FittedAnswerability | None:
        """The model fitted for this searcher's encoders, or None (logged) when none was."""
        name = model_name(searcher.embedder.name, searcher.tokens is not None)
        try:
            model = load_classifier(name)
        except FileNotFoundError:
            log.warning("no answerability model %s for these encoders: every retrieved passage answers (fit one: python -m eval.fit_answerability)", name)
            return None
        if tuple(model.features) != tuple(FEATURES):
            log.warning("the answerability model %s was fitted on other features: every retrieved passage answers (refit it: python -m eval.fit_answerability)", name)
            return None
        try:
            form = QuestionForm.load(form_model_name(name), analyzer.run, searcher.dense_vector)
        except FileNotFoundError:
            log.warning("no question-form model beside %s: every retrieved passage answers (fit both: python -m eval.fit_answerability)", name)
            return None
        return cls(model, analyzer, searcher, form.probabilities)

    def features(self, question: str, hits: list[Hit], quotes: list[ScoredQuote]) -> dict[str, float]:
        analysis = self.analyzer.run(question)
        terms = self.searcher.tokenizer.tokenize(question) + self.analyzer.names.terms(question)
        starts, best = self.searcher.token_matches(question, [h.chunk for h in hits[:TOP]])
        return features(Evidence(analysis, hits, self.searcher.stored.bm25, terms, quotes, starts, best, self.form(question)))

    def confidence(self, question: str, hits: list[Hit], quotes: list[ScoredQuote]) -> float:
        return self.model.probability(self.features(question, hits, quotes))


def model_name(embedder: str, tokens: bool) -> str:
    """One model per encoder set: the features' scales are the encoders'."""
    return "answerability" if (embedder, tokens) == (DEFAULT_EMBEDDER, True) else f"answerability-{fold(embedder)}-{'tokens' if tokens else 'dense'}"
