"""What a question and its options may be: one rule for the HTTP API, the `touyan` command
and the engine, so a blank question or a lone surrogate is refused the same way everywhere."""
from __future__ import annotations

import re
import sys
import unicodedata

MAX_QUERY_CHARS = 1000
MAX_TOP_K = 50
# The retrievers a request may name and the fusions hybrid may use; service/search.py serves
# them. The token retrievers read e5's token vectors, which an index built with
# TOUYAN_SPARSE=none lacks.
RETRIEVERS = ("hybrid", "dense", "sparse", "late", "bm25")
TOKEN_RETRIEVERS = ("sparse", "late")
FUSIONS = ("rrf", "weighted")


def _invisible() -> str:
    """A regex class body of every whitespace, control (Cc) and format (Cf, zero-width) character."""
    out, run = [], None
    planes = [range(0x10000), range(0x10000, 0x20000), range(0xE0000, 0xE1000)]  # where Cc, Cf and spaces are
    for cp in (cp for plane in planes for cp in plane):
        ch = chr(cp)
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"):
            run = [run[0], cp] if run and run[1] == cp - 1 else (out.append(run) if run else None) or [cp, cp]
    out.append(run)
    char = lambda cp: f"\\u{cp:04x}" if cp < 0x10000 else re.escape(chr(cp))  # noqa: E731
    return "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in out)


# A question holds at least one character that is not whitespace, a control or a zero-width
# character; the OpenAPI spec states the same rule as this pattern, so clients can check it.
VISIBLE = re.compile(f"[^{_invisible()}]")
assert sys.maxunicode == 0x10FFFF


class QueryError(ValueError):
    """A question no encoder should see; the HTTP API answers it with a 422 wherever it is found."""


def valid_unicode(text: str) -> str:
    """JSON can carry lone surrogates (\\ud800), and a command line undecodable bytes; no encoder takes either."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError("text must be valid Unicode (it holds a lone surrogate: bytes that are not UTF-8)") from None
    return text


def clean_query(text: str) -> str:
    """The question without surrounding space or control characters (NUL, ESC, …), which no encoder should see.

    Nothing visible left (only whitespace, control or zero-width characters) is a blank question;
    a QueryError says what is wrong with it.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the question is longer than {MAX_QUERY_CHARS} characters ({len(text)})")
    text = "".join(ch for ch in valid_unicode(text) if ch.isspace() or unicodedata.category(ch) != "Cc").strip()
    if not VISIBLE.search(text):
        raise QueryError("the question is empty or only whitespace")
    return text
