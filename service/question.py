"""Question analysis: what a question asks for, about what, and how much of it the report holds at all.

One typed result (``QuestionAnalysis``) read by the answerer's fitted models: the expected answer
type (a count in a measure word, a person, a date …), the focus terms (what is asked about the
subject), the named entities (places, organisations, people) and which of them the report never
names, and how much of the question's informative vocabulary the report holds (coverage).

Words weigh by how informative they are in Chinese at large (jieba's dictionary frequencies): a
question about 红烧肉 or 联系电话 turns on words the report lacks, and those words are rare in
general, so their absence weighs; a question sharing only common words (企业, 改革) with the
report is not thereby covered. Nothing here is keyed to one report: the vocabulary and the names
come from the index.
"""
from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import jieba

from index.glossary import EnglishGlossary, NameSenses, english_words
from index.models import Chunk
from index.text import fold
from index.tokenize import STOP_WORDS, Tokenizer, normalize, private_tagger
from index.transliterate import PinyinNames
from service.cues import ASKS_COUNT, NUMBER, Cues, asked_units, is_latin

AnswerType = Literal["count", "amount", "person", "organisation", "place", "date", "name", "list", "definition", "how", "why", "yesno", "other"]
EntityKind = Literal["person", "place", "organisation", "other"]

# The expected answer type, from the question's wording; the first rule that matches decides.
ANSWER_TYPES: list[tuple[AnswerType, re.Pattern[str]]] = [
    ("person", re.compile(r"谁|哪位|哪一位|什么人|哪些人|\bwho(?:m|se)?\b", re.I)),
    ("date", re.compile(r"什么时候|何时|哪一?年|哪个月|几月|几号|哪天|多久以前|\bwhen\b|\bwhat year\b|\bwhich year\b", re.I)),
    ("amount", re.compile(r"多少钱|多少亿|多少万|多少元|多大比例|比例|占比|百分之|多少倍|增长了?多少|多高|多大|多久|多长时间|多远|\bhow much\b|\bhow long\b|\bpercent|\bshare\b|\bproportion\b", re.I)),
    ("count", re.compile(ASKS_COUNT.pattern + r"|\bhow many\b", re.I)),  # not 哪几 (a list), 十几 (a number)
    ("organisation", re.compile(r"哪家|哪所|哪个(?:单位|机构|部门|企业|公司|高校|大学)|什么(?:单位|机构|部门|企业|公司)|\bwhich (?:company|organi[sz]ation|university|institution|agency|department|firm)\b", re.I)),
    ("place", re.compile(r"哪里|哪儿|在哪|什么地方|哪个(?:区|县|市|镇|村|街道|社区|地方)|\bwhere\b", re.I)),
    ("name", re.compile(r"叫什么|名称|名字|称为什么|\bwhat is (?:it|the \w+) called\b|\bname of\b|\bcalled\b", re.I)),
    ("definition", re.compile(r"指什么|指的是|是什么意思|什么意思|含义|什么是|是指|代表什么|\bwhat does .+ (?:mean|stand for)\b|\bmeaning\b", re.I)),
    ("why", re.compile(r"为什么|为何|原因|\bwhy\b", re.I)),
    ("list", re.compile(r"哪些|哪几|哪[两二三四五六七八九十\d]|有什么|包括什么|\bwhich\b|\bwhat (?:are|were)\b", re.I)),
    ("how", re.compile(r"如何|怎么|怎样|通过什么|靠什么|什么办法|什么方式|\bhow\b", re.I)),
    ("yesno", re.compile(r"是否|有没有|是不是|能不能|会不会|吗[？?]?$|^(?:is|are|was|were|does|do|did|can|has|have)\b", re.I)),
]
# The unit a date question asks in, finest first: 哪年哪月 asks for a month; 什么时候 for none in particular.
DateUnit = Literal["day", "month", "year"]
DATE_UNITS: list[tuple[DateUnit, re.Pattern[str]]] = [
    ("day", re.compile(r"几号|几日|哪天|哪一天|\bwhat date\b|\bwhich day\b|\bwhat day\b", re.I)),
    ("month", re.compile(r"几月|哪个月|哪一个月|哪月|\bwhat month\b|\bwhich month\b", re.I)),
    ("year", re.compile(r"哪一?年|\bwhat year\b|\bwhich year\b", re.I)),
]
# What is left of "A和B分别…" once one of the names is taken out.
JOINER_LEFT = re.compile(r"^(?:和|与|及|以及|、|跟)|(?:和|与|及|以及|、|跟)(?=[，,；;：:？?。]|$|分别|各自|都|各)|分别|各自")
YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
# Names ending in these are organisations or places whatever jieba tags them.
ORGANISATION_SUFFIX = re.compile(r"(?:公司|集团|大学|学院|研究院|研究所|中心|委员会|管委会|局|银行|医院|协会|联盟|基金会|学校|党委|政府)$")
PLACE_SUFFIX = re.compile(r"(?:省|市|区|县|镇|乡|村|街道|社区|新区|开发区|园区)$")
TAG_KIND: dict[str, EntityKind] = {"nr": "person", "nrfg": "person", "nrt": "person", "ns": "place", "nt": "organisation", "nz": "other"}
LATIN_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z]+(?:['’][aeo][a-z]*)*(?:[\s-][A-Z][a-z]+(?:['’][aeo][a-z]*)*)*")
# jieba's dictionary frequency a word not in it is counted with: as rare as a word can be.
UNSEEN_FREQ = 1
# Words a question uses of the report, not of what it reports.
ABOUT_THE_TEXT = frozenset("案例 报告 文章 文中 提到 提及 讲到 谈到 说到 讨论 涉及".split())
# Words that say how a question asks (具体指什么, 分别是哪几家), not what it asks about.
ASKING_MANNER = frozenset("具体 分别 到底 究竟".split())
# A quoted number or character (“3”指什么？) is what a definition question asks about (a term
# held alone: 3 is not in every 321 and 2023).
SHORT_QUOTED = re.compile(r"[“\"「]([^“”\"「」\s]{1,2})[”\"」]")
# A question word at the start of a word (多少钱, 哪几类, 几家) asks rather than names: not
# content, and never a name (jieba tags 多少钱 a person). 几乎 and 几何 are content words.
ASKING = re.compile(r"多少|什么|哪|几(?!乎|何)")
NO_SENSES = NameSenses(frozenset(), frozenset())
# A question that states a whole and asks for a part of it: how many of the 54 companies do
# engineering (54家强村公司中，…有几家？, 其中有多少…, how many of the 84 members…), or the rest of a
# counted list (除了…，另外七个是什么？, what are the other eight…). Reports give totals far more
# often than their breakdown: of the training questions, only unanswerable ones ask this way.
WHOLE = r"[0-9一二两三四五六七八九十百千万][\d.,一二两三四五六七八九十百千万]*(?:余|多)?"
ASKS_PART = re.compile(
    WHOLE + r"[^，,。？?]{0,14}?(?:里|中|当中|之中)(?=[，,]|有|属于|哪|多少|几|[^\u4e00-\u9fff])[，,]?[^？?]{0,24}?(?:多少|几|占比|比例|哪一?类.{0,6}最)"
    + "|" + WHOLE + r"[^。？?]{0,20}?其中[^？?]{0,12}?(?:多少|几)"
    + "|" + r"(?:另外|其余|其他|剩下)的?" + WHOLE + r"[个项家类条种位名大]?[^，,。]{0,6}?(?:是什么|是哪|叫什么|有哪|分别)"
    + r"|\bhow (?:many|much) of (?:the |its |their |[A-Z][\w'-]* )*[\w'() -]{0,30}?\d"
    + r"|\bwhat (?:are|were) the (?:other|remaining) "
    + r"|\b(?:the )?(?:other|remaining) (?:\w+ )?(?:two|three|four|five|six|seven|eight|nine|ten|\d+)\b",
    re.I,
)


@dataclass(frozen=True)
class Entity:
    text: str
    kind: EntityKind
    known: bool  # the report names it


@dataclass(frozen=True)
class Term:
    text: str
    weight: float  # how informative the word is in Chinese at large (an English word: in English)
    in_corpus: bool
    forms: tuple[str, ...] = ()  # an English word's Chinese words in the report (index/glossary.py)
    alone: bool = False  # held only where no digit or letter runs on from it: “3” is not in 321

    def held_in(self, text: str, norm=fold) -> bool:
        """Whether ``text`` (already normalised by ``norm``) holds the word, or for an English word one of its Chinese forms."""
        if self.alone:
            form = norm(self.text)
            return bool(form) and re.search(rf"(?<![0-9a-z]){re.escape(form)}(?![0-9a-z])", text, re.I) is not None
        return any(norm(form) in text for form in (self.forms or (self.text,)) if norm(form))


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    language: Literal["zh", "en"]
    answer_type: AnswerType
    measure: str | None  # the measure word a count asks for (多少家 → 家)
    terms: tuple[Term, ...]  # the content words, most informative first
    focus: tuple[Term, ...]  # those not part of a named entity: what is asked about the subject
    entities: tuple[Entity, ...]
    years: tuple[int, ...]
    asks_part: bool = False  # of a whole the question states (ASKS_PART)
    date_unit: DateUnit | None = None  # the unit a date question asks in (几号 → day)

    @property
    def coverage(self) -> float:
        """Weighted share of the question's content words the report holds anywhere (1.0 with none)."""
        return weighted_share(self.terms, lambda t: t.in_corpus)

    @property
    def unknown(self) -> tuple[str, ...]:
        """The places, organisations and people the question names that the report never does."""
        return tuple(e.text for e in self.entities if not e.known and e.kind != "other")


def weighted_share(terms: tuple[Term, ...], held) -> float:
    total = sum(t.weight for t in terms)
    return sum(t.weight for t in terms if held(t)) / total if total else 1.0


class QuestionAnalyzer:
    """Reads questions against one index's passages and vocabulary."""

    def __init__(
        self,
        chunks: list[Chunk],
        tokenizer: Tokenizer,
        names: PinyinNames,
        glossary: Callable[[], EnglishGlossary] | None = None,
        senses: Callable[[], NameSenses] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.names = names
        # CC-CEDICT, read on the first English question (a second), its places and ordinary words on the first
        # Chinese one (a fifth of a second); a server reads both before it answers (warm).
        self._glossary = functools.cache(glossary) if glossary else None
        self._senses = functools.cache(senses) if senses else (lambda: NO_SENSES)
        self.folded = "\n".join(fold(f"{c.case_title}{c.section}{c.text}") for c in chunks)
        by_case: dict[str, list[str]] = {}
        for c in chunks:
            if c.section_kind not in ("contents", "preface"):  # the list and the preface name every case
                by_case.setdefault(c.case_id, [fold(c.case_title)]).append(fold(c.text))
        self.case_text = {case: "".join(parts) for case, parts in by_case.items()}
        self._pos = private_tagger()
        for word in tokenizer.user_words:
            self._pos.tokenizer.add_word(word, freq=100_000, tag="nz")
        self._general = jieba.dt
        self._general.check_initialized()
        # The answerability model and the quote model read the same question in one request.
        self.run = functools.lru_cache(maxsize=256)(self._run)
        # Search, quoting and the byline rule each ask which cases a question compares.
        self._names_by_case = functools.lru_cache(maxsize=256)(self._case_names)

    def warm(self) -> None:
        """Read the dictionary now rather than on the first question (a second; a server does it before it answers)."""
        if self._glossary:
            self._glossary()
        self._senses()

    def weight(self, word: str) -> float:
        """Information of a word in general Chinese: -log of its share in jieba's dictionary."""
        freq = self._general.FREQ.get(word) or UNSEEN_FREQ
        return math.log(self._general.total / freq)

    def holds(self, text: str) -> bool:
        """Whether the report has this text anywhere (letters and digits compared: quotes, width and spacing do not matter)."""
        folded = fold(text)
        return bool(folded) and folded in self.folded

    def _run(self, question: str) -> QuestionAnalysis:
        english = is_latin(question)
        pairs = [] if english else list(self._pos.cut(question))
        # An English question's capitalised names, each with the report's terms its pinyin spells.
        names = [(m.group(0), self.names.terms(m.group(0))) for m in LATIN_NAME.finditer(question)] if english else []
        entities = self._english_entities(names) if english else self._entities(pairs)
        inside = fold("".join(e.text for e in entities))
        found = self._english_terms(question, names) if english else [Term(p.word, self.weight(p.word), self.holds(p.word)) for p in pairs if _is_content(p.word, p.flag)]
        found += [Term(f"“{m.group(1)}”", self.weight(m.group(1)), self.holds(m.group(1)), alone=True) for m in SHORT_QUOTED.finditer(question) if not english]
        terms = tuple(sorted({t.text: t for t in found}.values(), key=lambda t: -t.weight))
        return QuestionAnalysis(
            text=question,
            language="en" if english else "zh",
            answer_type=answer_type(question),
            measure=next(iter(asked_units(question)), None),
            terms=terms,
            focus=tuple(t for t in terms if fold(t.text) not in inside or t.alone),  # “3” is asked of 321
            entities=entities,
            years=tuple(sorted({int(y) for y in YEAR.findall(question)})),
            asks_part=bool(ASKS_PART.search(question)),
            date_unit=next((unit for unit, asks in DATE_UNITS if asks.search(question)), None),
        )

    def _english_terms(self, question: str, names: list[tuple[str, list[str]]]) -> list[Term]:
        """An English question's words the report can hold: its numbers, its pinyin names as the
        report's Chinese terms (an unknown capitalised name counts as itself), and its other
        content words with the report's Chinese words for them (index/glossary.py)."""
        words = [str(n) for n in Cues.of(question).numbers]
        named: set[str] = set()  # the names' own words, read as names rather than through the glossary
        for name, mapped in names:
            words += mapped or [name]
            named.update(english_words(name))
        terms = [Term(w, self.weight(w), self.holds(w)) for w in dict.fromkeys(words)]
        if self._glossary is None:
            return terms
        glossary = self._glossary()
        for word in english_words(question):
            if word not in named:
                forms = glossary.terms(word)
                terms.append(Term(word, glossary.weight(word), any(self.holds(f) for f in forms), forms))
        return terms

    def cases_compared(self, question: str) -> list[str]:
        """The cases a question about several cases names (紫金港和钱塘分别…): each the only case
        whose text names one of its entities; empty unless there are two or more."""
        cases = list(dict.fromkeys(self._names_by_case(question).values()))
        return cases if len(cases) >= 2 else []

    def _case_names(self, question: str) -> dict[str, str]:
        """Each entity of the question that exactly one case's text names, with that case."""
        out: dict[str, str] = {}
        for entity in self.run(question).entities:
            # A name glued to the words before it (职业经理人罗泽锋) may be in no text whole: its words are tried then.
            whole = self._holding(entity.text)
            tried = [(entity.text, whole)] if whole else [(p.word, self._holding(p.word)) for p in self._pos.cut(entity.text) if len(p.word) >= 2]
            for name, holding in tried:
                if len(holding) == 1:
                    out[name] = holding[0]
        return out

    def _holding(self, name: str) -> list[str]:
        """The cases whose own text names ``name``."""
        folded = fold(name)
        return [case for case, text in self.case_text.items() if folded and folded in text]

    def about_case(self, question: str, case: str) -> str:
        """What a question about several cases asks of one of them: the question without the other
        cases' names and without the words only their text holds (紫金港科技城和钱塘分别是哪项
        改革的省级试点？ → 钱塘是哪项改革的省级试点？), so the quote model weighs that case's own words."""
        names = self._names_by_case(question)
        compared = set(names.values()) - {case}
        if case not in names.values() or not compared:
            return question
        own = self.case_text.get(case, "")
        drop = [n for n, c in names.items() if c != case]
        drop += [t.text for t in self.run(question).terms
                 if not t.forms and fold(t.text) not in own and any(fold(t.text) in self.case_text[c] for c in compared)]
        text = question
        for word in sorted(set(drop), key=len, reverse=True):
            text = text.replace(word, "")
        text = JOINER_LEFT.sub("", text)
        return text.strip("，,、；;：: ") or question

    def _english_entities(self, names: list[tuple[str, list[str]]]) -> tuple[Entity, ...]:
        """An English question's capitalised names: the report's own terms spelled in pinyin, and
        the Chinese places and people the dictionary spells so (Ningbo → 宁波), named or not in
        the report; other names (Vision Valley) count as names of unknown kind."""
        found = []
        glossary = self._glossary() if self._glossary else None
        for name, mapped in names:
            places = [] if mapped or glossary is None else [(w, glossary.names(w)) for w in english_words(name)]
            places = [(w, forms) for w, forms in places if forms]
            if places:
                found += [Entity(w, "place", any(self.holds(f) for f in forms)) for w, forms in places]
            else:
                found.append(Entity(name, "other", bool(mapped) and any(self.holds(t) for t in mapped)))
        return tuple(found)

    def _entities(self, pairs: list) -> tuple[Entity, ...]:
        """The names jieba tags (people, places, organisations, the report's own terms), each
        with the name and suffix words that follow it (深圳 + 前海, 钱塘 + 区, 仓前 + 街道)."""
        out: dict[str, Entity] = {}
        senses = self._senses()
        place = senses.places.__contains__
        i = 0
        while i < len(pairs):
            kind = TAG_KIND.get(pairs[i].flag)
            if kind is None and len(pairs[i].word) >= 2 and place(pairs[i].word):
                kind = "place"
            if kind is None:
                i += 1
                continue
            words = [pairs[i]]
            j = i + 1
            while j < len(pairs) and (pairs[j].flag in TAG_KIND or pairs[j].flag == "f" or PLACE_SUFFIX.fullmatch(pairs[j].word) or ORGANISATION_SUFFIX.fullmatch(pairs[j].word)):
                words.append(pairs[j])
                j += 1
            while len(words) > 1 and words[-1].flag == "f":  # 仓前南边: a direction, not part of the name
                words.pop()
            name = "".join(w.word for w in words)
            if ORGANISATION_SUFFIX.search(name):
                kind = "organisation"
            elif kind == "other" and (PLACE_SUFFIX.search(name) or any(place(w.word) for w in words if len(w.word) >= 2)):
                kind = "place"  # jieba tags many places nz (义乌): the dictionary knows them as names
            known = self.holds(name) or all(self.holds(w.word) for w in words if len(w.word) >= 2)
            if not known and (name in senses.common or ASKING.search(name)):
                kind = "other"  # 东西, 张罗, 海关, 多少钱: an ordinary word jieba took for a name is not one the report lacks
            if len(name) >= 2:
                out[name] = Entity(name, kind, known)
            i = j
        return tuple(out.values())


def _is_content(word: str, flag: str) -> bool:
    """A word that says what is asked: not punctuation, a pronoun, a stop or question word, a word about the
    report itself (哪些案例讲到了…: the text says 强村公司, not 案例 or 讲到), or a lone character."""
    return (
        (len(word) >= 2 or word.isdigit())
        and flag != "x"
        and not flag.startswith("r")  # a pronoun or determiner: 那位, 那家, 每个, 这种
        and normalize(word) not in STOP_WORDS
        and word not in ABOUT_THE_TEXT
        and word not in ASKING_MANNER
        and not ASKING.match(word)  # 多少钱, 哪几类: the question's own asking
        and any(ch.isalnum() for ch in word)
    )


# A question asking more things in turn is read whole: each part costs a search of its own.
MAX_PARTS = 3


def parts(question: str) -> list[str]:
    """The questions one question asks (富阳设了多少个试点？紫金港又有多少名科学家落地？ → two):
    split after each question mark, when there are two or three pieces and every one has words
    of its own; else the question."""
    pieces = [p.strip() for p in re.split(r"(?<=[？?])", question) if p.strip()]
    return pieces if 2 <= len(pieces) <= MAX_PARTS and all(len(fold(p)) >= 4 for p in pieces) else [question]


def answer_type(question: str) -> AnswerType:
    for kind, pattern in ANSWER_TYPES:
        if pattern.search(question):
            return kind
    return "other"



# What a text holding an answer of each type looks like. How, why and yes/no answers have no
# such shape: they are not checked.
NUMBER_WITH_UNIT = re.compile(r"[0-9０-９一二两三四五六七八九十百千万亿.]+\s*(?:余|多)?(?:亿|万)?(?:元|%|％|倍|成|个百分点|分钟|小时|天|个月|年)|百分之")
# A person's name: a common surname and one or two characters that are not function words (so
# 负责人说, 高兴地说, 如果说 and 主席之一 are not names), after a title or before a verb of saying.
SURNAME = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤俞郁查楼应翁虞茅章裘屠柴詹傅骆"
GIVEN = r"[^\W\d_a-zA-Z地的得了着是在有和与也都就还又说把被之一这那其等及将对从为以而]"
NAME = f"[{SURNAME}]{GIVEN}{{1,2}}"
PERSON = re.compile(
    r"(?:书记|主任|局长|区长|镇长|县长|市长|院长|所长|校长|教授|博士|总经理|经理人|经理|负责人|董事长|创始人|专家|研究员|主席|队长|社长|站长|老师|坊主)"
    + NAME + "|" + NAME + r"(?=说|表示|介绍|坦言|认为|指出|告诉)"
)
ORGANISATION = re.compile(r"[\u4e00-\u9fff]{2,}(?:公司|集团|大学|学院|研究院|研究所|中心|委员会|管委会|局|银行|医院|协会|联盟|基金会|学校)")
PLACE = re.compile(r"[\u4e00-\u9fff]{1,}(?:省|市|区|县|镇|乡|村|街道|社区|新区|园区)")
DATE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|今年|去年|前年|上半年|下半年|年底|年初|年内")
# A date in the unit asked: 7月 answers 哪个月 but not 7月几号.
DATE_IN: dict[str, re.Pattern[str]] = {
    "day": re.compile(r"\d{1,2}\s*[日号]"),
    "month": re.compile(r"\d{1,2}\s*月"),
    "year": re.compile(r"(?<!\d)(?:19|20)\d\d(?=\s*年)|今年|去年|前年|明年"),
}
LIST = re.compile(r"、.*、|一是.*二是|[：:].+[，,、；;]")
DEFINES = re.compile(r"指(?![导标出数南挥引])")  # 指 as “means” (not 指导, 指标, 指出 …)
DEFINITION = re.compile(r"即|是指|指的是|就是|意思是|也就是|意味着|[：:]|——|[”\"」]" + DEFINES.pattern)
NAMED = re.compile(r"[“\"「][^”\"」]{2,20}[”\"」]")
COUNT = re.compile(r"[0-9一二两三四五六七八九十百千万][\d.,]*(?:余|多)?(?:万|亿)?个?")
# Types whose answer a question can state as its given: a number, a date, a name. A list's or a
# definition's shape is punctuation, which the question's own words never are.
GIVEN_CHECKED = frozenset({"count", "amount", "date", "person", "organisation", "place", "name"})
TYPE_SHAPE: dict[str, re.Pattern[str]] = {
    "amount": NUMBER_WITH_UNIT, "person": PERSON, "organisation": ORGANISATION, "place": PLACE,
    "date": DATE, "list": LIST, "definition": DEFINITION, "name": NAMED,
}


def holds_type(analysis: QuestionAnalysis, text: str) -> bool | None:
    """Whether ``text`` holds something of the expected answer type (a count in the asked measure
    word, a person's name, a date …); None for a type with no such shape."""
    if analysis.answer_type == "count":
        shape = re.compile(COUNT.pattern + f"[{re.escape(analysis.measure)}]") if analysis.measure else COUNT
    elif analysis.answer_type == "date" and analysis.date_unit:
        shape = DATE_IN[analysis.date_unit]
    elif analysis.answer_type == "definition" and analysis.focus:
        # Defining what was asked: 其中，“3”指依托…, not any colon or dash of the text.
        named = "|".join(re.escape(form) for t in analysis.focus for form in dict.fromkeys((t.text, normalize(t.text))))
        shape = re.compile(f"(?:{named}).{{0,4}}?(?:{DEFINITION.pattern}|{DEFINES.pattern})")
    elif (shape := TYPE_SHAPE.get(analysis.answer_type)) is None:
        return None
    return any(not _given(analysis, m.group()) for m in shape.finditer(text))


def _given(analysis: QuestionAnalysis, found: str) -> bool:
    """Whether a piece of text of the answer's shape is what the question itself states, not an
    answer to it: 54家 for 54家强村公司中，做工程服务的有几家？, 7月 for …是7月几号开的？"""
    if analysis.answer_type not in GIVEN_CHECKED:
        return False
    if fold(found) in fold(analysis.text):
        return True
    numbers = set(NUMBER.findall(found))
    return bool(numbers) and numbers <= set(NUMBER.findall(analysis.text))


# Details a question may ask of a named subject, by the words that ask for them, and what the
# text stating one looks like: an age in 岁, an address with a road or a number, a sum of money,
# an area, a population, a telephone number. A report that names the subject but not the detail
# holds the subject's words and none of this shape.
DETAILS: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (re.compile(r"年龄|年纪|几岁|多大岁数|\bhow old\b|\bage\b", re.I), re.compile(r"\d+\s*(?:岁|周岁)")),
    (re.compile(r"电话|手机|联系方式|热线|\bphone\b|\btelephone\b", re.I), re.compile(r"\d{3,4}-?\d{7,8}|1\d{10}|\d{8}")),
    (re.compile(r"地址|门牌|哪条路|哪条街|\baddress\b", re.I), re.compile(r"[\u4e00-\u9fff]{2,}(?:路|街|大道|弄)\d*号?|\d+号")),
    (re.compile(r"年薪|工资|薪酬|月薪|收入|税收|营收|销售额|产值|GDP|生产总值|投资|经费|预算|资金|价格|票价|多少钱|\bsalary\b|\bincome\b|\brevenue\b|\bbudget\b|\bprice\b|\bgdp\b", re.I),
     re.compile(r"\d[\d.,]*\s*(?:余|多)?\s*(?:万|亿)?\s*元|\d[\d.,]*\s*(?:万|亿)(?:元|美元)?")),
    (re.compile(r"面积|占地|多少平方|多少亩|\barea\b|\bhectare", re.I), re.compile(r"\d[\d.,]*\s*(?:余|多)?\s*(?:万)?\s*(?:平方米|平方公里|平方千米|亩|公顷|㎡)")),
    (re.compile(r"人口|常住|户籍|\bpopulation\b|\binhabitants\b", re.I), re.compile(r"\d[\d.,]*\s*(?:余|多)?\s*万?\s*(?:人|户|常住人口)")),
]


def detail_shape(question: str) -> re.Pattern[str] | None:
    """The shape of the detail a question asks for (an age, an address …), or None when it asks for none of these."""
    return next((shape for asks, shape in DETAILS if asks.search(question)), None)
