"""What every reader returns: the document as report text, its pages, and what went wrong softly."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Paragraphs are separated by a blank line: the parser reads a blank line as a paragraph break
# and a markdown heading as a section.
PARAGRAPH_BREAK = "\n\n"
MAX_LEVEL = 3


class DocumentError(ValueError):
    """A file that cannot be read as a document; the message is one line saying what is wrong."""


@dataclass(frozen=True)
class PageSpan:
    """A page of the source: characters [start, end) of the document text."""

    start: int
    end: int
    number: int  # 1-based page number in the file
    label: str | None  # the page label the page prints (e.g. "第33版"), else None


@dataclass(frozen=True)
class ReadDocument:
    text: str  # paragraphs separated by blank lines; headings as markdown ('#', '##', '###')
    pages: tuple[PageSpan, ...] = ()  # empty for formats without pages
    warnings: tuple[str, ...] = ()

    def page_at(self, offset: int) -> PageSpan | None:
        """The page holding character ``offset`` of the text, if the format has pages."""
        for page in self.pages:
            if page.start <= offset < page.end:
                return page
        return None


class Reader(Protocol):
    def read(self, data: bytes, name: str) -> ReadDocument: ...


@dataclass(frozen=True)
class Block:
    """A paragraph or a heading (``level`` 1–3) of a document being assembled."""

    text: str
    level: int = 0

    def markdown(self) -> str:
        return f"{'#' * self.level} {self.text}" if self.level else self.text


def heading_level(level: int) -> int:
    """Levels 1–3 are headings; a deeper one (Heading 4, h4) is a plain paragraph, as a small
    subhead inside a section usually is, rather than a section of its own."""
    return level if 1 <= level <= MAX_LEVEL else 0


def compose(blocks: list[Block]) -> str:
    """The report text of a document without pages."""
    return PARAGRAPH_BREAK.join(b.markdown() for b in blocks if b.text)


def compose_pages(pages: list[tuple[list[Block], str | None]]) -> tuple[str, tuple[PageSpan, ...]]:
    """The report text of a paged document and its pages, given each page's blocks and label.

    ``text[span.start:span.end]`` is exactly the page's text; between two pages is a paragraph
    break that belongs to neither. A page without text has an empty span.
    """
    parts: list[str] = []
    spans: list[PageSpan] = []
    pos = 0
    for number, (blocks, label) in enumerate(pages, 1):
        body = compose(blocks)
        if body and pos:
            parts.append(PARAGRAPH_BREAK)
            pos += len(PARAGRAPH_BREAK)
        spans.append(PageSpan(pos, pos + len(body), number, label))
        parts.append(body)
        pos += len(body)
    return "".join(parts), tuple(spans)


def one_line(text: str) -> str:
    """Runs of whitespace (line breaks, ideographic indents) as one space, ends trimmed.

    A heading must stay on its line, and a paragraph must not carry a blank line that would
    split it in two.
    """
    return " ".join(text.split())
