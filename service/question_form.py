"""How answerable a question's wording is, whatever the report holds: the question with the
report's own words masked, scored by two fitted logistic regressions, one over its dense
embedding and one over its character 1–3-grams.

Some ways of asking are seldom answered by a report of this kind: a telephone number, the current
holder of a post, a date still to come, a breakdown of a total (梦创社区负责人张懿的联系电话是多少？
→ 某某某的联系电话是多少？). The report's own words and names are masked (某 in Chinese, X in
English) so the models weigh how a question asks and the words the report does not hold, not
which of the report's topics it names: with another report, other words are masked. Their
probabilities are features of the answerability model (service/answerability.py); all are fitted
by eval/fit_answerability.py on the training questions, these out of fold for that one's rows.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from service.fitted import MODELS, LogisticModel, squash
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
    """The dense model's feature names: the embedding's dimensions."""
    return tuple(f"d{i}" for i in range(n))


WHITE_SPACES = re.compile(r"\s\s+")


@dataclass(frozen=True)
class CharModel:
    """A logistic regression over the masked wording's character 1–3-grams, tf-idf weighted: what
    scikit-learn's TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True) and
    LogisticRegression compute, applied without scikit-learn (a second to import)."""

    vocabulary: dict[str, int]
    idf: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    max_n: int = 3

    def grams(self, text: str) -> list[str]:
        text = WHITE_SPACES.sub(" ", text.lower())
        return [text[i : i + n] for n in range(1, self.max_n + 1) for i in range(len(text) - n + 1)]

    def probability(self, text: str) -> float:
        counts: dict[int, int] = {}
        for gram in self.grams(text):
            if (k := self.vocabulary.get(gram)) is not None:
                counts[k] = counts.get(k, 0) + 1
        weights = {k: (1 + math.log(c)) * self.idf[k] for k, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return squash(self.intercept + sum(w / norm * self.coef[k] for k, w in weights.items()))


class QuestionForm:
    """The fitted models over a question's masked wording: ``probabilities(question)`` gives each
    one's, by its answerability feature's name."""

    def __init__(self, dense: LogisticModel, chars: CharModel, analyze: Callable[[str], QuestionAnalysis], embed: Callable[[str], np.ndarray]) -> None:
        self.dense = dense
        self.chars = chars
        self.analyze = analyze
        self.embed = embed
        self._mean = np.array(dense.mean)
        self._weights = np.array(dense.coef) / np.array(dense.scale)

    @classmethod
    def load(cls, name: str, analyze: Callable[[str], QuestionAnalysis], embed: Callable[[str], np.ndarray]) -> QuestionForm:
        """The models ``service/models/<name>.json`` (both in one file)."""
        data = json.loads((MODELS / f"{name}.json").read_text(encoding="utf-8"))
        c = data["chars"]
        dense = LogisticModel.from_dict({**data["dense"], "meta": data.get("meta", {})})
        return cls(dense, CharModel(c["vocabulary"], tuple(c["idf"]), tuple(c["coef"]), float(c["intercept"])), analyze, embed)

    def probabilities(self, question: str) -> dict[str, float]:
        text = form_text(self.analyze(question))
        v = self.embed(text)
        if v.shape != self._mean.shape:
            raise ValueError(f"the question-form model was fitted on {self._mean.shape[0]}-d vectors, the embedder gives {v.shape[0]}")
        dense = squash(self.dense.intercept + float((v - self._mean) @ self._weights))
        return {"question_form": dense, "question_form_chars": self.chars.probability(text)}


def to_json(dense: LogisticModel, chars: CharModel, meta: dict) -> str:
    """Both models in one file, as ``QuestionForm.load`` reads them."""
    return json.dumps({
        "meta": meta,
        "dense": {k: v for k, v in dense.to_dict().items() if k != "meta"},
        "chars": {"vocabulary": chars.vocabulary, "idf": chars.idf, "coef": chars.coef, "intercept": chars.intercept},
    }, ensure_ascii=False)


def form_model_name(answerability_name: str) -> str:
    """The question-form models beside an answerability model: one per encoder set, as the embedding is the encoder's."""
    if "answerability" in answerability_name:
        return answerability_name.replace("answerability", "question_form", 1)
    return f"{answerability_name}.question_form"
