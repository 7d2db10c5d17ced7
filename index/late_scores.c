/* Touyan's late interaction over residual token codes (index/late.py, codes from index/quantize.py).
 *
 * A large index keeps its token vectors as codes and decodes only a query's candidates. In numpy
 * that means a decoded float32 matrix of every candidate token (16 000 tokens: 25 MB written and
 * read back), which cost more than the whole rest of late interaction. Here each token is decoded
 * into a buffer that stays in L1, normalised, and matched against every query token at once, so
 * nothing the size of the candidates is ever written. Passages are shared out among the threads. */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#define BLOCK 4  /* tokens decoded, then matched, together (the matching loop below is written for four) */
_Static_assert(BLOCK == 4, "the matching loop names x0..x3");

/* scores[r] = mean over the nq query tokens of their best cosine with a token of passage r, whose
 * codes are rows bounds[r]..bounds[r+1]-1 of `codes` (row_bytes each: id_bytes of centroid id,
 * little-endian, then the residual's bytes). Residual byte b with value v decodes to dimensions
 * b*per..b*per+per-1 as table[(b*256 + v)*per + j]; the token is that plus its centroid, scaled to
 * unit length. A passage without tokens scores 0. The caller checks bounds, ids and sizes.
 * Returns 0, or -1 when the threads' buffers cannot be allocated. */
int touyan_late_scores(const uint8_t *codes, const int64_t *bounds, int64_t n_rows, int row_bytes, int id_bytes,
                       const float *table, int per, const float *centroids, int dim,
                       const float *query, int nq, float *scores, int threads) {
    if (threads < 1) threads = 1;
    int failed = 0;
    #pragma omp parallel num_threads(threads)
    {
        float *x = malloc(sizeof(float) * (size_t)dim * BLOCK);
        float *best = malloc(sizeof(float) * (size_t)(nq > 0 ? nq : 1));
        if (!x || !best) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(dynamic, 8)
        for (int64_t r = 0; r < n_rows; r++) {
            if (!x || !best) continue;
            int64_t first = bounds[r], end = bounds[r + 1];
            if (end <= first || nq == 0) { scores[r] = 0.f; continue; }
            for (int i = 0; i < nq; i++) best[i] = -INFINITY;
            for (int64_t t0 = first; t0 < end; t0 += BLOCK) {
                int nt = end - t0 < BLOCK ? (int)(end - t0) : BLOCK;
                float inv[BLOCK];
                for (int k = 0; k < BLOCK; k++) {
                    float *xk = x + (size_t)k * (size_t)dim;
                    if (k >= nt) {  /* a short last block: repeat its first token, which changes no max */
                        for (int d = 0; d < dim; d++) xk[d] = x[d];
                        inv[k] = inv[0];
                        continue;
                    }
                    const uint8_t *row = codes + (size_t)(t0 + k) * (size_t)row_bytes;
                    int id = id_bytes == 0 ? 0 : id_bytes == 1 ? row[0] : row[0] | (row[1] << 8);
                    const float *c = centroids + (size_t)id * (size_t)dim;
                    const uint8_t *res = row + id_bytes;
                    float norm = 0.f;
                    if (per == 4) {  /* the build's 2-bit codes: a byte is four dimensions, one SSE vector */
                        __m128 acc = _mm_setzero_ps();
                        for (int b = 0; b < dim / 4; b++) {
                            __m128 v = _mm_add_ps(_mm_loadu_ps(table + ((size_t)b * 256 + res[b]) * 4), _mm_loadu_ps(c + 4 * b));
                            _mm_storeu_ps(xk + 4 * b, v);
                            acc = _mm_add_ps(acc, _mm_mul_ps(v, v));
                        }
                        float lanes[4];
                        _mm_storeu_ps(lanes, acc);
                        norm = lanes[0] + lanes[1] + lanes[2] + lanes[3];
                    } else {
                        for (int b = 0; b < dim / per; b++) {
                            const float *w = table + ((size_t)b * 256 + res[b]) * (size_t)per;
                            for (int j = 0; j < per; j++) xk[b * per + j] = w[j] + c[b * per + j];
                        }
                        for (int d = 0; d < dim; d++) norm += xk[d] * xk[d];
                    }
                    inv[k] = 1.f / fmaxf(sqrtf(norm), 1e-12f);
                }
                /* BLOCK tokens against one query token at a time: each query value loaded once per block. */
                const float *x0 = x, *x1 = x + dim, *x2 = x + 2 * (size_t)dim, *x3 = x + 3 * (size_t)dim;
                for (int i = 0; i < nq; i++) {
                    const float *q = query + (size_t)i * (size_t)dim;
                    float d0 = 0.f, d1 = 0.f, d2 = 0.f, d3 = 0.f;
                    for (int d = 0; d < dim; d++) {
                        float v = q[d];
                        d0 += v * x0[d];
                        d1 += v * x1[d];
                        d2 += v * x2[d];
                        d3 += v * x3[d];
                    }
                    float m = fmaxf(fmaxf(d0 * inv[0], d1 * inv[1]), fmaxf(d2 * inv[2], d3 * inv[3]));
                    if (m > best[i]) best[i] = m;
                }
            }
            float sum = 0.f;
            for (int i = 0; i < nq; i++) sum += best[i];
            scores[r] = sum / (float)nq;
        }
        free(x);
        free(best);
    }
    return failed ? -1 : 0;
}
