"""Issue 15 over real HTTP: API keys, security headers, CORS, offline docs, the body timeout,
inputs that once crashed the server, and the contract the OpenAPI spec states.

One `touyan serve` on the session's shared index, with two API keys, a short body timeout
and one allowed browser origin.
"""
from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import openai
import pytest

from service.api.limits import Admission
from tests.conftest import running_server

KEYS = ("key-one", "key-two")
ORIGIN = "https://portal.example.org"


@pytest.fixture(scope="module")
def server(index_dir):
    env = {
        "TOUYAN_INDEX_DIR": str(index_dir),
        "TOUYAN_API_KEY": ",".join(KEYS),
        "TOUYAN_BODY_TIMEOUT": "1",
        "TOUYAN_CORS_ORIGINS": ORIGIN,
    }
    with running_server(env) as proc:
        yield proc


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=120, trust_env=False) as client:
        yield client


def bearer(key: str = KEYS[1]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---------------------------------------------------------------------------- API keys

def test_health_and_the_page_need_no_key(http):
    health = http.get("/health")
    assert health.status_code == 200 and health.json()["auth"] is True
    assert http.get("/").status_code == 200
    assert http.get("/static/app.js").status_code == 200


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Basic a2V5LW9uZQ=="}, {"Authorization": "Bearer"}])
def test_a_missing_or_wrong_key_is_a_401(http, headers):
    for method, path, body in [("POST", "/search", {"query": "梦创社区"}), ("GET", "/cases", None), ("GET", "/v1/models", None)]:
        response = http.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        message = response.json()["error"]["message"] if path.startswith("/v1/") else response.json()["detail"]
        assert "TOUYAN_API_KEY" in message


def test_any_configured_key_is_accepted(http):
    for key in KEYS:
        assert http.post("/search", json={"query": "梦创社区服务多少家企业？"}, headers=bearer(key)).status_code == 200


def test_openai_client_sends_its_key(server):
    good = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEYS[0], max_retries=0, timeout=120)
    reply = good.chat.completions.create(model="touyan", messages=[{"role": "user", "content": "梦创社区服务多少家企业？"}])
    assert "6000" in reply.choices[0].message.content
    bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0, timeout=120)
    with pytest.raises(openai.AuthenticationError, match="TOUYAN_API_KEY"):
        bad.chat.completions.create(model="touyan", messages=[{"role": "user", "content": "梦创社区"}])


# ---------------------------------------------------------------------------- headers, CORS, docs

def test_the_page_has_security_headers(http):
    page = http.get("/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'self'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script: every script is a file
    assert http.get("/health").headers["x-content-type-options"] == "nosniff"


def test_cors_allows_only_the_configured_origin(http):
    allowed = http.options("/search", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    other = http.post("/search", json={"query": "梦创社区"}, headers={"Origin": "https://evil.example", **bearer()})
    assert "access-control-allow-origin" not in other.headers


def test_docs_are_served_from_the_package_not_a_cdn(http):
    page = http.get("/docs")
    assert page.status_code == 200
    sources = [part.split('"')[1] for part in page.text.split(' src=')[1:]] + [part.split('"')[1] for part in page.text.split(' href=')[1:]]
    assert sources and all(src.startswith("/") for src in sources), sources
    for src in sources:
        assert http.get(src).status_code == 200, src
    assert "<script>" not in page.text
    assert http.get("/docs/__init__.py").status_code == 404  # only the listed assets


# ---------------------------------------------------------------------------- a slow body

def test_a_body_that_never_arrives_is_a_408(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=120) as s:
        s.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                  + f"Authorization: Bearer {KEYS[0]}\r\n\r\n".encode() + b'{"query": "')
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]


# ---------------------------------------------------------------------------- inputs that broke it once

@pytest.mark.parametrize("query", ["ﷺ" * 5, "ﷺ" * 1000, "㍿㍻㍼" * 300, "ﬃ" * 999, "e\u0301" * 500, "\U000f0000" * 100])
def test_characters_normalisation_expands_do_not_crash_the_server(http, query):
    for path, body in [("/search", {"query": query}), ("/ask", {"question": query}),
                       ("/v1/chat/completions", {"model": "touyan", "messages": [{"role": "user", "content": query}]})]:
        assert http.post(path, json=body, headers=bearer()).status_code == 200, path
    assert http.get("/health").status_code == 200


def test_a_lone_surrogate_in_an_earlier_message_is_a_422(http):
    body = '{"model": "touyan", "messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "?"}, {"role": "user", "content": "那钱塘呢？"}]}'
    response = http.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json", **bearer()})
    assert response.status_code == 422, response.text
    assert "surrogate" in response.json()["error"]["message"]


def test_an_unknown_role_is_a_422(http):
    body = {"model": "touyan", "messages": [{"role": "wizard", "content": "梦创社区"}]}
    response = http.post("/v1/chat/completions", json=body, headers=bearer())
    error = response.json()["error"]
    assert response.status_code == 422 and error["param"] == "messages.0" and "'wizard'" in error["message"] and "'user'" in error["message"]


# ---------------------------------------------------------------------------- the contract

def test_the_spec_lists_every_status_the_server_answers(http):
    spec = http.get("/openapi.json").json()
    for path in ("/search", "/ask", "/v1/chat/completions"):
        assert set(spec["paths"][path]["post"]["responses"]) == {"200", "400", "401", "404", "408", "413", "415", "422", "503"}, path
    assert set(spec["paths"]["/health"]["get"]["responses"]) == {"200", "408", "413", "503"}
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert spec["paths"]["/search"]["post"]["security"] == [{"apiKey": []}]
    schemas = spec["components"]["schemas"]
    roles = set(schemas["ChatMessage"]["properties"]["role"]["enum"]) | {schemas["UserMessage"]["properties"]["role"]["const"]}
    assert roles == {"system", "developer", "user", "assistant", "tool", "function"}


# ---------------------------------------------------------------------------- admission (pure logic)

def test_admission_queues_then_refuses_at_once_with_retry_after():
    """Two slots are one running and one waiting; a third request is refused at once, and the
    waiting one runs when the first finishes."""
    async def scenario():
        release = asyncio.Event()
        started = []

        async def app(scope, receive, send):
            started.append(scope["path"])
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        gate = Admission(app, active=1, queue=1, paths={"/ask"})
        sent: dict[int, list] = {1: [], 2: [], 3: []}

        async def call(n):
            async def send(message):
                sent[n].append(message)
            await gate({"type": "http", "path": "/ask", "method": "POST"}, None, send)

        first = asyncio.create_task(call(1))
        await asyncio.sleep(0)
        second = asyncio.create_task(call(2))
        await asyncio.sleep(0)
        await call(3)  # returns at once: the queue is full
        refused = sent[3][0]
        assert refused["status"] == 503 and (b"retry-after", b"1") in refused["headers"]
        assert json.loads(sent[3][1]["body"])["detail"].startswith("the server is busy")
        assert started == ["/ask"] and gate.waiting == 1
        release.set()
        await asyncio.gather(first, second)
        assert started == ["/ask", "/ask"] and gate.running == 0 and gate.waiting == 0
        assert sent[1][0]["status"] == sent[2][0]["status"] == 200

    asyncio.run(scenario())
