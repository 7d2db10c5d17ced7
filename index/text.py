"""Small text rules shared by the parser, the chunker and the answerer."""
from __future__ import annotations

import re
import unicodedata

CJK = r"\u4e00-\u9fff"
# A sentence ends at one of these, plus any closing quotes or brackets right after it.
SENTENCE_END = re.compile(r"[。！？!?；;…]+[”’」』）)\"']*")
_ENDS_SENTENCE = re.compile(SENTENCE_END.pattern + r"\s*$")
# Characters that cannot occur in a heading or title line (they end or split sentences).
SENTENCE_PUNCT = re.compile(r"[。！？!?；;]")
_NOT_WORD = re.compile(rf"[^0-9a-z{CJK}]+")
_PARAGRAPH = re.compile(r"[^\n]+")


def fold(text: str) -> str:
    """Comparable form of a title: half-width, lower case, letters and digits only."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def bigrams(text: str) -> set[str]:
    t = fold(text)
    return {t[i : i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


def similarity(a: str, b: str) -> float:
    """Dice overlap of character bigrams: tolerant of punctuation, width and small edits."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text``; a trailing piece without an end mark is a sentence too."""
    spans, start = [], 0
    for m in SENTENCE_END.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text) and text[start:].strip():
        spans.append((start, len(text)))
    elif spans:
        spans[-1] = (spans[-1][0], len(text))
    return spans


def ends_sentence(text: str) -> bool:
    """Whether a line ends a paragraph, i.e. was not cut in two by the page layout."""
    return bool(_ENDS_SENTENCE.search(text))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a passage; a paragraph break ends a sentence too (a byline is one).

    Surrounding whitespace is trimmed off, so every span starts and ends on text.
    """
    spans = []
    for line in _PARAGRAPH.finditer(text):
        offset = line.start()
        for a, b in split_sentences(line.group(0)):
            piece = line.group(0)[a:b]
            a, b = a + len(piece) - len(piece.lstrip()), b - (len(piece) - len(piece.rstrip()))
            if a < b:
                spans.append((offset + a, offset + b))
    return spans
