"""Touyan (头雁): Chinese semantic search and question answering over reform-case reports."""
import index  # noqa: F401  (OpenMP's wait policy, before anything loads OpenMP)

__version__ = "0.1.0"
