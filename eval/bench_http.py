"""HTTP latency of /search and /ask against a running server, at concurrency 1 and 8.

    python -m eval.bench_http [--url http://127.0.0.1:8000] [--requests 200] [--concurrency 1,8] [--json out.json]

Without ``--url`` it starts ``touyan serve`` on a free port (same settings and index as
``touyan serve``: TOUYAN_* variables) and stops it afterwards. Only loopback servers are
measured and the request count is bounded: this is a local benchmark, not a load tool.
Questions are those of eval/questions.jsonl, in turn. Each worker keeps one connection.

Targets on the 2-core machine: /search p50 ≤ 25 ms and /ask p50 ≤ 40 ms at concurrency 1;
no errors at concurrency 8.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np

from eval.gold import load_questions
from eval.serve_process import ServeProcess

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_REQUESTS = 2000
WARMUP = 5
TARGETS_MS = {("search", 1): 25.0, ("ask", 1): 40.0}


def body(endpoint: str, question: str) -> dict:
    return {"query": question} if endpoint == "search" else {"question": question}


@dataclass(frozen=True)
class Sent:
    """One request: its HTTP status (0 when it failed below HTTP) and latency."""

    status: int
    ms: float
    problem: str | None = None


def send_all(url: str, endpoint: str, questions: list[str], requests: int, concurrency: int, backoff: bool = False) -> tuple[list[Sent], float]:
    """Send ``requests`` POSTs from ``concurrency`` threads, each keeping one connection; every request's outcome, and the wall time.

    With ``backoff`` a client refused with 503 waits its ``Retry-After`` (with jitter) before its next request, as OpenAI's clients do.
    """
    sent: list[Sent] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
            for _ in range(WARMUP // concurrency + 1):
                client.post(f"/{endpoint}", json=body(endpoint, questions[0]))
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                start = time.perf_counter()
                wait = 0.0
                try:
                    response = client.post(f"/{endpoint}", json=body(endpoint, questions[i % len(questions)]))
                    status, problem = response.status_code, None
                    if backoff and status == 503:
                        wait = float(response.headers.get("retry-after", "1")) * random.uniform(0.5, 1.5)
                except httpx.HTTPError as e:
                    status, problem = 0, type(e).__name__
                with lock:
                    sent.append(Sent(status, (time.perf_counter() - start) * 1000, problem))
                time.sleep(wait)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent, time.perf_counter() - start


def run(url: str, endpoint: str, questions: list[str], requests: int, concurrency: int) -> dict:
    """Latency per request at one concurrency; anything but a 200 counts as an error."""
    sent, wall = send_all(url, endpoint, questions, requests, concurrency)
    latencies = [s.ms for s in sent]
    errors = [s.problem or f"HTTP {s.status}" for s in sent if s.status != 200]
    return {
        "endpoint": f"/{endpoint}",
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "max_ms": round(max(latencies), 1),
        "req_per_s": round(len(latencies) / wall, 1),
    }


def verdicts(rows: list[dict]) -> list[str]:
    out = []
    for row in rows:
        target = TARGETS_MS.get((row["endpoint"].lstrip("/"), row["concurrency"]))
        if target is not None:
            ok = row["p50_ms"] <= target
            out.append(f"{row['endpoint']} p50 at concurrency {row['concurrency']}: {row['p50_ms']} ms (target ≤ {target:g}) {'ok' if ok else 'MISSED'}")
        if row["concurrency"] > 1:
            out.append(f"{row['endpoint']} errors at concurrency {row['concurrency']}: {row['errors']} {'ok' if not row['errors'] else 'MISSED'}")
    return out


def format_table(rows: list[dict]) -> str:
    header = f"{'endpoint':<9} {'conc':>4} {'n':>5} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'req/s':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['endpoint']:<9} {r['concurrency']:>4} {r['requests']:>5} {r['errors']:>6} "
            f"{r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8} {r['req_per_s']:>7}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on this machine (default: start one)")
    parser.add_argument("--requests", type=int, default=200, help=f"requests per endpoint and concurrency (≤ {MAX_REQUESTS}, default 200)")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated concurrency levels (default 1,8)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be between 1 and {MAX_REQUESTS}")
    levels = [int(c) for c in args.concurrency.split(",")]
    if not all(1 <= c <= 32 for c in levels):
        parser.error("--concurrency levels must be between 1 and 32")
    if args.url and urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url must point at this machine (127.0.0.1, localhost or ::1)")

    questions = [q.question for q in load_questions()]
    with ExitStack() as stack:
        url = args.url.rstrip("/") if args.url else stack.enter_context(ServeProcess()).url
        health = httpx.get(f"{url}/health", timeout=10).json()
        rows = [run(url, endpoint, questions, args.requests, c) for endpoint in ("search", "ask") for c in levels]
    print(f"server {url}: {health.get('chunks')} passages, embedder {health.get('embedder')}")
    print(format_table(rows))
    for line in verdicts(rows):
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"health": health, "rows": rows}, ensure_ascii=False, indent=2), encoding="utf-8")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
