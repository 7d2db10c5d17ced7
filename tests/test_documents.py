"""Issue 16 over real HTTP: documents in through the API — a two-column Chinese PDF with page
labels, a Word file, a web page — indexed in the background, answered with the page they print,
refused clearly when they cannot be read, recognised when sent twice, gone from answers at
once when deleted. One `touyan serve` on a writable copy of the shared index."""
from __future__ import annotations

import re
import time

import httpx
import pytest
from docx import Document as new_docx

from tests.conftest import copy_index, running_server
from tests.test_readers import newspaper_pdf, zip_bomb
from reportlab.lib.pdfencrypt import StandardEncryption

KEY = "documents-key"
REPORT = "城市书房"
# Facts the bundled report does not hold, one per page of the PDF (labelled 第40版, 第41版).
PAGE_ONE = "临平区今年新建了12座城市书房，每座书房都安排了24小时自助借阅，周末还有亲子阅读活动。"
PAGE_TWO = "书房管理员王晓燕介绍，城市书房开放以来累计接待读者37万人次，借出图书9万余册，读者满意度达到98%。"
FILLER = "城市书房由街道负责日常运营，图书由区图书馆统一配送，实现通借通还。居民可以用市民卡刷卡进门。"
PDF_PAGES = [
    [("title", "临平：城市书房点亮书香生活"), ("byline", "张三 李四"), ("p", PAGE_ONE), ("p", FILLER * 3)],
    [("subhead", "阅读服务 走进社区"), ("p", PAGE_TWO), ("p", FILLER * 3)],
]


def docx_file() -> bytes:
    doc = new_docx()
    doc.add_heading("桐庐：县城公交一卡通", level=1)
    doc.add_paragraph("王五 赵六")
    doc.add_paragraph("桐庐县开通了18条城乡公交线路，乘客刷一张卡就能坐遍全县，票价统一为2元。")
    doc.add_heading("便民出行", level=2)
    doc.add_paragraph("县交通局表示，公交一卡通上线半年，日均客流量增长了三成。")
    out = __import__("io").BytesIO()
    doc.save(out)
    return out.getvalue()


HTML = """<!doctype html><html><head><meta charset="utf-8"><title>建德：草莓小镇</title></head><body>
<nav><a href="/">首页</a> | <a href="/news">新闻</a></nav>
<article><h1>建德：草莓小镇</h1><p>孙七 周八</p>
<p>建德市杨村桥镇种植草莓1.6万亩，草莓年产值达到8亿元，带动了周边4000多户农民增收。</p>
<h2>电商助农</h2><p>镇里建起草莓直播间，旺季每天通过网络卖出草莓两万多斤。</p></article>
<footer>版权所有</footer></body></html>""".encode()


@pytest.fixture(scope="module")
def server(index_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("documents")
    env = {"TOUYAN_INDEX_DIR": str(copy_index(index_dir, tmp / "index")), "TOUYAN_DOCUMENTS_DIR": str(tmp / "documents"), "TOUYAN_API_KEY": KEY}
    with running_server(env) as proc:
        yield proc


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=300, trust_env=False, headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


def upload(http, name: str, data: bytes, report: str | None = REPORT):
    return http.post("/documents", files={"file": (name, data)}, data={"report": report} if report else None)


def until_settled(http, document_id: str) -> dict:
    """Poll the document until its build has finished; no deadline a busy machine could miss but a generous hang guard."""
    give_up = time.monotonic() + 1800
    while time.monotonic() < give_up:
        doc = http.get(f"/documents/{document_id}").json()
        if doc["status"] in ("ready", "failed"):
            return doc
        time.sleep(0.5)
    pytest.fail(f"document {document_id} still {doc['status']}")


@pytest.fixture(scope="module")
def pdf(http):
    data = newspaper_pdf(PDF_PAGES, first_label=40)[0]
    response = upload(http, "书房.pdf", data)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] in ("queued", "indexing") and body["pages"] == 2 and body["report"] == REPORT
    assert response.headers["location"] == f"/documents/{body['id']}"
    settled = until_settled(http, body["id"])
    assert settled["status"] == "ready", settled
    return data, settled


def test_a_pdf_fact_is_answered_with_the_page_it_is_printed_on(http, pdf):
    _, doc = pdf
    answer = http.post("/ask", json={"question": "城市书房开放以来接待了多少读者？"}).json()
    assert answer["found"], answer
    cited = [c for c in answer["citations"] if c["document_id"] == doc["id"]]
    assert cited and "37万人次" in "".join(c["quote"] for c in cited)
    assert {(c["pdf_page"], c["page_label"], c["report"]) for c in cited} == {(2, "第41版", REPORT)}
    first_page = http.post("/ask", json={"question": "临平区今年新建了多少座城市书房？"}).json()
    assert any(c["pdf_page"] == 1 and c["page_label"] == "第40版" for c in first_page["citations"] if c["document_id"] == doc["id"])


def test_the_file_opens_as_it_was_uploaded(http, pdf):
    data, doc = pdf
    response = http.get(f"/documents/{doc['id']}/file")
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-type"] == "application/pdf" and response.headers["content-disposition"].startswith("inline")


def test_the_same_content_twice_is_recognised(http, pdf):
    data, doc = pdf
    again = upload(http, "another-name.pdf", data)
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["id"] == doc["id"]
    assert [d["id"] for d in http.get("/documents").json()["documents"]].count(doc["id"]) == 1


def test_word_and_web_pages_are_indexed_too(http, pdf):
    for name, data, question, fact in [
        ("公交.docx", docx_file(), "桐庐县开通了多少条城乡公交线路？", "18条"),
        ("草莓.html", HTML, "杨村桥镇种植了多少亩草莓？", "1.6万亩"),
    ]:
        response = upload(http, name, data)
        assert response.status_code == 202, response.text
        assert until_settled(http, response.json()["id"])["status"] == "ready"
        answer = http.post("/ask", json={"question": question}).json()
        assert answer["found"] and fact in answer["answer"], (name, answer["answer"])
        assert answer["citations"][0]["pdf_page"] is None and answer["citations"][0]["report"] == REPORT


@pytest.mark.parametrize(
    ("name", "data", "status", "reason"),
    [
        ("locked.pdf", newspaper_pdf(PDF_PAGES[:1], encrypt=StandardEncryption("secret", ownerPassword="owner"))[0], 422, "encrypted"),
        ("cut.pdf", newspaper_pdf(PDF_PAGES)[0][:2000], 422, "truncated"),
        ("page.pdf", HTML, 422, "HTML"),
        ("bomb.docx", zip_bomb(200, 1), 422, "zip bomb"),
        ("empty.txt", b"", 422, "empty"),
        ("notes.odt", b"PK\x03\x04", 415, "unsupported file type"),
    ],
)
def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_lost(http, pdf, name, data, status, reason):
    before = http.get("/documents").json()["documents"]
    response = upload(http, name, data)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(f"{name}: ") and reason.lower() in response.json()["detail"].lower()
    assert http.get("/documents").json()["documents"] == before
    assert "6000余家企业" in http.post("/ask", json={"question": "梦创社区服务多少家企业？"}).json()["answer"]


def test_reports_list_and_filter(http, pdf):
    reports = {r["id"]: r for r in http.get("/reports").json()["reports"]}
    assert {"seeds", REPORT} <= reports.keys() and reports["seeds"]["title"] == "头雁先飞——杭州精品改革案例智库报告"
    only = http.post("/search", json={"query": "城市书房", "report": REPORT}).json()["results"]
    assert only and {r["report"] for r in only} == {REPORT}
    assert http.post("/search", json={"query": "城市书房", "report": "no-such"}).status_code == 404


def test_writes_need_a_key_and_a_bad_report_name_is_refused(server, http):
    anonymous = httpx.post(f"{server.url}/documents", files={"file": ("a.txt", b"x")}, trust_env=False)
    assert anonymous.status_code == 401
    assert upload(http, "a.md", "# 标题\n\n内容。".encode(), report="../escape").status_code == 422


def test_a_deleted_document_leaves_the_answers_at_once(http, pdf):
    _, doc = pdf
    gone = http.delete(f"/documents/{doc['id']}")
    assert gone.status_code == 200 and gone.json()["id"] == doc["id"]
    answer = http.post("/ask", json={"question": "城市书房开放以来接待了多少读者？"}).json()
    assert all(c["document_id"] != doc["id"] for c in answer["citations"])
    assert all(r["document_id"] != doc["id"] for r in answer["results"])
    assert http.get(f"/documents/{doc['id']}").status_code == 404
    assert http.get(f"/documents/{doc['id']}/file").status_code == 404


def test_the_page_picks_a_report_and_opens_a_cited_pdf_at_its_page(server, http, pdf, tmp_path):
    """The chat page: a picker of reports (the index holds two), and a citation of the PDF opens
    the file, fetched with the key, at the page the passage is on."""
    from playwright.sync_api import expect, sync_playwright

    from tests.test_browser import CHROMIUM, LAUNCH_ARGS

    _, doc = pdf
    if http.get(f"/documents/{doc['id']}").status_code == 404:  # deleted by the test before: upload it again
        doc = until_settled(http, upload(http, "书房.pdf", newspaper_pdf(PDF_PAGES, first_label=40)[0]).json()["id"])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_context(locale="zh-CN").new_page()
        page.set_default_timeout(120_000)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.fill("#api-key", KEY)
        page.click("#key-save")
        expect(page.locator("#report-pick")).to_be_visible()
        page.select_option("#report", REPORT)
        page.fill("#question", "城市书房开放以来接待了多少读者？")
        page.press("#question", "Enter")
        answer = page.locator(".msg.assistant").first
        expect(answer).to_have_attribute("data-state", "done")
        asked = page.evaluate("window.touyan.state.turns[0].citations")
        assert asked and all(c["report"] == REPORT for c in asked)
        answer.locator(".cited-item").first.click()
        button = page.locator(".open-file-button")
        expect(button).to_contain_text("第 2 页（第41版）")
        with page.context.expect_page() as opened:
            button.click()
        tab = opened.value
        tab.wait_for_url(re.compile(r"^blob:.*#page=2$"))  # opened blank, then sent to the fetched file
        assert not errors, errors
        browser.close()
