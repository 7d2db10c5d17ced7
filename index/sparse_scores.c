/* Touyan's sums over the postings of a large inverted index (index/postings.py: the e5 latent
 * terms of index/sparse.py, BM25's words of index/bm25.py).
 *
 * The postings are streamed once into one accumulator per thread, then the accumulators are
 * added up; each thread takes its share of every term's postings, so the work splits evenly
 * whatever the terms' lengths. A posting naming a passage outside 0..n_docs-1 is skipped.
 *
 * Streaming the postings is bound by memory bandwidth, so a large index holds its weights as
 * float16 (6 bytes a posting read instead of 8): each kernel (index/sparse_kernels.h) is made twice below, for float32
 * weights (`touyan_sparse_scores`, `touyan_sparse_among`) and for float16 ones (`…_f16`, F16C's
 * conversion, which every AVX2 CPU has). */
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WTYPE float
#define LOAD(w) (w)
#define KERNEL(name) name
#include "sparse_kernels.h"
#undef WTYPE
#undef LOAD
#undef KERNEL

#define WTYPE uint16_t
#define LOAD(w) _cvtsh_ss(w)
#define KERNEL(name) name##_f16
#include "sparse_kernels.h"
