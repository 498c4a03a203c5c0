/* The first fully connected layer on its nonzero inputs: MNIST's pixels are 81% zero (Fashion-MNIST's
 * 50%), and a zero input adds nothing to z = x w nor to dw = x^T dz.  Included by dense_fc3.h in each of
 * its instantiations (baseline, AVX2, AVX-512: its FC3_* vectors), reached through dense.c's
 * dispatchers nn_sparse_*, taken by dense3.c for the first layer's slices (nn3_sparse_density says when).
 *
 * Shapes as in dense3.c: x (nb, I) rows ldx apart, w (I, O), z, dz (nb, O); [lo, hi) a slice of the
 * inputs (of w's rows).
 *   forward:  z[r, :] = sum over i in [lo, hi) with x[r, i] != 0 of x[r, i] w[i, :], from zero in
 *             input order
 *   update:   for each band of rows, acc[i, :] += alpha s[i, :], s[i, :] = sum over the band's rows r
 *             with x[r, i] != 0 of x[r, i] dz[r, :], from zero in row order (one band at mini-batches
 *             up to NN_SP_BAND): the SGD step w -= eta dw (alpha = -eta; acc the weights, or their
 *             velocity under momentum)
 * Each returns 0, having written nothing, when more than `density` of x[:, lo:hi]'s numbers are
 * nonzero in its first band of rows (the caller then takes the dense product).
 * The rows go in bands of at most NN_SP_BAND; a band's inputs in chunks of NN_SP_CHUNK, each with a mask
 * per input of the band's rows where it is not 0.  A row of w (forward) or of acc (update) is read once
 * per band and input where the mask is not 0 (BLAS reads all of w per block of rows; a loop over each
 * row's nonzeros read a row of w per nonzero: twice the traffic from L2 at mini-batch 10, measured
 * slower).  z's and dz's band rows stay in L1.
 * A term left out is 0 * w (or 0 * dz), which adds 0 (at most turning -0 into +0): the numbers are the
 * dense products' to within rounding, often to the bit (OpenBLAS's small-matrix kernels add in the same
 * order; its larger ones otherwise).  Each output element is one
 * fixed sequence of operations for a given x, shape and slice: the same for any thread count.
 * The O columns are ceil(O / VL) vectors, the last one ending at column O (overlapping the one before
 * when VL does not divide O), in groups of at most SP_MAXV vectors (8 in the AVX-512 build, with its 32
 * registers: [784,100,10] float32 at mini-batch 1000 took 0.94x the time of groups of 4; 4 in the
 * others), as even as can be so that the last two share a group: a group loads all its vectors before
 * it stores any, and the lanes two vectors share are computed the same way twice (O < VL: scalars).
 * Tried and not kept: the update's sums in two sets (odd and even rows; 0.99x to 1.02x the time).
 */
#undef SP_MAXV
#ifdef NN_FC3_WIDE
#define SP_MAXV 8
#else
#define SP_MAXV 4
#endif
#ifndef NN_SP_BAND
#define NN_SP_BAND 32
#define NN_SP_CHUNK 1024
#if NN_PORTABLE_C
static inline int nn_ctz32(uint32_t m) { int r = 0; while (!(m & 1u)) { m >>= 1; r++; } return r; }
#else
#define nn_ctz32(m) __builtin_ctz(m)
#endif
#endif

/* 1 when at most density of x[r, lo:hi] are nonzero, r in the first band (all rows up to NN_SP_BAND; above,
 * a sample: training's mini-batches are random rows, and counting them all read x once more from L3,
 * 11% of an epoch at mini-batch 1000). */
static int S(sparse_enough)(const real *x, nn_size ldx, nn_size nb, nn_size lo, nn_size hi, double density) {
    nn_size n = 0;
    if (nb > NN_SP_BAND) nb = NN_SP_BAND;
    for (nn_size r = 0; r < nb; r++) {
        const real *xr = x + r * ldx;
        int32_t c = 0;
        for (nn_size i = lo; i < hi; i++) c += xr[i] != 0;
        n += c;
    }
    return (double)n <= density * (double)nb * (double)(hi - lo);
}

/* mask[i - i0] = the band's rows r < nb (bit r) with x[r, i] != 0, for i in [i0, i1); returns 1 when any. */
static int S(sparse_masks)(const real *x, nn_size ldx, nn_size nb, nn_size i0, nn_size i1, uint32_t *mask) {
    uint32_t any = 0;
    for (nn_size i = i0; i < i1; i++) mask[i - i0] = 0;
    for (nn_size r = 0; r < nb; r++) {
        const real *xr = x + r * ldx;
        for (nn_size i = i0; i < i1; i++) mask[i - i0] |= (uint32_t)(xr[i] != 0) << r;
    }
    for (nn_size i = i0; i < i1; i++) any |= mask[i - i0];
    return any != 0;
}

/* Group g of G: vectors [v0, v1) of the nv vectors of a row of O columns, and their columns col[]. */
static inline int S(sparse_group)(nn_size O, nn_size nv, nn_size G, nn_size g, nn_size col[SP_MAXV]) {
    const nn_size v0 = nv * g / G, v1 = nv * (g + 1) / G;
    for (nn_size v = v0; v < v1; v++) col[v - v0] = v * FC3_VL + FC3_VL <= O ? v * FC3_VL : O - FC3_VL;
    return (int)(v1 - v0);
}

/* z[r, col[v] ...] += x[r, i] w[i, col[v] ...] for the NV vectors, inputs i in [i0, i1) with a mask, rows
 * r of their masks.  Inputs go in pairs: a row nonzero at both takes the two multiply-adds, i's then
 * i + 1's, between one load and one store of its z (MNIST's strokes are runs of nonzero pixels; the
 * stores set the pace), the other rows one.  Each z row so adds its terms in input order. */
static inline NN_FORCE_INLINE void S(sparse_fwd_group)(const int NV, const nn_size *col, const real *x, nn_size ldx,
                                                       const uint32_t *mask, nn_size i0, nn_size i1, const real *w,
                                                       nn_size O, real *z) {
    S(fc3_vec) w0[SP_MAXV], w1[SP_MAXV], t[SP_MAXV];
#define SP_FWD_ROWS(m, ...)                                  \
    for (uint32_t mm = (m); mm; mm &= mm - 1) {              \
        const int r = nn_ctz32(mm);                          \
        real *zr = z + r * O;                                \
        for (int v = 0; v < NV; v++) t[v] = FC3_LOAD(zr + col[v]); \
        __VA_ARGS__                                          \
        for (int v = 0; v < NV; v++) FC3_STORE(zr + col[v], t[v]); \
    }
    nn_size i = i0;
    for (; i + 2 <= i1; i += 2) {
        const uint32_t m0 = mask[i - i0], m1 = mask[i + 1 - i0];
        if (!(m0 | m1)) continue;
        for (int v = 0; v < NV; v++) {
            w0[v] = FC3_LOAD(w + i * O + col[v]);
            w1[v] = FC3_LOAD(w + (i + 1) * O + col[v]);
        }
        SP_FWD_ROWS(m0 & m1, {
            S(fc3_vec) c0 = FC3_BCAST(x[r * ldx + i]), c1 = FC3_BCAST(x[r * ldx + i + 1]);
            for (int v = 0; v < NV; v++) VMADD(t[v], c0, w0[v]);
            for (int v = 0; v < NV; v++) VMADD(t[v], c1, w1[v]);
        })
        SP_FWD_ROWS(m0 & ~m1, {
            S(fc3_vec) c0 = FC3_BCAST(x[r * ldx + i]);
            for (int v = 0; v < NV; v++) VMADD(t[v], c0, w0[v]);
        })
        SP_FWD_ROWS(m1 & ~m0, {
            S(fc3_vec) c1 = FC3_BCAST(x[r * ldx + i + 1]);
            for (int v = 0; v < NV; v++) VMADD(t[v], c1, w1[v]);
        })
    }
    if (i < i1 && mask[i - i0]) {
        for (int v = 0; v < NV; v++) w0[v] = FC3_LOAD(w + i * O + col[v]);
        SP_FWD_ROWS(mask[i - i0], {
            S(fc3_vec) c0 = FC3_BCAST(x[r * ldx + i]);
            for (int v = 0; v < NV; v++) VMADD(t[v], c0, w0[v]);
        })
    }
#undef SP_FWD_ROWS
}

/* acc[i, col[v] ...] += alpha sum over the rows r of i's mask (ascending) of x[r, i] dz[r, col[v] ...]. */
static inline NN_FORCE_INLINE void S(sparse_upd_group)(const int NV, const nn_size *col, const real *x, nn_size ldx,
                                                       const uint32_t *mask, nn_size i0, nn_size i1, const real *dz,
                                                       real alpha, real *acc, nn_size O) {
    for (nn_size i = i0; i < i1; i++) {
        uint32_t m = mask[i - i0];
        if (!m) continue;
        S(fc3_vec) s[SP_MAXV], a[SP_MAXV];
        for (int v = 0; v < NV; v++) s[v] = FC3_ZERO();
        do {
            const int r = nn_ctz32(m);
            S(fc3_vec) c = FC3_BCAST(x[r * ldx + i]);
            m &= m - 1;
            for (int v = 0; v < NV; v++) VMADD(s[v], c, FC3_LOAD(dz + r * O + col[v]));
        } while (m);
        for (int v = 0; v < NV; v++) a[v] = FC3_LOAD(acc + i * O + col[v]);
        for (int v = 0; v < NV; v++) FC3_STORE(acc + i * O + col[v], VADD(a[v], VSCALE(alpha, s[v])));
    }
}

/* The scalar form of both, for O < FC3_VL. */
static void S(sparse_scalar)(int upd, const real *x, nn_size ldx, const uint32_t *mask, nn_size i0, nn_size i1,
                             const real *m_, real alpha, real *out, nn_size O) {
    for (nn_size i = i0; i < i1; i++) {
        for (nn_size j = 0; j < O; j++) {
            real s = 0;
            for (uint32_t m = mask[i - i0]; m; m &= m - 1) {
                const int r = nn_ctz32(m);
                if (upd)
                    s += x[r * ldx + i] * m_[r * O + j];
                else
                    out[r * O + j] += x[r * ldx + i] * m_[i * O + j];
            }
            if (upd && mask[i - i0]) out[i * O + j] += alpha * s;
        }
    }
}

/* The band's work over inputs [lo, hi): forward (upd 0: z += x w, m_ = w, out = z) or update (upd 1:
 * acc += alpha x^T dz, m_ = dz, out = acc), chunk by chunk of inputs, group by group of columns. */
static void S(sparse_band)(int upd, const real *x, nn_size ldx, nn_size nb, nn_size lo, nn_size hi, const real *m_,
                           real alpha, real *out, nn_size O) {
    uint32_t mask[NN_SP_CHUNK];
    const nn_size nv = (O + FC3_VL - 1) / FC3_VL, G = (nv + SP_MAXV - 1) / SP_MAXV;
    for (nn_size i0 = lo; i0 < hi; i0 += NN_SP_CHUNK) {
        const nn_size i1 = hi - i0 < NN_SP_CHUNK ? hi : i0 + NN_SP_CHUNK;
        if (!S(sparse_masks)(x, ldx, nb, i0, i1, mask)) continue;
        if (O < FC3_VL) {
            S(sparse_scalar)(upd, x, ldx, mask, i0, i1, m_, alpha, out, O);
            continue;
        }
        for (nn_size g = 0; g < G; g++) {
            nn_size col[SP_MAXV];
            const int NV = S(sparse_group)(O, nv, G, g, col);
#define SP_CASE(K)                                                                         \
    case K:                                                                                \
        if (upd) S(sparse_upd_group)(K, col, x, ldx, mask, i0, i1, m_, alpha, out, O);     \
        else S(sparse_fwd_group)(K, col, x, ldx, mask, i0, i1, m_, O, out);                \
        break;
            switch (NV) {
#if SP_MAXV > 4
                SP_CASE(8) SP_CASE(7) SP_CASE(6) SP_CASE(5)
#endif
                SP_CASE(4) SP_CASE(3) SP_CASE(2) SP_CASE(1) default: break;
            }
#undef SP_CASE
        }
    }
}

/* sparse_band over the bands of nb rows (as even as can be, at most NN_SP_BAND each), after the density
 * test: 0, nothing written, when x[:, lo:hi] is too dense. */
static int S(sparse_bands)(int upd, const real *x, nn_size ldx, nn_size nb, nn_size lo, nn_size hi, const real *m_,
                           real alpha, real *out, nn_size O, double density) {
    if (!S(sparse_enough)(x, ldx, nb, lo, hi, density)) return 0;
    if (!upd) memset(out, 0, (size_t)(nb * O) * sizeof(real));
    const nn_size bands = (nb + NN_SP_BAND - 1) / NN_SP_BAND;
    for (nn_size b = 0; b < bands; b++) {
        const nn_size r0 = nb * b / bands, r1 = nb * (b + 1) / bands;
        S(sparse_band)(upd, x + r0 * ldx, ldx, r1 - r0, lo, hi, upd ? m_ + r0 * O : m_, alpha,
                       upd ? out : out + r0 * O, O);
    }
    return 1;
}

/* z[r, :] = sum over i in [lo, hi) with x[r, i] != 0 of x[r, i] w[i, :], rows r < nb; 0 when too dense. */
static int S(sparse_forward)(const real *x, nn_size ldx, const real *w, real *z, nn_size nb, nn_size O, nn_size lo,
                             nn_size hi, double density) {
    return S(sparse_bands)(0, x, ldx, nb, lo, hi, w, 1, z, O, density);
}

/* acc[i, :] += alpha x[:, i]^T dz band by band, for i in [lo, hi); 0 when too dense. */
static int S(sparse_update)(const real *x, nn_size ldx, const real *dz, real *acc, real alpha, nn_size nb, nn_size O,
                            nn_size lo, nn_size hi, double density) {
    return S(sparse_bands)(1, x, ldx, nb, lo, hi, dz, alpha, acc, O, density);
}
