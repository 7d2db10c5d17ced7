/* Touyan's sums over the postings of a large inverted index (index/postings.py: the e5 latent
 * terms of index/sparse.py, BM25's words of index/bm25.py).
 *
 * The postings are streamed once into one accumulator per thread, then the accumulators are
 * added up; each thread takes its share of every term's postings, so the work splits evenly
 * whatever the terms' lengths. A posting naming a passage outside 0..n_docs-1 is skipped. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* scores[d] = sum over terms t of q[t] * weights[p], for the postings p in starts[t]..ends[t]-1
 * whose doc_ids[p] is d. Returns 0, or -1 when the per-thread accumulators cannot be allocated. */
int touyan_sparse_scores(const int32_t *doc_ids, const float *weights, const int64_t *starts, const int64_t *ends,
                         const float *q, int nterms, float *scores, int64_t n_docs, int threads) {
    if (threads < 1) threads = 1;
    float *parts = threads > 1 ? calloc((size_t)(threads - 1) * (size_t)n_docs, sizeof(float)) : NULL;
    if (threads > 1 && !parts) return -1;
    memset(scores, 0, sizeof(float) * (size_t)n_docs);
    #pragma omp parallel num_threads(threads)
    {
        int me = omp_get_thread_num(), k = omp_get_num_threads();
        float *acc = me == 0 ? scores : parts + (size_t)(me - 1) * (size_t)n_docs;
        for (int t = 0; t < nterms; t++) {
            int64_t len = ends[t] - starts[t];
            int64_t lo = starts[t] + len * me / k, hi = starts[t] + len * (me + 1) / k;
            float w = q[t];
            for (int64_t p = lo; p < hi; p++) {
                int64_t d = doc_ids[p];
                if (d >= 0 && d < n_docs) acc[d] += w * weights[p];
            }
        }
        #pragma omp barrier
        int64_t lo = n_docs * me / k, hi = n_docs * (me + 1) / k;
        for (int j = 1; j < k; j++) {
            const float *other = parts + (size_t)(j - 1) * (size_t)n_docs;
            for (int64_t d = lo; d < hi; d++) scores[d] += other[d];
        }
    }
    free(parts);
    return 0;
}

/* sums[i] = sum over terms t of q[t] * weights[p], for the posting p of term t naming passage
 * among[i]: a filter's few passages (a report) scored alone. Needs each term's postings in passage
 * order and `among` ascending; each passage is found by galloping on from the last one found,
 * so a term costs about len(among) short searches, not a pass over its postings. */
void touyan_sparse_among(const int32_t *doc_ids, const float *weights, const int64_t *starts, const int64_t *ends,
                         const float *q, int nterms, const int32_t *among, int64_t n_among, float *sums) {
    memset(sums, 0, sizeof(float) * (size_t)n_among);
    for (int t = 0; t < nterms; t++) {
        int64_t lo = starts[t], end = ends[t];
        for (int64_t i = 0; i < n_among && lo < end; i++) {
            int32_t want = among[i];
            int64_t hi = lo, step = 1;  /* every posting before lo names a passage below want */
            while (hi < end && doc_ids[hi] < want) { lo = hi + 1; hi += step; step <<= 1; }
            if (hi > end) hi = end;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (doc_ids[mid] < want) lo = mid + 1; else hi = mid;
            }
            if (lo < end && doc_ids[lo] == want) sums[i] += q[t] * weights[lo];
        }
    }
}
