"""What a question says about the text that answers it, beyond the words the two share.

A question asking 多少家 is answered by a count of 家 (“6000余家企业”), one naming 点评 by
the expert commentary, one asking who wrote the commentary by its byline. Ranking
(service/search.py) and answering (service/answer.py) read the same cues.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from index.models import SectionKind

# The numbers a question names (“321”机制, 2027年) should appear in its passage.
NUMBER = re.compile(r"\d+(?:\.\d+)?")
QUANTITY = re.compile(r"多少|几|多大|多长|多久|比例|how (?:many|much|long|often)", re.IGNORECASE)
# 多少 or 几 asking how many: not the 几 of 十几年, 好几年 or 几乎, nor 哪几 (which ones).
ASKS_COUNT = re.compile(r"多少|(?<![十好几百千万哪])几(?!乎)")
HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")
# What follows 多少 without being what it counts in (有多少是返乡的, 多少呢).
NOT_MEASURE = frozenset("是的了呢吗在为都也啊呀吧和与跟能会要可就还又")
# Measure words that count the same things: how often (次, 回, 轮 …), people (人, 名, 位), money.
SAME_COUNT = {c: group for group in ("次回轮趟遍场", "人名位") for c in group} | {"钱": "元"}
# English has no measure words; the counted noun tells which one a Chinese answer uses.
ENGLISH_COUNTS = {
    "人名位": r"people|persons|employees|workers|staff|residents|members|experts|talents|scientists|farmers|visitors",
    "家": r"enterprises|companies|firms|businesses|institutions|organi[sz]ations",
    "次回轮场": r"times|rounds|meetings|sessions",
    "项个": r"items|projects|measures|services|tasks",
    "天": r"days",
    "年": r"years",
    "元": r"yuan|money",
}
HOW_MANY = re.compile(r"how (?:many|much)((?:\s+[\w'-]+){1,5})", re.IGNORECASE)
# A question asks for a few counts at most; more would only be a long text to match.
MAX_COUNTS = 4
# A count: digits or Chinese numerals, then 余/多/万…, an optional 个, and the measure word.
COUNT = r"[0-9一二两三四五六七八九十百千万][\d.,]*(?:余|多|万|亿)*个?[{}]"
# A quantity in a text: digits, or Chinese numerals with a measure word (not the 一 of 第一 or 统一).
QUANTITY_TEXT = re.compile(r"\d|(?<!第)[一二两三四五六七八九十百千万]+[个项家名位次年月天户人件所条类大批轮]")
# A page a question names: 第29版, 29版 (not 2024版, an edition), page 28.
PAGE = re.compile(r"(?<!\d)(?:第\s*)?(\d{1,3})\s*版|\bpage\s+(\d+)", re.IGNORECASE)
# A question asking which page something is on: the contents list says.
ASKS_PAGE = re.compile(r"第几版|哪一?版|几版|\b(?:which|what) page\b", re.IGNORECASE)
SECTION_KINDS: dict[SectionKind, re.Pattern[str]] = {
    "commentary": re.compile(r"点评|commentary", re.IGNORECASE),
    "preface": re.compile(r"序言|前言|preface", re.IGNORECASE),
    # What a numbered page (第30版, page 28) carries is what the contents list says.
    "contents": re.compile(rf"目录|contents|{PAGE.pattern}|{ASKS_PAGE.pattern}", re.IGNORECASE),
}
# Words about the expert commentary, broader than its section kind: enough to ask who wrote it.
COMMENTARY = re.compile(r"点评|专家|评价|commentary|expert", re.IGNORECASE)
# Who wrote it, or where its writer works: the byline names both (浙江省社科院政治学所研究员 唐晓燕).
WHO = re.compile(
    r"谁|哪位|作者|(?:哪个|什么|哪家)(?:单位|机构)|在哪.{0,2}工作|\bwho\b|\bwhere does .{0,40}\bwork\b|\bwhich (?:institute|organi[sz]ation)\b",
    re.IGNORECASE,
)
# A question asking what a part of the report says as a whole (前言讲了什么？), not one fact in it.
SUMMARY = re.compile(r"[讲说写谈]了?(?:些)?什么|主要内容|内容是什么|(?:概括|总结)一下|\bwhat (?:does|do|did) (?:the )?\w+(?: \w+)? (?:say|cover)\b|\bsummar", re.IGNORECASE)
# A question asking what the contents list says of a page (第14版刊登的是哪篇文章？, which article is on
# page 28?), not what the page's article says.
ASKS_LISTING = re.compile(r"目录|刊登|哪篇|哪些案例|哪个案例|什么文章|标题|题目|\b(?:which|what) (?:article|case)s?\b|\btitle\b|\bcontents\b", re.IGNORECASE)
SENTENCE_MARK = re.compile(r"[。！？!?；;，,]")


@dataclass(frozen=True)
class Cues:
    """Read once from a question; ``numbers_held`` and ``counts_held`` score a passage or sentence."""

    numbers: frozenset[str]
    counts: tuple[re.Pattern[str], ...]
    wants_quantity: bool
    kinds: frozenset[SectionKind]
    pages: frozenset[int]
    asks_page: bool
    about_commentary: bool
    wants_author: bool
    wants_summary: bool
    asks_listing: bool

    @classmethod
    @functools.lru_cache(maxsize=256)  # ranking and answering read one question's cues several times
    def of(cls, question: str) -> Cues:
        about_commentary = bool(COMMENTARY.search(question))
        pages = frozenset(int(a or b) for a, b in PAGE.findall(question))
        return cls(
            numbers=frozenset(NUMBER.findall(question)) - {str(p) for p in pages},  # page 28 asks for no passage holding 28
            counts=tuple(re.compile(COUNT.format(re.escape(units))) for units in asked_units(question)),
            wants_quantity=bool(QUANTITY.search(question)),
            kinds=frozenset(kind for kind, words in SECTION_KINDS.items() if words.search(question)),
            pages=pages,
            asks_page=bool(ASKS_PAGE.search(question)),
            about_commentary=about_commentary,
            wants_author=about_commentary and bool(WHO.search(question)),
            wants_summary=bool(SUMMARY.search(question)),
            asks_listing=bool(ASKS_LISTING.search(question)),
        )

    def numbers_held(self, text: str) -> float:
        """Share of the question's numbers that ``text`` holds."""
        if not self.numbers:
            return 0.0
        return len(self.numbers & set(NUMBER.findall(text))) / len(self.numbers)

    def counts_held(self, text: str) -> float:
        """Share of the asked counts (多少家 …) that ``text`` holds a number of."""
        if not self.counts:
            return 0.0
        return sum(bool(p.search(text)) for p in self.counts) / len(self.counts)


def is_latin(text: str) -> bool:
    """Mostly Latin letters: an English question, which matches the Chinese text less well token by token."""
    return len(LATIN.findall(text)) > len(HAN.findall(text))


def holds_quantity(text: str) -> bool:
    return bool(QUANTITY_TEXT.search(text))


def is_byline(line: str) -> bool:
    """An author line (“浙江工商大学党委书记 郁建兴教授”): text without sentence punctuation."""
    return bool(line.strip()) and not SENTENCE_MARK.search(line)


def asked_units(question: str) -> list[str]:
    """The measure words a question counts in, each with those that count the same things, once."""
    units = []
    for m in ASKS_COUNT.finditer(question):
        rest = question[m.end() :]
        if rest[:1] == "个" and HAN.match(rest[1:2]):  # 多少个部门: 50部门 or 50个 (几个新型社区 → 4个现代产业社区)
            units.append("个" + rest[1])
            continue
        if HAN.match(rest[:1]) and rest[0] not in NOT_MEASURE:
            units.append(SAME_COUNT.get(rest[0], rest[0]))
    for m in HOW_MANY.finditer(question):
        units += [u for u, nouns in ENGLISH_COUNTS.items() if re.search(rf"\b(?:{nouns})\b", m.group(1), re.IGNORECASE)][:1]
    return list(dict.fromkeys(units))[:MAX_COUNTS]
