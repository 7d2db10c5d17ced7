"""PDF files: the text layer of every page, laid out as report text (see layout.py).

pypdfium2 (PDFium) hands over each glyph's character and box; eval/bench_readers.py measured
it against pdfplumber and pdfminer.six (docs/documents.md).
"""
from __future__ import annotations

import ctypes
import threading
import unicodedata

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from index.readers.document import DocumentError, ReadDocument, compose_pages
from index.readers.formats import PDF, described, sniff
from index.readers.layout import Glyph, PageLines, lay_out, page_lines

# PDFium is not thread-safe: one document at a time in the process.
_PDFIUM = threading.Lock()
# Fonts without a Unicode map give glyph codes, not text: past this share the text is unreadable.
UNMAPPED_SHARE = 0.1


class PdfReader:
    def read(self, data: bytes, name: str) -> ReadDocument:
        check_pdf_bytes(data)
        with _PDFIUM:
            pdf = open_pdf(data)
            try:
                pages: list[PageLines] = []
                glyphs = unmapped = 0
                for index in range(len(pdf)):
                    page, page_glyphs, page_unmapped = read_page(pdf, index)
                    pages.append(page)
                    glyphs, unmapped = glyphs + page_glyphs, unmapped + page_unmapped
                empty_scans = [p.number for p in pages if not p.lines and has_images(pdf, p.number - 1)]
            finally:
                pdf.close()
        laid = lay_out(pages)
        text, spans = compose_pages([(p.blocks, p.label) for p in laid])
        warnings = []
        if not text.strip():
            warnings.append(f"{name} has no text layer (a scanned PDF?); OCR it first")
        elif empty_scans:
            warnings.append(f"{name}: page(s) {', '.join(map(str, empty_scans))} are images without a text layer (scanned?); OCR them first")
        if glyphs and unmapped / glyphs > UNMAPPED_SHARE:
            warnings.append(f"{name}: {unmapped} of {glyphs} characters have no Unicode mapping in their font; the text may be garbled")
        return ReadDocument(text, spans, tuple(warnings))


def check_pdf_bytes(data: bytes) -> None:
    """Refuse what is not a whole PDF before PDFium, which repairs quietly, gets to it."""
    if not data:
        raise DocumentError("empty file")
    kind = sniff(data)
    if kind != PDF:
        raise DocumentError(f"not a PDF: the content is {described(kind)}")
    # Writers end the file with %%EOF; readers accept it within the last 1024 bytes.
    if b"%%EOF" not in data[-1024:]:
        raise DocumentError("truncated PDF (no %%EOF at the end): the file is incomplete, download or export it again")


def open_pdf(data: bytes) -> pdfium.PdfDocument:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if e.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise DocumentError("encrypted PDF (password protected): decrypt it first") from None
        if e.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise DocumentError("encrypted PDF (unsupported security handler): decrypt it first") from None
        if e.err_code == pdfium_c.FPDF_ERR_SUCCESS:
            raise DocumentError("PDF has no pages") from None
        raise DocumentError(f"corrupt PDF ({_reason(e)}): the file cannot be parsed") from None
    return pdf


def _reason(e: pdfium.PdfiumError) -> str:
    return {
        pdfium_c.FPDF_ERR_FORMAT: "not in PDF format or damaged",
        pdfium_c.FPDF_ERR_FILE: "file cannot be read",
    }.get(e.err_code, "unknown PDFium error")


def read_page(pdf: pdfium.PdfDocument, index: int) -> tuple[PageLines, int, int]:
    """The page's lines (from its glyphs in page coordinates, y downwards), how many glyphs it
    has and how many lack a Unicode mapping. Only the lines are kept: a long PDF has millions
    of glyphs."""
    page = pdf[index]
    try:
        box = page.get_cropbox()
        rotation = page.get_rotation()
        textpage = page.get_textpage()
        try:
            glyphs, unmapped = _glyphs(textpage, _upright(box, rotation))
        finally:
            textpage.close()
    finally:
        page.close()
    left, bottom, right, top = box
    width, height = (top - bottom, right - left) if rotation in (90, 270) else (right - left, top - bottom)
    label = pdf.get_page_label(index) or None
    return PageLines(index + 1, width, height, tuple(page_lines(glyphs)), label), len(glyphs), unmapped


def _upright(box: tuple[float, float, float, float], rotation: int):
    """Maps a box in PDF space (y up) to the page as displayed (/Rotate applied, y down, origin top left)."""
    left, bottom, right, top = box

    def place(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        if rotation == 90:
            return y0 - bottom, x0 - left, y1 - bottom, x1 - left
        if rotation == 180:
            return right - x1, y0 - bottom, right - x0, y1 - bottom
        if rotation == 270:
            return top - y1, right - x1, top - y0, right - x0
        return x0 - left, top - y1, x1 - left, top - y0

    return place


def _glyphs(textpage: pdfium.PdfTextPage, place) -> tuple[list[Glyph], int]:
    """Per-character calls: PDFium's own text order does not follow columns, so the boxes are needed."""
    out: list[Glyph] = []
    unmapped = 0
    box = pdfium_c.FS_RECTF()
    count = textpage.count_chars()
    pending_high = None
    for i in range(count):
        if pdfium_c.FPDFText_IsGenerated(textpage, i):  # spaces and line breaks PDFium inferred
            continue
        code = pdfium_c.FPDFText_GetUnicode(textpage, i)
        if 0xD800 <= code < 0xDC00:
            pending_high = code
            continue
        if 0xDC00 <= code < 0xE000 and pending_high is not None:
            code = 0x10000 + ((pending_high - 0xD800) << 10) + (code - 0xDC00)
        pending_high = None
        char = chr(code)
        if unicodedata.category(char) in ("Cc", "Cf", "Cs") and not char.isspace():
            continue  # soft hyphens and control codes PDFium reports for hyphenation
        if pdfium_c.FPDFText_HasUnicodeMapError(textpage, i):
            unmapped += 1
        if not pdfium_c.FPDFText_GetLooseCharBox(textpage, i, ctypes.byref(box)):
            continue
        if box.top - box.bottom <= 0:
            continue
        out.append(Glyph(char, *place(box.left, box.bottom, box.right, box.top)))
    return out, unmapped


def has_images(pdf: pdfium.PdfDocument, index: int) -> bool:
    page = pdf[index]
    try:
        return next(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]), None) is not None
    finally:
        page.close()
