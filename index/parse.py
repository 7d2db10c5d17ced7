"""Parse one report file (text pulled out of a newspaper page) into cases, sections and paragraphs.

The files carry no reliable markup: a case may start at a ``改革项目：`` line, a markdown
heading or a bare title line; headings may be markdown or plain lines; captions and running
heads sit between the halves of paragraphs the layout cut in two. The rules below read the
shape of the lines (what follows a title, how long a line is, whether it ends a sentence),
never a list of known titles.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from index.models import Case, ContentsEntry, Paragraph, Section
from index.text import CJK, SENTENCE_PUNCT, ends_sentence, fold

PROJECT = re.compile(r"^改革项目\s*[:：]\s*")
CONTENTS_HEADER = re.compile(r"^(报告)?目录$")
CONTENTS_LINE = re.compile(r"^(?:[-*•]\s*)?第?(\d{1,3})\s*版\s*(.+)$")
# A case title in the contents starts with a short place name and a colon.
CONTENTS_SPLIT = re.compile(r"\s+(?=[^\s:：]{1,15}[:：])")
COMMENTARY_MARK = "专家点评"
BYLINE = re.compile(rf"^[{CJK}·]{{1,3}}(?: [{CJK}·]{{1,3}}){{0,7}}$")
EXPERT_TITLE = re.compile(r"研究员|教授|院长|所长|书记|主任|社长|会长|专家|学者|博士|主席|局长|部长|理事")
CAPTION = re.compile(r"(摄|供图)$|^[(（](本版)?图片由.*提供[)）]$|[(（](本版)?图片由[^)）]*提供[)）]$")
TITLE_PUNCT = re.compile(r"[，,。！？!?；;]")
MAX_TITLE = 60
MAX_HEADING = 30
SHORT_NOISE = 5
INTRO = "导语"


@dataclass
class Line:
    text: str
    start: int
    end: int
    level: int  # markdown heading level, 0 for a plain line
    gap: int  # blank lines before it


@dataclass
class ParsedFile:
    cases: list[Case]
    contents: list[ContentsEntry]


def case_id(title: str, source: str = "") -> str:
    """Stable while the case title is unchanged, whatever the file is called.

    ``source`` is only for a case whose title an earlier file already holds, so ids stay unique.
    """
    key = f"{fold(title)}\0{source}" if source else fold(title)
    return "c" + hashlib.sha1(key.encode()).hexdigest()[:10]


def split_lines(text: str) -> list[Line]:
    """Non-blank lines with their source offsets and markdown heading level."""
    lines, gap, pos = [], 0, 0
    for raw in text.split("\n"):
        begin, pos = pos, pos + len(raw) + 1
        stripped = raw.strip()
        heading = re.match(r"^(#{1,6})\s+", stripped)
        body = stripped[heading.end():].strip() if heading else stripped
        if not body:
            gap += 1
            continue
        start = begin + raw.index(body)
        lines.append(Line(body, start, start + len(body), len(heading.group(1)) if heading else 0, gap))
        gap = 0
    return lines


def line_tokens(text: str) -> list[str]:
    return text.split()


def is_titleish(text: str) -> bool:
    return len(text) <= MAX_TITLE and not SENTENCE_PUNCT.search(text)


def is_byline(text: str) -> bool:
    return bool(BYLINE.match(text)) and any(2 <= len(t) <= 3 for t in text.split())


def is_expert(text: str) -> bool:
    parts = text.split()
    return (
        len(parts) >= 2
        and len(text) <= 45
        and bool(EXPERT_TITLE.search(text))
        and not TITLE_PUNCT.search(text)
        and 2 <= len(parts[-1]) <= 6
    )


@dataclass
class _Builder:
    """Collects the cases of one file while the lines are read in order."""

    source: str
    cases: list[Case] = field(default_factory=list)
    section: Section | None = None
    pending: list[Line] = field(default_factory=list)  # lines of an unfinished paragraph

    @property
    def case(self) -> Case | None:
        return self.cases[-1] if self.cases else None

    def start_case(self, title: str, kind: str, project: str | None) -> None:
        self.flush()
        self.cases.append(Case(case_id(title), title, kind, self.source, project))
        self.section = None

    def start_section(self, title: str, kind: str, byline: str | None = None) -> None:
        self.flush()
        self.section = Section(title, kind, byline=byline)
        self.case.sections.append(self.section)

    def add_text(self, line: Line) -> None:
        if self.case is None:
            return
        if self.pending and ends_sentence(self.pending[-1].text):
            self.flush()
        self.pending.append(line)

    def flush(self) -> None:
        """Close the open paragraph: its lines were one paragraph cut by the layout."""
        if not self.pending:
            return
        lines, self.pending = self.pending, []
        if self.section is None:
            self.start_section(INTRO, "preface" if self.case.kind == "preface" else "body")
        text = "".join(ln.text for ln in lines)
        self.section.paragraphs.append(Paragraph(text, tuple((ln.start, ln.end) for ln in lines)))


class ReportParser:
    """Turns the text of one file into cases; ``running_heads`` are page furniture to drop.

    Running heads are learnt across the corpus (lines repeated on several pages), so the
    caller passes them in.
    """

    def __init__(self, running_heads: frozenset[str] = frozenset()):
        self.running_heads = running_heads

    def run(self, source: str, text: str) -> ParsedFile:
        lines = split_lines(text)
        out = _Builder(source)
        contents: list[ContentsEntry] = []
        contents_lines: list[Line] = []
        contents_title = None
        plain_headings = not any(ln.level for ln in lines[1:])
        i = 0
        while i < len(lines):
            ln, nxt = lines[i], lines[i + 1] if i + 1 < len(lines) else None
            t = ln.text
            if CONTENTS_HEADER.match(t):
                contents_title = t
                i += 1
                while i < len(lines) and (m := CONTENTS_LINE.match(lines[i].text)):
                    page = int(m.group(1))
                    contents += [ContentsEntry(page, s.strip()) for s in CONTENTS_SPLIT.split(m.group(2))]
                    bullet = lines[i].text.index(m.group(1))
                    cl = lines[i]
                    contents_lines.append(Line(cl.text[bullet:], cl.start + bullet, cl.end, 0, cl.gap))
                    i += 1
                continue
            if m := PROJECT.match(t):
                i = self._start_project_case(lines, i, t[m.end():], out, contents_lines)
                continue
            if COMMENTARY_MARK in t and is_titleish(t) and out.case:
                i = self._start_commentary(lines, i + 1, out)
                continue
            if is_titleish(t) and nxt and nxt.gap <= 2 and is_expert(nxt.text) and out.case:
                i = self._start_commentary(lines, i, out)
                continue
            if is_titleish(t) and nxt and is_byline(nxt.text):
                kind = "preface" if contents_lines and not any(c.kind == "preface" for c in out.cases) else "case"
                self._open_case(out, t, kind, None, contents_lines, contents_title)
                out.case.authors = nxt.text.split()
                i += 2
                continue
            if self._is_noise(lines, i):
                i += 1
                continue
            if out.case and (ln.level or (plain_headings and self._is_plain_heading(ln))):
                out.start_section(t, "preface" if out.case.kind == "preface" else "body")
                i += 1
                continue
            out.add_text(ln)
            i += 1
        out.flush()
        if contents_lines and not out.cases:
            self._open_case(out, contents_title or "目录", "preface", None, contents_lines, contents_title)
            out.flush()
        return ParsedFile(out.cases, contents)

    def _open_case(self, out, title, kind, project, contents_lines, contents_title) -> None:
        out.start_case(title, kind, project)
        if kind == "preface" and contents_lines:
            out.start_section(contents_title or "目录", "contents")
            for cl in contents_lines:
                out.add_text(cl)
                out.flush()
            contents_lines.clear()
            out.section = None

    def _start_project_case(self, lines, i, rest, out, contents_lines) -> int:
        """``改革项目：<project> [<place>：<title>]``; without a title, the next line is the title."""
        colon = re.search(r"[:：]", rest)
        cut = rest.rfind(" ", 0, colon.start()) if colon else -1
        if cut > 0:
            project, title = rest[:cut].strip(), rest[cut:].strip()
            i += 1
        else:
            project = rest.strip()
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if nxt and is_titleish(nxt.text) and not is_byline(nxt.text):
                title, i = nxt.text, i + 2
            else:
                title, i = project, i + 1
        self._open_case(out, title, "case", project or None, contents_lines, None)
        if i < len(lines) and is_byline(lines[i].text):
            out.case.authors = lines[i].text.split()
            i += 1
        return i

    def _start_commentary(self, lines, i, out) -> int:
        """Expert commentary: optional column name lines, a headline, the expert's line; or the expert's line at once."""
        if i < len(lines) and is_expert(lines[i].text):  # 专家点评 / 浙江工业大学教授 陈立 / text
            self._open_commentary(out, COMMENTARY_MARK, lines[i])
            return i + 1
        j = i
        while j + 1 < len(lines) and not is_expert(lines[j + 1].text) and is_titleish(lines[j].text) and j - i < 2:
            j += 1
        if j + 1 < len(lines) and is_expert(lines[j + 1].text):
            self._open_commentary(out, lines[j].text, lines[j + 1])
            return j + 2
        out.start_section(COMMENTARY_MARK, "commentary")
        return i

    @staticmethod
    def _open_commentary(out, title: str, expert: Line) -> None:
        out.start_section(title, "commentary", byline=expert.text)
        # The expert's title and name are what users ask about ("谁点评的"), so they are text too.
        out.section.paragraphs.append(Paragraph(expert.text, ((expert.start, expert.end),)))

    def _is_noise(self, lines: list[Line], i: int) -> bool:
        """Captions, running heads and stray short lines: page furniture, not text."""
        ln = lines[i]
        t = ln.text
        if CAPTION.search(t):
            return True
        if not is_titleish(t) or TITLE_PUNCT.search(t):
            return False
        tokens = line_tokens(t)
        heads = [tok for tok in tokens if fold(tok) in self.running_heads]
        # A markdown heading is a heading even when its words are a running head elsewhere.
        if not ln.level and (fold(t) in self.running_heads or (heads and all(tok in heads or len(tok) <= 4 for tok in tokens))):
            return True
        if len(t) <= SHORT_NOISE and not ln.level:
            return True
        # Words of at most four characters side by side are labels (column names, names), not headings.
        if len(tokens) >= 2 and all(len(tok) <= 4 for tok in tokens):
            return True
        # After a layout break (an image or a box), a short unpunctuated plain line is a caption.
        return ln.gap >= 2 and not ln.level and len(t) <= MAX_HEADING

    @staticmethod
    def _is_plain_heading(ln: Line) -> bool:
        """A plain line used as a heading: short, unpunctuated, words in groups or very short."""
        t = ln.text
        if TITLE_PUNCT.search(t) or re.search(r"[:：]", t) or not 6 <= len(t) <= MAX_HEADING:
            return False
        return bool(re.search(rf"[{CJK}”’]\s+[“‘{CJK}]", t)) or len(t) <= 12


def _stands_apart(lines: list[Line], i: int) -> bool:
    """A plain short line that introduces no text, as page furniture does.

    In the seeds the masthead, the column tags (深化改革 强基固本, 体制机制) and 专家点评 are
    followed by another label, a heading, a project line or the end of the page; a heading,
    title or cut paragraph line is followed by its text, byline or expert.
    """
    ln = lines[i]
    if ln.level or not is_titleish(ln.text) or len(ln.text) > MAX_HEADING:
        return False
    nxt = lines[i + 1].text if i + 1 < len(lines) else None
    if nxt is None or PROJECT.match(nxt):
        return True
    return not (TITLE_PUNCT.search(nxt) or len(nxt) > MAX_TITLE or is_byline(nxt) or is_expert(nxt))


def running_heads(texts: list[str]) -> frozenset[str]:
    """Lines that stand apart on two or more pages among different lines (and their words).

    The same line between the same neighbours in two files is one case copied, not furniture,
    so adding a file cannot turn the headings or text of another into running heads.
    """
    pages: dict[str, set[int]] = {}
    contexts: dict[str, set[tuple[str, str]]] = {}
    for n, text in enumerate(texts):
        lines = split_lines(text)
        for i, ln in enumerate(lines):
            if _stands_apart(lines, i):
                key = fold(ln.text)
                pages.setdefault(key, set()).add(n)
                around = (fold(lines[i - 1].text) if i else "", fold(lines[i + 1].text) if i + 1 < len(lines) else "")
                contexts.setdefault(key, set()).add(around)
    repeated = {k for k, found in pages.items() if len(found) >= 2 and len(contexts[k]) >= 2}
    words = set()
    for text in texts:
        for ln in split_lines(text):
            if fold(ln.text) in repeated:
                words.update(fold(tok) for tok in line_tokens(ln.text))
    return frozenset(repeated | words)
