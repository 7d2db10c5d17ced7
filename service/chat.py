"""Chat turns in, chat reply out: follow-up questions become standalone questions for retrieval.

A follow-up names only what changes (“那钱塘呢？”, “what about Binjiang?”) or points back
with a pronoun (“它的专家点评是谁写的？”). It is resolved against the previous user turn
(itself resolved first): the new name replaces the previous question's subject, or the
pronoun is replaced by it; a page (“第33版呢？”) replaces the page the previous question
names. The subject is found from the shape of the question — a leading noun phrase before
的, a leading place name (…区, …村, …街道, …社区), else the first proper noun jieba tags,
else the page it names — never from a list of known places.

A follow-up that points back without naming what it means — a person (他说…, where does he
work?), a demonstrative noun (这个社区的书记是谁？, 写这篇点评的人…) or an ordinal (第一家…,
首任…) — gets the subject of the conversation put before the reference or the question:
the person is named only in the previous answer, which is not read, so the subject (钱塘)
stands beside 他 rather than replacing it. A follow-up that names nothing it asks about at all
(为啥要把工厂往楼上搬？, How many people took part?) gets it too, unless it asks about the report
as a whole (哪些案例…, the preface). The subject carries through turns that name none.
"""
from __future__ import annotations

import logging
import re

import jieba
import jieba.posseg

from index.models import page_label
from service.answer import Answer
from service.cues import PAGE, is_latin

jieba.setLogLevel(logging.WARNING)

ROLE_USER = "user"
QUOTED = re.compile(r"[“\"「]([^”\"」]{1,20})[”\"」]")
QUESTION_WORD = re.compile(r"哪|什么|谁|多少|几|怎|如何|为何|为什么|是否|吗")
FOLLOW_UP_ZH = re.compile(r"^(?:那么?|还有|再说说|再看看)?\s*(?P<subject>[^，,。？?！!]{1,15}?)\s*(?:呢|又如何|又怎么样)\s*[？?。.!！]*$")
LEAD_THEN = re.compile(r"^那么?(?![个些里时样边])\s*(?P<subject>[^，,。？?！!]{1,15}?)\s*[？?。.!！]*$")
FOLLOW_UP_EN = re.compile(r"^(?:and\s+|so\s+|then\s+)?(?:what|how)\s+about\s+(?P<subject>.+?)\s*[?？.!]*$", re.IGNORECASE)
# Follow-ups that ask for more on the same subject rather than name a new one.
ELABORATION = frozenset("具体 详细 详细点 还有 其他 另外 此外 更多 细节 原因 结果 效果 然后 后来 接下来".split())
PRONOUN_ZH = re.compile(r"它们|它|该案例|这个案例|这一案例|该地|这里|那里|该区|这个区")
PRONOUN_EN = re.compile(r"\b(?:it|its|they|them|their)\b|(?<!\bis )(?<!\bare )(?<!\bwas )(?<!\bwere )\bthere\b(?!\s+(?:is|are|was|were|be|been|has|have|had)\b)", re.IGNORECASE)
PROPER_NOUN = frozenset({"ns", "nr", "nt", "nz", "nrt", "nrfg"})
# References that name nothing: a person, a demonstrative before a noun, an ordinal of a set just mentioned.
PERSON_ZH = re.compile(r"他们|她们|他|她")
PERSON_EN = re.compile(r"\b(?:he|she|him|his|her|hers)\b", re.IGNORECASE)
DEMONSTRATIVE = re.compile(r"(?:这|那|该|此)(?:个|家|篇|位|所|座|条|项|些|份|种)?")
# A demonstrative pointing back: before a noun the report's subjects are named by, which the
# question goes on from (这个社区的…, 写这篇点评的人…); not one opening a description (那个专为…的新型社区).
REFERENCE = re.compile(
    DEMONSTRATIVE.pattern
    + r"(?=(?:社区|小区|村|街道|区|县|镇|案例|公司|企业|工坊|园区|科技城|点评|文章|报道|项目|机制|平台|联盟|中心|学校|幼儿园|专家|人|地方|机构|单位|改革|做法|模式|基地|工作站)"
    + r"(?:的|是|有|在|叫|后|里|都|也|还|就|现在|目前|一共|如何|怎|什么|哪|为|到|和|[，。？?！]|$))"
)
PRONOUNISH = re.compile(r"^(?:这|那|该|此|他|她|它|我|你)")
ORDINAL = re.compile(r"^(?:第[一二三四五六七八九十\d]+[个家位批项次所]|首[个家位批任次]|其中)")
# A question about the report as a whole, not the conversation's subject (哪些案例…, 报告的前言…).
WHOLE_REPORT = re.compile(r"报告|全书|目录|序言|前言|哪些案例|哪几个案例|多少个?案例|各(?:区|地|个案例)|\b(?:report|cases|preface|contents)\b", re.IGNORECASE)
# What a follow-up names as its new subject may carry a pointer to the previous one (滨江那篇 → 滨江).
POINTER_SUFFIX = re.compile(r"(?:那篇|这篇|那边|这边|那里|这里|那个|这个)$")
NAME_SUFFIX = frozenset("区 县 市 镇 乡 村 街道 社区 新区 园区 科技城".split())
LEADING_NAME_WORDS = 4
# A question opening with a place or organisation: a few characters and a suffix, e.g. 梦创社区, 高新区(滨江).
LEADING_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,6}?(?:街道|社区|新区|园区|科技城|区|县|市|镇|乡|村)(?:[(（][^()（）]{1,6}[)）])?")
# Part-of-speech initials of a noun phrase: nouns, abbreviations, numbers, Latin words, brackets.
NOUNISH = frozenset("njmex")
LOOSE_NAME_TAGS = frozenset({"t", "d", "r", "f"})
CAPITALIZED = re.compile(r"\b[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)*")


def standalone_question(turns: list[tuple[str, str]]) -> str:
    """The last user turn as a question that stands on its own; turns are (role, text) pairs.

    Earlier blank user turns are skipped, but a blank last one raises ValueError: answering
    the turn before it would answer a question the user did not ask now.
    """
    question: str | None = None
    topic: str | None = None  # the subject of the latest turn that named one
    last = ""
    for role, text in turns:
        if role == ROLE_USER:
            last = text.strip()
            if last:
                question = resolve(last, question, topic)
                topic = subject(question) or topic
    if question is None or not last:
        raise ValueError("the last user message is missing or blank")
    return question


def resolve(question: str, previous: str | None, topic: str | None = None) -> str:
    """Rewrite a follow-up against the previous (standalone) question, or the conversation's
    ``topic`` when that names no subject; anything else is returned as is."""
    if previous is None:
        return question
    new = follow_up_subject(question)
    if new is not None:
        if new in ELABORATION:
            return f"{previous} {new}"
        if (term := _quoted_alike(previous, new, question)) is not None:  # “3”指什么？ → 那“2”呢？
            return previous[: term.start(1)] + new + previous[term.end(1) :]
        old = (_page(previous) if PAGE.fullmatch(new) else None) or subject(previous)
        return previous.replace(old, new, 1) if old else f"{new} {previous}"
    old = subject(previous) or topic
    if not old:
        return question
    english = is_latin(question)
    match = (PRONOUN_EN if english else PRONOUN_ZH).search(question)
    if match:
        word = match.group(0).lower()
        name = f"{old}'s" if word in ("its", "their") else f"in {old}" if word == "there" else old
        return question[: match.start()] + name + question[match.end() :]
    own = subject(question)
    if english:
        return f"{old}: {question}" if PERSON_EN.search(question) or not (own or WHOLE_REPORT.search(question)) else question
    if own and not DEMONSTRATIVE.match(own):
        return question  # it names what it asks about
    reference = _reference(question)
    if reference is not None:
        return question[:reference] + old + question[reference:]
    if PERSON_ZH.search(question) or ORDINAL.match(question) or not (own or WHOLE_REPORT.search(question)):
        return f"{old} {question}"  # it names nothing it asks about: the conversation's subject
    return question


def _quoted_alike(previous: str, new: str, question: str) -> re.Match[str] | None:
    """The previous question's last quoted term of the kind of the one the follow-up quotes
    (a number for a number), which it replaces; None when the follow-up quotes nothing."""
    if not any(m.group(1) == new for m in QUOTED.finditer(question)):
        return None
    alike = [m for m in QUOTED.finditer(previous) if m.group(1).isdigit() == new.isdigit()]
    return alike[-1] if alike else None


def _reference(question: str) -> int | None:
    """Where a demonstrative pointing back (这个社区, 这篇点评) begins, or None."""
    m = REFERENCE.search(question)
    return m.start() if m else None


def follow_up_subject(question: str) -> str | None:
    """The new name in “那X呢？”, “X呢？”, “那X？” or “what about X?”, else None."""
    m = FOLLOW_UP_EN.match(question) or FOLLOW_UP_ZH.match(question) or LEAD_THEN.match(question)
    if m is None:
        return None
    name = POINTER_SUFFIX.sub("", m.group("subject").strip(" “”\"'")) or m.group("subject").strip(" “”\"'")
    if not name or QUESTION_WORD.search(name):
        return None
    return name


def subject(question: str) -> str | None:
    """What a question is about: a leading noun phrase before 的, a leading place (…区, …村, …街道), else its first proper noun,
    else the page it names (第29版讲了什么？).

    An English question's subject is its last capitalized name (places come last: “… in Cangqian”), else its page.
    """
    if is_latin(question):
        names = [m.group(0) for m in CAPITALIZED.finditer(question) if m.start() > 0]
        return names[-1] if names else _page(question)
    name = _leading_name(list(jieba.posseg.cut(question)))
    return name if name and not QUESTION_WORD.search(name) else _page(question)


def _page(question: str) -> str | None:
    """The page a question names: 第29版, 29版, page 29."""
    m = PAGE.search(question)
    return m.group(0) if m else None


def _leading_name(words: list[jieba.posseg.pair]) -> str | None:
    lead = words[: LEADING_NAME_WORDS + 1]
    de = next((i for i, w in enumerate(lead) if w.word == "的"), 0)
    before = "".join(w.word for w in lead[:de]).strip()
    # jieba tags names it does not know loosely (每日互动: r + d; 仓前: nr + f); no verb, pronoun or question word, though.
    if de and all(w.flag[0] in NOUNISH or w.flag in LOOSE_NAME_TAGS for w in lead[:de]) and len(before) <= 8 and not PRONOUNISH.match(before):
        return before
    place = LEADING_PLACE.match("".join(w.word for w in words))
    if place:
        return place.group(0)
    for i, w in enumerate(words):
        if w.flag in PROPER_NOUN and len(w.word) >= 2:
            name = w.word
            for after in words[i + 1 :]:
                if after.word not in NAME_SUFFIX:
                    break
                name += after.word
            return name
    return None


def format_reply(answer: Answer, english: bool = False) -> str:
    """The chat reply: the answer, an optional note, and its sources (case, page) at the end, labelled in the question's language."""
    parts = [answer.text]
    if answer.note:
        parts.append(f"({answer.note})" if english else f"（{answer.note}）")
    if answer.citations:
        lines = [f"[{c.n}] 《{c.case}》{' ' if english else ''}{page_label(c.page, c.section_kind, english)} · {c.section}" for c in answer.citations]
        parts.append(("Sources:\n" if english else "来源：\n") + "\n".join(lines))
    return "\n\n".join(parts)
