"""The index on disk: one folder per build, switched in atomically by a pointer file.

``<index_dir>/builds/<id>/`` holds the manifest, passages, vectors, FAISS index, sparse index,
token vectors for late interaction, sentence vectors and BM25;
``<index_dir>/CURRENT`` names the live build and is replaced with ``os.replace``. A crash
mid-build leaves the previous build live and the half-written folder unreferenced.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from index.atomic import FOLDER_MODE, write_atomic
from index.bm25 import BM25
from index.models import Case, Chunk
from index.late import LateIndex
from index.sparse import SparseIndex

FORMAT = 6
CURRENT = "CURRENT"


@dataclass(frozen=True)
class Manifest:
    embedder: str
    dim: int
    tokens: str | None
    chunker_version: str
    chunk_chars: int
    corpus_checksum: str
    built_at: str
    chunks: int
    faiss_index: str
    format: int = FORMAT


@dataclass
class SentenceVectors:
    """The dense vector of every sentence of every passage, in passage order: row k is ``spans[k] = (passage row, start, end)``."""

    spans: np.ndarray
    vectors: np.ndarray


@dataclass
class StoredIndex:
    manifest: Manifest
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: faiss.Index
    sparse: SparseIndex | None
    late: LateIndex | None
    sentences: SentenceVectors
    bm25: BM25
    user_words: list[str]
    cases: list[Case]  # as built: a server that loads a new build lists the cases it holds


def _json(data) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def save_index(index_dir: Path, stored: StoredIndex) -> Path:
    """Write a new build folder, then point CURRENT at it and remove older builds."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=builds, prefix=time.strftime("%Y%m%d-%H%M%S-")))
    folder.chmod(FOLDER_MODE)
    (folder / "chunks.json").write_bytes(_json([c.to_dict() for c in stored.chunks]))
    (folder / "user_words.json").write_bytes(_json(stored.user_words))
    (folder / "cases.json").write_bytes(_json([c.summary() for c in stored.cases]))
    np.save(folder / "vectors.npy", stored.vectors)
    faiss.write_index(stored.faiss_index, str(folder / "vectors.faiss"))
    if stored.sparse is not None:
        stored.sparse.save(folder / "sparse.npz")
    if stored.late is not None:
        stored.late.save(folder)
    np.savez(folder / "sentences.npz", spans=stored.sentences.spans, vectors=stored.sentences.vectors)
    stored.bm25.save(folder / "bm25.npz")
    (folder / "manifest.json").write_bytes(_json(asdict(stored.manifest)))
    write_atomic(index_dir / CURRENT, folder.name.encode())
    for old in builds.iterdir():
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def read_manifest(index_dir: Path) -> Manifest | None:
    """The live build's manifest, or None when there is no complete build in this format."""
    data = _manifest_data(index_dir)
    if data is None or data.get("format") != FORMAT:
        return None
    return Manifest(**data)


def stored_format(index_dir: Path) -> int | None:
    """The format of the live build, whatever it is; None when there is no build."""
    data = _manifest_data(index_dir)
    return None if data is None else data.get("format")


def live_build(index_dir: Path) -> str | None:
    """The name of the live build (what CURRENT says), or None when there is none."""
    try:
        return (index_dir / CURRENT).read_text().strip() or None
    except OSError:
        return None


def _manifest_data(index_dir: Path) -> dict | None:
    build = live_build(index_dir)
    if build is None:
        return None
    try:
        return json.loads((index_dir / "builds" / build / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def load_index(index_dir: Path) -> StoredIndex:
    folder = index_dir / "builds" / (index_dir / CURRENT).read_text().strip()
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise FileNotFoundError(f"no complete index in {index_dir}")
    return StoredIndex(
        manifest=manifest,
        chunks=[Chunk.from_dict(d) for d in json.loads((folder / "chunks.json").read_text())],
        vectors=np.load(folder / "vectors.npy"),
        faiss_index=faiss.read_index(str(folder / "vectors.faiss")),
        sparse=SparseIndex.load(folder / "sparse.npz") if manifest.tokens else None,
        late=LateIndex.load(folder) if manifest.tokens else None,
        sentences=_load_sentences(folder / "sentences.npz"),
        bm25=BM25.load(folder / "bm25.npz"),
        user_words=json.loads((folder / "user_words.json").read_text()),
        cases=[Case.from_summary(d) for d in json.loads((folder / "cases.json").read_text())],
    )


def _load_sentences(path: Path) -> SentenceVectors:
    with np.load(path, allow_pickle=False) as z:
        return SentenceVectors(z["spans"], z["vectors"])
