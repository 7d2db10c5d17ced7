"""The gold question set and how a ranking is scored against it.

A passage answers a question when it belongs to a gold case and contains one of the
question's evidence strings. Nothing here imports the retrieval stack, so a script run
outside Touyan's environment (eval/baseline_llamaindex.py) scores by the same rule.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from index.models import Case, Chunk
from index.text import fold

QUESTIONS = Path(__file__).with_name("questions.jsonl")
CATEGORIES = ("fact", "paraphrase", "multi", "english", "unanswerable")
# What an unanswerable question is: off-topic daily life, another city's or province's reform, a
# detail about the report's people, places or organisations it does not state, a case the
# contents list names whose article the corpus lacks.
KINDS = ("offtopic", "elsewhere", "missing_detail", "unlisted")
K = 5
FIELDS = "id, question, category, cases, evidence and optionally answer, key, kind"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    category: str
    cases: list[str]
    evidence: list[str]
    answer: str = ""
    # The facts an answer must quote: each item is required, an item that is a list is met by
    # any of its alternatives (["第二客厅"], [["6000余家", "6000多家"]], one item per case of a multi question).
    key: list[str | list[str]] = field(default_factory=list)
    kind: str | None = None  # of an unanswerable question, one of KINDS

    def holds_key(self, text: str) -> bool | None:
        """Whether ``text`` (an answer) states every key fact; None when the question has none."""
        if not self.key:
            return None
        folded = fold(text)  # letters and digits only: quotes, width and spacing do not matter
        return all(any(fold(alt) in folded for alt in ([item] if isinstance(item, str) else item)) for item in self.key)

    def gold_cases(self, cases: Iterable[Case]) -> set[str]:
        """Ids of the cases whose title holds one of the question's case keys."""
        return {c.id for c in cases if any(fold(key) in fold(c.title) for key in self.cases)}

    def answering(self, cases: Iterable[Case], chunks: Iterable[Chunk]) -> set[str]:
        """Ids of the passages that answer this question: in a gold case and holding an evidence string."""
        gold = self.gold_cases(cases)
        return {c.id for c in chunks if c.case_id in gold and self.holds_evidence(c.text)}

    def holds_evidence(self, text: str) -> bool:
        squashed = _squash(text)
        return any(_squash(e) in squashed for e in self.evidence)


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The questions of a JSON-lines file; a bad line is a ValueError naming the file and line."""
    questions = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                question = Question(**json.loads(line.strip()))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path} line {number}: not JSON ({e.msg} at column {e.colno})") from None
            except TypeError:
                raise ValueError(f"{path} line {number}: a question is an object with {FIELDS}") from None
            if question.category not in CATEGORIES:
                raise ValueError(f"{path} line {number}: category {question.category!r} is not one of {', '.join(CATEGORIES)}")
            if question.kind is not None and question.kind not in KINDS:
                raise ValueError(f"{path} line {number}: kind {question.kind!r} is not one of {', '.join(KINDS)}")
            questions.append(question)
    return questions


@dataclass(frozen=True)
class Conversation:
    """User turns whose last one only makes sense with the earlier ones (那钱塘呢？); ``last`` is
    that turn as a question, with the gold cases, evidence and key facts of its answer."""

    id: str
    turns: list[str]
    last: Question


def load_conversations(path: Path) -> list[Conversation]:
    """The conversations of a JSON-lines file: each a question's fields with ``turns`` (2 or more user messages) for ``question``."""
    conversations = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                turns = data.pop("turns")
                last = Question(question=turns[-1], **data)
            except (json.JSONDecodeError, KeyError, TypeError, IndexError):
                raise ValueError(f"{path} line {number}: a conversation is an object with turns (2 or more user messages) and {FIELDS}") from None
            if len(turns) < 2 or not all(isinstance(t, str) and t.strip() for t in turns):
                raise ValueError(f"{path} line {number}: turns must be 2 or more user messages")
            conversations.append(Conversation(last.id, turns, last))
    return conversations


def _squash(text: str) -> str:
    return "".join(text.split())


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
