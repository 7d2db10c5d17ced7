"""Extractive answers: quote the sentences of the top passages that answer the question, each with [n].

No language model is involved: a sentence is chosen for the question's words it holds
(jieba tokens; longer words, and words few of the candidate sentences share, weigh
more) and for its dense similarity to the question (sentence vectors built with the
index), within the best-ranked passages. Whether the report supports the question at all is
decided by the best passage's similarity, sparse (e5 latent terms) when the index has it,
else dense, with thresholds calibrated per encoder by ``eval/calibrate_answer.py`` (an
uncalibrated encoder, or retrieval without that signal, answers whenever a passage was
retrieved).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from index.models import Chunk, SectionKind, page_label
from index.parse import CONTENTS_LINE
from index.text import sentence_spans
from index.tokenize import Tokenizer, normalize
from service.cues import Cues, holds_quantity, is_byline, is_latin
from service.search import Hit, Searcher
from touyan.settings import Settings

# Calibrated on eval/questions.jsonl by eval/calibrate_answer.py, per encoder (each has its own
# cosine scale): the best cosine below which a (Chinese, English) question gets “not found”.
# English questions get their own threshold because cross-lingual cosines run lower.
MIN_SUPPORT: dict[str, tuple[float, float]] = {
    "sparse:e5": (0.18, 0.1205),
    "dense:e5+use": (0.764, 0.665),
    "dense:e5": (0.8525, 0.7253),
    "dense:use": (0.1684, 0.0518),
}

# A question asking for several things (“哪些案例…”) may quote a sentence of each case.
SEVERAL = re.compile(r"哪些|哪几|\bwhich\b", re.IGNORECASE)
MIN_SENTENCE_CHARS = 6
# How much the question–sentence dense similarity (min-max over the candidates) adds to a
# sentence's word score: best of 0.3–1.0 on eval/questions.jsonl by how often the answer
# quotes the gold evidence (python -m eval.calibrate_answer).
SIMILARITY_WEIGHT = 0.3
# A best sentence shorter than this is quoted with its neighbours (ExtractiveAnswerer._in_context).
CONTEXT_BELOW_CHARS = 60

# Dense cosine of a question with (passage, start, end) sentences; None where unknown.
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


@dataclass(frozen=True)
class Answer:
    text: str
    found: bool
    citations: list[Citation] = field(default_factory=list)
    support: float | None = None
    mode: str = "extractive"
    note: str | None = None


class Answerer(Protocol):
    def run(self, question: str, hits: list[Hit]) -> Answer: ...


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


def support_key(settings: Settings) -> str:
    """The ``MIN_SUPPORT`` key for these settings: the sparse encoder when there is one, else the embedder."""
    return f"sparse:{settings.sparse}" if settings.sparse != "none" else f"dense:{settings.embedder}"


def not_found_text(question: str, hits: list[Hit]) -> str:
    """Says the report has no answer, in the question's language, and points at the closest passage."""
    topic = question.strip().rstrip("?？。.!！ ") or question.strip()
    if len(topic) > 40:
        topic = topic[:40] + "…"
    c = hits[0].chunk if hits else None
    if is_latin(question):
        text = f"The report has nothing that answers “{topic}”."
        if c is not None:
            text += f" The closest passage is from 《{c.case_title}》 ({page_label(c.page, c.section_kind, english=True)})."
        return text
    text = f"报告中没有找到能回答“{topic}”的内容。"
    if c is not None:
        text += f"最接近的段落来自《{c.case_title}》（{page_label(c.page, c.section_kind)}）。"
    return text


def contents_quotes(question: str, hits: list[Hit]) -> list[_Sentence]:
    """What the contents list answers: for a question about the contents, its passages among the
    hits, whole and in order; for one naming a page (第29版), that page's lines. Else nothing.

    The list answers such questions and nothing else: its lines name every case, so they
    share words with any question about one, and none with a question about the list.
    """
    cues = Cues.of(question)
    if "contents" not in cues.kinds:
        return []
    contents = sorted((h for h in hits if h.chunk.section_kind == "contents"), key=lambda h: h.chunk.start)
    if not cues.pages:
        return [_Sentence(h, 0, len(h.chunk.text), 0.0, frozenset()) for h in contents]
    return [
        _Sentence(h, a, b, 0.0, frozenset())
        for h in contents
        for a, b in sentence_spans(h.chunk.text)
        if (m := CONTENTS_LINE.match(h.chunk.text[a:b])) and int(m.group(1)) in cues.pages
    ]


def byline_quote(question: str, hits: list[Hit]) -> list[_Sentence]:
    """For a question asking who wrote a commentary, the commentary's byline (its expert's title
    and name), from the best hit's case when one of its commentaries was retrieved.

    Scored with the other sentences, the byline lost to the case's own sentences, which share the
    place the question names while the byline does not.
    """
    cues = Cues.of(question)
    if not (cues.wants_author and "commentary" in cues.kinds):  # 点评 itself: “评价…的院长是谁” asks no byline
        return []
    commentaries = [h for h in hits if h.chunk.section_kind == "commentary"]
    same_case = [h for h in commentaries if hits and h.chunk.case_id == hits[0].chunk.case_id]
    for h in same_case + commentaries:
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


class ExtractiveAnswerer:
    """Quotes 1–3 sentences from the top passages, most question words first, each cited [n].

    A best sentence under ``CONTEXT_BELOW_CHARS`` is quoted with its neighbours. A further
    sentence is added only when it scores at least ``keep_ratio`` of the best one and covers question words the earlier ones miss, or comes from another case and
    scores at least ``same_ratio`` of it. A “哪些…” question asks for several: it draws on
    all the hits, not the first ``passages``, and a sentence of another case needs only
    ``several_ratio`` of the best score (0.6 quotes 43 of the 60 gold cases of the multi-case
    eval questions, 0.75 only 38).
    """

    def __init__(
        self,
        min_support: tuple[float, float] | None = None,
        passages: int = 3,
        max_sentences: int = 3,
        max_chars: int = 300,
        keep_ratio: float = 0.75,
        same_ratio: float = 0.9,
        several_ratio: float = 0.6,
        tokenizer: Tokenizer | None = None,
        signal: str = "dense",
        similarity: SentenceSimilarity | None = None,
        cases_named: CasesNamed | None = None,
    ) -> None:
        self.min_support = min_support
        self.signal = signal
        self.similarity = similarity
        self.cases_named = cases_named
        self.passages = passages
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self.keep_ratio = keep_ratio
        self.same_ratio = same_ratio
        self.several_ratio = several_ratio
        self.tokenizer = tokenizer or Tokenizer()

    @classmethod
    def for_settings(cls, settings: Settings, searcher: Searcher | None = None) -> ExtractiveAnswerer:
        """Support judged by the sparse scores when the index has them, else the dense ones;
        with a searcher, its tokenizer and sentence vectors are shared."""
        key = support_key(settings)
        return cls(
            min_support=MIN_SUPPORT.get(key),
            signal=key.split(":", 1)[0],
            similarity=searcher.sentence_similarities if searcher else None,
            cases_named=searcher.cases_named if searcher else None,
            tokenizer=searcher.tokenizer if searcher else None,
        )

    def run(self, question: str, hits: list[Hit]) -> Answer:
        named = self.on_named_places(question, hits)
        support = self.support(named)
        if not self.supported(question, named):
            return Answer(not_found_text(question, hits), found=False, support=support)
        hits = named
        chosen = self.select(question, hits, self.terms(question))
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
            )
            for n, s in enumerate(chosen, 1)
        ]
        text = "".join(f"{c.quote}[{c.n}]" for c in citations)
        return Answer(text, found=True, citations=citations, support=support)

    def on_named_places(self, question: str, hits: list[Hit]) -> list[Hit]:
        """The hits a question naming places may be answered from: those of cases about them, and
        the contents list (which names every place). Another place's passage shares the question's
        other words, and its fact would be stated as the named place's (钱塘有多少个部门… got 余杭's)."""
        cases = self.cases_named(question) if self.cases_named else None
        if cases is None:
            return hits
        return [h for h in hits if h.chunk.case_id in cases or h.chunk.section_kind == "contents"]

    def terms(self, question: str) -> list[str]:
        return list(dict.fromkeys(self.tokenizer.tokenize(question)))

    def support(self, hits: list[Hit]) -> float | None:
        """The best cosine of the support signal among the hits, or None when retrieval gave none."""
        scores = [getattr(h, self.signal) for h in hits if getattr(h, self.signal) is not None]
        return max(scores) if scores else None

    def supported(self, question: str, hits: list[Hit]) -> bool:
        """Whether the best passage is close enough to the question; any passage will do when uncalibrated,
        the contents list for a question about it or about a page it lists (a list is close
        to no question), a passage holding the whole question (a keyword), and a retrieved
        commentary or preface for a question asking what it says."""
        support = self.support(hits)
        if not hits or support is None or self.min_support is None:
            return bool(hits)
        if contents_quotes(question, hits):
            return True
        if all(h.chunk.section_kind == "contents" for h in hits):  # the list answers only questions about it
            return False
        if quoted_verbatim(question, hits):  # a keyword (梦创), whose cosine with any passage is low
            return True
        cues = Cues.of(question)
        if cues.wants_summary or cues.wants_author:  # 前言讲了什么？ asks what is there; 江洲村的专家点评说了什么？ what is not
            if named_kind_hits(question, hits):
                return True
            if cues.kinds - {"contents"}:
                return False
        chinese, english = self.min_support
        return support >= (english if is_latin(question) else chinese)

    def select(self, question: str, hits: list[Hit], terms: list[str]) -> list[_Sentence]:
        """The sentences to quote; a question about the contents or a page gets the list's (contents_quotes),
        and for a page, the best sentence (or, asked what it says, the opening) of that page's own
        passages after its line; one naming the commentary or the preface, that kind's sentences
        when it was retrieved."""
        if contents := contents_quotes(question, hits):
            cues = Cues.of(question)
            on_page = [h for h in hits if h.chunk.page in cues.pages and h.chunk.section_kind != "contents"]
            if not on_page:
                return contents
            if cues.wants_summary:  # 第28版讲了什么？
                return contents + opening(on_page)
            page_terms = [t for t in terms if t not in {str(p) for p in cues.pages}]  # “28个省市” is not about page 28
            return contents + self.select(question, on_page, page_terms)[:1]
        if byline := byline_quote(question, hits):
            return byline
        if lead := lead_quote(question, hits):
            return lead
        hits = named_kind_hits(question, hits) or hits
        several = bool(SEVERAL.search(question))
        pool = hits if several else hits[: self.passages]
        ranked = sorted(self.sentences(question, pool, terms), key=lambda s: -s.score)
        if not ranked:  # only fragments: quote the best passage whole
            return [_Sentence(hits[0], 0, len(hits[0].chunk.text), 0.0, frozenset())]
        best = self._in_context(ranked[0])
        keep_ratio, same_ratio = (self.several_ratio, self.several_ratio) if several else (self.keep_ratio, self.same_ratio)
        chosen, covered, cases = [best], set(best.terms), {best.hit.chunk.case_id}
        length = best.end - best.start
        for s in ranked[1:]:
            if len(chosen) == self.max_sentences or s.score < keep_ratio * best.score:
                break
            if s.hit is best.hit and s.start < best.end and s.end > best.start:
                continue  # already quoted as the best sentence's context
            adds_words = bool(s.terms - covered)
            other_case = s.hit.chunk.case_id not in cases and s.score >= same_ratio * best.score
            if (adds_words or other_case) and length + s.end - s.start <= self.max_chars:
                chosen.append(s)
                covered |= s.terms
                cases.add(s.hit.chunk.case_id)
                length += s.end - s.start
        return chosen

    def _in_context(self, best: _Sentence) -> _Sentence:
        """A short best sentence, with the sentences before and after it in its passage.

        Alone it rarely answers: an attribution (某负责人说。) or the setting whose next
        sentence holds the asked detail. Answers quoting the gold evidence, eval/questions.jsonl:
        92 → 95 of 105 under 60 characters (as under 80; 94 under 40, 96 always, at twice the
        length); held out 43 → 44 of 51. A neighbour across a paragraph break is another
        topic: leaving it out keeps 95 / 44 / 42 (tuning, held out, blind) and shortens the
        median answer from 119 to 94 characters.
        """
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

    def sentences(self, question: str, hits: list[Hit], terms: list[str]) -> list[_Sentence]:
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
