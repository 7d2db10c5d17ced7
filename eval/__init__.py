"""Measures Touyan: the gold question set, the eval runner and the benchmarks."""
import index  # noqa: F401  (OpenMP's wait policy, before anything loads OpenMP)
