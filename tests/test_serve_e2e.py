"""End to end: `touyan serve` as a subprocess on a free port, driven by the official openai client.

The server starts with no configuration but a fresh index folder, so it builds the index
on first start; the test waits for /health, then chats (plain, streaming, follow-up).
"""
from __future__ import annotations

import time

import httpx
import pytest
from openai import OpenAI

from eval.serve_process import ServeProcess

QUESTION = "梦创社区服务多少家企业？"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The base URL of a running `touyan serve`, and its log file."""
    tmp = tmp_path_factory.mktemp("e2e")
    log_path = tmp / "serve.log"
    proc = ServeProcess(env={"TOUYAN_INDEX_DIR": str(tmp / "index")}, log_path=log_path)
    try:
        proc.start()
    except RuntimeError as e:
        pytest.fail(str(e))
    yield proc.url, log_path
    proc.stop()


@pytest.fixture(scope="module")
def client(server) -> OpenAI:
    url, _ = server
    return OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=60)


def test_first_start_builds_the_index_with_progress_in_the_log(server):
    url, log_path = server
    log = log_path.read_text()
    assert "encoding texts" in log and "index built" in log
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["cases"] > 0 and health["chunks"] > 0


def test_models(client):
    assert [m.id for m in client.models.list()] == ["touyan"]


def test_chat(client):
    completion = client.chat.completions.create(model="touyan", messages=[{"role": "user", "content": QUESTION}])
    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert "[1]" in content and "6000余家企业" in content
    assert "来源：" in content and "第33版" in content.split("来源：")[1]
    citations = completion.model_extra["citations"]
    assert citations and {"n", "chunk_id", "case", "page", "section", "quote"} <= citations[0].keys()


def test_chat_streaming(client):
    plain = client.chat.completions.create(model="touyan", messages=[{"role": "user", "content": QUESTION}])
    stream = client.chat.completions.create(model="touyan", messages=[{"role": "user", "content": QUESTION}], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert text == plain.choices[0].message.content
    assert "[1]" in text and "来源：" in text


def test_chat_follow_up(client):
    first_question = "仓前街道的专家点评是谁写的？"
    first = client.chat.completions.create(model="touyan", messages=[{"role": "user", "content": first_question}])
    messages = [
        {"role": "user", "content": first_question},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "那滨江呢？"},
    ]
    completion = client.chat.completions.create(model="touyan", messages=messages)
    assert completion.model_extra["touyan"]["question"] == "滨江的专家点评是谁写的？"
    sources = completion.choices[0].message.content.split("来源：")[1]
    assert "《杭州高新区(滨江)" in sources


def test_bad_request_is_a_4xx_and_the_server_keeps_serving(server, client):
    url, _ = server
    response = httpx.post(f"{url}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]
    assert httpx.post(f"{url}/search", content=b"x" * 70_000).status_code == 413
    assert httpx.get(f"{url}/health").json()["status"] == "ok"


def test_a_server_answers_at_once_and_questions_once_its_first_build_is_done(tmp_path):
    """A first start serves HTTP before the index is built: a question meanwhile gets 503 with
    Retry-After and the build's progress, and the same server answers it once the build is done."""
    proc = ServeProcess(env={"TOUYAN_INDEX_DIR": str(tmp_path / "index")}).launch()
    try:
        with httpx.Client(base_url=proc.url, timeout=120, trust_env=False) as http:
            early = None
            while early is None:  # until the port is open: the index build has not even begun
                assert proc.proc.poll() is None, proc.log_tail()
                try:
                    early = http.post("/ask", json={"question": QUESTION})
                except httpx.TransportError:
                    time.sleep(0.2)
            assert early.status_code == 503, early.text
            assert early.headers["retry-after"] == "5" and early.json()["detail"].startswith("the index is being built (")
            assert http.get("/health").status_code in (200, 503)
            while http.get("/health").status_code != 200:
                assert proc.proc.poll() is None, proc.log_tail()
                time.sleep(0.5)
            assert "6000" in http.post("/ask", json={"question": QUESTION}).json()["answer"]
    finally:
        proc.stop()
