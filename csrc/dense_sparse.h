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
 * slower).  z's and dz's band rows stay in L1.  Small bands of narrow layers (mini-batch 10 of [784,30,10])
 * go through sparse_small instead: every row of the band at each input nonzero in any of them, with no
 * branch on the masks.
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
 * Still open: the masks of a slice are built twice, by the forward pass and by the update.
 */
#undef SP_MAXV
#ifdef NN_FC3_WIDE
#define SP_MAXV 8
#else
#define SP_MAXV 4
#endif
/* small bands (sparse_small): forward SP_RV vectors of columns at a time with the band's z rows in registers,
 * update SP_IG_OF(NV) inputs side by side */
#undef SP_RV
#undef SP_IG
#undef SP_IG_OF
#ifdef NN_FC3_WIDE
#define SP_RV 2
#define SP_IG 8
#define SP_IG_OF(NV) ((NV) <= 2 ? 8 : 4)
#else
#define SP_RV 1
#define SP_IG 4
#define SP_IG_OF(NV) ((NV) <= 2 ? 4 : 2)
#endif
#ifndef NN_SP_BAND
#define NN_SP_SMALL_ROWS 12   /* a band of at most this many rows, */
#define NN_SP_SMALL_V 4       /* a row of at most this many vectors: sparse_small */
#define NN_SP_BAND 32
#define NN_SP_CHUNK 1024
#if NN_PORTABLE_C
static inline int nn_ctz32(uint32_t m) { int r = 0; while (!(m & 1u)) { m >>= 1; r++; } return r; }
static inline int nn_popcount32(uint32_t m) { int r = 0; for (; m; m &= m - 1) r++; return r; }
#else
#define nn_ctz32(m) __builtin_ctz(m)
#define nn_popcount32(m) __builtin_popcount(m)
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

/* Small bands of narrow layers (at most NN_SP_SMALL_ROWS rows, NN_SP_SMALL_V vectors of columns: mini-batch 10
 * of [784,30,10]) take every row of the band at each input idx[k] nonzero in any of them.  A row where
 * x[r, i] is 0 adds 0 * w (or 0 * dz) to its sum, which leaves it as it is (at most turning -0 into +0):
 * the numbers are sparse_fwd_group's and sparse_upd_group's, in the same order (an inf or NaN in w or dz
 * makes NaN there, as in the dense product).  Those branch on each
 * input's mask, and there their work was a chain: the forward pass loaded and stored a row of z per
 * term, the update's sum waited on its last multiply-add.  Here loops of fixed length keep the band's z
 * (forward) or several inputs' sums (update) in registers, and x[r, i] is broadcast from memory (FC3_SPLAT;
 * FC3_BCAST's 0 + x took an add and a shuffle).  Measured (network, [784,30,10],
 * mini-batch 10, MNIST, one thread, alternated processes, medians of four): 0.79x the time in float32,
 * 0.93x in float64 (0.85x and 0.91x on two threads).  Wider rows stay on the masks: [784,100,10]'s
 * update took 1.2x to 1.4x the time this way (more than twice the multiply-adds at 19% nonzero). */

/* z[r, col[v] ...] += sum over the inputs idx[0..n) (ascending) of x[r, i] w[i, col[v] ...] for the RB rows of
 * the band, the RB x NV vectors of z in registers. */
static inline NN_FORCE_INLINE void S(sparse_fwd_regs)(const int RB, const int NV, const nn_size *col, const real *x,
                                                      nn_size ldx, const nn_size *idx, nn_size n, const real *w,
                                                      nn_size O, real *z) {
    S(fc3_vec) t[NN_SP_SMALL_ROWS][SP_RV];
    for (int r = 0; r < RB; r++)
        for (int v = 0; v < NV; v++) t[r][v] = FC3_LOAD(z + r * O + col[v]);
    for (nn_size k = 0; k < n; k++) {
        const nn_size i = idx[k];
        S(fc3_vec) wi[SP_RV];
        for (int v = 0; v < NV; v++) wi[v] = FC3_LOAD(w + i * O + col[v]);
        for (int r = 0; r < RB; r++) {
            S(fc3_vec) c = FC3_SPLAT(x[r * ldx + i]);
            for (int v = 0; v < NV; v++) VMADD(t[r][v], c, wi[v]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int v = 0; v < NV; v++) FC3_STORE(z + r * O + col[v], t[r][v]);
}

/* acc[i, col[v] ...] += alpha s for the G inputs i = ik[0..G), s = sum over the band's nb rows r (ascending) of
 * x[r, i] dz[r, col[v] ...]: their sums side by side, each row's dz loaded once for them. */
static inline NN_FORCE_INLINE void S(sparse_upd_inputs)(const int G, const int NV, const nn_size *col,
                                                        const real *x, nn_size ldx, nn_size nb, const nn_size *ik,
                                                        const real *dz, real alpha, real *acc, nn_size O) {
    S(fc3_vec) s[SP_IG][NN_SP_SMALL_V];
    for (int g = 0; g < G; g++)
        for (int v = 0; v < NV; v++) s[g][v] = FC3_ZERO();
    for (nn_size r = 0; r < nb; r++) {
        const real *xr = x + r * ldx;
        S(fc3_vec) d[NN_SP_SMALL_V];
        for (int v = 0; v < NV; v++) d[v] = FC3_LOAD(dz + r * O + col[v]);
        for (int g = 0; g < G; g++) {
            S(fc3_vec) c = FC3_SPLAT(xr[ik[g]]);
            for (int v = 0; v < NV; v++) VMADD(s[g][v], c, d[v]);
        }
    }
    for (int g = 0; g < G; g++) {   /* a row's vectors all loaded before any is stored (they may overlap) */
        real *ai = acc + ik[g] * O;
        S(fc3_vec) a[NN_SP_SMALL_V];
        for (int v = 0; v < NV; v++) a[v] = FC3_LOAD(ai + col[v]);
        for (int v = 0; v < NV; v++) FC3_STORE(ai + col[v], VADD(a[v], VSCALE(alpha, s[g][v])));
    }
}

/* The band's forward pass (upd 0) or update (upd 1) over the inputs idx[0..n), for a row of nv vectors.  The
 * forward pass goes SP_RV vectors at a time (one first when SP_RV does not divide nv), so that the last two,
 * which overlap when FC3_VL does not divide O, share a group; the update takes all nv at once. */
static void S(sparse_small)(int upd, const real *x, nn_size ldx, nn_size nb, const nn_size *idx, nn_size n,
                            const real *m_, real alpha, real *out, nn_size O, nn_size nv) {
    nn_size col[SP_MAXV];   /* nv <= NN_SP_SMALL_V <= SP_MAXV: one group of all the vectors */
    S(sparse_group)(O, nv, 1, 0, col);
    if (upd) {
        nn_size k = 0;
#define SP_UCASE(NV)                                                                                      \
    case NV:                                                                                              \
        for (; k + SP_IG_OF(NV) <= n; k += SP_IG_OF(NV))                                                  \
            S(sparse_upd_inputs)(SP_IG_OF(NV), NV, col, x, ldx, nb, idx + k, m_, alpha, out, O);           \
        for (; k < n; k++) S(sparse_upd_inputs)(1, NV, col, x, ldx, nb, idx + k, m_, alpha, out, O);       \
        break;
        switch (nv) { SP_UCASE(1) SP_UCASE(2) SP_UCASE(3) SP_UCASE(4) default: break; }
#undef SP_UCASE
        return;
    }
    for (nn_size v0 = 0; v0 < nv;) {
        const int NV = nv % SP_RV && v0 == 0 ? 1 : SP_RV;
#define SP_RCASE(RB)                                                                                      \
    case RB:                                                                                              \
        if (NV == 1) S(sparse_fwd_regs)(RB, 1, col + v0, x, ldx, idx, n, m_, O, out);                     \
        else S(sparse_fwd_regs)(RB, SP_RV, col + v0, x, ldx, idx, n, m_, O, out);                         \
        break;
        switch (nb) {
            SP_RCASE(1) SP_RCASE(2) SP_RCASE(3) SP_RCASE(4) SP_RCASE(5) SP_RCASE(6)
            SP_RCASE(7) SP_RCASE(8) SP_RCASE(9) SP_RCASE(10) SP_RCASE(11) SP_RCASE(12)
            default: break;
        }
#undef SP_RCASE
        v0 += NV;
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

/* One chunk [i0, i1) of a band's inputs, given its masks: forward (upd 0: z += x w, m_ = w, out = z) or update
 * (upd 1: acc += alpha x^T dz, m_ = dz, out = acc), group by group of columns. */
static void S(sparse_chunk)(int upd, const real *x, nn_size ldx, nn_size nb, nn_size i0, nn_size i1,
                            const uint32_t *mask, const real *m_, real alpha, real *out, nn_size O) {
    const nn_size nv = (O + FC3_VL - 1) / FC3_VL, G = (nv + SP_MAXV - 1) / SP_MAXV;
    if (O < FC3_VL) {
        S(sparse_scalar)(upd, x, ldx, mask, i0, i1, m_, alpha, out, O);
        return;
    }
    if (nb <= NN_SP_SMALL_ROWS && nv <= NN_SP_SMALL_V && (upd || SP_RV > 1 || O % FC3_VL == 0)) {
        nn_size idx[NN_SP_CHUNK], n = 0;   /* the chunk's inputs nonzero in some row, in order */
        for (nn_size i = i0; i < i1; i++) {
            idx[n] = i;
            n += mask[i - i0] != 0;
        }
        S(sparse_small)(upd, x, ldx, nb, idx, n, m_, alpha, out, O, nv);
        return;
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

/* The band's work over inputs [lo, hi), chunk by chunk of inputs. */
static void S(sparse_band)(int upd, const real *x, nn_size ldx, nn_size nb, nn_size lo, nn_size hi, const real *m_,
                           real alpha, real *out, nn_size O) {
    uint32_t mask[NN_SP_CHUNK];
    for (nn_size i0 = lo; i0 < hi; i0 += NN_SP_CHUNK) {
        const nn_size i1 = hi - i0 < NN_SP_CHUNK ? hi : i0 + NN_SP_CHUNK;
        if (S(sparse_masks)(x, ldx, nb, i0, i1, mask)) S(sparse_chunk)(upd, x, ldx, nb, i0, i1, mask, m_, alpha, out, O);
    }
}

/* sparse_band over the bands of nb rows (as even as can be, at most NN_SP_BAND each), after the density
 * test: 0, nothing written, when x[:, lo:hi] is too dense.  One band of one chunk (training's first layer at
 * mini-batches up to 32) counts its nonzeros on the masks it then works with, not in a pass of its own:
 * [784,30,10] at mini-batch 10 took 0.94x the time in float32, 0.98x in float64 (one thread, alternated
 * processes, medians of four). */
static int S(sparse_bands)(int upd, const real *x, nn_size ldx, nn_size nb, nn_size lo, nn_size hi, const real *m_,
                           real alpha, real *out, nn_size O, double density) {
    if (nb <= NN_SP_BAND && hi - lo <= NN_SP_CHUNK) {   /* one band of one chunk: its masks count the nonzeros */
        uint32_t mask[NN_SP_CHUNK];
        nn_size n = 0;
        S(sparse_masks)(x, ldx, nb, lo, hi, mask);
        for (nn_size i = lo; i < hi; i++) n += nn_popcount32(mask[i - lo]);
        if ((double)n > density * (double)nb * (double)(hi - lo)) return 0;
        if (!upd) memset(out, 0, (size_t)(nb * O) * sizeof(real));
        if (n) S(sparse_chunk)(upd, x, ldx, nb, lo, hi, mask, m_, alpha, out, O);
        return 1;
    }
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
