/* The BLAS path of the epoch: whole mini-batches as matrices, the products by BLAS ?gemm.
 *
 * Included at the end of dense_impl.h (one instantiation per element type and instruction
 * set, like the rest of it: real, S(), VL, VEC, the update rule apply1/apply_vec, output_act,
 * output_delta, finite_block and the eval section's gemm_rows come from there).
 * dense.c's nn_dense_train_epoch() runs this instead of train_epoch() for a net made with a
 * BLAS function (nn_dense_net.gemm; the glue asks nn_dense_train_uses_blas() at the net's
 * making, whose comment in dense.c gives the measured crossover).
 *
 * A mini-batch of B rows is cut into pieces (nn3_parts: at most NN_BLAS_PARTS, fixed by B), a
 * piece into chunks of at most blas_shape's chunk rows (fixed by the piece), and each chunk goes
 * through the whole net while its rows are in cache (A_0: the chunk's gathered input rows):
 *   forward   Z_l = A_{l-1} W_l^T (+ b_l, act: bias_act_rows; dropout mask) gemm_rows
 *   output    A_L, D_L = output_act / output_delta row by row
 *   backward  D_{l-1} = (D_l W_l) * act'(Z_{l-1}) * mask                      gemm_rm
 *             G_l[piece] (+)= D_l^T A_{l-1}  (the piece's first chunk sets it) gemm_rm
 * then, after a barrier, every layer is updated from the sum of its pieces' gradients (piece 0
 * + piece 1 + ..., in that order): W_l <- update(W_l, sum G_l), b_l <- update(b_l, column sums
 * of D_l), by the rule of apply1/apply_vec (plain, L2, L1, momentum).  A mini-batch of one
 * chunk under the plain rule (network.py's, network2's L2) is updated by the weight products
 * themselves instead (blas_chunk's fuse).
 * Each piece is one thread's, and every BLAS call's arguments are fixed by the shapes, never by
 * the thread count, so results are bit-identical for 1 or 2 threads (BLAS itself must run on
 * one thread: the caller holds it there).  Element-wise work (the update) is split over rows;
 * each element is computed by the same code whoever does it.
 * Mini-batches of at most NN_BLAS_CHUNK rows under the plain rule (one piece: fused) take
 * blas_split_body instead, so that a second thread has work there too: rows forward and back in
 * pieces (blas_shape), a barrier, then each layer's fused update in column slices of W;
 * from two pieces of rows on.  Measured against the one-piece loop (network2, cross-entropy, one
 * epoch of 60,000 rows, medians of 3 alternated processes, threads fixed, 2026-11-29):
 *                       mbs 32, 1 / 2 threads     mbs 100, 1 / 2 threads
 *   [784,30,10]   f64   1.02 / 0.82               0.84 / 0.58
 *                 f32   1.05 / 0.94               0.79 / 0.58
 *   [784,100,10]  f64   (one piece: unchanged)    1.04 / 0.60
 *                 f32                             1.10 / 0.67
 * (two threads against the one-piece loop on two, whose second thread waits; against it on one
 * thread, [784,100,10] at 100 takes 0.68x to 0.76x.  The one-thread cost of [784,100,10]: W packed
 * once per piece of rows.)
 */

#include "gemm_rm.h"

/* Pieces and chunks.  Measured on 2 busy cores (2026-11-29, see dense.c): below 256 rows one
 * piece (a second one packs W again and was 5-15% slower at mbs 32/100, on one thread and on
 * two: a second thread was seldom free); chunks of about 128 rows keep a chunk's inputs and
 * activations in L2 between the products that read them (at mbs 1000 up to 25% faster than one
 * product per piece, never slower; blas_shape takes 32 for narrow nets). */
#ifndef NN_BLAS_MIN_ROWS
#define NN_BLAS_PARTS 2       /* pieces of a mini-batch at most (grad_rows adds up to two) */
#define NN_BLAS_MIN_ROWS 128  /* rows of a piece, at least */
#define NN_BLAS_CHUNK 128     /* rows of a chunk, at most */
#define NN_BLAS_UPD_ROWS 4    /* rows of W per unit of the update's work sharing */
#endif

/* How a net's mini-batches are cut, by its widest layer (as nn_dense_train_uses_blas chooses the
 * path): chunks of blas_body, and the pieces of blas_split_body's two steps (rows of a mini-batch,
 * at least `rows` each; columns of a W, at least `cols`; at most `max` of either).  Nets of at most
 * 64 units go in pieces and chunks small enough for OpenBLAS's small-matrix kernels (no packing),
 * wider ones in larger pieces.  Measured on one epoch of 60,000 rows (network2, medians of 3
 * alternated processes, 2026-11-29): [784,30,10] at mini-batch 100 in 8 pieces took 0.79x to
 * 0.85x the time of 2 pieces on one thread, 0.87x to 0.96x on two, and at 1000 in chunks of 32
 * rows 0.84x to 0.90x the time of chunks of 128; for [784,100,10] the same cuts took 1.07x to
 * 1.21x on one thread at mini-batch 32 and 100 and 1.10x to 1.18x on two at 100 (8 pieces), and
 * 1.10x to 1.31x at 1000 (chunks of 32). */
typedef struct { nn_size chunk, rows, cols; int max; } S(blas_shape_t);

static inline S(blas_shape_t) S(blas_shape)(const nn_dense_net *net) {
    S(blas_shape_t) narrow = {32, 12, 96, 8}, wide = {NN_BLAS_CHUNK, 32, 64, NN_BLAS_PARTS};
    return S(widest_layer)(net) <= 64 ? narrow : wide;
}

/* W_l row by row from its gradient (the sum of `pieces` sums, G holding them one after the
 * other, each (J, K), added in that order), rows [jlo, jhi).  MODE as apply_vec's; the vector
 * part and the tail split each row the same way whichever thread takes it. */
static inline NN_FORCE_INLINE void S(grad_rows)(const int MODE, const S(nn_upd) *u, real *W, real *V,
                                                const real *G, nn_size pieces, nn_size J, nn_size K,
                                                nn_size jlo, nn_size jhi)
{
    const real *G1 = pieces > 1 ? G + J * K : NULL;
    for (nn_size j = jlo; j < jhi; j++) {
        real *w = W + j * K, *v = V ? V + j * K : NULL;
        const real *g = G + j * K, *g1 = G1 ? G1 + j * K : NULL;
        nn_size k = 0;
        if (!g1) {
            for (; k + VL <= K; k += VL) S(apply_vec)(MODE, u, w + k, v ? v + k : NULL, S(vload)(g + k));
            for (; k < K; k++) w[k] = S(apply1)(u, w[k], v ? v + k : NULL, g[k]);
        } else {
            for (; k + VL <= K; k += VL)
                S(apply_vec)(MODE, u, w + k, v ? v + k : NULL, VADD(S(vload)(g + k), S(vload)(g1 + k)));
            for (; k < K; k++) w[k] = S(apply1)(u, w[k], v ? v + k : NULL, g[k] + g1[k]);
        }
    }
}

/* Rows [jlo, jhi) of W_l and the same entries of b_l (from the column sums of D_l, row order). */
static void S(grad_update)(const S(nn_upd) *uw, const S(nn_upd) *ub, real *W, real *V, real *b, real *vb,
                           const real *G, nn_size pieces, const real *D, nn_size B, nn_size J, nn_size K,
                           nn_size jlo, nn_size jhi)
{
    switch (uw->mode) {
    case UPD_PLAIN: S(grad_rows)(UPD_PLAIN, uw, W, V, G, pieces, J, K, jlo, jhi); break;
    case UPD_L1: S(grad_rows)(UPD_L1, uw, W, V, G, pieces, J, K, jlo, jhi); break;
    default: S(grad_rows)(UPD_MOMENTUM, uw, W, V, G, pieces, J, K, jlo, jhi); break;
    }
    S(bias_update)(ub, b, vb, D, J, B, jlo, jhi);
}

/* Rows [c0, c1) of a mini-batch (ord: its rows of X and Y) through the net and back, adding
 * their weight gradients into piece q's sums (G[l] + q J_l J_{l-1}; `first`: set them instead).
 * fuse (a mini-batch of one chunk under the plain rule, uw and ub): no sums, each layer updated
 * at once by the product itself, W_l <- c1 W_l - c2 D_l^T A_{l-1} (BLAS's beta and alpha; one
 * pass over W instead of three: zeroing G, filling it, the update), b_l as grad_update does.
 * q < 0: the deltas D_l only (blas_split_body updates the layers afterwards).
 * Returns 0 when a weighted input or output delta was not finite (then nothing was updated). */
static int S(blas_chunk)(const nn_dense_net *net, const nn_dense_sgd *o, const int64_t *ord, nn_size start,
                         nn_size c0, nn_size c1, nn_size q, int first, const S(nn_upd) *fuse, const S(nn_upd) *ub)
{
    const int L = net->L;
    const nn_size *S = net->sizes, R = c1 - c0;
    real *const *W = (real *const *)net->W, *const *bb = (real *const *)net->b;
    real *const *A = (real *const *)net->A, *const *Z = (real *const *)net->Z, *const *D = (real *const *)net->D;
    real *const *M = (real *const *)net->M, *const *G = (real *const *)net->G;
    const S(gemm_t) gemm = (S(gemm_t))net->gemm;
    const real *Y = (const real *)o->Y;
    const double p = o->p_dropout;
    const int use_mask = p > 0 && M != NULL;
    int finite = 1;

    /* A_0: the chunk's rows of X, one after another (float32 rows under a float64 net converted
     * exactly); each target row asked for now, read by the output delta */
    for (nn_size r = c0; r < c1; r++) {
        real *dst = A[0] + r * S[0];
        __builtin_prefetch(Y + ord[r] * o->ldy, 0, 2);
        if (o->x_dtype == net->dtype) {
            memcpy(dst, (const real *)o->X + ord[r] * o->ldx, sizeof(real) * (size_t)S[0]);
        } else {
            const float *src = (const float *)o->X + ord[r] * o->ldx;
            for (nn_size k = 0; k < S[0]; k++) dst[k] = (real)src[k];
        }
    }
    /* forward: the product, then bias, activation and mask, or the output's activation and delta */
    for (int l = 1; l <= L; l++) {
        const nn_size J = S[l], K = S[l - 1];
        S(gemm_rows)(gemm, A[l - 1] + c0 * K, K, R, W[l], K, J, Z[l] + c0 * J);
        if (l < L) {
            S(bias_act_rows)(net->act_hidden, Z[l] + c0 * J, A[l] + c0 * J, bb[l], R, J, 1);
            for (nn_size r = c0; r < c1 && use_mask; r++) {
                real *ar = A[l] + r * J, *mr = M[l] + r * J;
                for (nn_size j = 0; j < J; j++) {
                    mr[j] = nn_uniform(o->seed, (uint64_t)l, o->counter0 + (uint64_t)(start + r), (uint64_t)j) >= p;
                    ar[j] *= mr[j];
                }
            }
        } else {
            for (nn_size r = c0; r < c1; r++) {
                real *zr = Z[l] + r * J, *ar = A[l] + r * J;
                for (nn_size j = 0; j < J; j++) zr[j] += bb[l][j];
                S(output_act)(net->act_out, zr, ar, J);
                S(output_delta)(net->cost, net->act_out, zr, ar, Y + ord[r] * o->ldy, D[L] + r * J, J);
            }
        }
        if (!S(finite_block)(Z[l] + c0 * J, J, R, 0, J) || (l == L && !S(finite_block)(D[L] + c0 * J, J, R, 0, J)))
            finite = 0;
    }
    if (!finite) return 0;
    /* backward: D_{l-1} from the old W_l (W changes only after every chunk, or, fused, after
     * D_{l-1}), G_l (+)= D_l^T A_{l-1} */
    for (int l = L; l >= 1; l--) {
        const nn_size J = S[l], K = S[l - 1];
        if (l >= 2) {
            S(gemm_rm)(gemm, 0, 0, R, K, J, 1, D[l] + c0 * J, J, W[l], K, 0, D[l - 1] + c0 * K, K);
            for (nn_size r = c0; r < c1; r++) {
                real *g = D[l - 1] + r * K;
                const real *zr = Z[l - 1] + r * K, *ar = A[l - 1] + r * K;
                for (nn_size k = 0; k < K; k++) {
                    g[k] = g[k] * ACT_PRIME(net->act_hidden, zr[k], ar[k]);
                    if (use_mask) g[k] *= M[l - 1][r * K + k];
                }
            }
        }
        if (q < 0) {
            continue;
        } else if (fuse) {
            S(gemm_rm)(gemm, 1, 0, J, K, R, -fuse->c2, D[l] + c0 * J, J, A[l - 1] + c0 * K, K, fuse->c1, W[l], K);
            S(bias_update)(ub, bb[l], NULL, D[l] + c0 * J, J, R, 0, J);
        } else {
            S(gemm_rm)(gemm, 1, 0, J, K, R, 1, D[l] + c0 * J, J, A[l - 1] + c0 * K, K, first ? 0 : 1, G[l] + q * J * K, K);
        }
    }
    return 1;
}

/* Columns [klo, khi) of W_l (J, K) from a whole mini-batch's deltas under the plain rule u:
 * W_l[:, klo:khi] <- c1 W_l[:, klo:khi] - c2 D_l^T A_{l-1}[:, klo:khi], one BLAS call (D_l (B, J),
 * A_{l-1} (B, K)); bias: b_l too, from the column sums of D_l (row order), as grad_update does. */
static void S(blas_update_cols)(const nn_dense_net *net, const S(nn_upd) *u, const S(nn_upd) *ub, int l, nn_size B,
                                nn_size klo, nn_size khi, int bias)
{
    const nn_size J = net->sizes[l], K = net->sizes[l - 1];
    real *W = (real *)net->W[l], *b = (real *)net->b[l];
    const real *D = (const real *)net->D[l], *A = (const real *)net->A[l - 1];
    S(gemm_rm)((S(gemm_t))net->gemm, 1, 0, J, khi - klo, B, -u->c2, D, J, A + klo, K, u->c1, W + klo, K);
    if (bias) S(bias_update)(ub, b, NULL, D, J, B, 0, J);
}

/* Layers whose update has fewer multiply-adds stay in one piece. */
#ifndef NN_BLAS_SPLIT_MACS
#define NN_BLAS_SPLIT_MACS (1 << 20)
#endif

/* The column slices of layer l's update at a mini-batch of B rows. */
static inline nn_size S(blas_split_cols)(const nn_dense_net *net, S(blas_shape_t) sp, int l, nn_size B) {
    const nn_size J = net->sizes[l], K = net->sizes[l - 1];
    return (double)B * (double)J * (double)K < NN_BLAS_SPLIT_MACS ? 1 : nn3_parts(K, sp.cols, sp.max);
}

/* Thread t: mini-batches from mb0 on, each of one chunk under the plain rule (blas_chunk's fuse),
 * in two steps with a barrier after each, so that a second thread has work below 256 rows:
 *   1. rows: pieces of blas_shape's rows, each forward and back to its deltas D_l
 *      (blas_chunk, q = -1): a row needs no other row, so no barrier between the layers;
 *   2. columns: every W_l <- c1 W_l - c2 D_l^T A_{l-1} in column slices (blas_update_cols; slice 0
 *      also updates b_l), handed out round robin, layer 1's first.
 * The pieces are fixed by the shapes, never by the thread count: the same BLAS calls on 1 or 2
 * threads, the same bits. */
static uint64_t S(blas_split_body)(void *ctx, nn_gov *gov, int t, int nth, nn_size mb0)
{
    S(train_ctx) *c = (S(train_ctx) *)ctx;
    const nn_dense_net *net = c->net;
    const nn_dense_sgd *o = c->o;
    const nn_size n = o->n, mbs = o->mbs, nmb = (n + mbs - 1) / mbs;
    const S(blas_shape_t) sp = S(blas_shape)(net);
    (void)nth;
    for (nn_size mb = mb0; mb < nmb; mb++) {
        const nn_size start = mb * mbs, B = (n - start) < mbs ? (n - start) : mbs;
        const int64_t *ord = o->order + start;
        const nn_size pieces = nn3_parts(B, sp.rows, sp.max);
        S(nn_upd) uw, ub;
        S(upd_rules)(o, (double)B, &uw, &ub);
        nn_size tasks = 0;
        for (int l = 1; l <= net->L; l++) tasks += S(blas_split_cols)(net, sp, l, B);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
        for (nn_size q = 0; q < pieces; q++)
            if (!S(blas_chunk)(net, o, ord, start, nn3_part_lo(B, pieces, q), nn3_part_lo(B, pieces, q + 1), -1, 0,
                               NULL, &ub))
                c->nonfinite = 1;
        nn_sync();
        if (c->nonfinite) break;   /* read by every thread after the barrier: all leave together */
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static, 1) nowait
#endif
        for (nn_size q = 0; q < tasks; q++) {
            int l = 1;
            nn_size i = q, parts;
            while (i >= (parts = S(blas_split_cols)(net, sp, l, B))) i -= parts, l++;
            const nn_size K = net->sizes[l - 1];
            S(blas_update_cols)(net, &uw, &ub, l, B, nn3_part_lo(K, parts, i), nn3_part_lo(K, parts, i + 1), i == 0);
        }
        if (t == 0) S(mb_done)(o, gov, mb, start + B);
        nn_sync();
        if (gov->stop || gov->flag) break;
    }
    if (c->nonfinite) gov->stop = 1;
    return 0;
}

/* Thread t: mini-batches from mb0 on, until the governor's segment is over (c: train_ctx's
 * net, options and non-finite flag). */
static uint64_t S(blas_body)(void *ctx, nn_gov *gov, int t, int nth, nn_size mb0)
{
    S(train_ctx) *c = (S(train_ctx) *)ctx;
    const nn_dense_net *net = c->net;
    const nn_dense_sgd *o = c->o;
    const int L = net->L;
    const nn_size *S = net->sizes;
    real *const *W = (real *const *)net->W, *const *bb = (real *const *)net->b;
    real *const *VW = (real *const *)net->vW, *const *Vb = (real *const *)net->vb;
    real *const *D = (real *const *)net->D, *const *G = (real *const *)net->G;
    const nn_size n = o->n, mbs = o->mbs;
    const nn_size nmb = (n + mbs - 1) / mbs;
    const S(blas_shape_t) sh = S(blas_shape)(net);
    (void)nth;
    for (nn_size mb = mb0; mb < nmb; mb++) {
        const nn_size start = mb * mbs;
        const nn_size B = (n - start) < mbs ? (n - start) : mbs;
        const int64_t *ord = o->order + start;
        const nn_size pieces = nn3_parts(B, NN_BLAS_MIN_ROWS, NN_BLAS_PARTS);
        S(nn_upd) uw, ub;
        S(upd_rules)(o, (double)B, &uw, &ub);
        const int fused = pieces == 1 && B <= sh.chunk && uw.mode == UPD_PLAIN;

        /* each piece its chunks in order, on one thread */
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
        for (nn_size q = 0; q < pieces; q++) {
            const nn_size lo = nn3_part_lo(B, pieces, q), rows = nn3_part_lo(B, pieces, q + 1) - lo;
            const nn_size chunks = (rows + sh.chunk - 1) / sh.chunk;
            for (nn_size k = 0; k < chunks; k++)
                if (!S(blas_chunk)(net, o, ord, start, lo + rows * k / chunks, lo + rows * (k + 1) / chunks,
                                   q, k == 0, fused ? &uw : NULL, &ub))
                    c->nonfinite = 1;
        }
        nn_sync();
        /* every thread reads the flag after the barrier: all leave together, W and b as after
         * the previous mini-batch */
        if (c->nonfinite) break;

        /* update every layer from its gradient sums (book: update_mini_batch) */
        for (int l = 1; l <= L && !fused; l++) {
            const nn_size J = S[l], blocks = (J + NN_BLAS_UPD_ROWS - 1) / NN_BLAS_UPD_ROWS;
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
            for (nn_size q = 0; q < blocks; q++) {
                const nn_size jlo = q * NN_BLAS_UPD_ROWS, jhi = jlo + NN_BLAS_UPD_ROWS < J ? jlo + NN_BLAS_UPD_ROWS : J;
                S(grad_update)(&uw, &ub, W[l], VW ? VW[l] : NULL, bb[l], Vb ? Vb[l] : NULL, G[l], pieces,
                               D[l], B, J, S[l - 1], jlo, jhi);
            }
        }
        if (t == 0) S(mb_done)(o, gov, mb, start + B);
        nn_sync();
        if (gov->stop || gov->flag) break;
    }
    if (c->nonfinite) gov->stop = 1;
    return 0;
}

static nn_size S(train_epoch_blas)(const nn_dense_net *net, const nn_dense_sgd *o)
{
    const nn_size mbs = o->mbs;
    const int use_mask = o->p_dropout > 0 && net->M != NULL;
    S(train_ctx) c = {net, o, NULL, NULL, NULL, NULL, 0};
    const int plain = !(o->mu > 0) && o->reg != NN_REG_L1;   /* upd_rules' UPD_PLAIN: no momentum, L2 */
    /* every mini-batch fused in blas_body, and two pieces of rows (below, one thread could only
     * help with the update: measured 1.05x the time on one thread, no faster on two) */
    const int split = mbs <= NN_BLAS_CHUNK && mbs >= 2 * S(blas_shape)(net).rows && plain;
    const nn_size done = nn_gov_run(NN_GOV_DENSE_TRAIN, o->nthreads < 1 ? 1 : o->nthreads,
                                    S(train_key)(net, mbs, 2 * net->dtype + (o->x_dtype == net->dtype) + 4 * use_mask + 8),
                                    0, (o->n + mbs - 1) / mbs, 0, split ? S(blas_split_body) : S(blas_body), &c);
    if (c.nonfinite && o->nonfinite) *o->nonfinite = 1;
    return done;
}
