"""Word documents (.docx): headings by their style, paragraphs, tables as lines of cells.

The zip is checked before python-docx opens it: a DOCX is a zip, and a zip can declare a
small file that inflates to gigabytes.
"""
from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.document import Document
from docx.exceptions import PythonDocxError
from docx.opc.exceptions import OpcError
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import XMLSyntaxError

from index.readers.document import Block, DocumentError, ReadDocument, compose, heading_level, one_line
from index.readers.formats import OLE, ZIP, described, sniff

MAX_UNCOMPRESSED = 50 * 2**20
# A member this much smaller than it claims to be is a bomb, once it is big enough to matter:
# repetitive markup compresses very well harmlessly (python-docx writes a 0.5 MB document.xml
# of repeated paragraphs and an empty table that deflates 108×).
MAX_RATIO = 100
RATIO_FLOOR = 10 * 2**20
HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


class DocxReader:
    def read(self, data: bytes, name: str) -> ReadDocument:
        check_docx_zip(data)
        try:
            document = docx.Document(io.BytesIO(data))
            text = compose(list(docx_blocks(document)))
        except (zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError, OpcError, PythonDocxError) as e:
            raise DocumentError(f"corrupt DOCX ({type(e).__name__}: {one_line(str(e))[:120]})") from None
        if not text.strip():
            raise DocumentError("DOCX without text")
        return ReadDocument(text)


def check_docx_zip(data: bytes) -> None:
    """A whole, unencrypted DOCX whose declared sizes are sane; zipfile never inflates past them."""
    if not data:
        raise DocumentError("empty file")
    kind = sniff(data)
    if kind == OLE:
        raise DocumentError("not a DOCX: an old Word .doc or a password-protected document (both are OLE files); save it as .docx without a password")
    if kind != ZIP:
        raise DocumentError(f"not a DOCX: the content is {described(kind)}, not a zip archive")
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise DocumentError(f"corrupt DOCX (damaged zip archive: {e})") from None
    names = {m.filename for m in members}
    if "word/document.xml" not in names:
        raise DocumentError("not a DOCX: the zip archive has no word/document.xml")
    if any(m.flag_bits & 0x1 for m in members):
        raise DocumentError("encrypted DOCX (password protected zip): decrypt it first")
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED:
        raise DocumentError(f"DOCX refused (zip bomb?): it inflates to {total / 2**20:.0f} MB, more than {MAX_UNCOMPRESSED // 2**20} MB")
    for m in members:
        if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            ratio = m.file_size / max(m.compress_size, 1)
            raise DocumentError(f"DOCX refused (zip bomb?): {m.filename} inflates {ratio:.0f}× ({m.file_size / 2**20:.0f} MB from {m.compress_size / 2**10:.0f} KB)")


def docx_blocks(document: Document):
    """Body paragraphs and tables in document order."""
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = one_line(item.text)
            if text:
                yield Block(text, paragraph_level(item))
        elif isinstance(item, Table):
            rows = [r for r in (table_row(row) for row in item.rows) if r]
            if rows:
                yield Block("\n".join(rows))


def paragraph_level(p: Paragraph) -> int:
    """The heading level of a paragraph (0 for text): its own outline level, else its style's
    name (Title, Heading N, 标题 N) or outline level, else the style it is based on."""
    own = _outline_level(p._p.pPr)
    if own is not None:
        return heading_level(own + 1)
    style = p.style
    while style is not None:
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 1
        if m := HEADING_STYLE.match(name):
            return heading_level(int(m.group(1)))
        level = _outline_level(style.element.pPr)
        if level is not None:
            return heading_level(level + 1)
        style = style.base_style
    return 0


def _outline_level(ppr) -> int | None:
    """w:outlineLvl, counted from 0 (heading 1); 9 is body text."""
    if ppr is None:
        return None
    node = ppr.find(qn("w:outlineLvl"))
    if node is None:
        return None
    try:
        return int(node.get(qn("w:val")))
    except (TypeError, ValueError):
        return None


def table_row(row) -> str:
    """Cells joined by " | "; a merged cell, which python-docx repeats, counted once."""
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) in seen:
            continue
        seen.add(id(cell._tc))
        text = one_line(cell.text)
        if text:
            cells.append(text)
    return " | ".join(cells)
