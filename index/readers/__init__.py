"""Readers: any supported file as report text for the parser, with its pages.

``read_document`` picks the reader by what the bytes are and checks that the name agrees.
"""
from __future__ import annotations

from pathlib import PurePath

from index.readers.document import DocumentError, PageSpan, ReadDocument, Reader
from index.readers.docx import DocxReader
from index.readers.formats import BINARY, HTML, OLE, PDF, TEXT, ZIP, described, sniff
from index.readers.html import HtmlReader
from index.readers.pdf import PdfReader
from index.readers.text import TextReader

__all__ = ["SUFFIXES", "DocumentError", "PageSpan", "ReadDocument", "Reader", "read_document", "reader_for"]

SUFFIXES = {".pdf", ".docx", ".html", ".htm", ".md", ".txt"}  # compared in lower case
_READERS: dict[str, Reader] = {
    ".pdf": PdfReader(),
    ".docx": DocxReader(),
    ".html": HtmlReader(),
    ".htm": HtmlReader(),
    ".md": TextReader(),
    ".txt": TextReader(),
}
# What the content may be for each name. Markdown and text may hold HTML; a page saved as
# .html may start with plain text before its first tag.
_ACCEPTS = {
    ".pdf": {PDF},
    ".docx": {ZIP, OLE},  # an OLE .docx gets the DOCX reader's own explanation (old .doc or password)
    ".html": {HTML, TEXT},
    ".htm": {HTML, TEXT},
    ".md": {TEXT, HTML, BINARY},  # the text reader says why binary is not text
    ".txt": {TEXT, HTML, BINARY},
}


def reader_for(name: str) -> Reader:
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise DocumentError(f"unsupported file type {suffix or '(no suffix)'}: expected one of {', '.join(sorted(SUFFIXES))}")
    return _READERS[suffix]


def read_document(data: bytes, name: str) -> ReadDocument:
    """The document in ``data``, read by the reader its content and its name agree on.

    A DocumentError says in one line what is wrong: an unsupported or mismatched type
    (an HTML page named .pdf), an empty, damaged or encrypted file, a zip bomb.
    """
    reader = reader_for(name)
    if not data:
        raise DocumentError("empty file")
    suffix = PurePath(name).suffix.lower()
    kind = sniff(data)
    if kind not in _ACCEPTS[suffix]:
        raise DocumentError(f"the content is {described(kind)} but the name ends in {suffix}: rename the file or export it again")
    return reader.read(data, name)
