/* The BLAS path of the epoch: whole mini-batches as matrices, the products by BLAS ?gemm.
 *
 * Included at the end of dense_impl.h (one instantiation per element type and instruction
 * set, like the rest of it: real, S(), VL, VEC, the update rule apply1/apply_vec, output_act,
 * output_delta, finite_block and the eval section's gemm_rows come from there).
 * dense.c's nn_dense_train_epoch() runs this instead of train_epoch() for a net made with a
 * BLAS function (nn_dense_net.gemm; the glue asks nn_dense_train_uses_blas() at the net's
 * making, whose comment in dense.c gives the measured crossover).
 *
 * Per mini-batch of B rows (A_0 the gathered input rows, one per example):
 *   forward   Z_l (B, J) = A_{l-1} W_l^T (+ b_l, act, dropout mask)       gemm_rows
 *   output    A_L, D_L = output_act / output_delta row by row
 *   backward  D_{l-1} (B, K) = (D_l W_l) * act'(Z_{l-1}) * mask            gemm_rm
 *             G_l (J, K) = D_l^T A_{l-1}                                    gemm_parts
 *   update    W_l <- update(W_l, G_l), b_l <- update(b_l, column sums of D_l), the rule of
 *             apply1/apply_vec (plain, L2, L1, momentum)
 * Every product is cut into pieces fixed by its shape (nn3_parts, at most NN_BLAS_PARTS),
 * never by the thread count, and each piece is one BLAS call: an element of a product comes
 * from the same call with the same arguments however many threads share the pieces, so
 * results are bit-identical for 1 or 2 threads (BLAS itself must run on one thread: the
 * caller holds it there).  Element-wise work (activations, masks, updates) is split over
 * rows; each element is computed by the same code whoever does it.
 */

#include "gemm_rm.h"

/* Pieces: a product is at most NN_BLAS_PARTS BLAS calls (fixed: bit-identity), and a mini-batch
 * is cut only from 2 * NN_BLAS_MIN_ROWS rows on (then also the columns of its weight gradients,
 * at least NN_BLAS_MIN_COLS each).  Measured on 2 busy cores (2026-11-29, see dense.c): one call
 * per product was 5-15% faster than two at mini-batch 32 and 100, on one thread and on two (each
 * call packs the whole of W again, and a second thread was seldom free); at 1000 the two were
 * even. */
#ifndef NN_BLAS_MIN_ROWS
#ifndef NN_BLAS_PARTS
#define NN_BLAS_PARTS 2
#endif
#define NN_BLAS_MIN_ROWS 128  /* rows of a mini-batch per piece, at least */
#define NN_BLAS_MIN_COLS 128  /* columns of a weight gradient per piece, at least */
#define NN_BLAS_UPD_ROWS 4    /* rows of W per unit of the update's work sharing */
#endif

/* W_l row by row from its gradient sum G_l, then b_l from the column sums of D_l (row order),
 * rows [jlo, jhi).  MODE as apply_vec's; the vector part and the tail split each row the same
 * way whichever thread takes it. */
static inline NN_FORCE_INLINE void S(grad_rows)(const int MODE, const S(nn_upd) *u, real *W, real *V,
                                                const real *G, nn_size K, nn_size jlo, nn_size jhi)
{
    for (nn_size j = jlo; j < jhi; j++) {
        real *w = W + j * K, *v = V ? V + j * K : NULL;
        const real *g = G + j * K;
        nn_size k = 0;
        for (; k + VL <= K; k += VL) S(apply_vec)(MODE, u, w + k, v ? v + k : NULL, S(vload)(g + k));
        for (; k < K; k++) w[k] = S(apply1)(u, w[k], v ? v + k : NULL, g[k]);
    }
}

static void S(grad_update)(const S(nn_upd) *uw, const S(nn_upd) *ub, real *W, real *V, real *b, real *vb,
                           const real *G, const real *D, nn_size B, nn_size J, nn_size K, nn_size jlo, nn_size jhi)
{
    switch (uw->mode) {
    case UPD_PLAIN: S(grad_rows)(UPD_PLAIN, uw, W, V, G, K, jlo, jhi); break;
    case UPD_L1: S(grad_rows)(UPD_L1, uw, W, V, G, K, jlo, jhi); break;
    default: S(grad_rows)(UPD_MOMENTUM, uw, W, V, G, K, jlo, jhi); break;
    }
    for (nn_size j = jlo; j < jhi; j++) {
        real s = 0;
        for (nn_size r = 0; r < B; r++) s += D[r * J + j];
        b[j] = S(apply1)(ub, b[j], vb ? vb + j : NULL, s);
    }
}

static nn_size S(train_epoch_blas)(const nn_dense_net *net, const nn_dense_sgd *o)
{
    const int L = net->L;
    const nn_size *S = net->sizes;
    real *const *W = (real *const *)net->W, *const *bb = (real *const *)net->b;
    real *const *VW = (real *const *)net->vW, *const *Vb = (real *const *)net->vb;
    real *const *A = (real *const *)net->A, *const *Z = (real *const *)net->Z, *const *D = (real *const *)net->D;
    real *const *M = (real *const *)net->M, *const *G = (real *const *)net->G;
    const S(gemm_t) gemm = (S(gemm_t))net->gemm;
    const int same_x = (o->x_dtype == net->dtype);
    const real *Y = (const real *)o->Y;
    const nn_size n = o->n, mbs = o->mbs;
    const nn_size nmb = (n + mbs - 1) / mbs;
    const double p = o->p_dropout;
    const int use_mask = p > 0 && M != NULL;
    int nt = o->nthreads < 1 ? 1 : o->nthreads;

    volatile int stop_now = 0;
    volatile int nonfinite = 0;   /* a piece saw an inf/NaN z or output delta: stop before the update */
    volatile int flag = 0;        /* thread 0's nn_gov_check() after each mini-batch, read after the barrier */
    nn_size done = 0, next_mb = 0;

    nn_gov gov;
    if (nn_gov_begin(&gov, NN_GOV_DENSE_TRAIN, nt, S(train_key)(net, mbs, 2 * net->dtype + same_x + 4 * use_mask + 8)))
        return -1;

    while (next_mb < nmb && !stop_now && !nonfinite) {
        const nn_size mb0 = next_mb;
        nn_gov_seg_start(&gov);
        flag = 0;
#ifdef NNFAST_OPENMP
#pragma omp parallel num_threads(nn_gov_threads(&gov))
#endif
        {
            NN_THREAD_IDS;
            (void)nth;
            nn_gov_thread_start(&gov, t, nth);
            for (nn_size mb = mb0; mb < nmb; mb++) {
                const nn_size start = mb * mbs;
                const nn_size B = (n - start) < mbs ? (n - start) : mbs;
                const int64_t *ord = o->order + start;
                const nn_size rparts = nn3_parts(B, NN_BLAS_MIN_ROWS, NN_BLAS_PARTS);

                /* A_0: the mini-batch's rows of X, one after another (float32 rows under a float64
                 * net converted exactly) */
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
                for (nn_size r = 0; r < B; r++) {
                    real *dst = A[0] + r * S[0];
                    __builtin_prefetch(Y + ord[r] * o->ldy, 0, 2);   /* its target row, read by the output delta */
                    if (same_x) {
                        memcpy(dst, (const real *)o->X + ord[r] * o->ldx, sizeof(real) * (size_t)S[0]);
                    } else {
                        const float *src = (const float *)o->X + ord[r] * o->ldx;
                        for (nn_size k = 0; k < S[0]; k++) dst[k] = (real)src[k];
                    }
                }
                nn_sync();

                /* forward, piece by piece of rows: the product, then bias, activation and mask (or the
                 * output layer's activation and delta) on the piece's rows while they are in cache */
                for (int l = 1; l <= L; l++) {
                    const nn_size J = S[l], K = S[l - 1];
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
                    for (nn_size q = 0; q < rparts; q++) {
                        const nn_size lo = nn3_part_lo(B, rparts, q), hi = nn3_part_lo(B, rparts, q + 1);
                        S(gemm_rows)(gemm, A[l - 1] + lo * K, K, hi - lo, W[l], K, J, Z[l] + lo * J);
                        for (nn_size r = lo; r < hi; r++) {
                            real *zr = Z[l] + r * J, *ar = A[l] + r * J;
                            for (nn_size j = 0; j < J; j++) zr[j] += bb[l][j];
                            if (l < L) {
                                for (nn_size j = 0; j < J; j++) {
                                    real a = ACT(net->act_hidden, zr[j]);
                                    if (use_mask) {
                                        real keep = nn_uniform(o->seed, (uint64_t)l,
                                                               o->counter0 + (uint64_t)(start + r), (uint64_t)j) >= p;
                                        M[l][r * J + j] = keep;
                                        a *= keep;
                                    }
                                    ar[j] = a;
                                }
                            } else {
                                S(output_act)(net->act_out, zr, ar, J);
                                S(output_delta)(net->cost, net->act_out, zr, ar, Y + ord[r] * o->ldy, D[L] + r * J, J);
                            }
                        }
                        if (!S(finite_block)(Z[l] + lo * J, J, hi - lo, 0, J) ||
                            (l == L && !S(finite_block)(D[L] + lo * J, J, hi - lo, 0, J)))
                            nonfinite = 1;
                    }
                    nn_sync();
                }
                /* every thread reads the flag after the barrier: all leave together, W and b as after
                 * the previous mini-batch */
                if (nonfinite) break;

                /* backward: G_l = D_l^T A_{l-1} and D_{l-1} from the old W_l; W changes only after */
                for (int l = L; l >= 1; l--) {
                    const nn_size J = S[l], K = S[l - 1];
                    if (l >= 2) {
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
                        for (nn_size q = 0; q < rparts; q++) {
                            const nn_size lo = nn3_part_lo(B, rparts, q), hi = nn3_part_lo(B, rparts, q + 1);
                            S(gemm_rm)(gemm, 0, 0, hi - lo, K, J, 1, D[l] + lo * J, J, W[l], K, 0, D[l - 1] + lo * K, K);
                            for (nn_size r = lo; r < hi; r++) {
                                real *g = D[l - 1] + r * K;
                                const real *zr = Z[l - 1] + r * K, *ar = A[l - 1] + r * K;
                                for (nn_size k = 0; k < K; k++) {
                                    g[k] = g[k] * ACT_PRIME(net->act_hidden, zr[k], ar[k]);
                                    if (use_mask) g[k] *= M[l - 1][r * K + k];
                                }
                            }
                        }
                    }
                    S(gemm_parts)(gemm, 1, 0, 0, J, K, B, 1, D[l], J, A[l - 1], K, 0, G[l], K, NN_BLAS_MIN_COLS,
                                  (int)rparts);   /* ends with the barrier */
                }

                /* update every layer from its gradient sums (book: update_mini_batch) */
                S(nn_upd) uw, ub;
                S(upd_rules)(o, (double)B, &uw, &ub);
                for (int l = 1; l <= L; l++) {
                    const nn_size J = S[l], blocks = (J + NN_BLAS_UPD_ROWS - 1) / NN_BLAS_UPD_ROWS;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
                    for (nn_size q = 0; q < blocks; q++) {
                        const nn_size jlo = q * NN_BLAS_UPD_ROWS, jhi = jlo + NN_BLAS_UPD_ROWS < J ? jlo + NN_BLAS_UPD_ROWS : J;
                        S(grad_update)(&uw, &ub, W[l], VW ? VW[l] : NULL, bb[l], Vb ? Vb[l] : NULL, G[l], D[l], B, J,
                                       S[l - 1], jlo, jhi);
                    }
                }
                if (t == 0) {
                    done = start + B;
                    next_mb = mb + 1;
                    if (o->progress) *o->progress = done;
                    flag = nn_gov_check(&gov);
                    if ((o->stop && *o->stop) || flag == NN_GOV_STOP) stop_now = 1;
                }
                nn_sync();
                if (stop_now || flag) break;
            }
            nn_gov_thread_end(&gov, t);
        }
        nn_gov_seg_end(&gov, (double)(done - mb0 * mbs));
    }
    nn_gov_end(&gov, NN_GOV_DENSE_TRAIN);
    if (nonfinite && o->nonfinite) *o->nonfinite = 1;
    return done;
}
