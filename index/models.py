"""The document model shared by every stage: what a report file becomes."""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Literal

SectionKind = Literal["body", "commentary", "preface", "contents"]
CaseKind = Literal["case", "preface"]

Span = tuple[int, int]


@dataclass(frozen=True)
class Paragraph:
    """Text of one paragraph; ``spans`` are the source slices it was joined from.

    A paragraph cut by the page layout comes from several slices, so the text
    equals ``"".join(source[s:e] for s, e in spans)``.
    """

    text: str
    spans: tuple[Span, ...]

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]

    def source_spans(self, a: int, b: int) -> list[Span]:
        """Source slices holding ``text[a:b]``."""
        out, pos = [], 0
        for s, e in self.spans:
            lo, hi = max(a, pos), min(b, pos + e - s)
            if lo < hi:
                out.append((s + lo - pos, s + hi - pos))
            pos += e - s
        return out


@dataclass
class Section:
    title: str
    kind: SectionKind
    paragraphs: list[Paragraph] = field(default_factory=list)
    byline: str | None = None


@dataclass
class Case:
    id: str
    title: str
    kind: CaseKind
    source: str
    project: str | None = None
    page: int | None = None
    authors: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    report: str = ""  # the report (a folder of the corpus) the case's file belongs to

    def summary(self) -> dict:
        """The public shape of a case (CLI ``cases --json`` and HTTP ``/cases``)."""
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "project": self.project,
            "page": self.page,
            "authors": self.authors,
            "source": self.source,
            "report": self.report,
            "sections": [{"title": s.title, "kind": s.kind} for s in self.sections],
        }

    @classmethod
    def from_summary(cls, d: dict) -> "Case":
        """The case as an index build stores it: sections without their paragraphs (the passages hold the text)."""
        sections = [Section(s["title"], s["kind"]) for s in d["sections"]]
        return cls(d["id"], d["title"], d["kind"], d["source"], d["project"], d["page"], list(d["authors"]), sections, d.get("report", ""))


def page_label(page: int | None, section_kind: SectionKind, english: bool = False) -> str:
    """Where answers say a passage is: its page, the report's preface, or a case the contents do not list."""
    if page is not None:
        return f"page {page}" if english else f"第{page}版"
    if section_kind in ("preface", "contents"):
        return "the preface" if english else "报告前言"
    return "a page the contents do not list" if english else "版面未列入目录"


@dataclass(frozen=True)
class ContentsEntry:
    """One case title listed for a page in the report's table of contents."""

    page: int
    title: str


@dataclass(frozen=True)
class Report:
    """A report: the files of one folder of the corpus (its top-level files are the folder's own report)."""

    id: str
    title: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage: the unit that is embedded, searched and cited."""

    id: str
    text: str
    case_id: str
    case_title: str
    project: str | None
    page: int | None
    section: str
    section_kind: SectionKind
    source: str
    start: int
    end: int
    spans: tuple[Span, ...]
    report: str = ""
    pdf_page: int | None = None  # the page of a paged file (PDF) the passage begins on, from 1
    page_label: str | None = None  # what that page prints as its name (第33版), if anything

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spans"] = [list(s) for s in self.spans]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Chunk":
        # A case's passages share its names: one string each, not one per passage (a million
        # passages held ~1.8 KB each, ~0.7 KB of it these names over again).
        shared = {k: sys.intern(d[k]) for k in _SHARED if isinstance(d.get(k), str)}
        return cls(**{**d, **shared, "spans": tuple(tuple(s) for s in d["spans"])})


_SHARED = ("case_id", "case_title", "project", "section", "section_kind", "source", "report", "page_label")


@dataclass(frozen=True)
class FileError:
    """A corpus file that could not be read; the others are still indexed."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"
