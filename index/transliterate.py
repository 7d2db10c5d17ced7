"""English questions name places and projects in pinyin (Yuhang, Binjiang, Mengchuang).

``PinyinNames`` maps such words to the corpus's own Chinese terms, so BM25 can weigh
them for an English question too (eval/run.py, english category). Only capitalised
words are read as names, and only terms of two or more characters are keys, so
ordinary English words rarely collide with a pinyin spelling.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from pypinyin import lazy_pinyin

HAN_TERM = re.compile(r"[\u4e00-\u9fff]{2,}")
# A pinyin apostrophe separates syllables (Yong'an, Lin'an; the next one begins with a, e or o):
# it is part of the word, not a break; a possessive ('s) is not.
WORD = re.compile(r"[A-Za-z]+(?:['’][aeo][a-z]*)*")


class PinyinNames:
    """Chinese terms of a vocabulary by their toneless pinyin, whole and by leading syllables."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._whole: defaultdict[str, set[str]] = defaultdict(set)
        self._leading: defaultdict[str, set[str]] = defaultdict(set)
        for term in vocabulary:
            if not HAN_TERM.fullmatch(term):
                continue
            syllables = lazy_pinyin(term)
            self._whole["".join(syllables)].add(term)
            for k in range(2, len(syllables)):
                self._leading["".join(syllables[:k])].add(term)

    def terms(self, text: str) -> list[str]:
        """Terms named by the capitalised words of ``text``; two adjacent words may spell one term."""
        words = [re.sub(r"['’]", "", w) for w in WORD.findall(text)]
        found: list[str] = []
        i = 0
        while i < len(words):
            if not words[i][0].isupper():
                i += 1
                continue
            if i + 1 < len(words) and words[i + 1][0].isupper():
                pair = self._whole.get((words[i] + words[i + 1]).lower())
                if pair:
                    found += sorted(pair)
                    i += 2
                    continue
            key = words[i].lower()
            found += sorted(self._whole.get(key) or self._leading.get(key) or ())
            i += 1
        return found
