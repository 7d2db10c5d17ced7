"""Residual codes for token vectors (index/quantize.py), on the real e5 token vectors of the shared index."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.late import LateIndex, coded_scores
from index.quantize import ResidualCodec, bucketize, centroid_count, fit_buckets, pack

FLOAT32_BYTES = 384 * 4


@pytest.fixture(scope="module")
def e5_tokens(searcher) -> np.ndarray:
    """Float32 e5 token vectors of the first passages, encoded again (the index keeps only codes)."""
    encodings = searcher.tokens.encode_passages([c.text for c in searcher.stored.chunks[:12]])
    return np.concatenate([e.tokens for e in encodings])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_build_stores_codes_at_least_8x_smaller(searcher):
    late = searcher.stored.late
    assert late.codec.dim == 384 and late.codec.nbits == 2 and late.codec.k == 1
    # Everything a token costs on disk: 2 bits a dimension (one centroid, the mean: no id, no norm).
    assert late.bytes_per_token == 96
    assert FLOAT32_BYTES / late.bytes_per_token >= 8
    codes = late.read_codes(range(late.n_docs))
    assert sum(len(c) for c in codes) == late.offsets[-1]
    assert {c.dtype for c in codes} == {np.dtype(np.uint8)} and {c.shape[1] for c in codes} == {late.bytes_per_token}


def test_round_trip_keeps_the_real_tokens_direction(searcher, e5_tokens):
    codec = searcher.stored.late.codec  # fitted on the build's tokens, these among them
    decoded = codec.decode(codec.encode(e5_tokens))
    assert decoded.dtype == np.float32 and np.allclose(np.linalg.norm(decoded, axis=1), 1, atol=1e-5)
    cos = cosines(decoded, e5_tokens)
    assert cos.mean() > 0.97 and cos.min() > 0.85
    # What ranking reads: a query token's cosine with every passage token moves little.
    query = e5_tokens[:8]
    assert np.abs(query @ decoded.T - query @ e5_tokens.T).mean() < 0.02


@pytest.mark.parametrize("k", [1, None])
def test_unseen_tokens_are_coded_about_as_well(e5_tokens, k):
    """Fitted on half the tokens, the other half (as a large index's codec, fitted on a sample, codes the rest)."""
    half = len(e5_tokens) // 2
    codec = ResidualCodec.fit(e5_tokens[:half], k=k)
    seen = cosines(codec.decode(codec.encode(e5_tokens[:half])), e5_tokens[:half]).mean()
    unseen = cosines(codec.decode(codec.encode(e5_tokens[half:])), e5_tokens[half:]).mean()
    assert unseen > 0.95 and seen - unseen < 0.02


@pytest.mark.parametrize("nbits, k, id_bytes", [(2, 1, 0), (2, 64, 1), (2, 300, 2), (1, 64, 1), (4, 64, 1)])
def test_row_layout_and_save_load(e5_tokens, tmp_path, nbits, k, id_bytes):
    codec = ResidualCodec.fit(e5_tokens, nbits, k)
    codes = codec.encode(e5_tokens)
    assert codec.id_bytes == id_bytes and codes.shape == (len(e5_tokens), id_bytes + 384 * nbits // 8)
    if id_bytes:  # the id in front, little-endian, is the nearest centroid's
        ids = codes[:, 0].astype(np.int64) | (codes[:, 1].astype(np.int64) << 8 if id_bytes == 2 else 0)
        assert ids.max() < k and (ids.max() >= 256) == (id_bytes == 2)
    codec.save(tmp_path / "codec.npz")
    again = ResidualCodec.load(tmp_path / "codec.npz")
    np.testing.assert_array_equal(again.encode(e5_tokens), codes)
    np.testing.assert_array_equal(again.decode(codes), codec.decode(codes))
    assert cosines(codec.decode(codes), e5_tokens).mean() > {1: 0.9, 2: 0.96, 4: 0.99}[nbits]


def test_more_bits_code_closer(e5_tokens):
    means = [cosines(c.decode(c.encode(e5_tokens)), e5_tokens).mean() for c in (ResidualCodec.fit(e5_tokens, b, 64) for b in (1, 2, 4))]
    assert means[0] < means[1] < means[2]


def test_pack_puts_dimension_j_at_bits_nbits_j():
    digits = np.array([[1, 2, 3, 0, 3, 3, 3, 3]], np.uint8)
    assert pack(digits, 2).tolist() == [[1 | 2 << 2 | 3 << 4, 255]]
    assert bucketize(np.array([[-1.0, 0.5, 2.0]], np.float32), np.array([[0.0, 1.0]] * 3, np.float32)).tolist() == [[0, 1, 2]]


def test_centroid_count_follows_plaid_and_keeps_points_per_centroid():
    assert centroid_count(10) == 1
    assert centroid_count(11_000) == 256  # 11 000 / 32 points a centroid
    assert centroid_count(110_000_000) == 1 << 16  # PLAID's rule at a million passages, capped for 2-byte ids


def test_fit_refuses_nothing_to_fit():
    with pytest.raises(ValueError):
        ResidualCodec.fit(np.zeros((0, 8), np.float32))
    with pytest.raises(ValueError, match="whole bytes"):
        ResidualCodec.fit(np.ones((10, 6), np.float32), 2, 1)


def test_a_late_index_codes_what_it_is_given(e5_tokens):
    ids = np.arange(len(e5_tokens), dtype=np.int32)
    starts = np.zeros(len(e5_tokens), np.int32)
    late = LateIndex.fit([(e5_tokens, ids, starts)])
    (decoded,) = late.vectors([0])
    assert decoded.shape == e5_tokens.shape and cosines(decoded, e5_tokens).mean() > 0.96


def numpy_late_scores(codec: ResidualCodec, query: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
    """The kernel's definition: each passage's decoded tokens, best cosine per query token, mean."""
    return np.array([(query @ codec.decode(c).T).max(axis=1).mean() if len(c) else 0.0 for c in codes], np.float32)


def test_the_late_kernel_scores_the_builds_codes_as_numpy_does(searcher):
    late = searcher.stored.late
    rows = list(range(late.n_docs))
    codes = late.read_codes(rows)
    query = late.codec.decode(codes[0][:9])  # real token vectors as the question's
    np.testing.assert_allclose(coded_scores(late.codec, query, codes), numpy_late_scores(late.codec, query, codes), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(coded_scores(late.codec, query, codes), late.scores(query, rows), rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    nbits=st.sampled_from([1, 2, 4, 8]),
    k=st.sampled_from([1, 3, 300]),
    lengths=st.lists(st.integers(0, 9), min_size=0, max_size=12),
    n_query=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_the_late_kernel_agrees_with_numpy_on_any_codes(nbits, k, lengths, n_query, seed):
    rng = np.random.default_rng(seed)
    dim = 16
    vectors = rng.standard_normal((max(k * 2, 64), dim)).astype(np.float32)
    codec = ResidualCodec(vectors[:k], *fit_buckets(vectors - vectors.mean(axis=0), nbits), nbits)
    codes = [rng.integers(0, 256, (n, codec.row_bytes), dtype=np.uint8) for n in lengths]
    for c in codes:  # centroid ids inside the codec's
        if codec.id_bytes:
            ids = rng.integers(0, k, len(c))
            c[:, 0] = ids & 0xFF
            if codec.id_bytes == 2:
                c[:, 1] = ids >> 8
    query = rng.standard_normal((n_query, dim)).astype(np.float32)
    np.testing.assert_allclose(coded_scores(codec, query, codes), numpy_late_scores(codec, query, codes), rtol=1e-4, atol=1e-5)


def test_the_late_kernel_refuses_codes_it_would_misread(searcher):
    codec = searcher.stored.late.codec
    query = np.ones((2, codec.dim), np.float32)
    with pytest.raises(ValueError, match="uint8 rows"):
        coded_scores(codec, query, [np.zeros((3, codec.row_bytes + 1), np.uint8)])
    with pytest.raises(ValueError, match="uint8 rows"):
        coded_scores(codec, query, [np.zeros((3, codec.row_bytes), np.int32)])
    with pytest.raises(ValueError, match="query tokens"):
        coded_scores(codec, np.ones((2, codec.dim + 1), np.float32), [np.zeros((3, codec.row_bytes), np.uint8)])
    wide = ResidualCodec(np.zeros((3, 8), np.float32), np.zeros((8, 3), np.float32), np.zeros((8, 4), np.float32), 2)
    bad = np.zeros((2, wide.row_bytes), np.uint8)
    bad[1, 0] = 7  # centroid 7 of 3
    with pytest.raises(ValueError, match="centroid 7"):
        coded_scores(wide, np.ones((1, 8), np.float32), [bad])
