"""Answering requests: retrieval, extractive and LLM answers, chat rewriting and the HTTP API."""
import index  # noqa: F401  (OpenMP's wait policy, before anything loads OpenMP)
