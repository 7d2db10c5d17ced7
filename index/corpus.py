"""Read the corpus: every report file (text, Markdown, PDF, Word, web page) parsed, pages matched
from each report's contents list.

A corpus folder holds reports: its own files are one report (named after the folder), each
subfolder's files another. Uploaded documents (service/documents.py) live in a folder of their
own, one subfolder a report, and are read with the corpus under ``uploads/``.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from index.models import Case, ContentsEntry, FileError, Report
from index.parse import ReportParser, case_id, running_heads
from index.readers import SUFFIXES, DocumentError, PageSpan, read_document
from index.text import similarity

# A case title and its contents entry share at least this much (bigram Dice); the
# contents abbreviate titles (紫金港科技城 → 紫港科技城), so the bar is not high: the seed
# cases score 0.387 (江洲村, whose entry is "富阳新桐乡江洲村:农文旅融合") to 1.0 against their
# entry and at most 0.231 against any other. A shared phrase alone can pass it, though
# ("测试区1:数字化改革赋能基层治理" scores 0.400 against "临安:数字化改革赋能农房管理良性循环"),
# so the place names before the colons must also be this alike when both titles have one:
# 0.444 (江洲村 / 富阳新桐乡江洲村) and 0.667 (紫金港科技城 / 紫港科技城) to 1.0 in the seeds, 0 there.
PAGE_MATCH = 0.35
PLACE = re.compile(r"^([^\s:：]{1,15})[:：]")
# The number in a page label a PDF prints (第33版, A3版).
PRINTED_PAGE = re.compile(r"(\d+)\s*版")
# A report folder may name its report: {"title": "…"}.
REPORT_FILE = "report.json"
UPLOADS = "uploads"

CorpusError = DocumentError  # a corpus file that cannot be read as report text


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    source: str  # what passages cite: the path under its root, "/"-separated (uploads under "uploads/")
    report: str


@dataclass
class Corpus:
    cases: list[Case]
    contents: list[ContentsEntry]
    errors: list[FileError] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # source name → text, for offsets
    pages: dict[str, tuple[PageSpan, ...]] = field(default_factory=dict)  # source → its pages (a PDF's)
    reports: dict[str, Report] = field(default_factory=dict)
    warnings: list[FileError] = field(default_factory=list)  # read, but not wholly (a page without text)
    report_of: dict[str, str] = field(default_factory=dict)  # source → report id

    @property
    def checksum(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.texts):
            h.update(name.encode() + b"\0" + self.report_of.get(name, "").encode() + b"\0" + self.texts[name].encode() + b"\0")
        return h.hexdigest()[:16]

    def page_at(self, source: str, offset: int) -> PageSpan | None:
        """The page of a paged file holding character ``offset`` of its text."""
        return next((p for p in self.pages.get(source, ()) if p.start <= offset < p.end), None)


def document_id(source: str) -> str | None:
    """The id of the uploaded document a source is (uploads/<report>/<id>.<ext>), or None for the bundled corpus."""
    parts = source.split("/")
    return parts[2].rsplit(".", 1)[0] if len(parts) == 3 and parts[0] == UPLOADS else None


def read_report(path: Path) -> str:
    """The report text of one file, or a CorpusError that says what is wrong with it."""
    return read_document(path.read_bytes(), path.name).text


def corpus_files(folder: Path, uploads: Path | None = None) -> list[CorpusFile]:
    """The report files of ``folder`` (and of ``uploads``); FileNotFoundError (what callers report)
    when the corpus is not a folder."""
    if not folder.exists():
        raise FileNotFoundError(f"corpus folder not found: {folder}")
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus path is a file, not a folder: {folder}")
    out = [CorpusFile(p, p.name, folder.name) for p in _files(folder)]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out += [CorpusFile(p, f"{sub.name}/{p.name}", sub.name) for p in _files(sub)]
    if uploads is not None and uploads.is_dir():
        for sub in sorted(p for p in uploads.iterdir() if p.is_dir() and not p.name.startswith(".")):
            out += [CorpusFile(p, f"{UPLOADS}/{sub.name}/{p.name}", sub.name) for p in _files(sub)]
    return out


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("."))


def report_title(folder: Path) -> str:
    """The title a report folder gives itself in report.json, else its name."""
    try:
        title = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8")).get("title")
    except (OSError, ValueError, AttributeError):
        title = None
    return title if isinstance(title, str) and title.strip() else folder.name


def load_corpus(folder: Path, uploads: Path | None = None) -> Corpus:
    """Parse every file; a bad file is reported in ``errors`` and does not stop the others."""
    texts: dict[str, str] = {}
    pages: dict[str, tuple[PageSpan, ...]] = {}
    report_of: dict[str, str] = {}
    errors: list[FileError] = []
    warnings: list[FileError] = []
    reports: dict[str, Report] = {}
    for f in corpus_files(folder, uploads):
        reports.setdefault(f.report, Report(f.report, report_title(f.path.parent), ()))
        try:
            doc = read_document(f.path.read_bytes(), f.path.name)
        except (DocumentError, OSError) as e:
            errors.append(FileError(f.source, str(e)))
            continue
        if not doc.text.strip():  # a scanned PDF: nothing to parse, and the warning says why
            errors.append(FileError(f.source, "; ".join(doc.warnings) or "no text"))
            continue
        texts[f.source], pages[f.source], report_of[f.source] = doc.text, doc.pages, f.report
        warnings += [FileError(f.source, w) for w in doc.warnings]
        reports[f.report] = Report(f.report, reports[f.report].title, (*reports[f.report].sources, f.source))
    parser = ReportParser(running_heads(list(texts.values())))
    cases: list[Case] = []
    contents: dict[str, list[ContentsEntry]] = {}
    for name, text in texts.items():
        parsed = parser.run(name, text)
        if not parsed.cases and not parsed.contents:
            errors.append(FileError(name, "no case found (no 改革项目 line, title with byline, or contents list)"))
        for case in parsed.cases:
            case.report = report_of[name]
        cases += parsed.cases
        contents.setdefault(report_of[name], []).extend(parsed.contents)
    unique_ids(cases)
    for report, entries in contents.items():  # a report's contents list gives its own cases their pages
        assign_pages([c for c in cases if c.report == report], entries)
    corpus = Corpus(cases, [e for entries in contents.values() for e in entries], errors, texts, pages, reports, warnings, report_of)
    assign_printed_pages(corpus)
    return corpus


def assign_printed_pages(corpus: Corpus) -> None:
    """A case the contents gave no page takes the 版 its PDF page prints where it starts."""
    for case in corpus.cases:
        first = next((p for s in case.sections for p in s.paragraphs), None)
        if case.page is not None or first is None:
            continue
        page = corpus.page_at(case.source, first.start)
        if page and page.label and (m := PRINTED_PAGE.search(page.label)):
            case.page = int(m.group(1))


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
