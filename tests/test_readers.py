"""The readers on real files the tests write: a two-column Chinese newspaper PDF, a DOCX, an HTML page, bad files.

The PDF is set with reportlab's built-in CID font STSong-Light (Adobe-GB1, not embedded):
every PDF library maps it back to Unicode, and it needs no font file on the machine.
"""
from __future__ import annotations

import io
import re
import time
import zipfile
from dataclasses import dataclass, field

import pytest
from docx import Document as new_docx
from PIL import Image, ImageDraw
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from index.parse import ReportParser
from index.readers import SUFFIXES, DocumentError, read_document
from index.readers.pdf import PdfReader
from index.text import ends_sentence

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
PAGE_W, PAGE_H = 595.0, 842.0  # A4
BODY, LEADING = 10.5, 16.0
TITLE_SIZE, SUBHEAD_SIZE = 20.0, 14.0

TITLE = "余杭：为民办事有“一套” 美美与共绘新景"
BYLINE = "胡金 首芸云"
SUBHEADS = ["三方协同 共商居民“心头事”", "串珠成链 鼓起村民“钱袋子”", "数智赋能 跑出服务“加速度”"]
SENTENCES = [
    "今年上半年，杭州市余杭区GDP总量、财政总收入和地方一般公共预算收入三大指标，全部重回全省第一。",
    "不过，在“做大蛋糕”的同时，城乡发展不平衡依旧客观存在。",
    "余杭始终坚持向改革要效益、以创新求突破，深入实施“321”破难事、办实事长效机制。",
    "截至目前，50个部门、12个镇街组团破解126个难题，妥善解决人民群众的揪心事、烦心事、操心事。",
    "架空层乱摆乱放是小区常见的治理顽疾，既影响美观，又存在安全隐患。",
    "社区党支部带领志愿者队伍兵分两路，一路作为“调解组”，多次前往低楼层住户家中沟通协调。",
    "经过3轮全面走访、6次三方协同会议以及2轮业主大会，居民的意见逐渐统一。",
    "改造后的架空层焕然一新，放上议事桌后，俨然成为居民生活的“第二客厅”。",
    "径山镇小古城村把茶园、竹林和古道串成一条线，让游客在村里多住一晚、多花一份钱。",
    "村集体经济收入从三年前的80万元增长到去年的300多万元，村民的钱袋子越来越鼓。",
    "政务服务中心推出“一件事”集成改办，企业开办时间由原来的3个工作日压缩到半天。",
    "窗口工作人员说，群众少跑腿、数据多跑路，是这次改革最直观的变化。",
]


def paragraphs(first: int, count: int, size: int = 3) -> list[str]:
    """``count`` paragraphs of ``size`` sentences, cycling through the pool from ``first``."""
    return ["".join(SENTENCES[(first + p * size + i) % len(SENTENCES)] for i in range(size)) for p in range(count)]


# Page content: ("title" | "byline" | "subhead" | "p", text). The title spans the columns.
PAGES = [
    [("title", TITLE), ("byline", BYLINE), *[("p", t) for t in paragraphs(0, 4)]],
    [("subhead", SUBHEADS[0]), *[("p", t) for t in paragraphs(1, 2)], ("subhead", SUBHEADS[1]), *[("p", t) for t in paragraphs(5, 2)]],
    [("subhead", SUBHEADS[2]), *[("p", t) for t in paragraphs(2, 5, 2)]],
]


# Two articles on one page, the second under its own headline halfway down.
TWO_ARTICLES = [
    ("title", TITLE),
    ("byline", BYLINE),
    *[("p", t) for t in paragraphs(0, 3)],
    ("title", "径山镇：小古城村的“共富”账本"),
    *[("p", t) for t in paragraphs(7, 3)],
]


def expected_page_text(blocks: list[tuple[str, str]]) -> str:
    marks = {"title": "# ", "subhead": "## ", "byline": "", "p": ""}
    return "\n\n".join(marks[kind] + text for kind, text in blocks)


@dataclass
class Laid:
    """What the builder put where: the lines of every column of every page, for preconditions."""

    columns: list[list[list[str]]] = field(default_factory=list)


def _wrap(text: str, width: float, size: float, indent: float) -> list[str]:
    """Lines of at most ``width`` points; a run of Latin letters or digits is never cut."""
    lines, line, used = [], "", indent
    i = 0
    while i < len(text):
        j = i + 1
        while text[i].isascii() and text[i].isalnum() and j < len(text) and text[j].isascii() and text[j].isalnum():
            j += 1
        word = text[i:j]
        w = pdfmetrics.stringWidth(word, FONT, size)
        if line and used + w > width:
            lines.append(line)
            line, used = "", 0.0
        line, used, i = line + word, used + w, j
    lines.append(line)
    return lines


def newspaper_pdf(
    pages: list[list[tuple[str, str]]],
    columns: int = 2,
    first_label: int = 33,
    encrypt=None,
    size: tuple[float, float] = (PAGE_W, PAGE_H),
    body: float = BODY,
    drawn_by_rows: bool = False,
) -> tuple[bytes, Laid]:
    """A newspaper page per entry: running head with the page label, date, rule, page number footer;
    each title over all columns, the text under it justified in ``columns`` balanced columns.

    ``drawn_by_rows`` draws the lines across the columns row by row, as some producers do, so
    the order of the content stream is no help in reading column by column.
    """
    page_w, page_h = size
    leading = body * LEADING / BODY
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=size, encrypt=encrypt)
    left, right, gutter = 50.0, page_w - 50.0, 24.0
    col_w = (right - left - gutter * (columns - 1)) / columns
    laid = Laid()
    for number, blocks in enumerate(pages, 1):
        c.setFont(FONT, 9)
        c.drawString(left, page_h - 40, f"头雁先飞 第{first_label + number - 1}版")
        c.drawRightString(right, page_h - 40, "2023年11月3日 星期五")
        c.line(left, page_h - 46, right, page_h - 46)
        c.drawCentredString(page_w / 2, 30, f"- {number} -")
        laid.columns.append([[] for _ in range(columns)])
        y = page_h - 90
        lines: list[tuple[str, float, bool, float]] = []  # text, indent, justify, size
        drawn: list[tuple[float, float, str, float, float]] = []  # y, x, text, size, char space

        def set_columns(y: float, lines: list, drawn: list) -> float:
            """Place the lines so far in balanced columns from ``y``; the y under the longest column."""
            per_column = -(-len(lines) // columns)
            lowest = y
            for col in range(columns):
                x, yy = left + col * (col_w + gutter), y
                part = lines[col * per_column : (col + 1) * per_column]
                laid.columns[-1][col] += [ln[0] for ln in part]
                for text, indent, justify, sz in part:
                    if sz != body:
                        yy -= leading * 0.4
                    # Newspapers justify: every full line ends at the column edge.
                    space = (col_w - indent - pdfmetrics.stringWidth(text, FONT, sz)) / max(len(text) - 1, 1) if justify else 0.0
                    drawn.append((yy, x + indent, text, sz, space))
                    yy -= leading if sz == body else leading * 1.4
                lowest = min(lowest, yy)
            lines.clear()
            return lowest

        for kind, text in blocks:
            if kind == "title":
                y = set_columns(y, lines, drawn) - (leading if y < page_h - 90 else 0)
                drawn.append((y, left, text, TITLE_SIZE, 0.0))
                y -= TITLE_SIZE * 1.8
            elif kind == "subhead":
                lines.append((text, 0.0, False, SUBHEAD_SIZE))
            elif kind == "byline":
                lines.append((text, 0.0, False, body))
            else:
                wrapped = _wrap(text, col_w, body, 2 * body)
                lines += [(ln, 2 * body if i == 0 else 0.0, i < len(wrapped) - 1, body) for i, ln in enumerate(wrapped)]
        set_columns(y, lines, drawn)
        for yy, x, text, sz, space in sorted(drawn, key=lambda d: (-d[0], d[1])) if drawn_by_rows else drawn:
            t = c.beginText(x, yy)
            t.setFont(FONT, sz)
            t.setCharSpace(space)
            t.textOut(text)
            c.drawText(t)
        c.showPage()
    c.save()
    return buf.getvalue(), laid


def scanned_pdf() -> bytes:
    """A page holding only a picture (a scan): a drawn frame and an image, no text."""
    image = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(image).rectangle((20, 20, 180, 80), outline=0, width=3)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(PAGE_W, PAGE_H))
    c.rect(60, 400, 300, 200)
    c.drawInlineImage(image, 60, 100, 300, 150)
    c.showPage()
    c.save()
    return buf.getvalue()


def report_docx() -> bytes:
    doc = new_docx()
    doc.add_heading(TITLE, level=1)
    doc.add_paragraph(BYLINE)
    doc.add_paragraph(SENTENCES[0] + SENTENCES[1])
    doc.add_heading(SUBHEADS[0], level=2)
    doc.add_paragraph(SENTENCES[4])
    doc.add_heading("分项成效", level=3)
    table = doc.add_table(rows=3, cols=3)
    for r, row in enumerate([("项目", "部门", "难题"), ("破难事", "50", "126"), ("办实事", "12", "80")]):
        for col, value in enumerate(row):
            table.cell(r, col).text = value
    doc.add_heading("议事细则", level=4)  # deeper than ###: a plain paragraph
    doc.add_paragraph(SENTENCES[6])
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def report_html(charset: str = "utf-8") -> bytes:
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="{charset}"><title>{TITLE}_杭州日报</title>
<style>body {{ font-family: serif; }}</style><script>var nav = "不要这段脚本";</script></head>
<body>
<header class="site-header"><a href="/">杭州日报首页</a><span>数字报</span></header>
<nav><ul><li><a href="/a">要闻</a></li><li><a href="/b">经济</a></li><li><a href="/c">社会</a></li></ul></nav>
<div class="breadcrumb">首页 &gt; 改革 &gt; 正文</div>
<article>
  <h1>{TITLE}</h1>
  <p class="byline">{BYLINE}</p>
  <p>{SENTENCES[0]}<br>{SENTENCES[1]}</p>
  <h2>{SUBHEADS[0][:-5]}<em>{SUBHEADS[0][-5:]}</em></h2>
  <p>{SENTENCES[4]}
  {SENTENCES[5]}</p>
  <div class="share">分享到：微信 微博</div>
  <h2>{SUBHEADS[1]}</h2>
  <p>{SENTENCES[8]}</p>
  <table><tr><th>村</th><th>收入</th></tr><tr><td>小古城村</td><td>300<span>万元</span></td></tr></table>
</article>
<aside><h3>相关阅读</h3><p>另一篇不相关的文章标题</p></aside>
<footer><p>版权所有 杭州日报社 浙ICP备000000号</p></footer>
</body></html>"""
    return page.encode(charset)


def zip_bomb(size_mb: int, level: int) -> bytes:
    """A DOCX-shaped zip whose document.xml inflates to ``size_mb`` MB, written by streaming."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0"?><w:document>')
            chunk = b" " * 2**20
            for _ in range(size_mb):
                f.write(chunk)
    return buf.getvalue()


@pytest.fixture(scope="module")
def newspaper() -> tuple[bytes, Laid]:
    """The three-page paper, drawn row by row across its columns."""
    return newspaper_pdf(PAGES, drawn_by_rows=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory, newspaper) -> dict[str, bytes]:
    """Every test file, built once and written to disk as a user would hand it over."""
    folder = tmp_path_factory.mktemp("readers")
    built = {
        "paper.pdf": newspaper[0],
        "three.pdf": newspaper_pdf([PAGES[0] + [("p", t) for t in paragraphs(3, 3)]], columns=3)[0],
        "two.pdf": newspaper_pdf([TWO_ARTICLES])[0],
        "locked.pdf": newspaper_pdf(PAGES[:1], encrypt=StandardEncryption("secret", ownerPassword="owner"))[0],
        "owner-only.pdf": newspaper_pdf(PAGES[:1], encrypt=StandardEncryption("", ownerPassword="owner", canCopy=0))[0],
        "scan.pdf": scanned_pdf(),
        "report.docx": report_docx(),
        "report.html": report_html(),
        "report-gbk.html": report_html("gbk"),
        "bomb.docx": zip_bomb(200, 1),
        "dense-bomb.docx": zip_bomb(40, 6),
    }
    for name, data in built.items():
        (folder / name).write_bytes(data)
    return {name: (folder / name).read_bytes() for name in built}


@pytest.fixture(scope="module")
def paper(files):
    return read_document(files["paper.pdf"], "paper.pdf")


# PDF ---------------------------------------------------------------------------------------------


def test_the_layout_makes_column_order_matter(newspaper):
    """Preconditions: a sentence runs from the foot of one column to the top of the next."""
    laid = newspaper[1]
    assert any(not ends_sentence(page[0][-1]) for page in laid.columns)
    assert all(len(page) == 2 and page[1] for page in laid.columns)


def test_two_articles_on_a_page_each_under_its_headline(files):
    """A headline over the columns of the second article: the first article's columns come before it."""
    doc = read_document(files["two.pdf"], "two.pdf")
    assert doc.text == expected_page_text(TWO_ARTICLES)


def test_every_page_reads_column_by_column(paper):
    texts = [paper.text[p.start : p.end] for p in paper.pages]
    assert texts == [expected_page_text(blocks) for blocks in PAGES]


def test_page_numbers_labels_and_spans(paper):
    assert [(p.number, p.label) for p in paper.pages] == [(1, "第33版"), (2, "第34版"), (3, "第35版")]
    assert paper.pages[0].start == 0 and paper.pages[-1].end == len(paper.text)
    for before, after in zip(paper.pages, paper.pages[1:]):
        assert paper.text[before.end : after.start] == "\n\n"
    assert paper.page_at(paper.text.index(SUBHEADS[1])).label == "第34版"
    assert paper.warnings == ()


def test_running_heads_and_page_numbers_are_gone(paper):
    assert "头雁先飞" not in paper.text and "星期五" not in paper.text
    assert not any(line.strip(" -").isdigit() for line in paper.text.splitlines())


def test_headings_become_markdown(paper):
    lines = paper.text.splitlines()
    assert f"# {TITLE}" in lines
    assert [ln for ln in lines if ln.startswith("## ")] == [f"## {s}" for s in SUBHEADS]


def test_the_parser_reads_a_pdf_into_a_case_with_pages(paper):
    (case,) = ReportParser().run("paper.pdf", paper.text).cases
    assert case.title == TITLE and case.authors == BYLINE.split()
    assert [s.title for s in case.sections] == ["导语", *SUBHEADS]
    last = case.sections[-1].paragraphs[-1]
    assert paper.page_at(last.spans[0][0]).label == "第35版"


def test_three_columns(files):
    doc = read_document(files["three.pdf"], "three.pdf")
    blocks = PAGES[0] + [("p", t) for t in paragraphs(3, 3)]
    assert doc.text == expected_page_text(blocks)
    assert doc.pages[0].label == "第33版"


def test_owner_password_only_pdf_is_read(files):
    doc = read_document(files["owner-only.pdf"], "owner-only.pdf")
    assert doc.text == expected_page_text(PAGES[0])


def test_scanned_pdf_warns_instead_of_failing(files):
    doc = read_document(files["scan.pdf"], "scan.pdf")
    assert doc.text == ""
    assert [(p.number, p.start, p.end) for p in doc.pages] == [(1, 0, 0)]
    assert len(doc.warnings) == 1 and "scan.pdf has no text layer" in doc.warnings[0] and "OCR" in doc.warnings[0]


def test_a_pdf_without_a_printed_label_takes_its_own_page_labels(files):
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(PAGE_W, PAGE_H))
    for n in range(2):
        c.setFont(FONT, BODY)
        c.drawString(72, 700, SENTENCES[n])
        c.addPageLabel(n, style="D", start=n + 7, prefix="A")
        c.showPage()
    c.save()
    doc = PdfReader().read(buf.getvalue(), "labels.pdf")
    assert [p.label for p in doc.pages] == ["A7", "A8"]
    assert doc.text == "\n\n".join(SENTENCES[:2])


def test_latin_text_keeps_its_spaces_across_wrapped_lines():
    words = "Touyan reads reform reports page by page and keeps every passage tied to its page label. " * 3
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(PAGE_W, PAGE_H))
    c.setFont("Helvetica", 11)
    line, y = "", 700.0
    for word in words.split():
        if pdfmetrics.stringWidth(f"{line} {word}", "Helvetica", 11) > 300:
            c.drawString(72, y, line)
            line, y = word, y - 14
        else:
            line = f"{line} {word}".strip()
    c.drawString(72, y, line)
    c.showPage()
    c.save()
    assert read_document(buf.getvalue(), "en.pdf").text == words.strip()


def test_a_rotated_page_reads_upright():
    """A page stored sideways with /Rotate 90 and its text drawn turned back: read as displayed."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(PAGE_W, PAGE_H))
    c.setPageRotation(90)
    c.translate(PAGE_W, 0)
    c.rotate(90)
    c.setFont(FONT, BODY)
    for i, sentence in enumerate(SENTENCES[:3]):
        c.drawString(60, 500 - 30 * i, sentence)
    c.showPage()
    c.save()
    doc = read_document(buf.getvalue(), "rotated.pdf")
    assert doc.text == "\n\n".join(SENTENCES[:3])


# DOCX and HTML -----------------------------------------------------------------------------------


def test_docx_headings_paragraphs_and_table(files):
    doc = read_document(files["report.docx"], "report.docx")
    assert doc.pages == () and doc.warnings == ()
    assert doc.text == "\n\n".join(
        [
            f"# {TITLE}",
            BYLINE,
            SENTENCES[0] + SENTENCES[1],
            f"## {SUBHEADS[0]}",
            SENTENCES[4],
            "### 分项成效",
            "项目 | 部门 | 难题\n破难事 | 50 | 126\n办实事 | 12 | 80",
            "议事细则",
            SENTENCES[6],
        ]
    )


@pytest.mark.parametrize("name", ["report.html", "report-gbk.html"])
def test_html_main_content_and_headings(files, name):
    doc = read_document(files[name], name)
    assert doc.text == "\n\n".join(
        [
            f"# {TITLE}",
            BYLINE,
            SENTENCES[0],
            SENTENCES[1],
            f"## {SUBHEADS[0]}",
            SENTENCES[4] + " " + SENTENCES[5],
            f"## {SUBHEADS[1]}",
            SENTENCES[8],
            "村 | 收入\n小古城村 | 300万元",
        ]
    )


def test_html_without_h1_takes_the_title_without_the_site_name():
    page = f"<html><head><title>{TITLE}_杭州日报</title></head><body><div id='nav'>首页 要闻</div><p>{SENTENCES[2]}</p></body></html>"
    doc = read_document(page.encode(), "a.htm")
    assert doc.text == f"# {TITLE}\n\n{SENTENCES[2]}"


def test_html_charset_fallbacks():
    page = f"<html><body><h1>{TITLE}</h1><p>{SENTENCES[2]}</p></body></html>"
    undeclared_gbk = read_document(page.encode("gbk"), "gbk.html")
    assert undeclared_gbk.text == f"# {TITLE}\n\n{SENTENCES[2]}"
    assert "read as GB 18030" in undeclared_gbk.warnings[0]
    bad_byte = read_document(page.encode() + b"<p>\xff</p>", "bad.html")
    assert bad_byte.text.startswith(f"# {TITLE}\n\n{SENTENCES[2]}") and "not valid utf-8" in bad_byte.warnings[0]


def test_text_and_markdown_read_as_they_are():
    quoting = "A PDF file starts with %PDF-1.7 and a version.\n"
    assert read_document(quoting.encode(), "notes.md").text == quoting
    text = "# 标题\n\n第一段。\r\n第二段。"
    assert read_document(text.encode("utf-8-sig"), "a.md").text == text
    assert read_document(text.encode("utf-16"), "a.TXT").text == text


# Bad files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, problem",
    [
        ("locked.pdf", "encrypted PDF (password protected)"),
        ("bomb.docx", "zip bomb"),
        ("dense-bomb.docx", "zip bomb"),
    ],
)
def test_bad_built_files(files, name, problem):
    with pytest.raises(DocumentError, match=re.escape(problem)):
        read_document(files[name], name)


def test_a_zip_bomb_is_refused_before_inflating(files):
    start = time.perf_counter()
    with pytest.raises(DocumentError, match=r"inflates to 200 MB"):
        read_document(files["bomb.docx"], "bomb.docx")
    with pytest.raises(DocumentError, match=r"word/document.xml inflates \d+×"):
        read_document(files["dense-bomb.docx"], "dense-bomb.docx")
    assert time.perf_counter() - start < 0.5


def test_truncated_and_corrupt_pdfs(files):
    data = files["paper.pdf"]
    with pytest.raises(DocumentError, match=r"^truncated PDF"):
        read_document(data[: len(data) // 2], "half.pdf")
    with pytest.raises(DocumentError, match=r"^corrupt PDF"):
        read_document(b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n", "junk.pdf")
    assert read_document(b"\r\n" + data, "leading-junk.pdf").text  # junk before the header is allowed


def test_content_that_does_not_match_its_name(files):
    with pytest.raises(DocumentError, match=r"content is an HTML page but the name ends in \.pdf"):
        read_document(files["report.html"], "x.pdf")
    with pytest.raises(DocumentError, match=r"content is a PDF document but the name ends in \.docx"):
        read_document(files["paper.pdf"], "x.docx")
    with pytest.raises(DocumentError, match=r"content is a zip archive but the name ends in \.html"):
        read_document(files["report.docx"], "x.html")
    with pytest.raises(DocumentError, match=r"unsupported file type \.doc"):
        read_document(files["report.docx"], "x.doc")


def test_damaged_docx(files):
    data = files["report.docx"]
    with pytest.raises(DocumentError, match=r"^corrupt DOCX"):
        read_document(data[: len(data) // 2], "half.docx")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(DocumentError, match=r"no word/document.xml"):
        read_document(buf.getvalue(), "x.docx")
    with pytest.raises(DocumentError, match=r"old Word \.doc or a password-protected"):
        read_document(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "x.docx")


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
def test_an_empty_file(suffix):
    with pytest.raises(DocumentError, match=r"^empty file$"):
        read_document(b"", "x" + suffix)


def test_text_errors_keep_the_corpus_messages():
    with pytest.raises(DocumentError, match=r"^binary file \(contains NUL bytes\)"):
        read_document(b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary.txt")
    with pytest.raises(DocumentError, match=r"^not UTF-8 text \(invalid byte 0x"):
        read_document("改革项目：测试".encode("gbk"), "gbk.txt")
    with pytest.raises(DocumentError, match=r"^empty file$"):
        read_document(b"  \n", "blank.md")
