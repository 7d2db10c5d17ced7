"""Which sentence states what was asked: the features a fitted model (eval/fit_quotes.py) weighs to
score each candidate sentence of the retrieved passages.

A story's setting shares the question's subject (the place, the programme) with the sentence
that holds the asked detail, often more words of it; what tells them apart is the detail's own
words, the shape of the asked answer (a count in the asked measure word, a name, a date), the
sentence's meaning as a whole, and where it stands (right after the lead-in that names the
subject). ``FEATURES`` says what each feature means; the model is service/models/quotes.json.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from index.text import fold
from service.cues import Cues, is_byline
from service.question import QuestionAnalysis, holds_type, weighted_share
from service.search import Hit

FEATURES: dict[str, str] = {
    "focus": "weighted share of the focus words (the asked detail) the sentence holds",
    "terms": "weighted share of all the question's content words it holds",
    "focus_around": "weighted share of the focus words in it and the sentences either side",
    "entities": "share of the named entities (the subject) it holds",
    "lead_in": "the sentence before it names the subject or the focus (1/0): a lead-in, with the detail after it",
    "dense": "cosine of the sentence's dense vector with the question's",
    "dense_rel": "that cosine, min-max scaled over the candidates",
    "late": "late interaction of the question's e5 tokens with the sentence's own (mean best token match)",
    "late_rel": "that score, min-max scaled over the candidates",
    "type": "it holds an answer of the expected type: a count in the asked measure word, a person, a date … (1/0)",
    "type_checked": "the expected type can be checked (1/0)",
    "numbers": "share of the numbers the question names that it holds",
    "rank": "1 / the rank of its passage",
    "first": "it opens its passage (1/0)",
    "length": "log of its length in characters",
    "asks": "it is itself a question (ends in ？) (1/0)",
    "commentary": "the question asks about the expert commentary and it is in one (1/0)",
    "byline": "the question asks who wrote the commentary and it is a byline (1/0)",
    "english_dense": "dense_rel for an English question, else 0: an English question shares no words with the text",
    "defines": "a definition question, and the sentence defines a focus word (“3”指…, …是指…) (1/0)",
}


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage: ``hit.chunk.text[start:end]``, with its neighbours in the same paragraph."""

    hit: Hit
    start: int
    end: int
    before: str
    after: str
    dense: float | None
    late: float | None = None

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


@dataclass(frozen=True)
class ScoredQuote:
    """A candidate with its features and the fitted model's probability that it states the asked fact."""

    candidate: Candidate
    features: dict[str, float]
    probability: float


def features(a: QuestionAnalysis, candidates: list[Candidate]) -> list[dict[str, float]]:
    cues = Cues.of(a.text)
    lo, hi = _range([c.dense for c in candidates])
    late_lo, late_hi = _range([c.late for c in candidates])
    english = a.language == "en"
    entity_words = [fold(e.text) for e in a.entities]
    rows = []
    for c in candidates:
        text, around = fold(c.text), fold(c.before + c.text + c.after)
        before = fold(c.before)
        typed = holds_type(a, c.text)
        dense = c.dense if c.dense is not None else lo
        dense_rel = (dense - lo) / (hi - lo) if hi > lo else 0.0
        rows.append({
            "focus": weighted_share(a.focus, lambda t: t.held_in(text)),
            "terms": weighted_share(a.terms, lambda t: t.held_in(text)),
            "focus_around": weighted_share(a.focus, lambda t: t.held_in(around)),
            "entities": sum(e in text for e in entity_words) / len(entity_words) if entity_words else 0.0,
            "lead_in": float(bool(before) and (any(e in before for e in entity_words) or any(t.held_in(before) for t in a.focus[:2]))),
            "dense": dense,
            "dense_rel": dense_rel,
            "late": c.late if c.late is not None else late_lo,
            "late_rel": ((c.late if c.late is not None else late_lo) - late_lo) / (late_hi - late_lo) if late_hi > late_lo else 0.0,
            "type": float(bool(typed)),
            "type_checked": float(typed is not None),
            "numbers": cues.numbers_held(c.text),
            "rank": 1 / c.hit.rank,
            "first": float(c.start == 0),
            "length": math.log(max(c.end - c.start, 1)),
            "asks": float(c.text.rstrip().endswith(("？", "?"))),
            "commentary": float(cues.about_commentary and c.hit.chunk.section_kind == "commentary"),
            "byline": float(cues.wants_author and is_byline(c.text)),
            "english_dense": dense_rel if english else 0.0,
            "defines": float(a.answer_type == "definition" and bool(typed)),
        })
    return rows


def _range(values: list[float | None]) -> tuple[float, float]:
    known = [v for v in values if v is not None]
    return (min(known), max(known)) if known else (0.0, 0.0)
