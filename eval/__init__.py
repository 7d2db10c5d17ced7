"""Measures Touyan: the gold question set, the eval runner and the benchmarks."""
