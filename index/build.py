"""Build or refresh the index: corpus → passages → embeddings (cached by text) → FAISS + sparse + late interaction + BM25."""
from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from index.bm25 import BM25
from index.chunk import CHUNKER_VERSION, SectionChunker
from index.corpus import Corpus, load_corpus
from index.embed import Embedder
from index.encode_pool import ENCODE_BATCH, Batch, EncodeBackend, EncodeFn, EncodePlan, backend_for, encoders, recipe_of
from index.models import Chunk
from index.e5_tokens import TokenEncoder, TokenEncoding
from index.late import LateIndex
from index.sparse import SparseIndex
from index.atomic import write_atomic
from index.store import (
    FORMAT,
    IndexCorrupt,
    Manifest,
    SentenceVectors,
    StoredIndex,
    build_lock,
    faiss_vectors,
    live_build,
    load_index,
    read_manifest,
    remove_other_builds,
    save_index,
    stored_format,
)
from index.text import sentence_spans
from index.tokenize import Tokenizer, user_words_from

log = logging.getLogger("touyan.index")

# Exact search stays under ~5 ms per query up to about this many 384–512-d passages on two
# cores (eval/bench_search.py --scale); past it HNSW keeps queries in the low milliseconds.
HNSW_MIN_CHUNKS = 50_000

# Keys per SQL statement (SQLite allows 32 766 parameters).
SQL_BATCH = 900

EmbedProgress = Callable[[int, int], None]
# Texts for one encoder and the call that turns them into cacheable float32 rows (progress per text).
EncodeJob = tuple[list[str], EncodeFn]


# How users name each section kind ("X的专家点评是谁写的？"), so BM25 can match the kind.
KIND_LABELS = {"commentary": "专家点评", "preface": "序言", "contents": "报告目录", "body": ""}


def keyword_text(chunk: Chunk) -> str:
    """What BM25 sees: the passage under its case title, section kind and section title.

    These carry the place and topic that a passage's own sentences often leave out;
    the embedder sees the bare passage, which measured better for it.
    """
    return f"{chunk.case_title}｜{KIND_LABELS[chunk.section_kind]}｜{chunk.section}\n{chunk.text}"


class EmbeddingCache:
    """Passage encodings keyed by encoder and text, in SQLite: a refresh encodes only new or changed
    passages, and an interrupted build resumes from what it had encoded.

    Rows are flat float32 arrays (dense vectors, or ``TokenEncoding.to_row``, whose length
    varies with the text). ``put`` commits each batch as it is encoded; ``get`` reads only the
    rows asked for, so a build never holds the whole cache in memory.
    """

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS rows (key TEXT PRIMARY KEY, row BLOB NOT NULL)")

    @staticmethod
    def key(embedder: str, text: str) -> str:
        return hashlib.sha1(f"{embedder}\0{text}".encode()).hexdigest()

    def missing(self, keys: list[str]) -> list[int]:
        """Positions of the keys the cache has no row for."""
        have = set()
        for batch in _batches(list(dict.fromkeys(keys)), SQL_BATCH):
            have.update(k for (k,) in self._db.execute(f"SELECT key FROM rows WHERE key IN ({','.join('?' * len(batch))})", batch))
        return [i for i, k in enumerate(keys) if k not in have]

    def put(self, keys: list[str], rows: list[np.ndarray]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO rows VALUES (?, ?)", [(k, np.asarray(r, np.float32).tobytes()) for k, r in zip(keys, rows)])

    def get(self, keys: list[str]) -> list[np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for batch in _batches(list(dict.fromkeys(keys)), SQL_BATCH):
            for k, blob in self._db.execute(f"SELECT key, row FROM rows WHERE key IN ({','.join('?' * len(batch))})", batch):
                found[k] = np.frombuffer(blob, np.float32)
        return [found[k] for k in keys]

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]

    def keep_only(self, keys: list[str]) -> int:
        """Drop every row but these (passages of removed files leave the cache); returns how many went."""
        with self._db:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM keep")
            self._db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keys])
            dropped = self._db.execute("DELETE FROM rows WHERE key NOT IN (SELECT key FROM keep)").rowcount
        return dropped

    def close(self) -> None:
        self._db.close()


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def make_faiss(vectors: np.ndarray, hnsw_min_chunks: int = HNSW_MIN_CHUNKS) -> faiss.Index:
    dim = vectors.shape[1]
    if len(vectors) >= hnsw_min_chunks:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


@dataclass
class Indexer:
    """Turns a parsed corpus into a stored index, embedding only what the cache lacks."""

    embedder: Embedder
    tokens: TokenEncoder | None = None
    chunk_chars: int = 300
    hnsw_min_chunks: int = HNSW_MIN_CHUNKS
    encode: EncodePlan = EncodePlan()  # where the encoding runs (index/encode_pool.py)

    def run(self, corpus: Corpus, index_dir: Path, progress: EmbedProgress | None = None) -> StoredIndex:
        chunks = located(SectionChunker(self.chunk_chars).run(corpus.cases), corpus)
        if not chunks:
            raise ValueError("the corpus has no passages to index")
        spans = sentence_rows(chunks)
        rows = self._embed(index_dir, self.encoding_jobs(chunks, spans), progress)
        dense = np.ascontiguousarray(np.stack(rows[self.embedder.name]), dtype=np.float32)
        vectors = dense[: len(chunks)]
        sentences = SentenceVectors(np.array(spans, dtype=np.int32).reshape(-1, 3), dense[len(chunks) :])
        sparse = late = None
        if self.tokens is not None:
            encodings = [TokenEncoding.from_row(r) for r in rows[self.tokens.name]]
            sparse = SparseIndex.fit([e.sparse for e in encodings])
            late = LateIndex.fit([(e.tokens, e.ids, e.starts) for e in encodings])
        words = sorted(user_words_from(
            [c.title for c in corpus.cases]
            + [s.title for c in corpus.cases for s in c.sections]
            + [p.text for c in corpus.cases for s in c.sections for p in s.paragraphs]
        ))
        tokenizer = Tokenizer(words)
        dense_index = make_faiss(vectors, self.hnsw_min_chunks)
        stored = StoredIndex(
            manifest=Manifest(
                embedder=self.embedder.name,
                dim=self.embedder.dim,
                tokens=self.tokens.name if self.tokens else None,
                chunker_version=CHUNKER_VERSION,
                chunk_chars=self.chunk_chars,
                corpus_checksum=corpus.checksum,
                built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                chunks=len(chunks),
                faiss_index="hnsw" if len(chunks) >= self.hnsw_min_chunks else "flat",
            ),
            chunks=chunks,
            vectors=faiss_vectors(dense_index),
            faiss_index=dense_index,
            sparse=sparse,
            late=late,
            sentences=sentences,
            bm25=BM25().fit([tokenizer.tokenize(keyword_text(c)) for c in chunks]),
            user_words=words,
            cases=corpus.cases,
            reports=list(corpus.reports.values()),
        )
        save_index(index_dir, stored)
        return stored

    def encoding_jobs(self, chunks: list[Chunk], spans: list[tuple[int, int, int]]) -> dict[str, EncodeJob]:
        """What the build encodes, per encoder: the passages, dense and by e5's tokens (sparse and
        late interaction), and every sentence dense, for the answerer's choice of quote
        (eval/bench_search.py times exactly this)."""
        texts = [c.text for c in chunks]
        fns = encoders(self.embedder, self.tokens)
        jobs = {self.embedder.name: (texts + [chunks[i].text[a:b] for i, a, b in spans], fns[self.embedder.name])}
        if self.tokens is not None:
            jobs[self.tokens.name] = (texts, fns[self.tokens.name])
        return jobs

    def _embed(
        self, index_dir: Path, jobs: dict[str, EncodeJob], progress: EmbedProgress | None, backend: EncodeBackend | None = None
    ) -> dict[str, list[np.ndarray]]:
        """Each encoder's rows for its texts, encoding only what its cache lacks, a batch at a time
        (each committed as it arrives, from the plan's backend or the one given); one progress count for all."""
        caches = {name: EmbeddingCache(index_dir / "cache" / f"{hashlib.sha1(name.encode()).hexdigest()[:12]}.sqlite") for name in jobs}
        try:
            keys = {name: [caches[name].key(name, t) for t in texts] for name, (texts, _) in jobs.items()}
            missing = {name: caches[name].missing(keys[name]) for name in jobs}
            total = sum(len(m) for m in missing.values())
            done = 0

            def step(n: int) -> None:
                nonlocal done
                done += n
                if progress:
                    progress(done, total)

            for name, (texts, _) in jobs.items():
                log.info("encoding %d of %d texts (%d cached) with %s", len(missing[name]), len(texts), len(texts) - len(missing[name]), name)
            if total:
                if backend is None:
                    backend = backend_for(self.encode, recipe_of(self.embedder, self.tokens), {name: fn for name, (_, fn) in jobs.items()}, total)
                log.info("encoding %d texts %s", total, backend.description)
                batches = [Batch(name, b, [texts[i] for i in b]) for name, (texts, _) in jobs.items() for b in _batches(missing[name], backend.batch)]
                backend.run(batches, lambda b, r: caches[b.job].put([keys[b.job][i] for i in b.positions], r), step)
            rows = {}
            for name in jobs:
                cache = caches[name]
                dropped = cache.keep_only(keys[name])
                if dropped:
                    log.info("dropped %d cached encodings of texts no longer in the corpus (%s)", dropped, name)
                rows[name] = cache.get(keys[name])
            return rows
        finally:
            for cache in caches.values():
                cache.close()


def located(chunks: list[Chunk], corpus: Corpus) -> list[Chunk]:
    """The passages with their report and, from a paged file, the page they begin on and its label."""
    out = []
    for c in chunks:
        page = corpus.page_at(c.source, c.start)
        out.append(replace(c, report=corpus.report_of.get(c.source, ""), pdf_page=page.number if page else None, page_label=page.label if page else None))
    return out


def sentence_rows(chunks: list[Chunk]) -> list[tuple[int, int, int]]:
    """(passage row, start, end) of every sentence of every passage, in passage order (the searcher relies on it)."""
    return [(i, a, b) for i, c in enumerate(chunks) for a, b in sentence_spans(c.text)]


def stale_reason(
    manifest: Manifest | None, corpus: Corpus, embedder: Embedder, chunk_chars: int, tokens: TokenEncoder | None = None
) -> str | None:
    """Why the stored index cannot serve this corpus and these encoders, or None when it can."""
    if manifest is None:
        return "no index yet"
    if manifest.embedder != embedder.name or manifest.dim != embedder.dim:
        return f"index was built with embedder {manifest.embedder} ({manifest.dim}-d), not {embedder.name} ({embedder.dim}-d)"
    wanted = tokens.name if tokens else None
    if manifest.tokens != wanted:
        return f"index was built with token encoder {manifest.tokens or 'none'}, not {wanted or 'none'}"
    if manifest.chunker_version != CHUNKER_VERSION or manifest.chunk_chars != chunk_chars:
        return f"index was built with chunker v{manifest.chunker_version}/{manifest.chunk_chars} chars, now v{CHUNKER_VERSION}/{chunk_chars}"
    if manifest.corpus_checksum != corpus.checksum:
        return "the corpus files changed"
    return None


def ensure_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunk_chars: int = 300,
    progress: EmbedProgress | None = None,
    force: bool = False,
    tokens: TokenEncoder | None = None,
    rebuild_damaged: bool = False,
    uploads: Path | None = None,
    encode: EncodePlan = EncodePlan(),
) -> tuple[StoredIndex, Corpus, str | None]:
    """Load the index, rebuilding it first when it is missing or stale; says why it rebuilt.

    A damaged live build (IndexCorrupt) is rebuilt with ``rebuild_damaged`` (``touyan index``),
    else the error names the file and the remedy. The build lock keeps a second build (or a
    server starting meanwhile) from writing or pruning the same folder at once.
    """
    corpus = load_corpus(corpus_dir, uploads)
    with build_lock(index_dir):
        reason = "rebuild requested" if force else None
        try:
            if reason is None:
                reason = _why_rebuild(index_dir, corpus, embedder, chunk_chars, tokens)
            if reason is None:
                return load_index(index_dir), corpus, None
        except IndexCorrupt as e:
            if not rebuild_damaged:
                raise
            reason = f"the live build is damaged: {e}"
        log.info("building the index in %s: %s", index_dir, reason)
        remove_other_builds(index_dir, keep=live_build(index_dir))  # what a killed build left half-written
        return Indexer(embedder, tokens, chunk_chars, encode=encode).run(corpus, index_dir, progress), corpus, reason


def _why_rebuild(index_dir: Path, corpus: Corpus, embedder: Embedder, chunk_chars: int, tokens: TokenEncoder | None) -> str | None:
    manifest = read_manifest(index_dir)
    older = stored_format(index_dir) if manifest is None else FORMAT
    if older not in (None, FORMAT):
        return f"the index was written in format {older}, this version reads format {FORMAT}"
    return stale_reason(manifest, corpus, embedder, chunk_chars, tokens)
