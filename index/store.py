"""The index on disk: one folder per build, switched in atomically by a pointer file.

``<index_dir>/builds/<id>/`` holds the manifest, passages, vectors, FAISS index, sparse index,
token vectors for late interaction, sentence vectors and BM25;
``<index_dir>/CURRENT`` names the live build and is replaced with ``os.replace``. A crash
mid-build leaves the previous build live and the half-written folder unreferenced; the next
build removes it.

Nothing on disk is trusted: the manifest records every file's size and SHA-256, a build is read
back and checked before CURRENT names it, and again whenever it is loaded, so a truncated or
corrupted file is reported by name instead of served. A build folder is made read-only once
complete, and loading reads every file into memory (nothing is memory-mapped), so a file that
changes or shrinks under a running server cannot take it down.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from index.atomic import FILE_MODE, FOLDER_MODE, SEALED_FILE_MODE, SEALED_FOLDER_MODE, write_atomic
from index.bm25 import BM25
from index.models import Case, Chunk, Report
from index.late import LateIndex
from index.npy_rows import NpyRows
from index.sparse import SparseIndex

FORMAT = 10  # 9: token vectors as 2-bit codes (index/late.py); 10: sentence vectors in a .npy read by rows when large
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
BUILD_LOCK = "build.lock"
REMEDY = "rebuild it with `touyan index --force`"


class IndexCorrupt(ValueError):
    """A file of the live build is missing, truncated or altered; the message names it and the remedy."""

    def __init__(self, path: Path, problem: str):
        self.path = path
        super().__init__(f"index file {path} {problem}: {REMEDY}")


@dataclass(frozen=True)
class FileSum:
    size: int
    sha256: str


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
    files: dict[str, FileSum] = field(default_factory=dict)  # every other file of the build


# Sentence vectors of a loaded build taking more than this stay in their file, read by rows when a
# question asks for its candidates' (index/npy_rows.py): ~5 sentences a passage is 9.8 GB at a million.
SENTENCES_IN_MEMORY = 256 << 20


@dataclass
class SentenceVectors:
    """The dense vector of every sentence of every passage, in passage order: row k is ``spans[k] = (passage row, start, end)``.
    ``vectors`` is an array, or for a large build the file's rows (``NpyRows``)."""

    spans: np.ndarray
    vectors: np.ndarray | NpyRows

    SPANS = "sentence_spans.npy"
    VECTORS = "sentence_vectors.npy"

    def save(self, folder: Path) -> None:
        write_atomic(folder / self.SPANS, lambda f: np.save(f, self.spans))
        write_atomic(folder / self.VECTORS, lambda f: np.save(f, np.asarray(self.vectors, np.float32)))

    @classmethod
    def load(cls, folder: Path, in_memory: int = SENTENCES_IN_MEMORY) -> SentenceVectors:
        spans = np.load(folder / cls.SPANS, allow_pickle=False)
        path = folder / cls.VECTORS
        return cls(spans, np.load(path, allow_pickle=False) if path.stat().st_size <= in_memory else NpyRows(path))


@dataclass
class StoredIndex:
    manifest: Manifest
    chunks: list[Chunk]
    vectors: np.ndarray  # the passages' dense vectors: a view of the FAISS index's own (``faiss_vectors``)
    faiss_index: faiss.Index
    sparse: SparseIndex | None
    late: LateIndex | None
    sentences: SentenceVectors
    bm25: BM25
    user_words: list[str]
    cases: list[Case]  # as built: a server that loads a new build lists the cases it holds
    reports: list[Report] = field(default_factory=list)


def _json(data) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def save_index(index_dir: Path, stored: StoredIndex) -> Path:
    """Write a new build folder, check it, then point CURRENT at it and remove older builds."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=builds, prefix=time.strftime("%Y%m%d-%H%M%S-")))
    folder.chmod(FOLDER_MODE)
    (folder / "chunks.json").write_bytes(_json([c.to_dict() for c in stored.chunks]))
    (folder / "user_words.json").write_bytes(_json(stored.user_words))
    (folder / "cases.json").write_bytes(_json([c.summary() for c in stored.cases]))
    (folder / "reports.json").write_bytes(_json([{"id": r.id, "title": r.title, "sources": list(r.sources)} for r in stored.reports]))
    faiss.write_index(stored.faiss_index, str(folder / "vectors.faiss"))
    if stored.sparse is not None:
        stored.sparse.save(folder / "sparse.npz")
    if stored.late is not None:
        stored.late.save(folder)
    stored.sentences.save(folder)
    stored.bm25.save(folder / "bm25.npz")
    files = {p.name: _sum(p) for p in sorted(folder.iterdir()) if not p.name.startswith(".")}
    manifest = Manifest(**{**asdict(stored.manifest), "files": files})
    (folder / MANIFEST).write_bytes(_json(asdict(manifest)))
    _sync(folder)
    verify_build(folder, manifest)  # read back what the disk holds before anyone is pointed at it
    for path in folder.iterdir():
        path.chmod(SEALED_FILE_MODE)
    folder.chmod(SEALED_FOLDER_MODE)
    write_atomic(index_dir / CURRENT, folder.name.encode())
    remove_other_builds(index_dir, keep=folder.name)
    return folder


def remove_other_builds(index_dir: Path, keep: str | None) -> None:
    """Remove every build folder but ``keep``: older builds, and half-written ones a killed build left."""
    builds = index_dir / "builds"
    if not builds.is_dir():
        return
    for old in builds.iterdir():
        if old.name != keep:
            _make_writable(old)
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Held while a build runs, so two builds (a CLI and a server, say) never write or prune at once."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / BUILD_LOCK, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def verify_build(folder: Path, manifest: Manifest) -> None:
    """Every file the manifest lists has its recorded size and checksum; IndexCorrupt names the first that does not."""
    for name, expected in manifest.files.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            raise IndexCorrupt(path, "is missing") from None
        if size != expected.size:
            raise IndexCorrupt(path, f"has {size} bytes, not the {expected.size} its build wrote (truncated or altered)")
        if _sum(path).sha256 != expected.sha256:
            raise IndexCorrupt(path, "does not match its checksum (altered on disk)")


def _sum(path: Path) -> FileSum:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return FileSum(path.stat().st_size, digest.hexdigest())


def _sync(folder: Path) -> None:
    """Flush the build's files and the folder entry to disk before CURRENT may name it."""
    for path in folder.iterdir():
        with path.open("rb") as f:
            os.fsync(f.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_writable(folder: Path) -> None:
    try:
        folder.chmod(FOLDER_MODE)
        for path in folder.iterdir():
            path.chmod(FILE_MODE)
    except OSError:
        pass


def read_manifest(index_dir: Path) -> Manifest | None:
    """The live build's manifest, or None when there is no complete build in this format."""
    data = _manifest_data(index_dir)
    if data is None or data.get("format") != FORMAT:
        return None
    try:
        return Manifest(**{**data, "files": {k: FileSum(**v) for k, v in data["files"].items()}})
    except (TypeError, KeyError, AttributeError):
        raise IndexCorrupt(index_dir / "builds" / live_build(index_dir) / MANIFEST, "is not a manifest this version wrote") from None


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
    """The live build's manifest as JSON; None without a live build, IndexCorrupt when CURRENT names a broken one."""
    build = live_build(index_dir)
    if build is None:
        return None
    path = index_dir / "builds" / build / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorrupt(path, "is missing (CURRENT names a build that is not there)") from None
    except (OSError, ValueError) as e:
        raise IndexCorrupt(path, f"cannot be read ({e})") from None
    if not isinstance(data, dict):
        raise IndexCorrupt(path, "is not a manifest")
    return data


def load_index(index_dir: Path) -> StoredIndex:
    """The live build, checked file by file against its manifest first (IndexCorrupt names a bad file)."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise FileNotFoundError(f"no complete index in {index_dir}")
    folder = index_dir / "builds" / live_build(index_dir)
    verify_build(folder, manifest)
    try:
        dense = faiss.read_index(str(folder / "vectors.faiss"))
        return StoredIndex(
            manifest=manifest,
            chunks=[Chunk.from_dict(d) for d in json.loads((folder / "chunks.json").read_text(encoding="utf-8"))],
            vectors=faiss_vectors(dense),
            faiss_index=dense,
            sparse=SparseIndex.load(folder / "sparse.npz") if manifest.tokens else None,
            late=LateIndex.load(folder) if manifest.tokens else None,
            sentences=SentenceVectors.load(folder),
            bm25=BM25.load(folder / "bm25.npz"),
            user_words=json.loads((folder / "user_words.json").read_text(encoding="utf-8")),
            cases=[Case.from_summary(d) for d in json.loads((folder / "cases.json").read_text(encoding="utf-8"))],
            reports=[Report(d["id"], d["title"], tuple(d["sources"])) for d in json.loads((folder / "reports.json").read_text(encoding="utf-8"))],
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:  # checksums passed: written wrong, not damaged since
        raise IndexCorrupt(folder, f"cannot be loaded ({type(e).__name__}: {e})") from None


def faiss_vectors(index: faiss.Index) -> np.ndarray:
    """The vectors a flat or HNSW index stores, as a read-only view of its own memory: a second copy
    is 2 GB at a million passages. The view lives as long as ``index`` does (StoredIndex keeps both)."""
    flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(flat, faiss.IndexFlat):
        return index.reconstruct_n(0, index.ntotal)
    view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    view.flags.writeable = False
    return view
