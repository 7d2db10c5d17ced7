"""Chinese word segmentation for BM25, with a user dictionary derived from the corpus."""
from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import jieba
import jieba.posseg

from index.text import CJK, SENTENCE_PUNCT

jieba.setLogLevel(logging.WARNING)

USER_WORD_FREQ = 100_000

QUESTION_WORDS = frozenset(
    "多少 几 几个 什么 啥 哪 哪些 哪个 哪里 哪儿 怎么 怎么样 怎样 如何 为什么 为何 是否 吗 呢 吧 啊 呀"
    " 请问 介绍 一下 讲讲 说说 谁".split()
)
CHINESE_STOP_WORDS = frozenset(
    "的 了 是 在 有 和 与 及 以及 等 等等 或 或者 也 都 就 而 并 还 又 被 把 将 对 从 向 为 以 于 给 让"
    " 这 那 这个 那个 这些 那些 其 其中 之 个 之一 一个 我 我们 你 你们 他 他们 她 它 它们 自己"
    " 着 过 地 得 所 则 即 但 但是 而且 因为 所以 如果 可以 能 会 要 该 上 下 中 里".split()
)
ENGLISH_STOP_WORDS = frozenset(
    "a an the and or of to in on at by for with from as is are was were be been being do does did"
    " what which who many whom whose when where why how much this that these those it its"
    " i you he she we they me my our your their about into than then there please tell".split()
)
STOP_WORDS = QUESTION_WORDS | CHINESE_STOP_WORDS | ENGLISH_STOP_WORDS

QUOTES = str.maketrans({q: '"' for q in "“”„‟〝〞＂「」『』"} | {q: "'" for q in "‘’‚‛＇"})
QUOTED = re.compile(r"“([^“”\n]+)”|「([^「」\n]+)」|\"([^\"\n]+)\"")
NAME_SUFFIX = re.compile(r"社区|街道|工坊|公司|联盟|中心|园区|小镇")
HAN = re.compile(rf"[{CJK}]+")
NON_WORD = re.compile(r"[\W_]+")
HEADING_MAX_CHARS = 40


def normalize(text: str) -> str:
    """One spelling per character, so full-width, case and quote variants match."""
    return unicodedata.normalize("NFKC", text).translate(QUOTES).lower()


class Tokenizer:
    """jieba search-mode segmentation with its own dictionary, minus stop and question words.

    Each instance owns a ``jieba.Tokenizer`` so user words never leak into
    jieba's global dictionary; pickling keeps only the word list.
    """

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self.user_words = tuple(sorted({normalize(w) for w in user_words}))
        self._jieba = private_jieba()
        for word in self.user_words:
            self._jieba.add_word(word, freq=USER_WORD_FREQ)

    def __reduce__(self) -> tuple[type[Tokenizer], tuple[tuple[str, ...]]]:
        return Tokenizer, (self.user_words,)

    def tokenize(self, text: str) -> list[str]:
        return [
            token
            for token in self._jieba.cut_for_search(normalize(text))
            if _is_term(token) and token not in STOP_WORDS
        ]


def private_jieba() -> jieba.Tokenizer:
    """A jieba tokenizer of its own, its dictionary a copy of the global one's: loading the
    dictionary takes ~0.4 s, copying it a tenth of that, and an index build or reload makes two."""
    jieba.dt.check_initialized()
    own = jieba.Tokenizer(dictionary=jieba.DEFAULT_DICT)
    own.FREQ, own.total, own.initialized = dict(jieba.dt.FREQ), jieba.dt.total, True
    return own


def private_tagger() -> jieba.posseg.POSTokenizer:
    """A part-of-speech tagger of its own over ``private_jieba``: its tag table a copy of jieba's
    global tagger's, which reading the dictionary again would take ~0.4 s to build."""
    own = object.__new__(jieba.posseg.POSTokenizer)  # its __init__ would read the dictionary file again
    own.tokenizer, own.word_tag_tab = private_jieba(), dict(jieba.posseg.dt.word_tag_tab)
    return own


def user_words_from(texts: Iterable[str]) -> set[str]:
    """Terms the corpus itself marks as units: quoted terms, heading pieces, repeated names.

    Headings are recognised as short texts without sentence-ending
    punctuation, so callers can pass titles and paragraphs together.
    """
    words: set[str] = set()
    name_counts: Counter[str] = Counter()
    name_chains: list[list[str]] = []
    for text in texts:
        words.update(m.group(m.lastindex) for m in QUOTED.finditer(text))
        if len(text) <= HEADING_MAX_CHARS and not SENTENCE_PUNCT.search(text):
            words.update(NON_WORD.split(normalize(text)))
        for m in NAME_SUFFIX.finditer(text):
            chain = _name_candidates(text, m.start(), m.end())
            name_counts.update(chain)
            name_chains.append(chain)
    words.update(_names(name_chains, name_counts))
    return {w for w in map(normalize, words) if _is_user_word(w)}


def _name_candidates(text: str, start: int, end: int) -> list[str]:
    """The name ending at ``text[start:end]`` with 2, 3 and 4 Han characters before the suffix."""
    return [
        text[start - k : end]
        for k in (2, 3, 4)
        if start >= k and HAN.fullmatch(text[start - k : start])
    ]


def _names(chains: list[list[str]], counts: Counter[str]) -> set[str]:
    """Names seen at least twice, extended left only while every occurrence shares that character.

    Taking the longest match blindly would glue a preceding word on
    (“在梦创社区”); a character that always precedes the name belongs to it.
    """
    names = set()
    for chain in chains:
        if chain and counts[chain[0]] >= 2:
            names.add([c for c in chain if counts[c] == counts[chain[0]]][-1])
    return names


def _is_user_word(word: str) -> bool:
    return 2 <= len(word) <= 8 and not NON_WORD.search(word)


def _is_term(token: str) -> bool:
    return any(unicodedata.category(c)[0] in "LN" for c in token)
