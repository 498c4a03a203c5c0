/* Fully connected register-blocked kernels (network3's small-batch products, dense_fc3.h, run on
 * them) and the input check of every SGD call, written once for any element type.
 *
 * Instantiated by dense.c through tmpl.h (real, S(), VL, ACT, EXP, ...) for float and
 * double, once for the baseline instruction set and once more for AVX2+FMA (S() names
 * end in _avx2 there).
 * Shape letters as in dense.h (B rows, J units, K inputs).
 *
 * Determinism: every output element is computed with a fixed order of operations
 * (vector lanes along K, then a fixed pairwise lane sum, then the K tail).  They
 * start no threads: dense3.c gives each thread slices (through dense_fc3.h) cut by
 * the shapes, never by the thread count.
 */

#define VEC S(nn_vec)

/* One load per vector that several multiply-adds read: without this GCC folds the
 * load into each of them, and the loads, not the FMAs, then set the pace (10% of an
 * epoch of chapter 1).  Only where a 32-byte vector fits one register (AVX). */
#undef NN_IN_REGISTER
#if defined(__GNUC__) && defined(__AVX__) && !NN_PORTABLE_C
#define NN_IN_REGISTER(v) __asm__("" : "+x"(v))
#else
#define NN_IN_REGISTER(v) ((void)0)
#endif

#if NN_PORTABLE_C
/* Plain C (MSVC, or NNFAST_PORTABLE=1; see nnfast.h): a vector is a struct of VL
 * lanes and each operation a loop over them, in the vector code's order of
 * operations, so the answers are those of the baseline build. */
typedef struct { real v[VL]; } VEC;

static inline VEC S(vload)(const real *p) { VEC r; memcpy(r.v, p, sizeof(r.v)); return r; }
static inline void S(vstore)(real *p, VEC a) { memcpy(p, a.v, sizeof(a.v)); }
static inline VEC S(vzero)(void) { VEC r; for (int i = 0; i < VL; i++) r.v[i] = 0; return r; }
static inline VEC S(vbcast)(real x) { VEC r; for (int i = 0; i < VL; i++) r.v[i] = (real)0 + x; return r; }
static inline VEC S(vsplat)(real x) { VEC r; for (int i = 0; i < VL; i++) r.v[i] = x; return r; }
static inline VEC S(vadd)(VEC a, VEC b) { for (int i = 0; i < VL; i++) a.v[i] += b.v[i]; return a; }
static inline VEC S(vsub)(VEC a, VEC b) { for (int i = 0; i < VL; i++) a.v[i] -= b.v[i]; return a; }
static inline VEC S(vscale)(real c, VEC a) { for (int i = 0; i < VL; i++) a.v[i] = c * a.v[i]; return a; }
static inline VEC S(vmadd)(VEC acc, VEC a, VEC b) {
    for (int i = 0; i < VL; i++) acc.v[i] += a.v[i] * b.v[i];
    return acc;
}
#ifndef NN_VEC_OPS
#define NN_VEC_OPS
#define VADD(a, b) S(vadd)(a, b)
#define VSUB(a, b) S(vsub)(a, b)
#define VSCALE(c, a) S(vscale)(c, a)
#define VMADD(acc, a, b) ((acc) = S(vmadd)(acc, a, b))
#define NN_FORCE_INLINE
#define __builtin_prefetch(p, rw, locality) ((void)(p))
#endif
#else
/* GCC/Clang vector extensions: the compiler maps VEC to the widest registers it may use. */
typedef real VEC __attribute__((vector_size(32), aligned(sizeof(real)), may_alias));

static inline VEC S(vload)(const real *p) { return *(const VEC *)p; }
static inline void S(vstore)(real *p, VEC v) { *(VEC *)p = v; }
static inline VEC S(vzero)(void) { VEC v = {0}; return v; }
static inline VEC S(vbcast)(real x) { VEC v = {0}; return v + x; }
/* x in every lane, -0 included (x - 0 is x: the compiler makes it one broadcast, from memory where x is) */
static inline VEC S(vsplat)(real x) { VEC v = {0}; return x - v; }
#ifndef NN_VEC_OPS
#define NN_VEC_OPS
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VSCALE(c, a) ((c) * (a))
#define VMADD(acc, a, b) ((acc) += (a) * (b))
#define NN_FORCE_INLINE __attribute__((always_inline))
#endif
#endif

/* Fixed pairwise sum of the lanes: ((v0+v1)+(v2+v3))+... */
static inline real S(hsum)(VEC v) {
    real t[VL];
    memcpy(t, &v, sizeof(t));
    for (int w = VL / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) t[i] = t[2 * i] + t[2 * i + 1];
    return t[0];
}

/* ------------------------------------------------------------------------ */
/* forward: Z (B, J) = A (B, K) . W^T + b                                   */
/* ------------------------------------------------------------------------ */

/* One register block: rows ar[0..RB) x units W[0..RJ) (W points at row j0, row stride K).
 * Z points at (row 0 of the block, unit j0), row stride ldz. */
static inline NN_FORCE_INLINE void S(fwd_block)(
    const int RB, const int RJ, const real *const *ar, const real *W, nn_size K,
    const real *bias, real *Z, nn_size ldz)
{
    VEC acc[5][2];
    for (int r = 0; r < RB; r++)
        for (int j = 0; j < RJ; j++) acc[r][j] = S(vzero)();
    nn_size k = 0;
    for (; k + VL <= K; k += VL) {
        VEC w0 = S(vload)(W + k);
        VEC w1 = RJ > 1 ? S(vload)(W + K + k) : w0;
        for (int r = 0; r < RB; r++) {
            VEC a = S(vload)(ar[r] + k);
            NN_IN_REGISTER(a);
            VMADD(acc[r][0], a, w0);
            if (RJ > 1) VMADD(acc[r][1], a, w1);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int j = 0; j < RJ; j++) {
            real s = S(hsum)(acc[r][j]);
            for (nn_size kk = k; kk < K; kk++) s += ar[r][kk] * W[j * K + kk];
            Z[r * ldz + j] = s + bias[j];
        }
}

/* Z[r, j] for rows r in [0, B) (pointers arows) and units j in [jlo, jhi). */
static void S(forward_units)(const real *const *arows, nn_size B, const real *W, nn_size K,
                              const real *bias, real *Z, nn_size ldz, nn_size jlo, nn_size jhi)
{
    nn_size j = jlo;
    for (; j + 2 <= jhi; j += 2) {
        nn_size r = 0;
        for (; r + 5 <= B; r += 5) S(fwd_block)(5, 2, arows + r, W + j * K, K, bias + j, Z + r * ldz + j, ldz);
        for (; r < B; r++) S(fwd_block)(1, 2, arows + r, W + j * K, K, bias + j, Z + r * ldz + j, ldz);
    }
    for (; j < jhi; j++) {
        nn_size r = 0;
        for (; r + 5 <= B; r += 5) S(fwd_block)(5, 1, arows + r, W + j * K, K, bias + j, Z + r * ldz + j, ldz);
        for (; r < B; r++) S(fwd_block)(1, 1, arows + r, W + j * K, K, bias + j, Z + r * ldz + j, ldz);
    }
}

/* ------------------------------------------------------------------------ */
/* weight gradient and SGD step: s (J, K) = D^T (J, B) . A (B, K), then     */
/* W <- c1 W - c2 s row by row                                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    real c1, c2;   /* the step W <- c1 W - c2 s (dense_fc3.h's: c1 = 1, c2 = eta) */
} S(nn_upd);

/* Rows j0 (and j0+1 when RJ == 2) of W: s[j, k] = sum_r D[r, j] * A_r[k] in row order, then the step. */
static inline NN_FORCE_INLINE void S(update_rows)(
    const int RJ, const S(nn_upd) *u, real *W, nn_size K, const real *Dj, nn_size ldd, nn_size B,
    const real *const *arows)
{
#define NN_STEP_VEC(w, s) S(vstore)(w, VSUB(VSCALE(u->c1, S(vload)(w)), VSCALE(u->c2, s)))
    nn_size k = 0;
    for (; k + 4 * VL <= K; k += 4 * VL) {
        VEC s[2][4];
        for (int jj = 0; jj < 2; jj++)
            for (int c = 0; c < 4; c++) s[jj][c] = S(vzero)();
        for (nn_size r = 0; r < B; r++) {
            const real *ar = arows[r] + k;
            VEC a0 = S(vload)(ar), a1 = S(vload)(ar + VL), a2 = S(vload)(ar + 2 * VL), a3 = S(vload)(ar + 3 * VL);
            VEC d0 = S(vbcast)(Dj[r * ldd]);
            VMADD(s[0][0], d0, a0); VMADD(s[0][1], d0, a1); VMADD(s[0][2], d0, a2); VMADD(s[0][3], d0, a3);
            if (RJ > 1) {
                VEC d1 = S(vbcast)(Dj[r * ldd + 1]);
                VMADD(s[1][0], d1, a0); VMADD(s[1][1], d1, a1); VMADD(s[1][2], d1, a2); VMADD(s[1][3], d1, a3);
            }
        }
        for (int jj = 0; jj < RJ; jj++)
            for (int c = 0; c < 4; c++) NN_STEP_VEC(W + jj * K + k + c * VL, s[jj][c]);
    }
    for (; k + VL <= K; k += VL) {
        VEC s0 = S(vzero)(), s1 = S(vzero)();
        for (nn_size r = 0; r < B; r++) {
            VEC a = S(vload)(arows[r] + k);
            VMADD(s0, S(vbcast)(Dj[r * ldd]), a);
            if (RJ > 1) VMADD(s1, S(vbcast)(Dj[r * ldd + 1]), a);
        }
        NN_STEP_VEC(W + k, s0);
        if (RJ > 1) NN_STEP_VEC(W + K + k, s1);
    }
#undef NN_STEP_VEC
    for (; k < K; k++)
        for (int jj = 0; jj < RJ; jj++) {
            real s = 0;
            for (nn_size r = 0; r < B; r++) s += Dj[r * ldd + jj] * arows[r][k];
            W[jj * K + k] = u->c1 * W[jj * K + k] - u->c2 * s;
        }
}

/* The step on rows [jlo, jhi) of W (J, K) from D (B, J) and the rows arows of A.
 * Never inlined: with a caller's constants in view (c1 = 1) GCC fuses the multiply-adds of the
 * step differently, and the same update would round differently from one caller to another. */
#ifndef NN_NOINLINE
#if defined(__GNUC__)
#define NN_NOINLINE __attribute__((noinline))
#else
#define NN_NOINLINE
#endif
#endif
static NN_NOINLINE void S(update_units)(const S(nn_upd) *u, real *W, nn_size K, const real *D, nn_size ldd,
                                        nn_size B, const real *const *arows, nn_size jlo, nn_size jhi)
{
    nn_size j = jlo;
    for (; j + 2 <= jhi; j += 2) S(update_rows)(2, u, W + j * K, K, D + j, ldd, B, arows);
    for (; j < jhi; j++) S(update_rows)(1, u, W + j * K, K, D + j, ldd, B, arows);
}

/* 1 when every z[r * ld + j], r in [0, B), j in [jlo, jhi), is finite.  x * 0 is 0 for a
 * finite x and NaN for +-inf or NaN, so a sum of x * 0 tells.  The sum runs in NN_FINITE_LANES
 * independent lanes (lane i takes every NN_FINITE_LANES-th element of a row), which the compiler
 * maps to vectors without reordering a sum.  The input check of every SGD call
 * (first_nonfinite_row). */
#ifndef NN_FINITE_LANES
#define NN_FINITE_LANES 16
#endif
static inline int S(finite_block)(const real *z, nn_size ld, nn_size B, nn_size jlo, nn_size jhi) {
    real acc[NN_FINITE_LANES] = {0}, s = 0;
    for (nn_size r = 0; r < B; r++) {
        const real *zr = z + r * ld;
        nn_size j = jlo;
        for (; j + NN_FINITE_LANES <= jhi; j += NN_FINITE_LANES)
            for (int i = 0; i < NN_FINITE_LANES; i++) acc[i] += zr[j + i] * (real)0;
        for (; j < jhi; j++) s += zr[j] * (real)0;
    }
    for (int i = 0; i < NN_FINITE_LANES; i++) s += acc[i];
    return s == 0;
}

/* The first row r < n of X (n rows of d numbers, ld apart) holding a NaN or an infinity, or -1. */
static nn_size S(first_nonfinite_row)(const real *X, nn_size n, nn_size d, nn_size ld) {
    for (nn_size r = 0; r < n; r++)
        if (!S(finite_block)(X + r * ld, ld, 1, 0, d)) return r;
    return -1;
}

#undef VEC
