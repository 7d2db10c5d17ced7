"""Measure the PDF and HTML libraries on the readers' test documents: reading order, furniture, speed.

    python -m eval.bench_readers [--broadsheet-pages 8] [--rounds 3] [--json out.json]

PDF: pypdfium2, pdfplumber and pdfminer.six, each (a) with its own text extraction and (b)
handing its glyphs to index/readers/layout.py. HTML: selectolax with the rules of
index/readers/html.py against trafilatura. The documents are the ones tests/test_readers.py
builds, plus a dense broadsheet (A3, five columns) for speed, plus (when fpdf2 and Debian's
fonts-noto-cjk are installed) a page from a second producer with an embedded CJK font. Needs
the libraries it compares: `pip install -e '.[dev,bench]'`. Figures and the choice:
docs/documents.md.
"""
from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
import trafilatura
from pdfminer.high_level import extract_text as pdfminer_text
from pdfminer.layout import LAParams

from index.readers.document import compose_pages
from index.readers.html import HtmlReader
from index.readers.layout import Glyph, PageLines, lay_out, page_lines
from index.readers.pdf import PdfReader, open_pdf, read_page
from tests.test_readers import (
    BYLINE,
    PAGES,
    SENTENCES,
    SUBHEADS,
    TITLE,
    TWO_ARTICLES,
    expected_page_text,
    newspaper_pdf,
    paragraphs,
    report_html,
)

FURNITURE = re.compile(r"头雁先飞|星期五|^\s*-\s*\d+\s*-\s*$", re.MULTILINE)


def broadsheet_pages(n: int) -> list[list[tuple[str, str]]]:
    """Pages of about 5,000 characters: a title, a byline, five columns of 9-point text."""
    return [[("title", TITLE), ("byline", BYLINE), *[("p", t) for t in paragraphs(page, 34)]] for page in range(n)]


NOTO_SERIF_CJK = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")  # Debian's fonts-noto-cjk


def fpdf2_pdf() -> tuple[bytes, list[list[tuple[str, str]]]] | None:
    """A second producer: fpdf2 breaks and justifies the lines itself, in two columns, with an
    embedded subset of Noto Serif CJK (CFF outlines, ToUnicode map). None without fpdf2 or the font."""
    try:
        from fpdf import FPDF
    except ImportError:
        return None
    if not NOTO_SERIF_CJK.exists():
        return None
    body = paragraphs(0, 16)
    pdf = FPDF(format="A4")
    pdf.add_font("noto", fname=str(NOTO_SERIF_CJK), collection_font_number=2)  # 2: Simplified Chinese

    def head() -> None:
        pdf.set_font("noto", size=8)
        pdf.set_xy(15, 8)
        pdf.cell(0, 5, f"头雁先飞 第{32 + pdf.page_no()}版")
        pdf.set_xy(-60, 8)
        pdf.cell(45, 5, "2023年11月3日 星期五", align="R")

    def foot() -> None:
        pdf.set_y(-15)
        pdf.set_font("noto", size=8)
        pdf.cell(0, 5, f"{pdf.page_no()}", align="C")

    pdf.header, pdf.footer = head, foot
    pdf.add_page()
    pdf.set_font("noto", size=18)
    pdf.set_xy(15, 20)
    pdf.cell(0, 10, TITLE)
    pdf.ln(14)
    pdf.set_font("noto", size=10)
    with pdf.text_columns(ncols=2, gutter=8, text_align="J", l_margin=15, r_margin=15) as columns:
        for text in body:
            with columns.paragraph(first_line_indent=7) as paragraph:
                paragraph.write(text=text)
    return bytes(pdf.output()), [[("title", TITLE), *[("p", t) for t in body]]]


def pdf_documents(broadsheet: int) -> dict[str, tuple[bytes, list[list[tuple[str, str]]]]]:
    """name → (PDF bytes, each page's blocks as built)."""
    a3 = (842.0, 1191.0)
    three = [PAGES[0] + [("p", t) for t in paragraphs(3, 3)]]
    big = broadsheet_pages(broadsheet)
    other = fpdf2_pdf()
    return {
        **({"fpdf2, embedded Noto Serif CJK, 2 columns": other} if other else {}),
        "A4 2 columns, 3 pages, drawn by columns": (newspaper_pdf(PAGES)[0], PAGES),
        "A4 2 columns, 3 pages, drawn by rows": (newspaper_pdf(PAGES, drawn_by_rows=True)[0], PAGES),
        "A4 3 columns, drawn by rows": (newspaper_pdf(three, columns=3, drawn_by_rows=True)[0], three),
        "A4 two articles, drawn by rows": (newspaper_pdf([TWO_ARTICLES], drawn_by_rows=True)[0], [TWO_ARTICLES]),
        f"A3 5 columns 9 pt, {broadsheet} pages, drawn by rows": (
            newspaper_pdf(big, columns=5, size=a3, body=9.0, drawn_by_rows=True)[0],
            big,
        ),
    }


# PDF backends: each gives page texts its own way, and glyphs for our layout.


def pdfium_native(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    try:
        return [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()


def pdfium_pages(data: bytes) -> list[PageLines]:
    pdf = open_pdf(data)
    try:
        return [read_page(pdf, i)[0] for i in range(len(pdf))]
    finally:
        pdf.close()


def plumber_native(data: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def plumber_pages(data: bytes) -> list[PageLines]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [
            PageLines(
                n + 1,
                float(page.width),
                float(page.height),
                tuple(page_lines(Glyph(c["text"], c["x0"], c["top"], c["x1"], c["bottom"]) for c in page.chars)),
            )
            for n, page in enumerate(pdf.pages)
        ]


def pdfminer_native(data: bytes) -> list[str]:
    # pdfminer's own layout analysis (text boxes ordered by boxes_flow) is its answer to columns.
    return pdfminer_text(io.BytesIO(data), laparams=LAParams()).split("\f")[: _page_count(data)]


def _page_count(data: bytes) -> int:
    pdf = pdfium.PdfDocument(data)
    try:
        return len(pdf)
    finally:
        pdf.close()


def with_layout(pages: Callable[[bytes], list[PageLines]]) -> Callable[[bytes], list[str]]:
    def read(data: bytes) -> list[str]:
        laid = lay_out(pages(data))
        text, spans = compose_pages([(p.blocks, p.label) for p in laid])
        return [text[s.start : s.end] for s in spans]

    return read


PDF_BACKENDS: dict[str, Callable[[bytes], list[str]]] = {
    "pypdfium2 get_text_range": pdfium_native,
    "pdfplumber extract_text": plumber_native,
    "pdfminer.six extract_text (LAParams)": pdfminer_native,
    "pypdfium2 glyphs + layout.py": with_layout(pdfium_pages),
    "pdfplumber chars + layout.py": with_layout(plumber_pages),
}


def _squash(text: str) -> str:
    return "".join(text.split())


def score_pdf(pages: list[str], built: list[list[tuple[str, str]]]) -> dict:
    """Paragraphs read whole (column order), pages exactly right, pages still carrying furniture."""
    found = total = exact = furniture = 0
    for text, blocks in zip(pages, built):
        squashed = _squash(text)
        body = [t for kind, t in blocks if kind == "p"]
        total += len(body)
        found += sum(_squash(t) in squashed for t in body)
        exact += text == expected_page_text(blocks)
        furniture += bool(FURNITURE.search(text))
    return {"paragraphs_whole": f"{found}/{total}", "pages_exact": f"{exact}/{len(built)}", "pages_with_furniture": furniture}


def timed(fn: Callable, arg, rounds: int) -> tuple[object, float]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn(arg)
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def bench_pdf(broadsheet: int, rounds: int) -> list[dict]:
    rows = []
    for doc_name, (data, built) in pdf_documents(broadsheet).items():
        for backend, read in PDF_BACKENDS.items():
            pages, seconds = timed(read, data, rounds)
            rows.append({"document": doc_name, "backend": backend, **score_pdf(pages, built), "ms_per_page": round(seconds * 1000 / len(built), 1)})
        _, seconds = timed(lambda d: PdfReader().read(d, "x.pdf"), data, rounds)
        rows.append({"document": doc_name, "backend": "PdfReader (all of it)", "ms_per_page": round(seconds * 1000 / len(built), 1)})
    return rows


# HTML: the test page plus the kinds of page the service will meet.

GOV_PAGE = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>{SUBHEADS[2]}_杭州市人民政府门户网站</title></head><body>
<div class="top"><div class="logo">杭州市人民政府</div><div class="nav"><a>首页</a><a>政务公开</a><a>政务服务</a><a>互动交流</a></div></div>
<div class="dqwz">当前位置：首页 &gt; 政务动态 &gt; 部门动态</div>
<div class="main"><div class="left">
<div class="title"><h1>{SUBHEADS[2]}</h1></div><div class="info">发布日期：2023-11-03 来源：市数据资源局 浏览次数：1024</div>
<div id="zoom">
<p>　　{SENTENCES[10]}</p><p>　　{SENTENCES[11]}</p>
<p><strong>一、窗口服务</strong></p><p>　　{SENTENCES[3]}</p>
</div>
<div class="fx">分享到：微信 微博 QQ空间</div><div class="print">【打印本页】【关闭窗口】</div>
</div>
<div class="right"><div class="rdtj">热点推荐</div><ul><li><a>杭州发布重要通知</a></li><li><a>关于开展专项行动的通告</a></li></ul></div></div>
<div class="footer">主办单位：杭州市人民政府办公厅 网站标识码：3301000000 浙ICP备05000000号</div>
</body></html>""".encode("gb18030")

BR_PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>{SUBHEADS[1]}</title></head><body>
<div id="menu"><a>首页</a> | <a>新闻</a> | <a>专题</a></div>
<div class="content"><h2>{SUBHEADS[1]}</h2>{SENTENCES[8]}<br><br>{SENTENCES[9]}<br>{SENTENCES[7]}</div>
<div id="footer">Copyright 2023 某某网 版权所有</div></body></html>""".encode()

MAIN_PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>站点 | {TITLE}</title></head><body>
<header><nav><a>要闻</a><a>改革</a></nav></header>
<main><h1>{TITLE}</h1><p>{SENTENCES[2]}</p><section><h2>{SUBHEADS[0]}</h2><p>{SENTENCES[4]}</p><p>{SENTENCES[5]}</p>
<h3>议事会</h3><p>{SENTENCES[6]}</p></section></main>
<aside><h3>热门文章</h3><ol><li>另一篇热门文章的标题在这里</li></ol></aside>
<footer>联系我们 · 关于我们 · 网站地图</footer></body></html>""".encode()

# page → (content that must come out, headings that must be markdown, furniture that must not)
HTML_PAGES: dict[str, tuple[bytes, list[str], list[str], list[str]]] = {
    "semantic article (test page)": (
        report_html(),
        [BYLINE, SENTENCES[0], SENTENCES[1], SENTENCES[4], SENTENCES[5], SENTENCES[8], "小古城村"],
        [f"# {TITLE}", f"## {SUBHEADS[0]}", f"## {SUBHEADS[1]}"],
        ["杭州日报首页", "要闻", "正文", "分享到", "相关阅读", "版权所有", "不要这段脚本"],
    ),
    "government div soup, gb2312": (
        GOV_PAGE,
        [SENTENCES[10], SENTENCES[11], SENTENCES[3], "一、窗口服务"],
        [f"# {SUBHEADS[2]}"],
        ["政务公开", "当前位置", "分享到", "打印本页", "热点推荐", "主办单位"],
    ),
    "<br> paragraphs, div soup": (
        BR_PAGE,
        [SENTENCES[8], SENTENCES[9], SENTENCES[7]],
        [f"## {SUBHEADS[1]}"],
        ["专题", "Copyright"],
    ),
    "<main> with sections and aside": (
        MAIN_PAGE,
        [SENTENCES[2], SENTENCES[4], SENTENCES[5], SENTENCES[6]],
        [f"# {TITLE}", f"## {SUBHEADS[0]}", "### 议事会"],
        ["要闻", "热门文章", "联系我们"],
    ),
}


def trafilatura_markdown(data: bytes) -> str:
    return trafilatura.extract(data, output_format="markdown", include_tables=True, include_comments=False) or ""


HTML_BACKENDS: dict[str, Callable[[bytes], str]] = {
    "selectolax + html.py rules": lambda data: HtmlReader().read(data, "x.html").text,
    "trafilatura (markdown)": trafilatura_markdown,
}


def bench_html(rounds: int) -> list[dict]:
    rows = []
    for page, (data, content, headings, furniture) in HTML_PAGES.items():
        for backend, read in HTML_BACKENDS.items():
            text, seconds = timed(read, data, rounds)
            squashed = _squash(text)
            lines = {ln.strip() for ln in text.splitlines()}
            rows.append(
                {
                    "page": page,
                    "backend": backend,
                    "content_kept": f"{sum(_squash(c) in squashed for c in content)}/{len(content)}",
                    "headings_as_markdown": f"{sum(h in lines for h in headings)}/{len(headings)}",
                    "furniture_leaked": sum(f in text for f in furniture),
                    "ms": round(seconds * 1000, 2),
                }
            )
    return rows


def table(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--broadsheet-pages", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    pdf_rows = bench_pdf(args.broadsheet_pages, args.rounds)
    html_rows = bench_html(max(args.rounds, 20))
    print(f"pypdfium2 {pdfium.version.PYPDFIUM_INFO}, pdfplumber {pdfplumber.__version__}, trafilatura {trafilatura.__version__}\n")
    print("PDF\n" + table(pdf_rows) + "\n\nHTML\n" + table(html_rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"pdf": pdf_rows, "html": html_rows}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
