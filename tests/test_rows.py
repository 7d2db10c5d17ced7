"""What a large build keeps on disk instead of in memory: its sentence vectors, read by rows, and
no second copy of the dense vectors beside the FAISS index."""
import numpy as np
import pytest

from index.build import make_faiss
from index.npy_rows import NpyRows
from index.store import IndexCorrupt, SentenceVectors, faiss_vectors, live_build


@pytest.fixture
def array(tmp_path):
    a = np.random.default_rng(0).standard_normal((1000, 16)).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    return a, tmp_path / "a.npy"


def test_rows_read_from_the_file_are_the_array_rows(array):
    a, path = array
    rows = NpyRows(path)
    assert rows.shape == a.shape and len(rows) == len(a)
    assert np.array_equal(rows[5], a[5]) and np.array_equal(rows[-1], a[-1])
    assert np.array_equal(rows[10:20], a[10:20]) and rows[20:10].shape == (0, 16)
    with pytest.raises(IndexError):
        rows[1000]


def test_a_file_cut_short_under_a_reader_is_named(array):
    a, path = array
    rows = NpyRows(path)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)
    assert np.array_equal(rows[0], a[0])
    with pytest.raises(IndexCorrupt, match="a.npy ends before row 1000"):
        rows[999]


def test_a_large_builds_sentence_vectors_stay_in_their_file(index_dir):
    folder = index_dir / "builds" / live_build(index_dir)
    small, large = SentenceVectors.load(folder), SentenceVectors.load(folder, in_memory=0)
    assert isinstance(small.vectors, np.ndarray) and isinstance(large.vectors, NpyRows)
    assert np.array_equal(large.vectors[3:40], small.vectors[3:40]) and np.array_equal(large.vectors[7], small.vectors[7])


@pytest.mark.parametrize("hnsw_min_chunks", [10_000, 10])
def test_the_dense_vectors_are_a_view_of_the_faiss_index(hnsw_min_chunks):
    vectors = np.random.default_rng(1).standard_normal((200, 8)).astype(np.float32)
    index = make_faiss(vectors, hnsw_min_chunks)
    view = faiss_vectors(index)
    assert np.array_equal(view, vectors) and not view.flags.writeable
