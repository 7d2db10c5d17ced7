"""A build's passages in Milvus: dense, sparse (e5 latent terms) and BM25 search with the filters in
the engine, behind the same ``PassageStore`` interface as the build's own files (index/passage_store.py).

One setting picks the backend: ``TOUYAN_STORE=milvus:///abs/path/file.db`` is an embedded
milvus-lite file (tested here against milvus-lite 2.5.1), ``TOUYAN_STORE=http://host:19530`` a
Milvus server or cluster (``http://user:password@host:19530`` when it asks for a login; not tested
here, docs/scale.md). Builds are immutable, so each build gets a collection of its own
(``collection_name``): a server that switches builds switches collections, and a collection that
exists whole is not written twice.

Rows keep the build's passage positions as the primary key, so Milvus's results join the
late-interaction scores, sentence vectors and passage texts that stay in the build's files; fusion
and late interaction run in Python as with the embedded store (service/search.py).

Scores are the engine's: dense is the inner product of unit vectors (= FAISS's), sparse the inner
product of unit-normalised latent-term weights (= ``SparseIndex``'s cosine), BM25 Milvus's with the
build's k1 and b over the terms ``ANALYZERS`` says; by default our own jieba tokens, which makes it
our BM25's score. With Milvus's jieba analyzer instead the terms differ (no user dictionary), and so
do the scores and some rankings: eval/bench_milvus.py measures it, docs/scale.md has
the figures.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from itertools import pairwise
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from index.bm25 import BM25
from index.build import HNSW_MIN_CHUNKS, keyword_text
from index.late import Codes
from index.passage_store import MaskCache, Where, top
from index.sparse import SparseIndex, SparseVector
from index.store import StoredIndex
from index.tokenize import STOP_WORDS, Tokenizer

if TYPE_CHECKING:
    from pymilvus import MilvusClient

log = logging.getLogger("touyan.milvus")

INSTALL = "pip install 'pymilvus==2.5.18' 'milvus-lite==2.5.1' 'setuptools<81'"
# What the collection's description records, so a reader knows which build it holds and that it is whole.
SCHEMA_VERSION = 2  # 2: each passage's late-interaction token codes (late_codes)
# The largest result window Milvus serves by default (quotaAndLimits maxQueryResultWindow): row
# masks are read one window of primary keys at a time, so no read can be cut short.
QUERY_WINDOW = 16_384
# Dense search is exact (FLAT) below this many passages, as FAISS is in the embedded store; past it
# a server uses HNSW like FAISS does. milvus-lite stays exact at any size: its local mode builds no
# HNSW, and its IVF_FLAT ignores nprobe (300 000 synthetic 512-d rows: IVF_FLAT p50 3.3 ms at
# recall@50 0.81 at nprobe 8, 32 and 128 alike, FLAT 52 ms at recall 1; eval/bench_milvus.py
# --scale, docs/scale.md): a recall fusion would feel.
EXACT_MAX_ROWS = HNSW_MIN_CHUNKS
HNSW = {"M": 32, "efConstruction": 80}  # as index/build.py's make_faiss
HNSW_EF = 128
# How the engine's BM25 gets its terms (``create(keywords=...)``), all scored with the build's k1 and b:
# - "tokens": the text field holds our own BM25 tokens of ``keyword_text`` (jieba with the corpus's
#   user dictionary, stop words out: index/tokenize.py), split by Milvus's whitespace tokenizer, so
#   the engine's BM25 scores are our BM25's; the default, as it alone keeps the eval figures
#   (eval/bench_milvus.py: the other two move blind hit@1 by 0.02).
# - "jieba": the text field holds ``keyword_text`` and Milvus's jieba tokenizer (what its built-in
#   "chinese" analyzer is made of) splits it, with the normalisation ours applies: lower case, our
#   stop words, tokens of letters and digits only. It lacks our user dictionary (梦创社区 splits
#   into 梦创 | 社区 on both sides), and milvus-lite 2.5.1 takes no jieba options to add it.
# - "chinese": Milvus's plain "chinese" analyzer (jieba, letters and digits only; no lower case, no stop words).
ANALYZERS: dict[str, dict[str, Any]] = {
    "tokens": {"tokenizer": "whitespace"},
    "jieba": {"tokenizer": "jieba", "filter": ["lowercase", "cnalphanumonly", {"type": "stop", "stop_words": sorted(STOP_WORDS)}]},
    "chinese": {"type": "chinese"},
}
# VARCHAR limits (bytes); a longer value is refused by the engine at insert, not cut.
ID_CHARS, SOURCE_CHARS, TEXT_CHARS = 1024, 4096, 65_535
# A passage's token codes (index/late.py) as base64 in one VARCHAR: up to 511 tokens at 96 bytes a
# token. Not an ARRAY of pieces: milvus-lite 2.5.1 fails every query that matches no row on a
# collection with an ARRAY field ("Unsupported data type: 0").

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Target:
    """Where a store lives: what ``MilvusClient`` is given, and whether it is a milvus-lite file."""

    uri: str
    token: str = ""
    lite: bool = False


def parse_uri(uri: str) -> Target:
    """``milvus:///abs/path/file.db`` → a milvus-lite file; ``http(s)://[user:password@]host:port`` → a server."""
    parts = urlsplit(uri)
    if parts.scheme == "milvus":
        path = Path(parts.path)
        if parts.netloc or not path.is_absolute() or path.suffix != ".db":
            raise ValueError(f"{uri!r}: a milvus-lite store is milvus:///absolute/path/file.db")
        return Target(str(path), lite=True)
    if parts.scheme in ("http", "https") and parts.hostname:
        token = ""
        if parts.username is not None:
            token = f"{parts.username}:{parts.password or ''}"
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        return Target(urlunsplit((parts.scheme, host, parts.path, "", "")), token=token)
    raise ValueError(f"{uri!r} is not a Milvus store: milvus:///abs/path/file.db (milvus-lite) or http://host:19530 (a server)")


def collection_name(build: str) -> str:
    """The collection of a build (its folder name under builds/): letters, digits and _ only, as Milvus asks."""
    return "touyan_" + re.sub(r"[^0-9A-Za-z_]", "_", build)


def connect(uri: str) -> MilvusClient:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # milvus-lite 2.5.1 warns that pkg_resources is deprecated
            from pymilvus import MilvusClient

            target = parse_uri(uri)
            if target.lite:
                Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
            return MilvusClient(uri=target.uri, token=target.token)
    except ImportError as e:
        raise ImportError(f"the Milvus store needs pymilvus (and milvus-lite for a .db file): {INSTALL} ({e})") from None


def literal(value: str) -> str:
    """A Milvus filter string literal: double-quoted, with backslashes and quotes escaped.

    Control characters are refused: milvus-lite 2.5.1's parser takes neither a raw newline nor an
    escaped one (``\\n`` matches nothing there), so a hidden source named with one would stay visible.
    """
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(f"a Milvus filter cannot hold the control characters of {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def expression(where: Where) -> str:
    """``where`` as a Milvus boolean expression ("" for every row)."""
    parts = []
    if where.case_id is not None:
        parts.append(f"case_id == {literal(where.case_id)}")
    if where.page is not None:
        parts.append(f"page == {int(where.page)}")
    if where.report is not None:
        parts.append(f"report == {literal(where.report)}")
    if where.hidden:
        parts.append(f"source not in [{', '.join(literal(s) for s in sorted(where.hidden))}]")
    return " and ".join(parts)


@dataclass(frozen=True)
class DenseIndex:
    """The dense field's index and the search parameters that go with it."""

    type: str
    params: dict[str, Any]
    search: dict[str, Any]


def dense_index(rows: int, lite: bool) -> DenseIndex:
    """FLAT (exact) in milvus-lite and below ``EXACT_MAX_ROWS``; HNSW on a server past it."""
    if lite or rows < EXACT_MAX_ROWS:
        return DenseIndex("FLAT", {}, {})
    return DenseIndex("HNSW", dict(HNSW), {"ef": HNSW_EF})


def sparse_rows(index: SparseIndex) -> list[dict[int, float]]:
    """Each passage's latent terms as {term: weight}, from the CSR postings (weights already unit-normalised)."""
    features = np.repeat(index.features, np.diff(index.indptr))
    order = np.argsort(index.doc_ids, kind="stable")
    counts = np.bincount(index.doc_ids, minlength=index.n_docs)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    feats, weights = features[order].tolist(), index.weights[order].tolist()
    return [dict(zip(feats[a:b], weights[a:b])) for a, b in pairwise(bounds.tolist())]


def query_text(tokens: list[str], keywords: str) -> str:
    """Our BM25 tokens as the text the engine analyzes for a query, each once (our BM25 counts each
    query term once). For the analyzers that split again, none that is part of a longer one: jieba's
    search mode gives 梦创社区, 梦创 and 社区, and the engine's split of the long one would count
    the pieces twice."""
    unique = list(dict.fromkeys(t for t in tokens if t.strip()))
    if keywords != "tokens":
        unique = [t for t in unique if not any(t != other and t in other for other in unique)]
    return " ".join(unique)


class MilvusStore:
    """A build's passages in one Milvus collection (``create`` writes it, ``open`` reads it).

    ``keyword`` runs Milvus's own BM25 (full-text search, Milvus 2.5 and later) over the terms of
    each passage's ``keyword_text`` that ``ANALYZERS`` says. A server without full-text search gets
    a collection without the text field, and ``keyword`` then falls back to the build's own BM25
    (``bm25``) over the rows the engine allows. Late interaction and the token vectors stay in the
    build's files, but for the token codes: ``token_codes`` reads the candidates' from the collection.
    """

    def __init__(self, client: MilvusClient, collection: str, meta: dict[str, Any], bm25: BM25 | None = None, timeout: float = 30.0):
        self.client = client
        self.collection = collection
        self.meta = meta
        self.rows = int(meta["rows"])  # positions in the build; deleted rows keep theirs
        self.engine_bm25 = bool(meta["bm25"])
        self.keywords = str(meta["keywords"])
        self.has_sparse = bool(meta["sparse"])
        self.code_bytes = int(meta["late_row_bytes"])  # bytes a token (0: no token codes)
        self.bm25 = bm25
        self.timeout = timeout  # pymilvus retries some failures until this runs out
        self._dense_search = {"metric_type": "IP", "params": meta["dense_search"]}
        self._masks = MaskCache(32, self._mask)

    # -- making and opening ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        uri: str,
        collection: str,
        stored: StoredIndex,
        batch: int = 1000,
        progress: Progress | None = None,
        keywords: str = "tokens",
    ) -> MilvusStore:
        """Write a build's rows into ``collection`` (batches of ``batch``: milvus-lite slows to a crawl
        on much larger ones) and return the store; a collection already holding this whole build is
        opened as it is, one left half-written (a killed run) is dropped and written anew. ``keywords``
        names the way the engine's BM25 finds its terms (``ANALYZERS``)."""
        if keywords not in ANALYZERS:
            raise ValueError(f"unknown keywords {keywords!r}: expected one of {', '.join(ANALYZERS)}")
        client = connect(uri)
        lite = parse_uri(uri).lite
        meta = {
            "touyan": SCHEMA_VERSION,
            "rows": len(stored.chunks),
            "embedder": stored.manifest.embedder,
            "dim": int(stored.vectors.shape[1]),
            "tokens": stored.manifest.tokens,
            "corpus_checksum": stored.manifest.corpus_checksum,
            "built_at": stored.manifest.built_at,
            "sparse": stored.sparse is not None,
            "keywords": keywords,
            "late_row_bytes": stored.late.codec.row_bytes if stored.late is not None else 0,
        }
        if client.has_collection(collection):
            old = _meta(client, collection)
            if old is not None and {k: old.get(k) for k in meta} == meta and _count(client, collection) == meta["rows"]:
                client.load_collection(collection)
                return cls(client, collection, old, stored.bm25)
            log.info("dropping collection %s: it does not hold this whole build", collection)
            client.drop_collection(collection)
        dense = dense_index(len(stored.chunks), lite)
        meta |= {"dense_index": dense.type, "dense_search": dense.search}
        try:
            _create(client, collection, meta | {"bm25": True}, stored, dense, ANALYZERS[keywords])
            meta["bm25"] = True
        except Exception as e:  # noqa: BLE001 - a server before 2.5 refuses analyzers, functions or the BM25 metric
            log.warning("Milvus at %s has no full-text search (%s): keyword search falls back to the build's BM25", uri, e)
            if client.has_collection(collection):
                client.drop_collection(collection)
            _create(client, collection, meta | {"bm25": False}, stored, dense, ANALYZERS[keywords])
            meta["bm25"] = False
        sparse = sparse_rows(stored.sparse) if stored.sparse is not None else None
        tokenizer = Tokenizer(stored.user_words)  # the build's, so "tokens" are its BM25's terms
        total = len(stored.chunks)
        for start in range(0, total, batch):
            end = min(start + batch, total)
            codes = stored.late.read_codes(range(start, end)) if meta["late_row_bytes"] else []
            data = []
            for i in range(start, end):
                c = stored.chunks[i]
                row = {
                    "row": i,
                    "case_id": c.case_id,
                    "report": c.report,
                    "source": c.source,
                    "page": -1 if c.page is None else int(c.page),  # milvus-lite has no nullable fields
                    "dense": stored.vectors[i].tolist(),
                }
                if sparse is not None:
                    row["sparse"] = sparse[i]
                if meta["late_row_bytes"]:
                    row["late_codes"] = code_text(codes[i - start])
                if meta["bm25"]:
                    text = keyword_text(c)
                    row["text"] = " ".join(tokenizer.tokenize(text)) if keywords == "tokens" else text
                data.append(row)
            client.insert(collection, data)
            if progress:
                progress(end, total)
        client.flush(collection)  # seal the segments so the server builds their indexes now
        return cls(client, collection, meta, stored.bm25)

    @classmethod
    def open(cls, uri: str, collection: str, bm25: BM25 | None = None) -> MilvusStore:
        """The store of an existing collection; ``bm25`` (the build's) serves keyword search when the engine has none."""
        client = connect(uri)
        if not client.has_collection(collection):
            raise LookupError(f"no collection {collection} at {uri}: write it with `touyan index --store {uri}`")
        meta = _meta(client, collection)
        if meta is None:
            raise LookupError(f"collection {collection} at {uri} was not written by Touyan")
        client.load_collection(collection)
        return cls(client, collection, meta, bm25)

    @staticmethod
    def prune(uri: str, keep: str) -> list[str]:
        """Drop every Touyan collection but ``keep`` (older builds'); returns what was dropped."""
        client = connect(uri)
        dropped = [c for c in client.list_collections() if c.startswith("touyan_") and c != keep]
        for name in dropped:
            client.drop_collection(name)
        return dropped

    def close(self) -> None:
        self.client.close()

    # -- PassageStore ---------------------------------------------------------------------------

    def dense(self, vector: np.ndarray, k: int, where: Where) -> dict[int, float]:
        query = np.asarray(vector, np.float32).reshape(-1).tolist()
        params = self._dense_search
        if "ef" in params["params"]:  # HNSW needs ef ≥ k
            params = {**params, "params": {"ef": max(int(params["params"]["ef"]), k)}}
        return self._search(query, "dense", k, where, params, positive=False)

    def sparse(self, vector: SparseVector, k: int, where: Where) -> dict[int, float]:
        if not self.has_sparse:
            raise ValueError("this build has no sparse vectors (built with TOUYAN_SPARSE=none)")
        norm = float(np.linalg.norm(vector.weights))
        if norm == 0:
            return {}
        query = dict(zip(vector.ids.tolist(), (vector.weights / norm).tolist()))  # the cosine, as SparseIndex
        return self._search(query, "sparse", k, where, {"metric_type": "IP", "params": {"drop_ratio_search": 0.0}})

    def keyword(self, tokens: list[str], k: int, where: Where) -> dict[int, float]:
        if not self.engine_bm25:
            if self.bm25 is None:
                raise ValueError(f"collection {self.collection} has no full-text search and no build BM25 was given")
            return top(self.bm25.scores(tokens), k, self.allowed(where))
        text = query_text(tokens, self.keywords)
        if not text:
            return {}
        return self._search(text, "text_bm25", k, where, {"metric_type": "BM25", "params": {"drop_ratio_search": 0.0}})

    def allowed(self, where: Where) -> np.ndarray | None:
        """The rows ``where`` allows, read from the engine (a window of primary keys at a time); the
        last few masks are kept, until ``delete_source`` changes what they would be."""
        return None if where.everything else self._masks.get(where)

    def _mask(self, where: Where) -> np.ndarray:
        mask = np.zeros(self.rows, dtype=bool)
        mask[self._rows_matching(expression(where))] = True
        return mask

    def token_codes(self, rows: Sequence[int]) -> Codes:
        """These rows' token codes from the collection, in their order (a deleted row has none)."""
        if not self.code_bytes:
            raise ValueError("this build has no token vectors (built with TOUYAN_SPARSE=none)")
        wanted = sorted({int(r) for r in rows})
        found: dict[int, np.ndarray] = {}
        for a in range(0, len(wanted), QUERY_WINDOW):
            part = wanted[a : a + QUERY_WINDOW]
            for hit in self.client.query(
                self.collection, filter=f"row in {part}", output_fields=["row", "late_codes"], limit=len(part), timeout=self.timeout
            ):
                data = base64.b64decode(hit["late_codes"])
                found[int(hit["row"])] = np.frombuffer(data, np.uint8).reshape(-1, self.code_bytes)
        empty = np.zeros((0, self.code_bytes), np.uint8)
        return [found.get(int(r), empty) for r in rows]

    # -- documents ------------------------------------------------------------------------------

    def delete_source(self, source: str) -> int:
        """Delete a document's passages (by its source); returns how many rows went."""
        rows = self._rows_matching(f"source == {literal(source)}")
        if rows:
            self.client.delete(self.collection, ids=rows, timeout=self.timeout)
            self._masks.clear()
        return len(rows)

    def count(self) -> int:
        """Rows in the collection now (deleted ones no longer count)."""
        return _count(self.client, self.collection)

    # -- helpers --------------------------------------------------------------------------------

    def _search(self, query: Any, field: str, k: int, where: Where, params: dict[str, Any], positive: bool = True) -> dict[int, float]:
        """The engine's ``k`` best rows and scores; ``positive`` keeps only scores above 0, as ``top`` does
        for sparse and BM25 (no shared term, no match), while dense keeps every neighbour, as FAISS."""
        found = self.client.search(
            self.collection, data=[query], anns_field=field, limit=k, filter=expression(where), search_params=params, timeout=self.timeout
        )
        return {int(h["id"]): float(h["distance"]) for h in found[0] if not positive or h["distance"] > 0}

    def _rows_matching(self, expr: str) -> list[int]:
        rows: list[int] = []
        for lo in range(0, self.rows, QUERY_WINDOW):
            window = f"row >= {lo} and row < {lo + QUERY_WINDOW}"
            found = self.client.query(
                self.collection,
                filter=f"({expr}) and {window}" if expr else window,
                output_fields=["row"],
                limit=QUERY_WINDOW,
                consistency_level="Strong",
                timeout=self.timeout,
            )
            rows.extend(int(r["row"]) for r in found)
        return rows


def _create(client: MilvusClient, collection: str, meta: dict[str, Any], stored: StoredIndex, dense: DenseIndex, analyzer: dict[str, Any]) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False, description=json.dumps(meta))
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("case_id", DataType.VARCHAR, max_length=ID_CHARS)
    schema.add_field("report", DataType.VARCHAR, max_length=ID_CHARS)
    schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_CHARS)
    schema.add_field("page", DataType.INT64)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=meta["dim"])
    index = client.prepare_index_params()
    index.add_index("dense", index_type=dense.type, metric_type="IP", params=dense.params)
    if meta["sparse"]:
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    if meta["late_row_bytes"]:
        schema.add_field("late_codes", DataType.VARCHAR, max_length=TEXT_CHARS)
    if meta["bm25"]:
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_CHARS, enable_analyzer=True, analyzer_params=analyzer)
        schema.add_field("text_bm25", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["text_bm25"]))
        # The build's k1 and b, so only the tokens differ from our BM25 (same IDF formula).
        index.add_index("text_bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": stored.bm25.k1, "bm25_b": stored.bm25.b})
    # Bounded: a search does not wait for the latest writes; a deleted document is hidden at once by
    # Where.hidden anyway, and builds are written before anyone searches them.
    client.create_collection(collection, schema=schema, index_params=index, consistency_level="Bounded")


def code_text(codes: np.ndarray) -> str:
    """A passage's token codes as the base64 text its VARCHAR holds."""
    text = base64.b64encode(np.ascontiguousarray(codes).tobytes()).decode()
    if len(text) > TEXT_CHARS:
        raise ValueError(f"a passage of {len(codes)} tokens has more token codes than a Milvus VARCHAR holds ({TEXT_CHARS} characters)")
    return text


def _meta(client: MilvusClient, collection: str) -> dict[str, Any] | None:
    try:
        meta = json.loads(client.describe_collection(collection).get("description") or "")
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and meta.get("touyan") == SCHEMA_VERSION else None


def _count(client: MilvusClient, collection: str) -> int:
    return int(client.query(collection, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"])
