"""Extractive answers: quote the sentences of the top passages that answer the question, each with [n].

No language model is involved: a sentence is chosen for the question's words it holds
(jieba tokens; longer words, and words few of the candidate sentences share, weigh
more) and for its dense similarity to the question (sentence vectors built with the
index), within the best-ranked passages. Whether the report answers the question at all is
an ``Answerability``'s call: the fitted model of service/answerability.py, which gives a
calibrated confidence, beside a few rules about the report's structure (a question about
the contents list, a keyword a passage holds, a part of the report the question names).
"""
from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from index.models import Chunk, SectionKind, page_label
from index.parse import CONTENTS_LINE
from index.text import fold, sentence_spans
from index.tokenize import Tokenizer, normalize
from service.cues import Cues, holds_quantity, is_byline, is_latin
from service.fitted import LogisticModel
from service.question import QuestionAnalysis, QuestionAnalyzer, holds_type, parts
from service.quotes import Candidate, ScoredQuote
from service.quotes import features as quote_features
from service.search import Hit, Searcher
from touyan.settings import Settings

# A question asking for several things (“哪些案例…”) may quote a sentence of each case.
SEVERAL = re.compile(r"哪些|哪几|\bwhich\b", re.IGNORECASE)
MIN_SENTENCE_CHARS = 6
# How much the question–sentence dense similarity (min-max over the candidates) adds to a
# sentence's word score: best of 0.3–1.0 on eval/questions.jsonl by how often the answer
# quotes the gold evidence (eval/answers.py); the scoring used without a fitted quote model.
SIMILARITY_WEIGHT = 0.3
# A best sentence shorter than this is quoted with its neighbours (ExtractiveAnswerer._in_context).
CONTEXT_BELOW_CHARS = 60
QUOTES_MODEL = "quotes"
# With the fitted quote model, a further sentence is quoted at this probability of stating the
# asked fact: on the training questions it took answers stating the key fact from 0.832 (the
# best sentence alone, with its context) to 0.894, at a median answer of 152 characters
# (0.05: 0.898 at 179; 0.2: 0.861 at 117); eval/RESULTS.md.
QUOTE_AT = 0.1
# How many of the first passages the quote model re-ranks (Answerer.rerank): the depth its weight
# was fitted at (eval/fit_quotes.py).
RERANK_DEPTH = 5

log = logging.getLogger("touyan.answer")
K = TypeVar("K")  # what names a passage: its id, or (question, id) when fitting

# A score of a question against (passage, start, end) sentences (dense cosine, late interaction); None where unknown.
SentenceSimilarity = Callable[[str, list[tuple[Chunk, int, int]]], list[float | None]]
# Ids of the cases about the places a question names; None when it names none (Searcher.cases_named).
CasesNamed = Callable[[str], frozenset[str] | None]


@dataclass(frozen=True)
class Citation:
    """One quoted sentence: ``quote == passage text[start:end]`` of passage ``chunk_id``."""

    n: int
    chunk_id: str
    case_id: str
    case: str
    page: int | None
    section: str
    source: str
    quote: str
    start: int
    end: int
    section_kind: SectionKind = "body"
    report: str = ""
    pdf_page: int | None = None
    page_label: str | None = None


@dataclass(frozen=True)
class Answer:
    text: str
    found: bool
    citations: list[Citation] = field(default_factory=list)
    support: float | None = None
    mode: str = "extractive"
    note: str | None = None
    confidence: float | None = None  # that the report answers the question, 0–1 (None: no model judged it)


class Answerer(Protocol):
    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]: ...

    def run(self, question: str, hits: list[Hit]) -> Answer: ...


class Answerability(Protocol):
    """Judges whether the passages answer the question: a probability, and the one at which to answer."""

    threshold: float

    def confidence(self, question: str, hits: list[Hit], quotes: list[ScoredQuote]) -> float: ...


@dataclass(frozen=True)
class _Sentence:
    hit: Hit
    start: int
    end: int
    score: float
    terms: frozenset[str]

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]

    def overlaps(self, other: _Sentence) -> bool:
        """Whether the two quote spans share text of one passage."""
        return self.hit is other.hit and self.start < other.end and self.end > other.start


def not_found_text(question: str, hits: list[Hit]) -> str:
    """Says the report has no answer, in the question's language, and points at the closest
    passage, or, for an article the contents list names but the report does not hold, at its line."""
    topic = question.strip().rstrip("?？。.!！ ") or question.strip()
    if len(topic) > 40:
        topic = topic[:40] + "…"
    c = hits[0].chunk if hits else None
    if article_missing(question, hits) and (lines := contents_quotes(question, hits) or [line for _, line in titled_lines(question, hits)]):
        listed = "；".join(line.text.strip() for line in lines)
        if is_latin(question):
            return f"The report's contents list this page ({listed}), but the report does not hold the article itself."
        return f"报告目录列有这一版（{listed}），但报告中没有这篇文章的正文。"
    if is_latin(question):
        text = f"The report has nothing that answers “{topic}”."
        if c is not None:
            text += f" The closest passage is from 《{c.case_title}》 ({page_label(c.page, c.section_kind, english=True)})."
        return text
    text = f"报告中没有找到能回答“{topic}”的内容。"
    if c is not None:
        text += f"最接近的段落来自《{c.case_title}》（{page_label(c.page, c.section_kind)}）。"
    return text


def contents_quotes(question: str, hits: list[Hit], analysis: QuestionAnalysis | None = None) -> list[_Sentence]:
    """What the contents list answers: for a question about the contents, its passages among the
    hits, whole and in order; for one naming a page (第29版), that page's lines; for one asking
    which page something is on (桐庐…在第几版？), the lines holding most of its words (weighted, as
    ``analysis`` weighs them). Else nothing.

    The list answers such questions and nothing else: its lines name every case, so they
    share words with any question about one, and none with a question about the list.
    """
    cues = Cues.of(question)
    if "contents" not in cues.kinds:
        return []
    contents = sorted((h for h in hits if h.chunk.section_kind == "contents"), key=lambda h: h.chunk.start)
    if cues.asks_page and not cues.pages and analysis is not None and (lines := _lines_about(analysis, contents)):
        return lines
    if not cues.pages:
        return [_Sentence(h, 0, len(h.chunk.text), 0.0, frozenset()) for h in contents]
    return [line for page, _, line in contents_lines(contents) if page in cues.pages]


def contents_lines(hits: list[Hit]) -> Iterator[tuple[int, str, _Sentence]]:
    """Each line of the contents passages among these hits, in their order: its page, what it lists, the line."""
    for h in hits:
        if h.chunk.section_kind != "contents":
            continue
        for a, b in sentence_spans(h.chunk.text):
            if m := CONTENTS_LINE.match(h.chunk.text[a:b]):
                yield int(m.group(1)), m.group(2), _Sentence(h, a, b, 0.0, frozenset())


def article_missing(question: str, hits: list[Hit]) -> bool:
    """A question about what a page's article says (第14版《…》讲了杭州哪些产业链？, or one quoting
    the title a contents line gives it: 《杭州科创生态的“建圈”与“破圈”》那篇里…) when the report holds
    only that page's line in the contents list, not the article: the list names it but does not
    answer. Asking which page, what the page carries or what it says in sum, the list does."""
    cues = Cues.of(question)
    if cues.asks_page or cues.asks_listing or cues.wants_summary:
        return False
    pages = set(cues.pages) or {page for page, _ in titled_lines(question, hits)}
    return bool(pages) and not any(h.chunk.page in pages and h.chunk.section_kind != "contents" for h in hits)


# A title a question quotes: 《…》, or a quotation long enough to be one (not “321” or “建圈”).
QUOTED_TITLE = re.compile(r"《([^》]{4,})》|“([^”]{8,})”")


def titled_lines(question: str, hits: list[Hit]) -> list[tuple[int, _Sentence]]:
    """The retrieved contents lines, with their pages, that hold a title the question quotes."""
    titles = [fold(m.group(1) or m.group(2)) for m in QUOTED_TITLE.finditer(question)]
    if not titles:
        return []
    return [(page, line) for page, listed, line in contents_lines(hits) if any(t and t in fold(listed) for t in titles)]


def _lines_about(analysis: QuestionAnalysis, contents: list[Hit]) -> list[_Sentence]:
    """The contents lines holding the most of the question's words by weight (none if no line holds any)."""
    scored = [(sum(t.weight for t in analysis.terms if t.held_in(fold(line.text))), line) for _, _, line in contents_lines(contents)]
    best = max((score for score, _ in scored), default=0.0)
    return [line for score, line in scored if best > 0 and score == best]


def byline_quote(question: str, hits: list[Hit], cases: list[str] | None = None) -> list[_Sentence]:
    """For a question asking who wrote a commentary, the commentary's byline (its expert's title
    and name), from the best hit's case when one of its commentaries was retrieved; for a question
    about several cases (``cases``: 余杭和钱塘的点评专家分别是谁？), the byline of each.

    Scored with the other sentences, the byline lost to the case's own sentences, which share the
    place the question names while the byline does not.
    """
    cues = Cues.of(question)
    if not (cues.wants_author and "commentary" in cues.kinds):  # 点评 itself: “评价…的院长是谁” asks no byline
        return []
    commentaries = [h for h in hits if h.chunk.section_kind == "commentary"]
    if cases:
        return [q for case in cases for q in _byline([h for h in commentaries if h.chunk.case_id == case])]
    same_case = [h for h in commentaries if hits and h.chunk.case_id == hits[0].chunk.case_id]
    return _byline(same_case + commentaries)


def _byline(commentaries: list[Hit]) -> list[_Sentence]:
    """The first byline of these commentary passages, as a one-sentence quote (or none)."""
    for h in commentaries:
        for a, b in sentence_spans(h.chunk.text):
            if is_byline(h.chunk.text[a:b]):
                return [_Sentence(h, a, b, 0.0, frozenset())]
    return []


def quoted_verbatim(question: str, hits: list[Hit]) -> bool:
    """Whether a passage holds the whole question, as it does a name typed alone (梦创, 共富工坊)."""
    phrase = normalize(question).strip(" ?？。.!！")
    return len(phrase) >= 2 and any(phrase in normalize(h.chunk.text) for h in hits)


def named_kind_hits(question: str, hits: list[Hit]) -> list[Hit]:
    """The hits of the section kind the question names (专家点评, 前言), in rank order.

    A question about the commentary or the preface is answered from it: the case's own
    sentences share the place the question names, and outscored the commentary
    (“仓前街道的专家点评说了什么？” quoted the case's introduction).
    """
    kinds = Cues.of(question).kinds - {"contents"}  # the contents list has contents_quotes
    return [h for h in hits if h.chunk.section_kind in kinds]


def lead_quote(question: str, hits: list[Hit]) -> list[_Sentence]:
    """For a question asking what the commentary or the preface says, its opening sentences
    (``opening``) among the passages of that kind."""
    named = named_kind_hits(question, hits)
    return opening(named) if named and Cues.of(question).wants_summary else []


def opening(hits: list[Hit], max_chars: int = 150) -> list[_Sentence]:
    """The opening sentences, up to ``max_chars``, of the earliest of these passages of the first
    one's case: a writer states the point first, while any single sentence sharing a summary
    question's few words (前言, 讲) is an arbitrary one."""
    first = min((h for h in hits if h.chunk.case_id == hits[0].chunk.case_id), key=lambda h: h.chunk.start)
    text = first.chunk.text
    spans = [(a, b) for a, b in sentence_spans(text) if not is_byline(text[a:b])]
    if not spans:
        return []
    end = spans[0][1]
    for _, b in spans[1:]:
        if b - spans[0][0] > max_chars:
            break
        end = b
    return [_Sentence(first, spans[0][0], end, 0.0, frozenset())]


def best_per_passage(scored: Iterable[tuple[K, float]]) -> dict[K, float]:
    """The best score of each passage (or of each key naming one) among its sentences' scores."""
    best: dict[K, float] = {}
    for key, score in scored:
        best[key] = max(best.get(key, 0.0), score)
    return best


def reranked(scores: list[float], best: list[float], weight: float) -> list[int]:
    """The order of passages (indices) by their fused score scaled to the best plus ``weight`` times
    their best sentence's probability: ExtractiveAnswerer.rerank, and eval/fit_quotes.py fitting the weight."""
    top = max(scores) or 1.0
    return sorted(range(len(scores)), key=lambda i: -(scores[i] / top + weight * best[i]))


def load_model(name: str) -> LogisticModel | None:
    """A fitted model of service/models/, or None (logged) when it was not fitted."""
    try:
        return LogisticModel.load(name)
    except FileNotFoundError:
        log.warning("no fitted model %s: fit it with python -m eval.fit_%s", name, name)
        return None


class ExtractiveAnswerer:
    """Quotes 1–3 sentences from the top passages, the likeliest to state what was asked first, each cited [n].

    With the fitted quote model (service/quotes.py), each sentence's score is the probability
    that it states the asked fact; a further sentence is quoted while its probability is at
    least ``quote_at``, within ``max_sentences`` and ``max_chars``. Without it (encoders no
    model was fitted for), sentences are scored by the question words they hold, and a further
    one is added when it scores ``keep_ratio`` of the best and covers words the earlier ones
    miss, or comes from another case and scores ``same_ratio`` of it. A best sentence under
    ``CONTEXT_BELOW_CHARS`` is quoted with its neighbours. A “哪些…” question asks for several:
    it draws on all the hits, not the first ``passages`` (and, word-scored, a sentence of
    another case needs only ``several_ratio`` of the best score).
    """

    def __init__(
        self,
        answerability: Answerability | None = None,
        passages: int = 3,
        max_sentences: int = 3,
        max_chars: int = 300,
        quote_at: float = QUOTE_AT,
        keep_ratio: float = 0.75,
        same_ratio: float = 0.9,
        several_ratio: float = 0.6,
        tokenizer: Tokenizer | None = None,
        signal: str = "dense",
        similarity: SentenceSimilarity | None = None,
        cases_named: CasesNamed | None = None,
        analyzer: QuestionAnalyzer | None = None,
        quote_model: LogisticModel | None = None,
        sentence_late: SentenceSimilarity | None = None,
        preceding: Callable[[Chunk], str] | None = None,
    ) -> None:
        self.sentence_late = sentence_late
        self.preceding = preceding  # a passage's first sentence's lead-in, from the passage before
        self._last_scored = threading.local()
        self.answerability = answerability
        self.analyzer = analyzer
        self.quote_model = quote_model
        self.signal = signal
        self.similarity = similarity
        self.cases_named = cases_named
        self.passages = passages
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self.quote_at = quote_at
        self.keep_ratio = keep_ratio
        self.same_ratio = same_ratio
        self.several_ratio = several_ratio
        self.tokenizer = tokenizer or Tokenizer()

    @classmethod
    def for_settings(cls, settings: Settings, searcher: Searcher | None = None) -> ExtractiveAnswerer:
        """With a searcher: the fitted answerability model for its encoders, and its tokenizer,
        sentence vectors and places; ``support`` reports the sparse cosine when the index has it."""
        from service.answerability import FittedAnswerability

        analyzer = searcher.analyzer if searcher else None
        answerability = FittedAnswerability.for_searcher(searcher, analyzer) if searcher else None
        if answerability is not None and settings.answer_threshold is not None:
            answerability.threshold = settings.answer_threshold
        return cls(
            answerability=answerability,
            signal="sparse" if settings.sparse != "none" else "dense",
            similarity=searcher.sentence_similarities if searcher else None,
            cases_named=searcher.cases_named if searcher else None,
            tokenizer=searcher.tokenizer if searcher else None,
            analyzer=analyzer,
            quote_model=load_model(QUOTES_MODEL) if searcher else None,
            sentence_late=searcher.sentence_late if searcher else None,
            preceding=searcher.preceding if searcher else None,
        )

    def run(self, question: str, hits: list[Hit]) -> Answer:
        named = self.on_named_places(question, hits)
        support = self.support(named)
        found, confidence = self.decide(question, named)
        if not found:
            return Answer(not_found_text(question, hits), found=False, support=support, confidence=confidence)
        hits = named
        chosen = self.select(question, hits, self.terms(question))
        if self.fitted_quotes:
            chosen = self.cover_parts(question, hits, chosen)
        citations = [
            Citation(
                n=n,
                chunk_id=s.hit.chunk.id,
                case_id=s.hit.chunk.case_id,
                case=s.hit.chunk.case_title,
                page=s.hit.chunk.page,
                section=s.hit.chunk.section,
                source=s.hit.chunk.source,
                quote=s.text,
                start=s.start,
                end=s.end,
                section_kind=s.hit.chunk.section_kind,
                report=s.hit.chunk.report,
                pdf_page=s.hit.chunk.pdf_page,
                page_label=s.hit.chunk.page_label,
            )
            for n, s in enumerate(chosen, 1)
        ]
        text = "".join(f"{c.quote}[{c.n}]" for c in citations)
        if is_latin(question):  # the quotes are the report's Chinese; what frames them is the question's language
            text = f"The report says: {text}"
        return Answer(text, found=True, citations=citations, support=support, confidence=confidence)

    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        """The first ``RERANK_DEPTH`` passages re-ordered by their fused score (scaled to the best)
        plus the quote model's best sentence probability in each, by the weight fitted with the
        quote model (its ``rerank_weight``): search ranks passages by how they match the question
        as a whole, the quote model by whether a sentence states the asked detail."""
        weight = float(self.quote_model.meta.get("rerank_weight", 0.0)) if self.fitted_quotes else 0.0
        head, tail = hits[:RERANK_DEPTH], hits[RERANK_DEPTH:]
        if weight <= 0 or len(head) < 2:
            return hits
        best = best_per_passage((q.candidate.hit.chunk.id, q.probability) for q in self.scored(question, head))
        order = reranked([h.score for h in head], [best.get(h.chunk.id, 0.0) for h in head], weight)
        return [replace(h, rank=r) for r, h in enumerate([head[i] for i in order] + tail, 1)]

    def on_named_places(self, question: str, hits: list[Hit]) -> list[Hit]:
        """The hits a question naming places may be answered from: those of cases about them, and
        the contents list (which names every place). Another place's passage shares the question's
        other words, and its fact would be stated as the named place's (钱塘有多少个部门… got 余杭's).
        A question asking two things in turn is filtered by the places of all its parts, and not
        at all when one part names no case (…杭州汇聚了多少条数据？钱塘的…又帮多少名…？); a
        later part naming nothing is about the places before it, as cover_parts reads it."""
        if self.cases_named is None:
            return hits
        asked = parts(question)  # [question] when it asks one thing
        named = [self.cases_named(self._part_read(asked, i)) for i in range(len(asked))]
        if any(cases is None for cases in named):
            return hits
        cases = frozenset().union(*named)
        return [h for h in hits if h.chunk.case_id in cases or h.chunk.section_kind == "contents"]

    def _part_read(self, asked: list[str], i: int) -> str:
        """Part ``i`` of a question asking several things, as it is read: with the parts before it
        when it names nothing of its own (…什么时候能建好？), else alone (杭州…又是在几月？ names
        the city, which is no one case, and is not about the places before it)."""
        if i and self.analyzer is not None and not self.analyzer.run(asked[i]).entities:
            return "".join(asked[: i + 1])
        return asked[i]

    def terms(self, question: str) -> list[str]:
        return list(dict.fromkeys(self.tokenizer.tokenize(question)))

    def support(self, hits: list[Hit]) -> float | None:
        """The best cosine of the support signal among the hits, or None when retrieval gave none."""
        scores = [getattr(h, self.signal) for h in hits if getattr(h, self.signal) is not None]
        return max(scores) if scores else None

    def decide(self, question: str, hits: list[Hit]) -> tuple[bool, float | None]:
        """Whether to answer from these hits, and the confidence that the report answers the question.

        The report's structure decides some questions for certain (confidence 1 or 0): the
        contents list answers a question about it or a page it lists and nothing else; a passage
        holding the whole question (a keyword) answers it; a question about a part of the report
        (the expert commentary, the preface) is not answered when no passage of that part was
        retrieved (the case has none), and one asking what that part says (前言讲了什么？) or who
        wrote it is answered from it when it was. The rest is the fitted model's call; without
        one, any retrieved passage answers.
        """
        if not hits:
            return False, 0.0
        if contents_quotes(question, hits, self._analysis(question)):
            answered = not article_missing(question, hits)
            return answered, float(answered)
        if all(h.chunk.section_kind == "contents" for h in hits):
            return False, 0.0
        if titled_lines(question, hits) and article_missing(question, hits):
            return False, 0.0
        if quoted_verbatim(question, hits):
            return True, 1.0
        cues = Cues.of(question)
        if cues.kinds - {"contents"}:
            if not named_kind_hits(question, hits):
                return False, 0.0  # the commentary of a case that has none (专家是怎么点评江洲村这个案例的？)
            if cues.wants_summary or cues.wants_author:
                return True, 1.0
        if self.answerability is None:
            return True, None
        quotes = self.scored(question, self.pool(question, hits)) if self.fitted_quotes else []
        confidence = self.answerability.confidence(question, hits, quotes)
        return confidence >= self.answerability.threshold, round(confidence, 4)

    def select(self, question: str, hits: list[Hit], terms: list[str]) -> list[_Sentence]:
        """The sentences to quote; a question about the contents or a page gets the list's (contents_quotes),
        and for a page, the best sentence (or, asked what it says, the opening) of that page's own
        passages after its line; one naming the commentary or the preface, that kind's sentences
        when it was retrieved."""
        if contents := contents_quotes(question, hits, self._analysis(question)):
            cues = Cues.of(question)
            on_page = [h for h in hits if h.chunk.page in cues.pages and h.chunk.section_kind != "contents"]
            if not on_page:
                return contents
            if cues.wants_summary:  # 第28版讲了什么？
                return contents + opening(on_page)
            page_terms = [t for t in terms if t not in {str(p) for p in cues.pages}]  # “28个省市” is not about page 28
            return contents + self.select(question, on_page, page_terms)[:1]
        if byline := byline_quote(question, hits, self.analyzer.cases_compared(question) if self.analyzer else None):
            return byline
        if lead := lead_quote(question, hits):
            return lead
        several = self.wants_several(question)
        pool = self.pool(question, hits)
        hits = named_kind_hits(question, hits) or hits
        ranked = sorted(self.sentences(question, pool, terms), key=lambda s: -s.score)
        if not ranked:  # only fragments: quote the best passage whole
            return [_Sentence(hits[0], 0, len(hits[0].chunk.text), 0.0, frozenset())]
        fitted = self.fitted_quotes
        keep_ratio, same_ratio = (self.several_ratio, self.several_ratio) if several else (self.keep_ratio, self.same_ratio)
        chosen = self.one_per_case(question, ranked, pool, terms) if fitted else []
        best = chosen[0] if chosen else self._in_context(ranked[0], question)
        chosen = chosen or [best]
        covered = set().union(*(c.terms for c in chosen))
        cases = {c.hit.chunk.case_id for c in chosen}
        length = sum(c.end - c.start for c in chosen)
        for s in ranked[1:]:
            if len(chosen) == self.max_sentences or s.score < (self.quote_at if fitted else keep_ratio * best.score):
                break
            if any(s.overlaps(c) for c in chosen):
                continue  # already quoted, or as a quote's context
            adds_words = bool(s.terms - covered)
            other_case = s.hit.chunk.case_id not in cases and s.score >= same_ratio * best.score
            if (fitted or adds_words or other_case) and length + s.end - s.start <= self.max_chars:
                chosen.append(s)
                covered |= s.terms
                cases.add(s.hit.chunk.case_id)
                length += s.end - s.start
        return chosen

    def one_per_case(self, question: str, ranked: list[_Sentence], pool: list[Hit], terms: list[str]) -> list[_Sentence]:
        """For a question about two or more cases (紫金港和钱塘分别…), the best sentence of each, in
        order of their scores; else nothing (QuestionAnalyzer.cases_compared). Each case's
        sentences are scored by what the question asks of that case (QuestionAnalyzer.about_case):
        the other case's words would favour a sentence that merely names both."""
        cases = self.analyzer.cases_compared(question)
        if not cases:
            return []
        best: dict[str, _Sentence] = {}
        for s in ranked:
            if s.hit.chunk.case_id in cases:
                best.setdefault(s.hit.chunk.case_id, s)
        if len(best) < 2:
            return []
        for case, first in list(best.items()):
            asked = self.analyzer.about_case(question, case)
            own = [h for h in pool if h.chunk.case_id == case]
            if asked != question and own:
                best[case] = max(self.sentences(asked, own, terms), key=lambda s: s.score, default=first)
        return [self._in_context(s, question) for s in sorted(best.values(), key=lambda s: -s.score)][: self.max_sentences]

    def cover_parts(self, question: str, hits: list[Hit], chosen: list[_Sentence]) -> list[_Sentence]:
        """For a question asking two things in turn (…是多少？…又是谁？), the quotes with each part's
        own best sentence among them: scored as one question, the sentences about the part with
        more words can fill the answer and leave the other part unanswered. A part naming nothing
        of its own (…什么时候能建好？) is read with the parts before it. Each part reads every
        passage, its own best first, so the byline rule finds that part's case."""
        asked = parts(question)
        if len(asked) < 2:
            return chosen
        chosen, needed = list(chosen), []
        for i in range(len(asked)):
            part = self._part_read(asked, i)
            scored = self.sentences(part, hits, self.terms(part))
            best_in = best_per_passage((s.hit.chunk.id, s.score) for s in scored)
            byline = byline_quote(part, sorted(hits, key=lambda h: -best_in.get(h.chunk.id, 0.0)), self.analyzer.cases_compared(part))
            best = byline[0] if byline else max(scored, key=lambda s: s.score, default=None)
            if best is None:
                continue
            held = next((c for c in chosen if best.overlaps(c)), None)
            if held is None:
                held = best if byline else self._in_context(best, part)
                # Its context may take in quotes already chosen: one quote of their span, not two.
                for c in [c for c in chosen if held.overlaps(c)]:
                    held = replace(held, start=min(held.start, c.start), end=max(held.end, c.end))
                chosen = [held if held.overlaps(c) else c for c in chosen]
                needed = [held if held.overlaps(c) else c for c in needed]
                if held not in chosen:
                    chosen.append(held)
            needed.append(held)
        # Each part's sentence first, then the others as long as there is room.
        ordered = list(dict.fromkeys([*needed, *chosen]))
        return ordered[: max(self.max_sentences, len(needed))]

    def pool(self, question: str, hits: list[Hit]) -> list[Hit]:
        """The passages quotes are drawn from: those of the part of the report the question names,
        if retrieved, else all; the first ``passages`` of them, or every one for a “哪些…” question."""
        hits = named_kind_hits(question, hits) or hits
        return hits if self.wants_several(question) else hits[: self.passages]

    @property
    def fitted_quotes(self) -> bool:
        return self.quote_model is not None and self.analyzer is not None

    @staticmethod
    def wants_several(question: str) -> bool:
        """A “哪些…” question asks for several things: it draws on all the hits."""
        return bool(SEVERAL.search(question))

    def _continued(self, best: _Sentence, question: str) -> _Sentence:
        """A lead-in quoted up to the answer that follows it: a sentence that names what was asked
        but holds no answer of the asked type (…有三大规律性的革新启示值得关注。) is extended by the
        sentences after it, in its passage, until they hold one; else it stays as it is."""
        if self.analyzer is None:
            return best
        analysis = self.analyzer.run(question)
        if holds_type(analysis, best.text) is not False:
            return best
        text = best.hit.chunk.text
        for _, end in (span for span in sentence_spans(text) if span[0] >= best.end):
            if end - best.start > self.max_chars:
                break
            if holds_type(analysis, text[best.end : end]):
                return replace(best, end=end)
        return best

    def _analysis(self, question: str) -> QuestionAnalysis | None:
        return self.analyzer.run(question) if self.analyzer else None

    def _in_context(self, best: _Sentence, question: str | None = None) -> _Sentence:
        """A short best sentence, with the sentences before and after it in its passage.

        Alone it rarely answers: an attribution (某负责人说。) or the setting whose next
        sentence holds the asked detail. Answers quoting the gold evidence, eval/questions.jsonl:
        92 → 95 of 105 under 60 characters (as under 80; 94 under 40, 96 always, at twice the
        length); held out 43 → 44 of 51. A neighbour across a paragraph break is another
        topic: leaving it out keeps 95 / 44 / 42 (tuning, held out, blind) and shortens the
        median answer from 119 to 94 characters.
        """
        if question is not None and (continued := self._continued(best, question)) is not best:
            return continued
        if best.end - best.start >= CONTEXT_BELOW_CHARS:
            return best
        spans = sentence_spans(best.hit.chunk.text)
        if (best.start, best.end) not in spans:
            return best
        k = spans.index((best.start, best.end))
        text = best.hit.chunk.text
        # A neighbour that is a question (如何破解？) is the writer's rhetoric, not context.
        around = [
            spans[i] for i in (k - 1, k + 1)
            if 0 <= i < len(spans) and not text[spans[i][0] : spans[i][1]].endswith(("？", "?"))
            and "\n" not in text[min(spans[i][1], best.end) : max(spans[i][0], best.start)]
        ]
        start, end = min([best.start, *(a for a, _ in around)]), max([best.end, *(b for _, b in around)])
        return replace(best, start=start, end=end) if end - start <= self.max_chars else best

    def candidates(self, question: str, hits: list[Hit]) -> list[Candidate]:
        """Every sentence of the passages (not the contents list's: see contents_quotes), with its
        neighbours in the same paragraph and its dense cosine with the question."""
        out = []
        for hit in hits:
            if hit.chunk.section_kind == "contents":
                continue
            text = hit.chunk.text
            spans = sentence_spans(text)
            for k, (a, b) in enumerate(spans):
                if b - a < MIN_SENTENCE_CHARS:
                    continue
                if k:
                    before = text[spans[k - 1][0] : spans[k - 1][1]] if "\n" not in text[spans[k - 1][1] : a] else ""
                else:
                    before = self.preceding(hit.chunk) if self.preceding is not None else ""
                after = text[spans[k + 1][0] : spans[k + 1][1]] if k + 1 < len(spans) and "\n" not in text[b : spans[k + 1][0]] else ""
                out.append(Candidate(hit, a, b, before, after, None))
        spans = [(c.hit.chunk, c.start, c.end) for c in out]
        if self.similarity is not None and out:
            out = [replace(c, dense=v) for c, v in zip(out, self.similarity(question, spans))]
        if self.sentence_late is not None and out:
            out = [replace(c, late=v) for c, v in zip(out, self.sentence_late(question, spans))]
        return out

    def sentences(self, question: str, hits: list[Hit], terms: list[str]) -> list[_Sentence]:
        """Every sentence of the passages, scored by the fitted quote model (service/quotes.py);
        without one, by the question words it holds, meaning, numbers, section and rank.
"""
        if self.fitted_quotes:
            return [
                _Sentence(q.candidate.hit, q.candidate.start, q.candidate.end, q.probability, frozenset(t for t in terms if normalize(t) in normalize(q.candidate.text)))
                for q in self.scored(question, hits)
            ]
        return self._word_scored(question, hits, terms)

    def scored(self, question: str, hits: list[Hit]) -> list[ScoredQuote]:
        """Every candidate sentence of these passages with its quote features and the fitted model's
        probability; deciding and quoting read the same ones, so the last are kept (per thread)."""
        key = (question, tuple((h.chunk.id, h.rank) for h in hits))
        last = getattr(self._last_scored, "value", None)
        if last is not None and last[0] == key:
            return last[1]
        candidates = self.candidates(question, hits)
        rows = quote_features(self.analyzer.run(question), candidates)
        out = [ScoredQuote(c, r, self.quote_model.probability(r)) for c, r in zip(candidates, rows)]
        self._last_scored.value = (key, out)
        return out

    def _word_scored(self, question: str, hits: list[Hit], terms: list[str]) -> list[_Sentence]:
        """Every sentence of the passages, scored by the question words it holds, meaning, numbers, section and rank.

        A word counts by its length and by how few of the candidate sentences hold it: the
        place every sentence names says less than the one word only the answer shares
        (“会议” in “几次三方协同会议”). Dense similarity carries questions that share few
        words with the answer (paraphrases, English). Ties go to the higher-ranked passage
        and the earlier sentence.
        """
        cues = Cues.of(question)
        spans = [
            (hit, a, b, normalize(hit.chunk.text[a:b]))
            for hit in hits
            if hit.chunk.section_kind != "contents"  # see contents_quotes
            for a, b in sentence_spans(hit.chunk.text)
            if b - a >= MIN_SENTENCE_CHARS
        ]
        held = [frozenset(t for t in terms if t in norm) for _, _, _, norm in spans]
        df = Counter(t for words in held for t in words)
        weight = {t: len(t) * math.log(1 + len(spans) / (1 + df[t])) for t in terms}
        total = sum(weight.values()) or 1.0
        out = []
        for (hit, a, b, norm), words in zip(spans, held):
            score = sum(weight[t] for t in words) / total
            # A count in the asked measure word (多少家 → “6000余家”) weighs more than any number:
            # answers quoting the gold evidence 87 → 90 of 104 (questions.jsonl), 43 of 51 held out either way.
            score += 0.1 * (cues.wants_quantity and holds_quantity(norm)) + 0.2 * cues.counts_held(norm)
            if cues.about_commentary and hit.chunk.section_kind == "commentary":
                score += 0.2 + 0.3 * (cues.wants_author and is_byline(norm))
            score += 0.05 / hit.rank
            out.append(_Sentence(hit, a, b, score, words))
        return self._add_similarity(question, out)

    def _add_similarity(self, question: str, sentences: list[_Sentence]) -> list[_Sentence]:
        if self.similarity is None or not sentences:
            return sentences
        sims = self.similarity(question, [(s.hit.chunk, s.start, s.end) for s in sentences])
        known = [v for v in sims if v is not None]
        if not known:
            return sentences
        lo, hi = min(known), max(known)
        return [
            replace(s, score=s.score + SIMILARITY_WEIGHT * (v - lo) / (hi - lo or 1)) if v is not None else s
            for s, v in zip(sentences, sims)
        ]
