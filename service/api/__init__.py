"""The HTTP API: search, answers and an OpenAI-compatible chat endpoint over one Searcher."""
