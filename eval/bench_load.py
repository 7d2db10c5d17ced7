"""Load on a running server: throughput, latency of the accepted requests and the share refused
(503 with Retry-After) at 1, 8, 32 and 64 clients, and /health's latency meanwhile.

    python -m eval.bench_load [--url http://127.0.0.1:8000] [--clients 1,8,32,64] [--requests 200] [--long-share 0.1] [--json out.json]

Without ``--url`` it starts ``touyan serve`` (TOUYAN_* settings apply: TOUYAN_MAX_ACTIVE and
TOUYAN_MAX_QUEUE set the admission limits). Each client sends /ask requests back to back on one
connection and, refused, waits the Retry-After (with jitter) as OpenAI's clients do; questions
are those of eval/questions.jsonl, with ``--long-share`` of them 1000-character questions (the
most one may cost). Target (issue 15): at every level, p99 of
the accepted requests at most 10× the one-client p50, and /health answering meanwhile.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np

from eval.bench_http import LOOPBACK, send_all
from eval.gold import load_questions
from eval.serve_process import ServeProcess

TARGET_RATIO = 10.0


def questions(long_share: float) -> list[str]:
    base = [q.question for q in load_questions()]
    every = round(1 / long_share) if long_share > 0 else 0
    long = ("梦创社区为企业人才提供全生命周期服务，" * 60)[:1000]
    return [long if every and i % every == every - 1 else q for i, q in enumerate(base)]


def probe_health(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
        while not stop.is_set():
            start = time.perf_counter()
            client.get("/health")
            out.append((time.perf_counter() - start) * 1000)
            stop.wait(0.05)


def level(url: str, clients: int, requests: int, texts: list[str]) -> dict:
    health: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=probe_health, args=(url, stop, health))
    prober.start()
    try:
        sent, wall = send_all(url, "ask", texts, max(requests, clients * 4), clients, backoff=True)
    finally:
        stop.set()
        prober.join()
    accepted = [s.ms for s in sent if s.status == 200]
    refused = sum(s.status == 503 for s in sent)
    other = len(sent) - len(accepted) - refused
    pct = lambda xs, q: round(float(np.percentile(xs, q)), 1) if xs else None  # noqa: E731
    return {
        "clients": clients, "requests": len(sent), "accepted_per_s": round(len(accepted) / wall, 1),
        "p50_ms": pct(accepted, 50), "p99_ms": pct(accepted, 99), "refused_503": round(refused / len(sent), 3),
        "other_errors": other, "health_p99_ms": pct(health, 99),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on this machine (default: start one)")
    parser.add_argument("--clients", default="1,8,32,64", help="comma-separated client counts (default 1,8,32,64)")
    parser.add_argument("--requests", type=int, default=200, help="requests per level, at least 4 per client (default 200)")
    parser.add_argument("--long-share", type=float, default=0.1, help="share of 1000-character questions (default 0.1)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",")]
    if not all(1 <= c <= 128 for c in levels) or not 1 <= args.requests <= 5000:
        parser.error("--clients levels must be 1–128 and --requests 1–5000")
    if args.url and urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url must point at this machine (127.0.0.1, localhost or ::1)")
    texts = questions(args.long_share)
    with ExitStack() as stack:
        url = args.url.rstrip("/") if args.url else stack.enter_context(ServeProcess()).url
        rows = [level(url, c, args.requests, texts) for c in levels]
    base = next((r["p50_ms"] for r in rows if r["clients"] == 1), None)
    print(f"{'clients':>7} {'requests':>8} {'accepted/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'503 share':>9} {'errors':>6} {'/health p99':>11}")
    for r in rows:
        print(f"{r['clients']:>7} {r['requests']:>8} {r['accepted_per_s']:>10} {r['p50_ms']!s:>8} {r['p99_ms']!s:>8} {r['refused_503']:>9} {r['other_errors']:>6} {r['health_p99_ms']!s:>11}")
    ok = True
    if base:
        for r in rows:
            within = r["p99_ms"] is not None and r["p99_ms"] <= TARGET_RATIO * base
            ok &= within and not r["other_errors"]
            print(f"{r['clients']} clients: p99 {r['p99_ms']} ms = {r['p99_ms'] / base:.1f}× the one-client p50 ({base} ms), target ≤ {TARGET_RATIO:g}× {'ok' if within else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "one_client_p50_ms": base}, indent=2), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
