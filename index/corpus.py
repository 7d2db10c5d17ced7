"""Read the corpus folder: every report file parsed, pages matched from the contents list."""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from index.models import Case, ContentsEntry, FileError
from index.parse import ReportParser, running_heads
from index.text import similarity

SUFFIXES = {".txt", ".md"}
# A case title and its contents entry share at least this much (bigram Dice); the
# contents abbreviate titles (紫金港科技城 → 紫港科技城), so the bar is not high.
PAGE_MATCH = 0.35


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
    """The text of one file, or a CorpusError that says what is wrong with it."""
    data = path.read_bytes()
    if not data.strip():
        raise CorpusError("empty file")
    if b"\0" in data:
        raise CorpusError("binary file (contains NUL bytes), not report text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(f"not UTF-8 text (invalid byte 0x{data[e.start]:02x} at offset {e.start})") from None
    return text


def corpus_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))


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
    assign_pages(cases, contents)
    return Corpus(cases, contents, errors, texts)


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
        score, entry = max((similarity(case.title, e.title), i) for i, e in enumerate(contents))
        if score >= PAGE_MATCH:
            case.page = contents[entry].page
            file_pages.setdefault(case.source, Counter())[case.page] += score
    for case in cases:
        if case.kind == "case" and case.page is None and case.source in file_pages:
            case.page = file_pages[case.source].most_common(1)[0][0]
