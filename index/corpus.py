"""Read the corpus folder: every report file parsed, pages matched from the contents list."""
from __future__ import annotations

import codecs
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from index.models import Case, ContentsEntry, FileError
from index.parse import ReportParser, case_id, running_heads
from index.text import similarity

SUFFIXES = {".txt", ".md"}  # compared in lower case
# A case title and its contents entry share at least this much (bigram Dice); the
# contents abbreviate titles (紫金港科技城 → 紫港科技城), so the bar is not high: the seed
# cases score 0.387 (江洲村, whose entry is "富阳新桐乡江洲村:农文旅融合") to 1.0 against their
# entry and at most 0.231 against any other. A shared phrase alone can pass it, though
# ("测试区1:数字化改革赋能基层治理" scores 0.400 against "临安:数字化改革赋能农房管理良性循环"),
# so the place names before the colons must also be this alike when both titles have one:
# 0.444 (江洲村 / 富阳新桐乡江洲村) and 0.667 (紫金港科技城 / 紫港科技城) to 1.0 in the seeds, 0 there.
PAGE_MATCH = 0.35
PLACE = re.compile(r"^([^\s:：]{1,15})[:：]")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class CorpusError(ValueError):
    """A corpus file that cannot be read as report text."""


@dataclass
class Corpus:
    cases: list[Case]
    contents: list[ContentsEntry]
    errors: list[FileError] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # source name → text, for offsets

    @property
    def checksum(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.texts):
            h.update(name.encode() + b"\0" + self.texts[name].encode() + b"\0")
        return h.hexdigest()[:16]


def read_report(path: Path) -> str:
    """The text of one file, or a CorpusError that says what is wrong with it.

    UTF-8, or UTF-16 when a byte-order mark says so (Windows saves "Unicode" text that way):
    its NUL bytes do not make it binary.
    """
    data = path.read_bytes()
    utf16 = data.startswith(UTF16_BOMS)
    if not utf16 and b"\0" in data:
        raise CorpusError("binary file (contains NUL bytes), not report text")
    try:
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(f"not {'UTF-16' if utf16 else 'UTF-8'} text (invalid byte 0x{data[e.start]:02x} at offset {e.start})") from None
    if "\0" in text:
        raise CorpusError("binary file (contains NUL characters), not report text")
    if not text.strip():
        raise CorpusError("empty file")
    return text


def corpus_files(folder: Path) -> list[Path]:
    """The report files of ``folder``; FileNotFoundError (what callers report) when it is not a folder."""
    if not folder.exists():
        raise FileNotFoundError(f"corpus folder not found: {folder}")
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus path is a file, not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("."))


def load_corpus(folder: Path) -> Corpus:
    """Parse every file; a bad file is reported in ``errors`` and does not stop the others."""
    texts: dict[str, str] = {}
    errors: list[FileError] = []
    for path in corpus_files(folder):
        try:
            texts[path.name] = read_report(path)
        except (CorpusError, OSError) as e:
            errors.append(FileError(path.name, str(e)))
    parser = ReportParser(running_heads(list(texts.values())))
    cases: list[Case] = []
    contents: list[ContentsEntry] = []
    for name, text in texts.items():
        parsed = parser.run(name, text)
        if not parsed.cases and not parsed.contents:
            errors.append(FileError(name, "no case found (no 改革项目 line, title with byline, or contents list)"))
        cases += parsed.cases
        contents += parsed.contents
    unique_ids(cases)
    assign_pages(cases, contents)
    return Corpus(cases, contents, errors, texts)


def unique_ids(cases: list[Case]) -> None:
    """A case whose title an earlier case holds gets an id that also depends on its file.

    Files are read in sorted order, so the first keeps the plain id; without this the two
    would share an id, and passages of the same text in the same section their chunk ids.
    """
    seen: set[str] = set()
    for case in cases:
        n = 0
        while case.id in seen:
            n += 1
            case.id = case_id(case.title, case.source if n == 1 else f"{case.source}#{n}")
        seen.add(case.id)


def assign_pages(cases: list[Case], contents: list[ContentsEntry]) -> None:
    """Give each case the page (版) of its contents entry.

    A file is one page, so a case whose title the contents abbreviate beyond recognition
    takes the page its neighbours in the same file matched.
    """
    if not contents:
        return
    file_pages: dict[str, Counter] = {}
    for case in cases:
        if case.kind != "case":
            continue
        scores = [(similarity(case.title, e.title), i) for i, e in enumerate(contents) if same_place(case.title, e.title)]
        score, entry = max(scores, default=(0.0, -1))
        if score >= PAGE_MATCH:
            case.page = contents[entry].page
            file_pages.setdefault(case.source, Counter())[case.page] += score
    for case in cases:
        if case.kind == "case" and case.page is None and case.source in file_pages:
            case.page = file_pages[case.source].most_common(1)[0][0]


def same_place(a: str, b: str) -> bool:
    """Whether two titles may name the same case: their places before the colon, if both have one, are alike."""
    pa, pb = PLACE.match(a), PLACE.match(b)
    return not (pa and pb) or similarity(pa.group(1), pb.group(1)) >= PAGE_MATCH
