/* network3's fully connected layers at small mini-batches, through the kernels of dense_impl.h
 * (the one fully connected implementation of network and network2): a template body, instantiated
 * by dense.c with dense_impl.h for each element type and instruction set, reached through the
 * dispatchers nn_fc3_* declared in net3.h.
 *
 * network3 keeps the book's x·w layout, w (I, O) row-major, where dense_impl.h's W is (J, K) with a
 * row per unit.  The same kernels serve with the roles of the matrices exchanged:
 *   z = x w        is summed as update_units sums s = D^T A, with s = z, D = x^T, A = w, over chunks
 *                  of 64 inputs, in its own kernel below (register blocks of 5 rows x 2 vectors over
 *                  a slice of z's columns; update_units would hold 2 rows of z, and needs whole rows);
 *   dx = dz w^T    is forward_units (Z = A W^T + b) with A = dz, W = w, b = 0: register blocks of
 *                  5 rows x 2 inputs, each a dot product along a row of w;
 *   w -= eta x^T dz  is update_units (W <- c1 W - c2 D^T A) with D = x, A = dz, c1 = 1, c2 = eta.
 * None packs w, as BLAS does for every call on a (10, 1000) x (1000, 1000) product: at the book's
 * mini-batch of 10 the packing costs as much as the arithmetic.
 * Each output element is one fixed sequence of operations for a given shape and slice; the slices
 * are fixed by the shape (dense3.c), never by the thread count.
 */
#ifndef NN_FC3_WIDE
#include "dense_impl.h"
#endif

/* inputs per update_units call of the forward product (its x^T block lives on the stack) */
#undef NN_FC3_CHUNK
#define NN_FC3_CHUNK 64
/* units per forward_units call of the input gradient (the length of its zero bias) */
#undef NN_FC3_UNITS
#define NN_FC3_UNITS 256

/* The forward kernel's vectors: dense_impl.h's (32 bytes), or 64 bytes in dense.c's AVX-512
 * instantiation (NN_FC3_WIDE).  Lanes are independent (each element's sum is its own), so the
 * numbers are the same either way. */
#ifndef NN_FC3_WIDE
typedef S(nn_vec) S(fc3_vec);
#define FC3_VL VL
#define FC3_LOAD(p) S(vload)(p)
#define FC3_STORE(p, v) S(vstore)(p, v)
#define FC3_ZERO() S(vzero)()
#define FC3_BCAST(x) S(vbcast)(x)
#define FC3_SPLAT(x) S(vsplat)(x)
#define FC3_IN_REGISTER(v) NN_IN_REGISTER(v)
#else
typedef real S(fc3_vec) __attribute__((vector_size(64), aligned(sizeof(real)), may_alias));
#define FC3_VL (2 * VL)
#define FC3_LOAD(p) (*(const S(fc3_vec) *)(p))
#define FC3_STORE(p, v) (*(S(fc3_vec) *)(p) = (v))
#define FC3_ZERO() ((S(fc3_vec)){0})
#define FC3_BCAST(x) (FC3_ZERO() + (x))   /* 0 + x, as vbcast */
#define FC3_SPLAT(x) ((x) - FC3_ZERO())   /* x, as vsplat */
#define FC3_IN_REGISTER(v) ((void)0)
#endif

/* One register block of the forward product, over n inputs: s[r, c] = sum_i x[r, i] w[i, c] (from
 * zero, in input order), then z[r, c] += s[r, c], for RB rows (x's row stride I, z's O) and CV
 * vectors of columns (w's row stride O). */
static inline NN_FORCE_INLINE void S(fc3_fwd_block)(const int RB, const int CV, const real *x, nn_size I,
                                                    const real *w, nn_size O, nn_size n, real *z) {
    S(fc3_vec) acc[5][2];
    for (int r = 0; r < RB; r++)
        for (int c = 0; c < CV; c++) acc[r][c] = FC3_ZERO();
    for (nn_size i = 0; i < n; i++) {
        S(fc3_vec) w0 = FC3_LOAD(w + i * O), w1 = CV > 1 ? FC3_LOAD(w + i * O + FC3_VL) : w0;
        FC3_IN_REGISTER(w0);
        FC3_IN_REGISTER(w1);
        for (int r = 0; r < RB; r++) {
            S(fc3_vec) a = FC3_BCAST(x[r * I + i]);
            VMADD(acc[r][0], a, w0);
            if (CV > 1) VMADD(acc[r][1], a, w1);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int c = 0; c < CV; c++)
            FC3_STORE(z + r * O + c * FC3_VL, VADD(FC3_LOAD(z + r * O + c * FC3_VL), acc[r][c]));
}

/* The block's rows r in [0, nb): 5 at a time, then the rest in one block. */
static inline NN_FORCE_INLINE void S(fc3_fwd_rows)(const int CV, const real *x, nn_size I, const real *w, nn_size O,
                                                   nn_size n, real *z, nn_size nb) {
    nn_size r = 0;
    for (; r + 5 <= nb; r += 5) S(fc3_fwd_block)(5, CV, x + r * I, I, w, O, n, z + r * O);
    switch (nb - r) {
    case 4: S(fc3_fwd_block)(4, CV, x + r * I, I, w, O, n, z + r * O); break;
    case 3: S(fc3_fwd_block)(3, CV, x + r * I, I, w, O, n, z + r * O); break;
    case 2: S(fc3_fwd_block)(2, CV, x + r * I, I, w, O, n, z + r * O); break;
    case 1: S(fc3_fwd_block)(1, CV, x + r * I, I, w, O, n, z + r * O); break;
    default: break;
    }
}

/* The whole vectors of columns [lo, hi) of one chunk of n inputs when at most half of x's numbers
 * there are nonzero (returns 1; else 0 and nothing done): each row's sum runs over its own nonzero
 * inputs, in input order, in blocks of 4 vectors (then 1) held in registers.  A term left out is
 * 0 * w, which adds 0 to the sum (at most turning -0 into +0), so every number is fc3_fwd_rows'.
 * Under ReLU and dropout three quarters of x are 0 (the dropout net's 1000-unit layers). */
static int S(fc3_fwd_sparse)(const real *x, nn_size ldx, const real *w, nn_size O, nn_size n, real *z, nn_size nb,
                             nn_size lo, nn_size hi) {
    int16_t nz[64][NN_FC3_CHUNK];
    nn_size cnt[64], total = 0;
    for (nn_size r = 0; r < nb; r++) {
        nn_size c = 0;
        for (nn_size i = 0; i < n; i++)
            if (x[r * ldx + i] != 0) nz[r][c++] = (int16_t)i;
        cnt[r] = c;
        total += c;
    }
    if (2 * total > nb * n) return 0;
    nn_size j = lo;
    for (; j + 4 * FC3_VL <= hi; j += 4 * FC3_VL)
        for (nn_size r = 0; r < nb; r++) {
            S(fc3_vec) acc[4] = {FC3_ZERO(), FC3_ZERO(), FC3_ZERO(), FC3_ZERO()};
            for (nn_size t = 0; t < cnt[r]; t++) {
                const nn_size i = nz[r][t];
                const real *wr = w + i * O + j;
                S(fc3_vec) a = FC3_BCAST(x[r * ldx + i]);
                for (int v = 0; v < 4; v++) VMADD(acc[v], a, FC3_LOAD(wr + v * FC3_VL));
            }
            for (int v = 0; v < 4; v++)
                FC3_STORE(z + r * O + j + v * FC3_VL, VADD(FC3_LOAD(z + r * O + j + v * FC3_VL), acc[v]));
        }
    for (; j + FC3_VL <= hi; j += FC3_VL)
        for (nn_size r = 0; r < nb; r++) {
            S(fc3_vec) acc = FC3_ZERO();
            for (nn_size t = 0; t < cnt[r]; t++) {
                const nn_size i = nz[r][t];
                VMADD(acc, FC3_BCAST(x[r * ldx + i]), FC3_LOAD(w + i * O + j));
            }
            FC3_STORE(z + r * O + j, VADD(FC3_LOAD(z + r * O + j), acc));
        }
    return 1;
}

/* z[:, lo:hi] = scale x w[:, lo:hi]: all nb rows (nb <= 64) of z, columns lo..hi; x (nb, I) with row stride
 * ldx, w (I, O), z (nb, O).
 * Over chunks of NN_FC3_CHUNK inputs, each element takes s = the chunk's sum from zero in input order,
 * then z += s (from z = 0): update_units' sums s = D^T A with z as s, so the numbers are those of
 * running them over the rows of z.  The last columns (fewer than a vector) go through the
 * vector block too, on padded copies: a scalar loop there is vectorised by GCC into products and
 * separate sums, not the fused multiply-adds of update_units' tail.  Register blocks of 5 rows x 2 vectors (w read once per
 * 5 rows, not per 2); a thread takes a slice of columns, so it streams only that slice of w. */
static void S(fc3_forward)(const real *x, nn_size ldx, const real *w, real *z, real scale, nn_size nb, nn_size I,
                           nn_size O, nn_size lo, nn_size hi) {
    for (nn_size r = 0; r < nb; r++) memset(z + r * O + lo, 0, (size_t)(hi - lo) * sizeof(real));
    for (nn_size i0 = 0; i0 < I; i0 += NN_FC3_CHUNK) {
        const nn_size n = I - i0 < NN_FC3_CHUNK ? I - i0 : NN_FC3_CHUNK;
        const real *xi = x + i0, *wi = w + i0 * O;
        nn_size j = lo;
        if (S(fc3_fwd_sparse)(xi, ldx, wi, O, n, z, nb, lo, hi)) {
            j += (hi - lo) / FC3_VL * FC3_VL;
        } else {
            for (; j + 2 * FC3_VL <= hi; j += 2 * FC3_VL) S(fc3_fwd_rows)(2, xi, ldx, wi + j, O, n, z + j, nb);
            for (; j + FC3_VL <= hi; j += FC3_VL) S(fc3_fwd_rows)(1, xi, ldx, wi + j, O, n, z + j, nb);
        }
        if (j < hi) {   /* the last hi - j < FC3_VL columns: one vector block on copies padded with zeros */
            const nn_size m = hi - j;
            real wt[NN_FC3_CHUNK * FC3_VL], zt[64 * FC3_VL];
            for (nn_size i = 0; i < n; i++)
                for (nn_size c = 0; c < FC3_VL; c++) wt[i * FC3_VL + c] = c < m ? wi[i * O + j + c] : 0;
            for (nn_size r = 0; r < nb; r++)
                for (nn_size c = 0; c < FC3_VL; c++) zt[r * FC3_VL + c] = c < m ? z[r * O + j + c] : 0;
            S(fc3_fwd_rows)(1, xi, ldx, wt, FC3_VL, n, zt, nb);
            for (nn_size r = 0; r < nb; r++)
                for (nn_size c = 0; c < m; c++) z[r * O + j + c] = zt[r * FC3_VL + c];
        }
    }
    if (scale != 1)
        for (nn_size r = 0; r < nb; r++)
            for (nn_size j = lo; j < hi; j++) z[r * O + j] *= scale;
}

/* the first layer on its nonzero inputs (every instantiation, AVX-512 included) */
#include "dense_sparse.h"

#undef FC3_VL
#undef FC3_LOAD
#undef FC3_STORE
#undef FC3_ZERO
#undef FC3_BCAST
#undef FC3_SPLAT
#undef FC3_IN_REGISTER

#ifndef NN_FC3_WIDE   /* the AVX-512 instantiation holds the forward product alone */
/* dx[r, lo:hi] = dz[r] w[lo:hi]^T for rows r < nb (nb <= 64); dz (nb, O), dx (nb, I). */
static void S(fc3_backward_x)(const real *dz, const real *w, real *dx, nn_size nb, nn_size I, nn_size O, nn_size lo,
                              nn_size hi) {
    static const real zero[NN_FC3_UNITS];
    const real *rows[64];
    for (nn_size r = 0; r < nb; r++) rows[r] = dz + r * O;
    for (nn_size j = lo; j < hi; j += NN_FC3_UNITS) {
        nn_size n = hi - j < NN_FC3_UNITS ? hi - j : NN_FC3_UNITS;
        S(forward_units)(rows, nb, w + j * O, O, zero, dx + j, I, 0, n);
    }
}

/* w[lo:hi] -= eta x[:, lo:hi]^T dz for rows r < nb (nb <= 64); x (nb, I), dz (nb, O).  update_units on
 * each pair of w's rows, with the mini-batch rows whose x is 0 in both left out: their terms add 0 to
 * a sum (at most turning -0 into +0, and w - eta*(+-0) is w), and a pair whose x is 0 in every row is
 * left as it is.  The numbers are update_units' on all the rows to within rounding, not to the bit:
 * in the AVX2 build GCC contracts the multiply-adds of the scalar tail (w's last columns, fewer than a
 * vector) differently for another count of rows (float64, 63 rows, O = 33: the last column differed
 * by an ulp in 22 of 200 random cases).  Which rows are left out depends on x alone, so the numbers are
 * the same for any thread count.  Under dropout and ReLU most of x is 0 (a quarter of it is not, at
 * the dropout net's 1000-unit layers). */
static void S(fc3_update)(const real *x, const real *dz, real *w, real eta, nn_size nb, nn_size I, nn_size O,
                          nn_size lo, nn_size hi) {
    S(nn_upd) u;
    real d[2 * 64];
    const real *rows[64];
    u.c1 = 1;
    u.c2 = eta;
    for (nn_size j = lo; j < hi; j += 2) {   /* rows j, j + 1 of w: x's columns j, j + 1 */
        nn_size RJ = j + 1 < hi ? 2 : 1, n = 0;
        for (nn_size r = 0; r < nb; r++) {
            real x0 = x[r * I + j], x1 = RJ > 1 ? x[r * I + j + 1] : 0;
            if (x0 != 0 || x1 != 0) {
                d[2 * n] = x0;
                d[2 * n + 1] = x1;
                rows[n++] = dz + r * O;
            }
        }
        if (n) S(update_units)(&u, w + j * O, O, d, 2, n, rows, 0, RJ);
    }
}
#endif
