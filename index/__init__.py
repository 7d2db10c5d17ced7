"""Turns report files into a searchable index: parse → chunk → embed → store."""
