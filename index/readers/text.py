"""Plain text and markdown report files, read as they are."""
from __future__ import annotations

import codecs

from index.readers.document import DocumentError, ReadDocument

UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_text(data: bytes) -> str:
    """The text of a report file, or a DocumentError that says what is wrong with it.

    UTF-8, or UTF-16 when a byte-order mark says so (Windows saves "Unicode" text that way):
    its NUL bytes do not make it binary.
    """
    utf16 = data.startswith(UTF16_BOMS)
    if not utf16 and b"\0" in data:
        raise DocumentError("binary file (contains NUL bytes), not report text")
    try:
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as e:
        raise DocumentError(f"not {'UTF-16' if utf16 else 'UTF-8'} text (invalid byte 0x{data[e.start]:02x} at offset {e.start})") from None
    if "\0" in text:
        raise DocumentError("binary file (contains NUL characters), not report text")
    if not text.strip():
        raise DocumentError("empty file")
    return text


class TextReader:
    """The file's text unchanged, so offsets into it are offsets into the file's characters."""

    def read(self, data: bytes, name: str) -> ReadDocument:
        return ReadDocument(decode_text(data))
