"""Answering requests: retrieval, extractive and LLM answers, chat rewriting and the HTTP API."""
