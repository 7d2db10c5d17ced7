"""Turn the glyphs of printed pages into report text: lines, columns, paragraphs and headings.

Independent of the PDF library: a reader hands over each glyph's character, box and size.
Coordinates are in points with y growing downwards (top of the page is 0).

A newspaper page is read the way a person reads it: running heads and page numbers set
aside (the page label they print kept), columns left to right, each top to bottom, a
headline spanning several columns before the columns under it, lines the layout wrapped
joined back into their paragraph.
"""
from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from index.readers.document import MAX_LEVEL, Block
from index.text import CJK, ends_sentence

# Running heads and footers sit in this share of the page height at the top or bottom.
MARGIN_BAND = 0.08
# A line in the band is a running head when it recurs on this share of the pages (and on two at least).
REPEATED_ON = 0.4
# Glyphs further apart than this (in font sizes) on one baseline are separate pieces of text,
# possibly in different columns; a narrower gap is a space between words.
PIECE_GAP = 0.8
SPACE_GAP = 0.3
# Whitespace across a whole region at least this tall (in line heights) separates stacked blocks.
STACK_GAP = 2.5
# A column gutter is at least this wide, and the lines of a column at least this long (in font sizes).
GUTTER = 0.5
MIN_COLUMN = 5
# A heading is set at least this much larger than the body text.
HEADING_SCALE = 1.2
MAX_HEADING = 60  # characters; a longer run of large type is a lead paragraph, not a heading
# A line that stops this far (in font sizes) short of its column's right edge ends its paragraph;
# a line that starts this far in from the left edge starts one.
SHORT_LINE = 1.5
INDENT = 1.0
PARAGRAPH_GAP = 0.8  # blank space between lines of a column (in font sizes) that breaks a paragraph

PAGE_NUMBER = re.compile(r"^[-–—·\s]*(?:第\s*)?\d{1,4}\s*(?:页|/\s*\d{1,4})?[-–—·\s]*$|^page\s*\d+(?:\s*of\s*\d+)?$", re.IGNORECASE)
# A newspaper page label: 第33版, 33版, A3版, 第三版.
PAGE_LABEL = re.compile(r"(?<![0-9A-Za-z])(?:第\s*)?(?:[A-Za-z]?\d{1,3}|[一二三四五六七八九十]{1,3})\s*版(?![权本])")
MAX_LABEL_LINE = 40
MAX_DATE_LINE = 24  # a date line in a running head: 2023年11月3日 星期五
DATE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|星期[一二三四五六日天]|\d{4}[-./]\d{1,2}[-./]\d{1,2}")
_CJK = re.compile(rf"[{CJK}]")


@dataclass(frozen=True, slots=True)
class Glyph:
    char: str
    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def size(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class Line:
    """A run of text on one baseline: a piece between gaps, or a whole row of a column."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class PageLines:
    """A page as its reader hands it over: the lines ``page_lines`` made of its glyphs."""

    number: int  # 1-based
    width: float
    height: float
    lines: tuple[Line, ...]
    label: str | None = None  # the document's own label for the page, if it has one


@dataclass(frozen=True)
class LaidPage:
    number: int
    label: str | None
    blocks: list[Block]


# Lines --------------------------------------------------------------------------------------


def _join_lines(left: str, right: str) -> str:
    """Lines of a paragraph joined: Latin text wraps between words, so a space goes back in
    (not after a hyphen); Chinese text wraps anywhere, even inside a number (3|00), so nothing does."""
    if _CJK.search(left) or _CJK.match(right) or left.endswith("-"):
        return left + right
    return left + " " + right


def page_lines(glyphs: Iterable[Glyph]) -> list[Line]:
    """The pieces of text on each baseline, split where a gap is too wide to be a space.

    Glyphs are chained in the order the page draws them (a line is usually drawn left to
    right), then the chains that continue one another are joined: a line drawn in pieces, or
    glyph by glyph in any order, still comes out whole. Columns set on different baselines
    never mix, since a chain only grows by a glyph right next to its end.
    """
    chains: list[list[Glyph]] = []
    for g in glyphs:
        if not g.char.strip():
            if chains and _near_end(chains[-1], g):
                chains[-1].append(g)  # a space: it only marks a gap between words
            continue
        if chains and _continues(chains[-1], g):
            chains[-1].append(g)
        else:
            chains.append([g])
    lines: list[list[Glyph]] = []
    by_height: dict[int, list[list[Glyph]]] = {}
    for chain in sorted(chains, key=lambda c: c[0].x0):
        first = chain[0]
        key = round((first.top + first.bottom) / 4)  # 2-point bands of the middle
        candidates = [ln for k in (key - 1, key, key + 1) for ln in by_height.get(k, ())]
        fits = [ln for ln in candidates if _continues(ln, first)]
        if fits:
            min(fits, key=lambda ln: abs(_middle(_last_ink(ln)) - _middle(first))).extend(chain)
        elif not any(_same_text_over(ln, chain) for ln in candidates):  # not a copy drawn again for bold
            lines.append(chain)
            by_height.setdefault(key, []).append(chain)
    return [line for chain in lines for line in _line(chain)]


def _middle(g: Glyph) -> float:
    return (g.top + g.bottom) / 2


def _last_ink(chain: list[Glyph]) -> Glyph:
    return next(g for g in reversed(chain) if g.char.strip())


def _continues(chain: list[Glyph], g: Glyph) -> bool:
    """``g`` sits on the chain's baseline, right after its last glyph (or on it: fake bold)."""
    last = _last_ink(chain)
    size = max(g.size, last.size)
    gap = g.x0 - last.x1
    if abs(_middle(g) - _middle(last)) >= 0.4 * min(g.size, last.size):
        return False
    return -0.25 * size <= gap <= PIECE_GAP * size or (g.char == last.char and abs(g.x0 - last.x0) < 0.3 * size)


def _near_end(chain: list[Glyph], space: Glyph) -> bool:
    last = _last_ink(chain)
    return last.x1 - 1 <= space.x0 <= last.x1 + last.size and abs(space.bottom - last.bottom) < last.size


def _same_text_over(line: list[Glyph], chain: list[Glyph]) -> bool:
    """The chain repeats the line at almost the same place (text drawn twice to look bold)."""
    ink = [g.char for g in line if g.char.strip()]
    return ink == [g.char for g in chain if g.char.strip()] and abs(line[0].x0 - chain[0].x0) < 0.3 * chain[0].size


def _line(piece: list[Glyph]) -> list[Line]:
    """One line from its glyphs; spaces come from space glyphs or gaps, doubled glyphs (fake bold) go."""
    text, last, spaced = "", None, False
    for g in piece:
        if not g.char.strip():
            spaced = True
            continue
        if last is not None:
            if g.char == last.char and abs(g.x0 - last.x0) < 0.3 * g.size:
                continue
            if (spaced or g.x0 - last.x1 > SPACE_GAP * g.size) and text:
                text += " "
        text += g.char
        last, spaced = g, False
    ink = [g for g in piece if g.char.strip()]
    if not ink:
        return []
    return [
        Line(
            text,
            min(g.x0 for g in ink),
            min(g.top for g in ink),
            max(g.x1 for g in ink),
            max(g.bottom for g in ink),
            statistics.median(g.size for g in ink),
        )
    ]


# Running heads, footers and the page label ------------------------------------------------------


def _furniture_key(text: str) -> str:
    """Running heads differ from page to page only in their numbers (第33版, 第34版)."""
    return re.sub(r"\d+", "#", "".join(text.split()))


def _in_band(line: Line, height: float) -> bool:
    return line.bottom <= height * MARGIN_BAND or line.top >= height * (1 - MARGIN_BAND)


def remove_furniture(pages: list[PageLines]) -> list[tuple[str | None, list[Line]]]:
    """Each page's label and its lines without running heads, footers and page numbers.

    In the top or bottom band of a page, furniture is a line in body type or smaller that recurs on other pages, a
    page number, the page label, a date, or anything on the same row as one of those (the
    rest of the running head). The label is read from what the page prints, heads before
    footers, else from the document's own page labels.
    """
    body = body_size(ln for page in pages for ln in page.lines)
    seen: Counter[str] = Counter()
    for page in pages:
        # Running heads are set small; a headline repeated at the top of every page is still text.
        seen.update({_furniture_key(ln.text) for ln in page.lines if _in_band(ln, page.height) and not _is_large(ln, body)})
    repeated = {k for k, n in seen.items() if n >= 2 and n >= REPEATED_ON * len(pages)}
    out = []
    for page in pages:
        band = [ln for ln in page.lines if _in_band(ln, page.height)]
        label = None
        furniture = []
        # Heads are read before footers: a label at the top is the page's own.
        for ln in sorted(band, key=lambda ln: (ln.top >= page.height / 2, ln.top, ln.x0)):
            short = len(ln.text) <= MAX_LABEL_LINE
            found = PAGE_LABEL.search(ln.text) if short else None
            if found and label is None:
                label = "".join(found.group(0).split())
            dated = len(ln.text) <= MAX_DATE_LINE and DATE.search(ln.text)
            if found or dated or PAGE_NUMBER.match(ln.text) or _furniture_key(ln.text) in repeated:
                furniture.append(ln)
        rows = [(f.top, f.bottom) for f in furniture]
        kept = [
            ln
            for ln in page.lines
            if not (_in_band(ln, page.height) and any(min(b, ln.bottom) - max(t, ln.top) > 0.5 * ln.size for t, b in rows))
        ]
        out.append((label or page.label or None, kept))
    return out


# Reading order ----------------------------------------------------------------------------------


def reading_order(lines: list[Line]) -> list[list[Line]]:
    """The page's text as columns in reading order, each a list of rows top to bottom.

    Recursive: stacked blocks (separated by tall whitespace) top to bottom; otherwise the
    clearest gutter splits the region into left and right, lines crossing it (a headline over
    several columns) standing between the bands they separate.
    """
    if not lines:
        return []
    size = statistics.median(ln.size for ln in lines)
    stacked = _stack(lines, size)
    if len(stacked) > 1:
        return [col for part in stacked for col in reading_order(part)]
    gutter = _gutter(lines, size)
    if gutter is None:
        return [_rows(lines)]
    a, b = gutter
    out: list[list[Line]] = []
    band_left: list[Line] = []
    band_right: list[Line] = []
    crossing: list[Line] = []

    def flush_band() -> None:
        out.extend(reading_order(band_left))
        out.extend(reading_order(band_right))
        band_left.clear()
        band_right.clear()

    def flush_crossing() -> None:
        out.extend(reading_order(crossing))
        crossing.clear()

    for ln in sorted(lines, key=lambda ln: (ln.middle, ln.x0)):
        if ln.x1 <= a:
            flush_crossing()
            band_left.append(ln)
        elif ln.x0 >= b:
            flush_crossing()
            band_right.append(ln)
        else:
            flush_band()
            crossing.append(ln)
    flush_band()
    flush_crossing()
    return out


def _stack(lines: list[Line], size: float) -> list[list[Line]]:
    """Split at whitespace running across the whole region, taller than paragraph spacing."""
    parts: list[list[Line]] = [[]]
    bottom = None
    for ln in sorted(lines, key=lambda ln: ln.top):
        if bottom is not None and ln.top - bottom >= STACK_GAP * size:
            parts.append([])
        parts[-1].append(ln)
        bottom = ln.bottom if bottom is None else max(bottom, ln.bottom)
    return parts


def _gutter(lines: list[Line], size: float) -> tuple[float, float] | None:
    """The x-range of the clearest column gutter, or None for a single column.

    A gutter is a vertical strip no line enters (or only a few: headlines spanning the
    columns), with text on both sides standing side by side, not one above the other.
    """
    left_edge = math.floor(min(ln.x0 for ln in lines))
    right_edge = math.floor(max(ln.x1 for ln in lines)) + 1
    cover = [0] * (right_edge - left_edge + 1)
    for ln in lines:  # +1 where a line starts, -1 after it ends, summed below: lines over each point
        cover[math.floor(ln.x0) - left_edge] += 1
        cover[math.floor(ln.x1) + 1 - left_edge] -= 1
    running = 0
    for i, c in enumerate(cover):
        running += c
        cover[i] = running
    most_crossing = min(5, max(0, len(lines) // 8))
    for k in range(most_crossing + 1):
        best = None
        for a, b in _runs(cover, k):
            x0, x1 = a + left_edge, b + left_edge
            if x1 - x0 < GUTTER * size:
                continue
            left = [ln for ln in lines if ln.x1 <= x0 + 1]
            right = [ln for ln in lines if ln.x0 >= x1 - 1]
            if len(left) < 2 or len(right) < 2:
                continue
            # Columns of text are wide; short aligned pieces (a list of names and posts) are a table.
            if min(statistics.median(ln.x1 - ln.x0 for ln in side) for side in (left, right)) < MIN_COLUMN * size:
                continue
            side_by_side = min(max(ln.bottom for ln in left), max(ln.bottom for ln in right)) - max(
                min(ln.top for ln in left), min(ln.top for ln in right)
            )
            if side_by_side < 2 * size:
                continue
            if best is None or x1 - x0 > best[1] - best[0]:
                best = (x0 + 1, x1 - 1)
        if best:
            return best
    return None


def _runs(cover: list[int], k: int) -> list[tuple[int, int]]:
    """Maximal runs of positions covered by at most ``k`` lines, inside the region."""
    runs, start = [], None
    for i, c in enumerate(cover):
        if c <= k and start is None:
            start = i
        elif c > k and start is not None:
            if start > 0:
                runs.append((start, i))
            start = None
    return runs


def _rows(lines: list[Line]) -> list[Line]:
    """The lines of one column as rows top to bottom; pieces on one baseline joined."""
    rows: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: ln.middle):
        if rows and abs(ln.middle - rows[-1][0].middle) < 0.5 * min(ln.size, rows[-1][0].size):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    out = []
    for row in rows:
        row.sort(key=lambda ln: ln.x0)
        text = row[0].text
        for ln in row[1:]:
            text = text + " " + ln.text
        out.append(
            Line(text, row[0].x0, min(ln.top for ln in row), max(ln.x1 for ln in row), max(ln.bottom for ln in row), max(ln.size for ln in row))
        )
    return out


# Paragraphs and headings ------------------------------------------------------------------------


def body_size(lines: Iterable[Line]) -> float:
    """The size most of the text is set in (weighted by characters)."""
    sizes: Counter[float] = Counter()
    for ln in lines:
        sizes[round(ln.size * 2) / 2] += len(ln.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def heading_sizes(lines: Iterable[Line], body: float) -> list[float]:
    """The distinct heading sizes of the document, largest first (level 1, 2, 3…)."""
    sizes = sorted({round(ln.size * 2) / 2 for ln in lines if _is_large(ln, body)}, reverse=True)
    merged: list[float] = []
    for s in sizes:
        if not merged or s < merged[-1] * 0.93:
            merged.append(s)
    return merged


def _is_large(ln: Line, body: float) -> bool:
    return body > 0 and ln.size >= body * HEADING_SCALE


def _level(ln: Line, levels: list[float]) -> int:
    s = round(ln.size * 2) / 2
    for i, size in enumerate(levels):
        if s >= size * 0.93:
            return i + 1
    return len(levels)


def page_blocks(columns: list[list[Line]], body: float, levels: list[float]) -> list[Block]:
    """Paragraphs and headings of one page from its columns in reading order.

    A wrapped line continues its paragraph unless the line before stops short of the column
    edge, or ends a sentence with the next line indented, or blank space or a change of type
    size lies between them. The end of a column continues at the top of the next in the same
    way; a column of one line (a caption, a label) stands alone.
    """
    blocks: list[Block] = []
    current: list[Line] = []
    current_level = 0

    def flush() -> None:
        nonlocal current
        if current:
            text = current[0].text
            for ln in current[1:]:
                text = _join_lines(text, ln.text)
            level = current_level
            if level and (len(text) > MAX_HEADING or ends_sentence(text)):
                level = 0  # a lead paragraph in large type
            blocks.append(Block(text, min(level, MAX_LEVEL)))  # smaller heading sizes share the last level
        current = []

    prev: Line | None = None
    prev_edges: tuple[float, float] = (0.0, 0.0)
    prev_rows = 0
    for column in columns:
        body_lines = [ln for ln in column if not _is_large(ln, body)] or column
        edges = (min(ln.x0 for ln in body_lines), max(ln.x1 for ln in body_lines))
        for i, ln in enumerate(column):
            level = _level(ln, levels) if _is_large(ln, body) else 0
            if prev is None or level != current_level:
                brk = True
            elif level:
                brk = i == 0 or ln.top - prev.bottom > ln.size
            else:
                short = prev.x1 < prev_edges[1] - SHORT_LINE * prev.size
                indented = ln.x0 > edges[0] + INDENT * ln.size
                if i == 0:  # the top of a new column
                    brk = short or prev_rows == 1 or (ends_sentence(prev.text) and indented)
                else:
                    gap = ln.top - prev.bottom > PARAGRAPH_GAP * prev.size
                    brk = gap or short or (ends_sentence(prev.text) and indented)
            if brk:
                flush()
                current_level = level
            current.append(ln)
            prev, prev_edges = ln, edges
        prev_rows = len(column)
    flush()
    return blocks


def lay_out(pages: list[PageLines]) -> list[LaidPage]:
    """Every page's label and blocks; sizes and running heads are compared across the document."""
    cleaned = remove_furniture(pages)
    ordered = [reading_order(lines) for _, lines in cleaned]
    every_line = [ln for columns in ordered for column in columns for ln in column]
    body = body_size(every_line)
    levels = heading_sizes(every_line, body)
    return [LaidPage(p.number, label, page_blocks(columns, body, levels)) for p, (label, _), columns in zip(pages, cleaned, ordered)]
