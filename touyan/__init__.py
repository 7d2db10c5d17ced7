"""Touyan (头雁): Chinese semantic search and question answering over reform-case reports."""

__version__ = "0.1.0"
