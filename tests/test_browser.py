"""The chat page at ``/``, driven in a real browser: Debian's Chromium, headless, via Playwright.

The real server runs as a subprocess (``touyan serve`` on a free port, its index built into a
temporary folder on first start). The tests ask a question, wait for the streamed answer,
open a citation, ask a follow-up, browse the cases, and check the error messages and the
phone layout. On failure a screenshot (and the server's log) is saved in ``test-artifacts/``.

Chromium comes from Debian (``make browser``): browsers that download themselves do not work
here, so never run ``playwright install``. Outside CI the module is skipped when
``/usr/bin/chromium`` is missing; with ``CI=true`` it never is. To drive the page against
another server (a stub, say), set ``TOUYAN_BROWSER_SERVE_CMD`` to a command taking ``--port N``.
"""
from __future__ import annotations

import json
import re
import os
import shlex
import shutil
from pathlib import Path

import pytest

from eval.serve_process import ServeProcess

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ANSWER_TIMEOUT = 120_000  # ms

if not CHROMIUM.exists() and not IN_CI:
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (`make browser` installs it)",
                allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

QUESTION = "梦创社区服务多少家企业？"
FOLLOW_UP = "那江洲村呢？"


# ---------------------------------------------------------------------------- the server

def start_server(index_dir: Path, log_path: Path) -> ServeProcess:
    """`touyan serve` on ``index_dir`` (or TOUYAN_BROWSER_SERVE_CMD, which gets ``--port N``)."""
    custom = os.environ.get("TOUYAN_BROWSER_SERVE_CMD")
    server = ServeProcess(env={"TOUYAN_INDEX_DIR": str(index_dir)}, log_path=log_path,
                          command=shlex.split(custom) if custom else None)
    try:
        return server.start()
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def server(index_dir, tmp_path_factory, request):
    log = tmp_path_factory.mktemp("browser-server") / "serve.log"
    srv = start_server(index_dir, log)
    failed_before = request.session.testsfailed
    yield srv
    srv.stop()
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / "browser-serve.log")


# ---------------------------------------------------------------------------- the browser

@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


def _new_page(browser, request, **context_args):
    ctx = browser.new_context(locale="zh-CN", **context_args)
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.errors = []        # uncaught exceptions in the page
    page.requests = []      # every request the page made
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r))
    return ctx, page


def _screenshot_on_failure(request, page, failed_before, suffix=""):
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(exist_ok=True)
        name = request.node.name.replace("/", "_") + suffix
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.html").write_text(page.content(), encoding="utf-8")
        except Exception as e:  # the page may be gone already
            print(f"no screenshot for {name}: {e}")


@pytest.fixture
def page(browser, request):
    """A desktop-sized page; screenshot into test-artifacts/ when the test fails."""
    ctx, pg = _new_page(browser, request, viewport={"width": 1280, "height": 900})
    failed_before = request.session.testsfailed
    yield pg
    _screenshot_on_failure(request, pg, failed_before)
    ctx.close()


@pytest.fixture
def phone(browser, request):
    """A 375×740 phone screen with touch."""
    ctx, pg = _new_page(browser, request, viewport={"width": 375, "height": 740},
                        device_scale_factor=2, is_mobile=True, has_touch=True)
    failed_before = request.session.testsfailed
    yield pg
    _screenshot_on_failure(request, pg, failed_before)
    ctx.close()


# ---------------------------------------------------------------------------- helpers

def open_page(page: Page, server: ServeProcess) -> None:
    page.goto(server.url + "/")
    expect(page).to_have_title("头雁 · 杭州精品改革案例问答")
    expect(page.locator("#status")).to_contain_text("案例")   # /health answered: 已收录 N 个案例


def ask(page: Page, question: str):
    """Type a question, press Enter, wait for the streamed answer to end; return its element."""
    before = page.locator(".msg.assistant").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    answer = page.locator(".msg.assistant").nth(before)
    expect(answer).to_be_visible()
    expect(answer).not_to_have_attribute("data-state", "streaming", timeout=ANSWER_TIMEOUT)
    state = answer.get_attribute("data-state")
    assert state == "done", f"answer ended {state}: {answer.inner_text()}"
    return answer


def open_citation_of_case(page: Page, answer, case_part: str):
    """Click the answer's [n] marks in turn until the drawer shows the case; return n."""
    marks = answer.locator(".answer .cite")
    assert marks.count() >= 1, f"no [n] marks in the answer: {answer.inner_text()}"
    seen = []
    for i in range(marks.count()):
        marks.nth(i).click()
        drawer = page.locator("#drawer")
        expect(drawer).to_be_visible()
        case = drawer.locator(".meta-case dd").inner_text()
        if case_part in case:
            return int(marks.nth(i).get_attribute("data-n"))
        seen.append(case)
        page.keyboard.press("Escape")
        expect(drawer).to_be_hidden()
    pytest.fail(f"no citation of {case_part!r}; the marks open {seen}")


def no_horizontal_overflow(page: Page, what: str) -> None:
    widths = page.evaluate("""() => {
        const out = {page: [document.documentElement.scrollWidth, document.documentElement.clientWidth]};
        for (const sel of ['#log', '#panel-cases', '#drawer-body', '.ask']) {
            const el = document.querySelector(sel);
            if (el && el.offsetParent !== null) out[sel] = [el.scrollWidth, el.clientWidth];
        }
        return out;
    }""")
    for name, (scroll, client) in widths.items():
        assert scroll <= client + 1, f"{what}: {name} is {scroll}px wide in a {client}px box"


# ---------------------------------------------------------------------------- the tests

def test_ask_cite_and_follow_up(page: Page, server: ServeProcess):
    chat_calls = []
    page.on("request", lambda r: chat_calls.append(r) if r.url.endswith("/v1/chat/completions") else None)
    open_page(page, server)

    first = ask(page, QUESTION)
    text = first.locator(".answer").inner_text()
    assert "6000" in text, text

    # The answer came as server-sent events, in several pieces, read to the closing [DONE].
    assert json.loads(chat_calls[0].post_data)["stream"] is True
    assert "text/event-stream" in chat_calls[0].response().headers.get("content-type", "")
    events, done = page.evaluate("[window.touyan.state.turns[0].events, window.touyan.state.turns[0].sawDone]")
    assert events >= 3 and done, (events, done)

    # A [n] mark opens the cited passage: its case, page and the quoted sentence highlighted.
    n = open_citation_of_case(page, first, "仓前街道")
    drawer = page.locator("#drawer")
    expect(drawer.locator(".meta-page dd")).to_have_text("第33版")
    expect(drawer.locator(".meta-section dd")).not_to_be_empty()
    mark = drawer.locator(".passage-full mark.quote")
    expect(mark).to_have_count(1)
    quote = page.evaluate(f"window.touyan.state.turns[0].citations.find(c => c.n === {n}).quote")
    assert mark.inner_text().strip() == quote.strip()
    assert quote.strip() in drawer.locator(".passage-full").inner_text()
    page.click("#drawer-close")
    expect(drawer).to_be_hidden()

    # The citations under the answer, and the other passages found, each expandable.
    expect(first.locator(".cited-item").first).to_contain_text("第")
    others = first.locator(".others .passage")
    assert others.count() >= 1, first.inner_text()
    expect(first.locator(".others .passage-meta").first).to_contain_text(" · ")
    others.first.locator("summary").click()
    expect(others.first.locator(".passage-text")).to_be_visible()
    expect(others.first.locator(".passage-text")).not_to_be_empty()

    # A follow-up keeps the conversation: the whole history goes to the server.
    second = ask(page, FOLLOW_UP)
    assert second.locator(".answer").inner_text().strip()
    streamed = [json.loads(r.post_data) for r in chat_calls if json.loads(r.post_data).get("stream")]
    assert len(streamed) == 2, [r.post_data for r in chat_calls]
    body = streamed[-1]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == QUESTION and body["messages"][2]["content"] == FOLLOW_UP
    assert body["messages"][1]["content"] == page.evaluate("window.touyan.state.turns[0].text")
    expect(page.locator(".msg.user")).to_have_count(2)
    # The report does not say how many firms 江洲村 serves: a not-found reply, 江洲村's passages as related reading.
    expect(second.locator(".others")).to_be_visible()
    assert "江洲" in second.locator(".cited").inner_text() + second.locator(".others").inner_text()

    # Everything the page loaded came from the server itself: no CDN, no outside fonts.
    outside = [r.url for r in page.requests if not r.url.startswith(server.url) and not r.url.startswith("data:")]
    assert not outside, outside
    assert not page.errors, page.errors


def test_follow_up_answers_about_the_new_subject(page: Page, server: ServeProcess):
    open_page(page, server)
    ask(page, "仓前街道的专家点评是谁写的？")
    second = ask(page, "那滨江呢？")
    cited_cases = second.locator(".cited-item .cited-case").all_inner_texts()
    assert cited_cases and all("滨江" in c for c in cited_cases), cited_cases


def test_case_browser(page: Page, server: ServeProcess):
    open_page(page, server)
    page.click("#tab-cases")
    expect(page.locator("#panel-cases")).to_be_visible()
    expect(page.locator("#panel-chat")).to_be_hidden()
    group = page.locator(".page-group[data-page='29']")
    expect(group.locator(".page-title")).to_have_text("第29版")
    expect(group).to_contain_text("余杭")
    expect(group).to_contain_text("紫金港科技城")

    # Pages in order, the preface (no page) apart.
    pages = page.eval_on_selector_all(".page-group", "els => els.map(e => e.dataset.page)")
    numbered = [int(p) for p in pages if p != "none"]
    assert numbered == sorted(numbered) and {28, 29, 33, 35} <= set(numbered), pages

    # A case opens its sections, the expert commentary marked.
    case = group.locator("details.case", has_text="余杭")
    case.locator("summary").click()
    expect(case.locator(".section-list")).to_be_visible()
    expect(case.locator(".section-item")).to_have_count(5)
    expect(case.locator(".section-item.kind-commentary")).to_contain_text("专家点评")
    expect(case).to_contain_text("“321”破难事、办实事机制改革")
    assert not page.errors, page.errors


def test_empty_question_shows_a_message(page: Page, server: ServeProcess):
    open_page(page, server)
    page.click("#send")
    expect(page.locator("#form-error")).to_contain_text("请输入问题")
    expect(page.locator("#question")).to_have_attribute("aria-invalid", "true")
    page.fill("#question", "   ")
    page.press("#question", "Enter")
    expect(page.locator("#form-error")).to_contain_text("请输入问题")
    expect(page.locator(".msg")).to_have_count(0)
    page.fill("#question", "梦")            # typing clears the message
    expect(page.locator("#form-error")).to_be_empty()


def test_phone_layout(phone: Page, server: ServeProcess):
    open_page(phone, server)
    no_horizontal_overflow(phone, "start")
    answer = ask(phone, QUESTION)
    no_horizontal_overflow(phone, "answer")
    expect(phone.locator("#send")).to_be_in_viewport()
    answer.locator(".answer .cite").first.tap()
    drawer = phone.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(drawer.locator("mark.quote")).to_be_visible()
    box = drawer.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 376, box
    no_horizontal_overflow(phone, "citation drawer")
    phone.click("#drawer-close")
    phone.click("#tab-cases")
    phone.locator(".page-group[data-page='33'] details.case summary").first.click()
    no_horizontal_overflow(phone, "case browser")
    assert not phone.errors, phone.errors


def test_server_down_shows_a_clear_message(page: Page, server: ServeProcess, index_dir, tmp_path):
    # A second server on the same index, stopped once the page is loaded.
    down = start_server(index_dir, tmp_path / "serve.log")
    try:
        open_page(page, down)
    finally:
        down.stop()
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    answer = page.locator(".msg.assistant").first
    expect(answer).to_have_attribute("data-state", "error", timeout=30_000)
    expect(answer.locator(".msg-error")).to_contain_text("无法连接到服务器")
    expect(answer.locator(".msg-error button.retry")).to_be_visible()
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("未连接")
    expect(page.locator("#question")).to_be_editable()   # the page stays usable
    page.click("#tab-cases")
    expect(page.locator("#cases .error-box")).to_contain_text("无法连接到服务器")
    assert not page.errors, page.errors


def test_a_server_with_an_api_key_asks_for_it_once(page: Page, index_dir, tmp_path):
    """With TOUYAN_API_KEY the page asks for the key, keeps it in the browser and sends it."""
    keyed = ServeProcess(env={"TOUYAN_INDEX_DIR": str(index_dir), "TOUYAN_API_KEY": "page-key"}, log_path=tmp_path / "serve.log")
    try:
        keyed.start()
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        open_page(page, keyed)
        expect(page.locator("#key-form")).to_be_visible()
        page.fill("#api-key", "page-key")
        page.click("#key-save")
        expect(page.locator("#key-form")).to_be_hidden()
        assert "6000" in ask(page, QUESTION).locator(".answer").inner_text()
        assert page.evaluate("localStorage.getItem('touyan.apiKey')") == "page-key"
        page.reload()
        expect(page.locator("#status")).to_contain_text("案例")
        expect(page.locator("#key-form")).to_be_hidden()  # remembered
        page.evaluate("localStorage.setItem('touyan.apiKey', 'stale')")
        page.fill("#question", QUESTION)
        page.press("#question", "Enter")
        expect(page.locator("#key-form")).to_be_visible()  # a wrong key asks again
        expect(page.locator("#key-label")).to_contain_text("无效")
        assert not page.errors, page.errors
    finally:
        keyed.stop()


def test_a_not_found_reply_is_shown_as_such_with_related_reading(page: Page, server: ServeProcess):
    """Issue 14: the report has nothing on it, and the nearest passages are related reading, not sources."""
    open_page(page, server)
    answer = ask(page, "红烧肉怎么做才能肥而不腻？")
    expect(answer).to_have_class(re.compile(r"\bnot-found\b"))
    expect(answer.locator(".not-found-badge")).to_have_text("报告中没有相关内容")
    expect(answer.locator(".answer")).to_contain_text("报告中没有找到")
    expect(answer.locator(".cited")).to_be_hidden()
    expect(answer.locator(".others .sub-title")).to_contain_text("相关阅读")
    found = ask(page, QUESTION)
    expect(found).not_to_have_class(re.compile(r"\bnot-found\b"))
    assert not page.errors, page.errors
