"""Generated answers from any OpenAI-compatible chat endpoint, grounded in numbered passages.

The model sees the passages as [1]…[k] and must cite them; marks that point at no
passage are dropped, and each kept mark becomes a citation quoting the passage
sentence closest to what the model said. Any failure (network, timeout, bad reply,
no valid citation) falls back to the extractive answer and says so in ``note``.
"""
from __future__ import annotations

import re
from dataclasses import replace

import httpx

from index.models import page_label
from index.tokenize import normalize
from index.text import sentence_spans
from service.answer import Answer, Citation, ExtractiveAnswerer, not_found_text
from service.search import Hit

NOT_FOUND_MARK = "报告中没有找到"
SYSTEM_PROMPT = (
    "你是《头雁先飞——杭州精品改革案例智库报告》的问答助手。只根据用户给出的编号资料回答，"
    "用简洁的中文写1到3句话，每句话后用[编号]标明依据的资料，例如[1]或[2][3]。"
    f"如果资料中没有答案，只回答：{NOT_FOUND_MARK}相关内容。"
)
MARK = re.compile(r"\[(\d+(?:\s*[,，]\s*\d+)*)\]|【(\d+)】")
ANSWER_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def passages_prompt(question: str, hits: list[Hit]) -> str:
    blocks = []
    for i, h in enumerate(hits, 1):
        blocks.append(f"[{i}]《{h.chunk.case_title}》{page_label(h.chunk.page, h.chunk.section_kind)}·{h.chunk.section}\n{h.chunk.text}")
    return "资料：\n\n" + "\n\n".join(blocks) + f"\n\n问题：{question}"


def cited_numbers(text: str) -> list[int]:
    """Passage numbers in order of first citation, from marks like [1], [1,2] and 【3】."""
    out: list[int] = []
    for m in MARK.finditer(text):
        for n in re.split(r"\s*[,，]\s*", m.group(1) or m.group(2)):
            if int(n) not in out:
                out.append(int(n))
    return out


def keep_valid_marks(text: str, count: int) -> str:
    """The reply with every mark rewritten as [n] marks, dropping numbers outside 1..count."""

    def rewrite(m: re.Match) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,，]\s*", m.group(1) or m.group(2))]
        return "".join(f"[{n}]" for n in numbers if 1 <= n <= count)

    return MARK.sub(rewrite, text).strip()


class LLMAnswerer:
    """Answers with an OpenAI-compatible model; the extractive answerer is the fallback."""

    def __init__(
        self,
        base_url: str,
        model: str,
        fallback: ExtractiveAnswerer,
        api_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.fallback = fallback
        self.api_key = api_key
        self.timeout = timeout

    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        return self.fallback.rerank(question, hits)

    def run(self, question: str, hits: list[Hit]) -> Answer:
        if not hits:
            return self.fallback.run(question, hits)
        try:
            reply = self.complete(question, hits)
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as e:
            return self._fall_back(question, hits, f"大模型调用失败（{type(e).__name__}）")
        return self.parse(reply, question, hits)

    def complete(self, question: str, hits: list[Hit]) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        response = httpx.post(
            self.url,
            headers=headers,
            timeout=self.timeout,
            json={
                "model": self.model,
                "temperature": 0,
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": passages_prompt(question, hits)},
                ],
            },
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str) or not content.strip():
            raise ValueError("empty reply")
        return content

    def parse(self, reply: str, question: str, hits: list[Hit]) -> Answer:
        """Check the reply's citations against the passages and quote the sentences they rest on."""
        text = keep_valid_marks(reply, len(hits))
        numbers = cited_numbers(text)
        if NOT_FOUND_MARK in text and not numbers:
            return Answer(not_found_text(question, hits), found=False, support=self.fallback.support(hits), mode="llm")
        if not numbers:
            return self._fall_back(question, hits, "大模型的回答没有引用任何资料")
        citations = [self._citation(n, hits[n - 1], text) for n in numbers]
        return Answer(text, found=True, citations=citations, support=self.fallback.support(hits), mode="llm")

    def _citation(self, n: int, hit: Hit, reply: str) -> Citation:
        """Quote the passage sentence sharing most words with the reply sentences that cite [n]."""
        claims = " ".join(s for s in ANSWER_SENTENCE.findall(reply) if f"[{n}]" in s)
        terms = self.fallback.terms(claims)
        text = hit.chunk.text
        start, end = max(
            sentence_spans(text) or [(0, len(text))],
            key=lambda span: sum(len(t) for t in terms if t in normalize(text[span[0] : span[1]])),
        )
        c = hit.chunk
        return Citation(n, c.id, c.case_id, c.case_title, c.page, c.section, c.source, text[start:end], start, end, c.section_kind, c.report, c.pdf_page, c.page_label)

    def _fall_back(self, question: str, hits: list[Hit], reason: str) -> Answer:
        answer = self.fallback.run(question, hits)
        return replace(answer, note=f"{reason}，以下为摘录式回答。")
