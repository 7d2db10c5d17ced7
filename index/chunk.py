"""Cut each section into passages of whole sentences, about ``max_chars`` long."""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

from index.models import Case, Chunk, Paragraph, Section, Span
from index.text import split_sentences

# Bump when chunk boundaries or chunk text change, so old indexes are rebuilt.
CHUNKER_VERSION = "4"
# “…。”江洲村相关负责人说。: a short sentence naming who said the quotation before it.
QUOTE_END = ("”", "’", "」")
ATTRIBUTION = re.compile(r"[^。！？，,]{2,24}(?:说|表示|介绍|说道|坦言|感慨|告诉记者)[。！？]")


@dataclass(frozen=True)
class _Sentence:
    text: str
    paragraph: int
    spans: tuple[Span, ...]


def chunk_id(case_id: str, section: str, text: str) -> str:
    """Depends only on where the text is and what it says, so rebuilds keep the ids."""
    return hashlib.sha1(f"{case_id}\0{section}\0{text}".encode()).hexdigest()[:12]


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    out: list[Span] = []
    for s, e in spans:
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return tuple(out)


class SectionChunker:
    """Passages never cross a section and never cut a sentence.

    Passages are at most ``max_chars`` and as even in length as the sentences allow; a
    single sentence longer than ``max_chars`` is a passage of its own.
    """

    def __init__(self, max_chars: int = 300):
        self.max_chars = max_chars

    def run(self, cases: list[Case]) -> list[Chunk]:
        return [chunk for case in cases for section in case.sections for chunk in self._section(case, section)]

    def _section(self, case: Case, section: Section) -> list[Chunk]:
        groups = self._pack(self._sentences(section.paragraphs))
        chunks = []
        for group in groups:
            text = "".join(("\n" if i and s.paragraph != group[i - 1].paragraph else "") + s.text for i, s in enumerate(group))
            spans = _merge([span for s in group for span in s.spans])
            chunks.append(
                Chunk(
                    id=chunk_id(case.id, section.title, text),
                    text=text,
                    case_id=case.id,
                    case_title=case.title,
                    project=case.project,
                    page=case.page,
                    section=section.title,
                    section_kind=section.kind,
                    source=case.source,
                    start=spans[0][0],
                    end=spans[-1][1],
                    spans=spans,
                )
            )
        return chunks

    @staticmethod
    def _sentences(paragraphs: list[Paragraph]) -> list[_Sentence]:
        """The sentences to pack; an attribution stays with the quotation it closes.

        Cut between them, a passage would start with “某负责人说。”, which says nothing, and
        the quotation would lose its speaker.
        """
        out: list[_Sentence] = []
        for i, p in enumerate(paragraphs):
            for a, b in split_sentences(p.text):
                text = p.text[a:b].strip()
                if text:
                    a += len(p.text[a:b]) - len(p.text[a:b].lstrip())
                    sentence = _Sentence(text, i, tuple(p.source_spans(a, a + len(text))))
                    if out and out[-1].paragraph == i and out[-1].text.endswith(QUOTE_END) and ATTRIBUTION.fullmatch(text):
                        sentence = _Sentence(out[-1].text + text, i, _merge([*out.pop().spans, *sentence.spans]))
                    out.append(sentence)
        return out

    def _pack(self, sentences: list[_Sentence]) -> list[list[_Sentence]]:
        """Split into groups of at most ``max_chars`` whose lengths stay closest to an even share.

        A small dynamic programme over sentence boundaries: a greedy cut strands short
        leftovers (an attribution like 某负责人说。) that make poor passages.
        """
        lengths = [len(s.text) for s in sentences]
        total = sum(lengths)
        if not total:
            return []
        target = total / math.ceil(total / self.max_chars)
        n = len(sentences)
        best = [0.0] + [math.inf] * n
        cut = [0] * (n + 1)
        for i in range(1, n + 1):
            size = 0
            for j in range(i - 1, -1, -1):
                size += lengths[j]
                if size > self.max_chars and j < i - 1:
                    break
                cost = best[j] + (size - target) ** 2
                if cost < best[i]:
                    best[i], cut[i] = cost, j
        groups, i = [], n
        while i:
            groups.append(sentences[cut[i] : i])
            i = cut[i]
        return groups[::-1]
