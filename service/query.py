"""What a question and its options may be: one rule for the HTTP API, the `touyan` command
and the engine, so a blank question or a lone surrogate is refused the same way everywhere."""
from __future__ import annotations

import unicodedata

MAX_QUERY_CHARS = 1000
MAX_TOP_K = 50
# The retrievers a request may name and the fusions hybrid may use; service/search.py serves
# them. The token retrievers read e5's token vectors, which an index built with
# TOUYAN_SPARSE=none lacks.
RETRIEVERS = ("hybrid", "dense", "sparse", "late", "bm25")
TOKEN_RETRIEVERS = ("sparse", "late")
FUSIONS = ("rrf", "weighted")


def valid_unicode(text: str) -> str:
    """JSON can carry lone surrogates (\\ud800), and a command line undecodable bytes; no encoder takes either."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it holds a lone surrogate: bytes that are not UTF-8)") from None
    return text


def clean_query(text: str) -> str:
    """The question without surrounding space or control characters (NUL, ESC, …), which no encoder should see.

    Nothing visible left (only whitespace, control or zero-width characters) is a blank question;
    a ValueError says what is wrong with it.
    """
    text = "".join(ch for ch in valid_unicode(text) if ch.isspace() or unicodedata.category(ch) != "Cc").strip()
    if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text):
        raise ValueError("the question is empty or only whitespace")
    if len(text) > MAX_QUERY_CHARS:
        raise ValueError(f"the question is longer than {MAX_QUERY_CHARS} characters ({len(text)})")
    return text
