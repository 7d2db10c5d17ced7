"""How answerable a question's wording is, whatever the report holds: the question with the
report's own words masked, embedded densely, scored by a fitted logistic regression.

Some ways of asking are seldom answered by a report of this kind: a telephone number, the current
holder of a post, a date still to come, a breakdown of a total (梦创社区负责人张懿的联系电话是多少？
→ 某某某张懿的联系电话是多少？). The report's own words are masked (某 in Chinese, X in English) so
the model weighs how a question asks and the words the report does not hold, not which of the
report's topics it names: with another report, other words are masked. Its probability is one
feature of the answerability model (service/answerability.py); both are fitted by
eval/fit_answerability.py on the training questions, this one out of fold for that one's rows.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from service.fitted import LogisticModel
from service.question import QuestionAnalysis

MASK_ZH = "某"
MASK_EN = "X"


def form_text(a: QuestionAnalysis) -> str:
    """The question with the words and names the report holds masked, longest first (so 仓前街道
    goes whole before 仓前)."""
    text = a.text
    if a.language == "zh":
        held = [t.text for t in a.terms if t.in_corpus and not t.alone] + [e.text for e in a.entities if e.known]
        for word in sorted(set(held), key=len, reverse=True):
            text = text.replace(word, MASK_ZH)
        return text
    for name in sorted({e.text for e in a.entities if e.known}, key=len, reverse=True):
        text = text.replace(name, MASK_EN)
    for word in {t.text for t in a.terms if t.in_corpus and re.fullmatch(r"[A-Za-z'-]+", t.text)}:
        text = re.sub(rf"\b{re.escape(word)}\b", MASK_EN, text, flags=re.I)
    return text


def dimensions(n: int) -> tuple[str, ...]:
    """The model's feature names: the embedding's dimensions."""
    return tuple(f"d{i}" for i in range(n))


class QuestionForm:
    """The fitted model over a question's masked wording: ``probability(question)``."""

    def __init__(self, model: LogisticModel, analyze: Callable[[str], QuestionAnalysis], embed: Callable[[str], np.ndarray]) -> None:
        self.model = model
        self.analyze = analyze
        self.embed = embed
        self._mean = np.array(model.mean)
        self._weights = np.array(model.coef) / np.array(model.scale)

    def probability(self, question: str) -> float:
        v = self.embed(form_text(self.analyze(question)))
        if v.shape != self._mean.shape:
            raise ValueError(f"the question-form model was fitted on {self._mean.shape[0]}-d vectors, the embedder gives {v.shape[0]}")
        z = self.model.intercept + float((v - self._mean) @ self._weights)
        return float(1 / (1 + np.exp(-np.clip(z, -50, 50))))


def form_model_name(answerability_name: str) -> str:
    """The question-form model beside an answerability model: one per encoder set, as the embedding is the encoder's."""
    if "answerability" in answerability_name:
        return answerability_name.replace("answerability", "question_form", 1)
    return f"{answerability_name}.question_form"
