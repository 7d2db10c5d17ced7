"""What a file is, by its first bytes: the name alone can lie (an HTML error page saved as .pdf)."""
from __future__ import annotations

import codecs

PDF = "PDF document"
ZIP = "zip archive"
HTML = "HTML page"
OLE = "legacy Office file (.doc/.xls)"
TEXT = "text file"
BINARY = "binary file"

_HTML_STARTS = ("<!doctype html", "<html", "<head", "<body", "<meta", "<title", "<!--", "<div", "<p>", "<?xml")


def sniff(data: bytes) -> str:
    """One of the kinds above."""
    head = data[:1024]
    if is_pdf(data):
        return PDF
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE
    if looks_like_html(head):
        return HTML
    if b"\0" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return BINARY
    return TEXT


def described(kind: str) -> str:
    """``kind`` with its article, for messages: "an HTML page", "a PDF document"."""
    return f"{'an' if kind[0] in 'AEIOUH' else 'a'} {kind}"


def is_pdf(data: bytes) -> bool:
    """The header first; readers accept junk before it within 1024 bytes, but then the file
    must also end like a PDF, or a text that quotes "%PDF-" would pass for one."""
    at = data.find(b"%PDF-", 0, 1024)
    return at == 0 or (at > 0 and (not data[:at].strip() or b"%%EOF" in data[-1024:]))


def looks_like_html(head: bytes) -> bool:
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            start = head[len(bom) :].decode(codec, "ignore")
            break
    else:
        start = head.decode("latin-1")
    start = start.lstrip().lower()
    if start.startswith("<?xml"):
        return "<html" in start
    return start.startswith(_HTML_STARTS) or "<html" in start
