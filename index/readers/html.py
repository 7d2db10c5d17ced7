"""HTML pages: the main content as paragraphs, h1–h3 as markdown headings, page furniture dropped.

selectolax (Lexbor) parses; the rules below pick the content. eval/bench_readers.py measured
this against trafilatura (docs/documents.md).
"""
from __future__ import annotations

import codecs
import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from index.readers.document import Block, DocumentError, ReadDocument, compose, one_line

# Never content, wherever they are.
DROP_TAGS = ("script", "style", "noscript", "template", "nav", "aside", "form", "iframe", "svg", "canvas", "button", "select", "dialog", "object")
# Site furniture when outside the content element (an <article> keeps its own header).
PAGE_FURNITURE_TAGS = ("header", "footer")
DROP_ROLES = ("navigation", "banner", "contentinfo", "complementary", "search")
# Class or id words that mark furniture in pages without semantic tags (div soup).
FURNITURE_WORD = re.compile(
    r"^(?:nav|navbar|navigation|menu|header|footer|foot|sidebar|side|breadcrumbs?|crumbs?|banner|copyright|share|toolbar|"
    r"pagination|pager|comments?|related|recommend|ads?|advert|advertisement|topbar|subnav|login|search|daohang|dh)$"
)
HEADINGS = {"h1": 1, "h2": 2, "h3": 3}
BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre",
    "figure", "figcaption", "h4", "h5", "h6", "address", "center", "body", "tbody", "thead", "hr",
}
# Elements that hold a paragraph of their own text, and those that hold such elements.
PARAGRAPH_TAGS = {"p", "li", "pre", "blockquote", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption"}
CONTAINER_TAGS = BLOCK_TAGS | PARAGRAPH_TAGS | {"table", "tr", "html"}
CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Chinese pages that say gb2312 or gbk mean Windows code page 936; GB 18030 decodes all of it.
CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
TITLE_SITE = re.compile(r"\s*(?:[-_|–—]|－)\s*[^-_|–—－]+$")


class HtmlReader:
    def read(self, data: bytes, name: str) -> ReadDocument:
        html, warnings = decode_html(data, name)
        tree = LexborHTMLParser(html)
        content = main_content(tree)
        blocks = list(html_blocks(content)) if content is not None else []
        # A page whose content has no <h1> gets the page's own title, unless a heading already says it.
        title = None if any(b.level == 1 for b in blocks) else page_heading(tree) or page_title(tree)
        if title and not any(b.level and b.text == title for b in blocks):
            blocks.insert(0, Block(title, 1))
        text = compose(blocks)
        if not text.strip():
            raise DocumentError("HTML page without text content")
        return ReadDocument(text, warnings=tuple(warnings))


def decode_html(data: bytes, name: str) -> tuple[str, list[str]]:
    """By the byte-order mark, else the charset the page declares, else UTF-8.

    Browsers do not refuse a page for a bad byte, so neither does this: it is replaced and
    reported. A page that declares nothing and is far from UTF-8 is tried as GB 18030 (a
    Chinese page saved without the server's charset header); a stray bad byte in UTF-8 is
    not enough, since GB 18030 decodes most UTF-8 bytes into the wrong characters.
    """
    if not data:
        raise DocumentError("empty file")
    declared = None
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            break
    else:
        found = CHARSET.search(data[:4096])
        declared = found.group(1).decode("ascii").lower() if found else None
        codec = CHARSET_ALIASES.get(declared, declared) if declared else "utf-8"
    try:
        return data.decode(codec), []
    except LookupError:
        raise DocumentError(f"HTML page declares an unknown charset {declared!r}") from None
    except UnicodeDecodeError as e:
        first_bad = e.start
    text = data.decode(codec, errors="replace")
    bad = text.count("\ufffd")
    if not declared and codec == "utf-8" and bad > max(3, 0.01 * len(text)):
        try:
            return data.decode("gb18030"), [f"{name}: no charset declared and not UTF-8; read as GB 18030"]
        except UnicodeDecodeError:
            pass
    return text, [f"{name}: {bad} byte sequence(s) not valid {codec} replaced (the first at offset {first_bad})"]


def main_content(tree: LexborHTMLParser) -> LexborNode | None:
    """The element holding the page's own text, its furniture removed.

    <main>, else the longest <article>; in pages without them (div soup), the element whose
    paragraphs hold the most text that is not links.
    """
    _remove(tree.css(",".join(DROP_TAGS)) + tree.css(",".join(f'[role="{r}"]' for r in DROP_ROLES)))
    content = tree.css_first("main") or tree.css_first('[role="main"]')
    if content is None:
        articles = tree.css("article")
        content = max(articles, key=lambda n: len(n.text(deep=True, strip=True)), default=None)
    if content is None and tree.body is not None:
        _remove(_furniture(tree.body))
        content = densest(tree.body)
    if content is None:
        return None
    _remove(_furniture(content))
    return content


def densest(root: LexborNode) -> LexborNode:
    """The element that holds the most paragraph text, links not counted (menus are links).

    Each run of text scores for the element holding its paragraph and half for that
    element's parent, so the container of many paragraphs beats the page around it.
    """
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    for node in root.traverse(include_text=True):
        if not node.is_text_node:
            continue
        size = len(node.text(deep=False).strip())
        if not size:
            continue
        block, in_link = node.parent, False
        while block is not None and block.tag not in CONTAINER_TAGS:
            in_link = in_link or block.tag == "a"
            block = block.parent
        if block is None or in_link:
            continue
        holder = block.parent if block.tag in PARAGRAPH_TAGS and block.parent is not None else block
        for weight, element in ((1.0, holder), (0.5, holder.parent)):
            if element is not None:
                scores[element.mem_id] = scores.get(element.mem_id, 0.0) + weight * size
                nodes[element.mem_id] = element
    best = max(scores, key=scores.__getitem__, default=None)
    return nodes[best] if best is not None else root


def _furniture(content: LexborNode) -> list[LexborNode]:
    """Site headers, footers and class-named furniture inside the content element, not the article's own parts."""
    found = [node for node in content.css(",".join(PAGE_FURNITURE_TAGS)) if not _inside_article(node, content)]
    for node in content.css("[class],[id]"):
        if node.tag in ("html", "body", "main", "article") or _is_heading_inside(node):
            continue
        words = re.split(r"[\s_-]+", f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}".lower())
        if any(FURNITURE_WORD.match(w) for w in words if w):
            found.append(node)
    return found


def _remove(nodes: list[LexborNode]) -> None:
    """Decompose the outermost of ``nodes``: a node inside one already gone must not be touched."""
    ids = {n.mem_id for n in nodes}
    outermost = []
    for node in nodes:
        parent = node.parent
        while parent is not None and parent.mem_id not in ids:
            parent = parent.parent
        if parent is None:
            outermost.append(node)
    seen = set()
    for node in outermost:
        if node.mem_id not in seen:
            seen.add(node.mem_id)
            node.decompose()


def _inside_article(node: LexborNode, stop: LexborNode) -> bool:
    parent = node.parent
    while parent is not None and parent.mem_id != stop.mem_id:
        if parent.tag in ("article", "main"):
            return True
        parent = parent.parent
    return stop.tag in ("article", "main")


def _is_heading_inside(node: LexborNode) -> bool:
    """An element named like furniture that holds the page's heading (``<div class="header"><h1>``) stays."""
    return node.tag in HEADINGS or node.css_first("h1") is not None


def html_blocks(root: LexborNode):
    """Blocks in document order: headings, paragraphs, a table as one block of rows."""
    inline: list[str] = []

    def flush():
        text = one_line("".join(inline))
        inline.clear()
        if text:
            yield Block(text)

    def walk(node: LexborNode):
        for child in node.iter(include_text=True):
            tag = child.tag
            if child.is_text_node:
                inline.append(child.text(deep=False))
            elif tag in HEADINGS:
                yield from flush()
                text = one_line(child.text(deep=True))
                if text:
                    yield Block(text, HEADINGS[tag])
            elif tag == "br":
                yield from flush()
            elif tag == "table":
                yield from flush()
                rows = [r for r in (_row(tr) for tr in child.css("tr")) if r]
                if rows:
                    yield Block("\n".join(rows))
            elif tag in BLOCK_TAGS:
                yield from flush()
                yield from walk(child)
                yield from flush()
            elif tag in ("img", "-comment"):
                continue
            else:
                yield from walk(child)

    yield from walk(root)
    yield from flush()


def _row(tr: LexborNode) -> str:
    cells = [one_line(c.text(deep=True)) for c in tr.iter() if c.tag in ("td", "th")]
    return " | ".join(c for c in cells if c)


def page_heading(tree: LexborHTMLParser) -> str | None:
    """The page's first <h1> (outside the content element in div soup: 标题 above the text box)."""
    node = tree.css_first("h1")
    return one_line(node.text(deep=True)) or None if node is not None else None


def page_title(tree: LexborHTMLParser) -> str | None:
    """The <title> without the site name after it (标题_某某网, Title - Site)."""
    node = tree.css_first("title")
    title = one_line(node.text()) if node is not None else ""
    short = TITLE_SITE.sub("", title)
    return (short if len(short) >= 4 else title) or None
