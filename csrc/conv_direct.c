/* Direct convolution ("valid" cross-correlation, no im2col): forward, and backward from the pool.
 *
 * The same maths and layouts as conv.c (net3.h's letters): x (nb, C, H, W); w (F, K) = (F, C, KH, KW);
 * out (F, ld), ld = B*P, example b's map f at f*ld + b*P; dz (nb, F, Q) the pooled dL/dz:
 *     out[f, b, y, x] = sum_{c,i,j} w[f,c,i,j] x[b, c, y+i, x+j]
 *     gw[f, c, i, j]  = sum_{b,q} dz[b, f, q] x[b, c, u_q+i, v_q+j]      (u_q, v_q) window q's winner
 *     dx[b, c, u, v]  = sum_{f,i,j} w[f,c,i,j] dzmap[b, f, u-i, v-j]     dzmap: dz at the winners, else 0
 * Where conv.c copies every example's patches into a (K, B*P) matrix (25 x 5,760 numbers at the book's
 * first layer, mini-batch 10; 500 x 40,960 at its second, mini-batch 64) and hands BLAS products over
 * it, these kernels take one example at a time with its image in L1 and the sums in registers, and the
 * backward pass reads only the pool's winners (a quarter of the positions under a 2x2 pool).
 *
 * correlate (the forward pass): blocks of 4 output maps x 3 vectors of VL output positions, 12 vector
 * accumulators, each input vector loaded once for the 4 maps, from a copy of the example whose rows
 * are padded with zeros to whole vectors.  cd_forward pools the example's maps (with bias and
 * activation) straight from the stack.  cd_backward: the activation derivative, the filter gradient
 * (2 maps x 5 filter-row vectors in registers per pass over the winners) and the input gradient (at
 * each winning position, the sum of its winners' filters, added under the patch).
 *
 * Threads: one example per task.  The filter gradient is the one sum over examples: each example's
 * share goes to its own slice of a scratch matrix (nb, F, K) (the layer's col buffer, unused by this
 * path), then the shares are added in example order 0..nb-1 by slices of filters: the same numbers for
 * any thread count.
 *
 * Compiled for float and double (tmpl.h), and on x86-64 with GCC or Clang a second time for AVX2+FMA
 * and a third for AVX-512 (correlate's vectors 64 bytes wide), chosen at run time by config.c's
 * nn_simd_level() (NNFAST_SIMD=baseline forces the baseline, NNFAST_SIMD=avx2 caps at AVX2).
 */
#ifndef NN_TMPL
#include <stdlib.h>
#include <string.h>
#include "net3.h"

int nn3_conv_mode = 0;   /* 0: by shape; 1: always im2col + BLAS; 2: direct wherever it fits (= 0 today) */

void nn3_set_conv_mode(int mode) { nn3_conv_mode = mode < 0 || mode > 2 ? 0 : mode; }

/* largest padded buffer (elements) a kernel keeps on its stack per example */
#define NN3_CD_MAX 16384
#define NN3_CD_FB 4   /* maps per register block */
#define NN3_CD_SB 3   /* output vectors per register block (forward) */
#define NN3_CD_RB 5   /* filter row vectors per register block (filter gradient) */
#define NN3_CD_EB 8   /* vectors per register block of the input gradient's winner sums */

static nn_size cd_vecs(nn_size n, nn_size vl) { return (n + vl - 1) / vl; }

/* Whether the direct kernels can take the shape: their per-example copies of x (and of dx) and winner
 * tables (F*P) fit NN3_CD_MAX, and the col buffer (K, B*P) holds the filter gradient's (nb, F, K)
 * shares (F <= P).  vl: lanes per vector. */
static int cd_fits(nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH, nn_size KW, nn_size vl) {
    nn_size OH = H - KH + 1, OW = W - KW + 1, nv = cd_vecs(KW, vl);
    nn_size wp_fwd = cd_vecs(OW, vl) * vl + KW - 1, wp_bwd = OW - 1 + nv * vl;
    return C * H * (wp_fwd > wp_bwd ? wp_fwd : wp_bwd) <= NN3_CD_MAX && F <= OH * OW && F * OH * OW <= NN3_CD_MAX;
}

/* The lowering of a conv layer: direct wherever the kernels fit (the book's layers, and any with
 * images up to about 16,000 numbers), else im2col + BLAS.  MEASURED on an AVX-512 Xeon (OpenBLAS
 * SKYLAKEX kernels), float32, MNIST-sized examples:
 *   per kernel (one thread, perf samples in the training kernels over 12,000 examples; the machine
 *   was shared, so samples rather than seconds): the book's first layer (1 -> 20 maps 5x5, 28x28) at
 *   mini-batch 10, im2col path ~1,000 samples (its forward and filter-gradient products, im2col,
 *   pool routing), direct ~650 (forward 380, backward 270); its second layer (20 -> 40 maps 5x5,
 *   12x12) in conv2relu, whole net (first layer direct in both), mini-batch 10: im2col ~4,840,
 *   direct ~4,400; mini-batch 64: ~5,500 against ~4,300;
 *   whole epochs (benchmarks/bench_network3.py, two threads, this build against the im2col-only one
 *   in alternating child processes, medians of 3, load about 1.2 on 2 cores), im2col-only / direct:
 *   conv1 3.07 / 2.72 s at mini-batch 10, 2.66 / 1.46 s at 64 (where BLAS packs the 25 x 36,864 col
 *   matrix); conv2relu 7.28 / 5.41 and 7.03 / 4.88 s; dropout 16.7 / 14.5 and 11.0 / 9.0 s.
 * Neither crossover depends on the mini-batch size on these shapes, so the rule does not either. */
int nn3_conv_direct(size_t real_size, nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH, nn_size KW) {
    nn_size vl = 32 / (nn_size)real_size;
    if (nn3_conv_mode == 1) return 0;
    return cd_fits(C, H, W, F, KH, KW, vl);
}

#define NN_TMPL "conv_direct.c"
#include "tmpl.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !NN_PORTABLE_C
#define NN3_CD_AVX2 1
NN_ISA_BEGIN("avx2,fma")
#undef NN_TMPL_ISA
#define NN_TMPL_ISA _avx2
#define NN3_CD_ISA_PASS 1   /* the reduction is plain memory traffic: baseline only */
#include "tmpl.h"
NN_ISA_END

/* A third instantiation for AVX-512 F/DQ/BW/VL: correlate takes 64-byte vectors (NN3_CD_WIDE) where
 * they cover a row of outputs in fewer vectors than 32-byte ones (the book's first layer's 24-wide
 * maps: 2 vectors of 16 floats, not 3 of 8), else it calls the AVX2 one, and the input gradient's
 * winner sums take 64-byte vectors; the filter gradient keeps the AVX2 code's 32-byte vectors (its lanes
 * are the 5 columns of a filter row: wider vectors would only carry more zeros).  Each lane of
 * correlate is one output's sum in the same (c, i, j) order, so every number is the AVX2 one.
 * MEASURED (benchmarks/bench_network3.py, MNIST, float32, 2 threads, against the AVX2-only build in
 * alternating child processes, two rounds of medians of 3 and 4, load 1.5-2.2 on 2 cores): seconds per
 * epoch 2-6% lower on conv1, 4-8% on conv2relu, at mini-batches 10 and 64; blocks of 6 vectors (24 of
 * the 32 registers) instead of 3 measured no different. */
NN_ISA_BEGIN("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#undef NN_TMPL_ISA
#define NN_TMPL_ISA _avx512
#define NN3_CD_WIDE 1
#include "tmpl.h"
#undef NN3_CD_WIDE
#undef NN3_CD_ISA_PASS
NN_ISA_END
#endif

#ifdef NN3_CD_AVX2
#define CD_CALL(name, S, args) \
    (nn_simd_level() >= 2 ? name##S##_avx512 args : nn_simd_level() >= 1 ? name##S##_avx2 args : name##S args)
#else
#define CD_CALL(name, S, args) (name##S args)
#endif

/* the entry points of net3.h, each choosing the instruction set */
#define CD_ENTRIES(real, S)                                                                                  \
    void nn3_conv_direct_forward##S(const real *x, const real *w, const real *bias, int act, real *z, real *a, \
                                    int32_t *arg, nn_size nb, nn_size C, nn_size H, nn_size W, nn_size F,      \
                                    nn_size KH, nn_size KW, nn_size PH, nn_size PW) {                          \
        CD_CALL(cd_forward, S, (x, w, bias, act, z, a, arg, nb, C, H, W, F, KH, KW, PH, PW));                   \
    }                                                                                                           \
    void nn3_conv_direct_backward##S(real *da, const real *z, const real *a, int act, const int32_t *arg,     \
                                     const real *x, const real *w, real *part, real *dx, real *gw,              \
                                     real *gb, real alpha, real beta, real l2, nn_size nb, nn_size C,           \
                                     nn_size H, nn_size W, nn_size F, nn_size KH, nn_size KW, nn_size PH,       \
                                     nn_size PW, int max_parts) {                                               \
        nn_size Q = (H - KH + 1) / PH * ((W - KW + 1) / PW);                                                    \
        CD_CALL(cd_backward, S, (da, z, a, act, arg, x, w, part, dx, nb, C, H, W, F, KH, KW, Q));               \
        reduce_impl##S(part, gw, da, gb, alpha, beta, l2, nb, F, C * KH * KW, Q, max_parts);                    \
    }
CD_ENTRIES(float, _f)
CD_ENTRIES(double, _d)

#else
#if NN_PORTABLE_C
/* plain C (see nnfast.h): a vector is a struct of VL lanes, each operation a loop over them */
typedef struct { real v[VL]; } S(cdv);
static inline S(cdv) S(cd_load)(const real *p) { S(cdv) r; memcpy(r.v, p, sizeof(r.v)); return r; }
static inline void S(cd_store)(real *p, S(cdv) a) { memcpy(p, a.v, sizeof(a.v)); }
static inline S(cdv) S(cd_bcast)(real x) { S(cdv) r; for (int i = 0; i < VL; i++) r.v[i] = x; return r; }
static inline S(cdv) S(cd_madd)(S(cdv) acc, S(cdv) a, S(cdv) b) {
    for (int i = 0; i < VL; i++) acc.v[i] += a.v[i] * b.v[i];
    return acc;
}
static inline S(cdv) S(cd_add)(S(cdv) a, S(cdv) b) {
    for (int i = 0; i < VL; i++) a.v[i] += b.v[i];
    return a;
}
typedef struct { int v[VL]; } S(cdk);   /* a lane mask: 1 keep, 0 clear */
static inline S(cdk) S(cd_keep)(nn_size n) {   /* lanes below n */
    S(cdk) k;
    for (int i = 0; i < VL; i++) k.v[i] = i < n;
    return k;
}
static inline S(cdv) S(cd_and)(S(cdv) a, S(cdk) k) {   /* a's lanes with the mask clear set to +0 */
    for (int i = 0; i < VL; i++) a.v[i] = k.v[i] ? a.v[i] : 0;
    return a;
}
#define CD_MADD(acc, a, b) ((acc) = S(cd_madd)(acc, a, b))
#define CD_LANE(x, l) ((x).v[l])
#else
/* GCC/Clang vector extensions: 32 bytes, unaligned loads and stores */
typedef real S(cdv) __attribute__((vector_size(32), aligned(sizeof(real)), may_alias));
static inline S(cdv) S(cd_load)(const real *p) { return *(const S(cdv) *)p; }
static inline void S(cd_store)(real *p, S(cdv) a) { *(S(cdv) *)p = a; }
static inline S(cdv) S(cd_bcast)(real x) {   /* x times ones: one vbroadcast (0 + x would add first) */
    S(cdv) v = {0};
    return (v + 1) * x;
}
static inline S(cdv) S(cd_add)(S(cdv) a, S(cdv) b) { return a + b; }
#if NN_TMPL_PASS == 1   /* a lane mask: all bits set to keep, clear to clear */
typedef int32_t S(cdk) __attribute__((vector_size(32)));
#else
typedef int64_t S(cdk) __attribute__((vector_size(32)));
#endif
static inline S(cdk) S(cd_keep)(nn_size n) {   /* lanes below n */
    S(cdk) lane;
    for (int i = 0; i < VL; i++) lane[i] = i;
    return lane < (S(cdk)){0} + (int)n;
}
static inline S(cdv) S(cd_and)(S(cdv) a, S(cdk) k) { return (S(cdv))((S(cdk))a & k); }   /* cleared lanes: +0 */
#define CD_MADD(acc, a, b) ((acc) += (a) * (b))
#define CD_LANE(v, l) ((v)[l])
#endif
/* correlate's vectors: CVL lanes, twice VL (64 bytes) in the AVX-512 instantiation; CD_NARROW(name):
 * the 32-byte correlate it falls back on (the AVX2 instantiation's) */
#ifdef NN3_CD_WIDE
#define CVL (2 * VL)
typedef real S(cdw) __attribute__((vector_size(64), aligned(sizeof(real)), may_alias));
static inline S(cdw) S(cdw_load)(const real *p) { return *(const S(cdw) *)p; }
static inline void S(cdw_store)(real *p, S(cdw) a) { *(S(cdw) *)p = a; }
static inline S(cdw) S(cdw_bcast)(real x) {
    S(cdw) v = {0};
    return (v + 1) * x;
}
#define CDW S(cdw)
#define CDW_LOAD S(cdw_load)
#define CDW_STORE S(cdw_store)
#define CDW_BCAST S(cdw_bcast)
#if NN_TMPL_PASS == 1
#define CD_NARROW(name) name##_f_avx2
#else
#define CD_NARROW(name) name##_d_avx2
#endif
#else
#define CVL VL
#define CDW S(cdv)
#define CDW_LOAD S(cd_load)
#define CDW_STORE S(cd_store)
#define CDW_BCAST S(cd_bcast)
#define CD_NARROW(name) S(name)
#endif
#define CDV S(cdv)
#define FB NN3_CD_FB
#define SB NN3_CD_SB
#define RB NN3_CD_RB
#if NN_TMPL_PASS == 1   /* the baseline kernels of other files, from either instruction set */
#define CD_BASE(name) name##_f
#else
#define CD_BASE(name) name##_d
#endif

/* out[o*ldo + y*OW + x] = sum_{c<C, i<KH, j<KW} w[o, c, i, j] xp[(c*HP + y+i)*WP + x+j] for o < M maps,
 * y < OH, x < OW; w (M, C, KH, KW).  xp's rows hold at least NX*CVL + KW - 1 readable numbers (NX =
 * ceil(OW / CVL)).  CD_CORRELATE picks it or CD_NARROW's for OW outputs a row, and cd_wp gives the
 * rows' length for that pick.  Each output is one sum in (c, i, j) order, whatever block it falls in.
 * Maps past M (the last block) and vectors past the last (OH*NX not a multiple of SB) repeat the last
 * one and are not stored. */
static void S(correlate)(const real *xp, nn_size C, nn_size HP, nn_size WP, const real *w, real *out, nn_size ldo,
                         nn_size M, nn_size OH, nn_size OW, nn_size KH, nn_size KW) {
    nn_size NX = (OW + CVL - 1) / CVL, nv = OH * NX;
    for (nn_size o0 = 0; o0 < M; o0 += FB) {
        const real *wo[FB];
        for (int m = 0; m < FB; m++) wo[m] = w + (o0 + m < M ? o0 + m : M - 1) * C * KH * KW;
        nn_size y0 = 0, x0 = 0;   /* vector v0 = y0*NX + x0/CVL, followed without division */
        for (nn_size v0 = 0; v0 < nv; v0 += SB) {
            nn_size yv[SB], xv[SB], y = y0, xx = x0;
            const real *src[SB];
            for (int s = 0; s < SB; s++) {
                yv[s] = y;
                xv[s] = xx;
                src[s] = xp + y * WP + xx;
                if (v0 + s + 1 < nv) {   /* the next vector; past the last: repeat it */
                    xx += CVL;
                    if (xx >= NX * CVL) { xx = 0; y++; }
                }
            }
            y0 = y;
            x0 = xx;
            CDW acc[FB][SB];
            for (int m = 0; m < FB; m++)
                for (int s = 0; s < SB; s++) acc[m][s] = CDW_BCAST(0);
            for (nn_size c = 0; c < C; c++)
                for (nn_size i = 0; i < KH; i++) {
                    nn_size row = (c * HP + i) * WP, wk = (c * KH + i) * KW;
                    for (nn_size j = 0; j < KW; j++) {
                        CDW in[SB];
                        for (int s = 0; s < SB; s++) in[s] = CDW_LOAD(src[s] + row + j);
                        for (int m = 0; m < FB; m++) {
                            CDW wv = CDW_BCAST(wo[m][wk + j]);
                            for (int s = 0; s < SB; s++) CD_MADD(acc[m][s], wv, in[s]);
                        }
                    }
                }
            for (int m = 0; m < FB && o0 + m < M; m++)
                for (int s = 0; s < SB && v0 + s < nv; s++) {
                    real *d = out + (o0 + m) * ldo + yv[s] * OW + xv[s];
                    if (xv[s] + CVL <= OW) {
                        CDW_STORE(d, acc[m][s]);
                    } else {
                        real t[CVL];
                        memcpy(t, &acc[m][s], sizeof(t));
                        for (nn_size l = 0; l < OW - xv[s]; l++) d[l] = t[l];
                    }
                }
        }
    }
}

/* CD_WIDE(n): whether correlate takes the wide vectors for rows of n outputs (fewer of them than of
 * 32-byte ones); cd_wp: the padded row length it then reads, with KW-wide filters */
#ifdef NN3_CD_WIDE
#define CD_WIDE(n) (((n) + CVL - 1) / CVL < ((n) + VL - 1) / VL)
#else
#define CD_WIDE(n) 0
#endif
static inline nn_size S(cd_wp)(nn_size n, nn_size KW) {
    nn_size vl = CD_WIDE(n) ? CVL : VL;
    return (n + vl - 1) / vl * vl + KW - 1;
}
#define CD_CORRELATE(n) (CD_WIDE(n) ? S(correlate) : CD_NARROW(correlate))

/* dst (C, rows, WP) = zeros with src (C, H, W) at row r0, column c0 of each map */
NN3_NO_MEMCPY_IDIOM static void S(pad_copy)(const real *src, real *dst, nn_size C, nn_size H, nn_size W, nn_size rows,
                                            nn_size WP, nn_size r0, nn_size c0, nn_size ld_map) {
    memset(dst, 0, (size_t)(C * rows * WP) * sizeof(real));
    for (nn_size c = 0; c < C; c++)
        for (nn_size y = 0; y < H; y++) {   /* short rows: a plain loop beats a memcpy call per row */
            real *d = dst + (c * rows + r0 + y) * WP + c0;
            const real *s = src + c * ld_map + y * W;
            for (nn_size x = 0; x < W; x++) d[x] = s[x];
        }
}

/* The forward pass of a conv + pool layer, one example per task: the example's (F, P) maps into a
 * buffer on the stack, then pool.c's max-pool, bias and activation on them while they are in cache:
 * z, a, arg (nb, F, Q) as nn3_pool_act_forward makes them; the maps are never written out. */
static void S(cd_forward)(const real *x, const real *w, const real *bias, int act, real *z, real *a, int32_t *arg,
                          nn_size nb, nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH, nn_size KW, nn_size PH,
                          nn_size PW) {
    nn_size OH = H - KH + 1, OW = W - KW + 1, P = OH * OW, Q = OH / PH * (OW / PW);
    nn_size WP = S(cd_wp)(OW, KW);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size b = 0; b < nb; b++) {
        real xp[C * H * WP], maps[F * P];
        S(pad_copy)(x + b * C * H * W, xp, C, H, W, H, WP, 0, 0, H * W);
        CD_CORRELATE(OW)(xp, C, H, WP, w, maps, P, F, OH, OW, KH, KW);
        CD_BASE(nn3_pool_act_example)(maps, P, z + b * F * Q, a + b * F * Q, bias, act, arg + b * F * Q, F, OH, OW,
                                      PH, PW);
    }
    nn_sync();   /* the loop's barrier, timed */
}

/* e[k] = sum_n dz[k_n] w[f_n, k] for k < K over the n winners k_n = f_n*Q + q_n of one position (win, f
 * ascending): the column of w^T dzmap at that position, NN3_CD_EB vectors at a time in registers, then
 * one vector, then one lane (each number the same sum in the same order). */
static void S(winner_sum)(const real *dz, const real *w, const int32_t *win, nn_size n, nn_size Q, nn_size K,
                          real *e) {
    const real *wr[n];
    real dv[n];
    for (nn_size m = 0; m < n; m++) {
        wr[m] = w + win[m] / Q * K;
        dv[m] = dz[win[m]];
    }
    nn_size k = 0;
    for (; k + NN3_CD_EB * CVL <= K; k += NN3_CD_EB * CVL) {
        CDW acc[NN3_CD_EB];
        for (int v = 0; v < NN3_CD_EB; v++) acc[v] = CDW_BCAST(0);
        for (nn_size m = 0; m < n; m++) {
            CDW d = CDW_BCAST(dv[m]);
            for (int v = 0; v < NN3_CD_EB; v++) CD_MADD(acc[v], d, CDW_LOAD(wr[m] + k + v * CVL));
        }
        for (int v = 0; v < NN3_CD_EB; v++) CDW_STORE(e + k + v * CVL, acc[v]);
    }
    for (; k + CVL <= K; k += CVL) {
        CDW acc = CDW_BCAST(0);
        for (nn_size m = 0; m < n; m++) CD_MADD(acc, CDW_BCAST(dv[m]), CDW_LOAD(wr[m] + k));
        CDW_STORE(e + k, acc);
    }
    for (; k < K; k++) {
        real s = 0;
        for (nn_size m = 0; m < n; m++) s += dv[m] * wr[m][k];
        e[k] = s;
    }
}

/* The backward pass from the pool's gradient, one example per task, without the (F, P) map of dL/d(conv
 * output): max-pooling sends each window's gradient to its winner alone, so only the Q = QH*QW
 * winners of each map contribute (a quarter of the positions under the book's 2x2 pool).
 *   dz[b] = da[b] * act'(z[b], a[b]) in place (bias_act.c's rule; z NULL: da is dz already);
 *   part[b, f, (c*KH + i)*KW + j] = sum_q dz[b, f, q] x[b, c, u_q + i, v_q + j], (u_q, v_q) the winner
 *     of window q (arg[b, f, q] = u_q*OW + v_q), q in order;
 *   dx[b, c, u, v] = sum_{f,i,j} w[f, c, i, j] dzmap[f, u-i, v-j] (dx NULL: none), dzmap the (F, OH, OW)
 *     map of dL/d(conv output): dz at the winners, 0 elsewhere.
 * A filter row (c, i) is NV = ceil(KW/VL) vectors; the filter gradient keeps 2 maps x RB of them in
 * registers per pass over the winners, from a copy of x with rows of WP = OW-1 + NV*VL numbers (every
 * vector read at a winner is inside it); vectors are stored whole where the lanes past a filter row
 * land on rows stored after it.  The input gradient reads dzmap's nonzeros alone: the winners are
 * grouped by position p = (u, v) (a counting sort, f ascending), e (K) = sum of dz w[f] over p's winners
 * (winner_sum, in registers), then dx[c, u+i, v+j] += e[c, i, j] for the whole patch, a vector per filter
 * row (lanes past KW add +0) into a copy of dx with rows WP long, p ascending: F*Q*K multiply-adds and
 * P*K adds, where a correlation over dzmap does F*P*K (4x) and pads it.  MEASURED (float32, 12,000 MNIST
 * images at mini-batch 10, two threads, against the correlation over dzmap padded by KH-1 and KW-1,
 * alternating processes, three rounds): conv2relu 4.04-4.25 s against 5.48-5.69 s per 60,000 images,
 * the dropout net 9.54-10.48 against 11.18-11.70. */
NN3_NO_MEMCPY_IDIOM static void S(cd_backward)(real *da, const real *z, const real *a, int act, const int32_t *arg, const real *x,
                           const real *w, real *part, real *dx, nn_size nb, nn_size C, nn_size H, nn_size W,
                           nn_size F, nn_size KH, nn_size KW, nn_size Q) {
    nn_size OW = W - KW + 1, K = C * KH * KW, NV = (KW + VL - 1) / VL, R = C * KH * NV, WP = OW - 1 + NV * VL;
    nn_size P = (H - KH + 1) * OW, ro[R], ko[R];
    int32_t pos[P];   /* a winner y*OW + x's place in x's copy */
    S(cdk) keep = S(cd_keep)(KW % VL ? KW % VL : VL);   /* the lanes of a filter row's last vector */
    for (nn_size y = 0; y < H - KH + 1; y++)
        for (nn_size xx = 0; xx < OW; xx++) pos[y * OW + xx] = (int32_t)(y * WP + xx);
    for (nn_size rr = 0; rr < R; rr++) {   /* vector rr of filter row (c, i) = rr / NV: its place in a copy with */
        ro[rr] = (rr / NV / KH * H + rr / NV % KH) * WP + rr % NV * VL;   /* rows WP long, and in a filter */
        ko[rr] = rr / NV * KW + rr % NV * VL;
    }
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size b = 0; b < nb; b++) {
        real xp[C * H * WP], dxp[dx ? C * H * WP : 1], e[dx ? K + VL : 1];
        int32_t start[dx ? P + 1 : 1], win[dx ? F * Q : 1];
        int32_t off[F * Q];
        real *dz = da + b * F * Q;
        const int32_t *g = arg + b * F * Q;
        if (z) CD_BASE(nn3_act_backward_cols)(dz, z + b * F * Q, a + b * F * Q, act, 1, F * Q, 0, F * Q);
        S(pad_copy)(x + b * C * H * W, xp, C, H, W, H, WP, 0, 0, H * W);
        for (nn_size k = 0; k < F * Q; k++) off[k] = pos[g[k]];
        for (nn_size f0 = 0; f0 < F; f0 += 2)   /* filter gradient: 2 maps x RB row vectors at a time */
            for (nn_size r0 = 0; r0 < R; r0 += RB) {
                nn_size rb[RB], f1 = f0 + 1 < F ? f0 + 1 : f0;   /* past F or R: repeat the last, not stored */
                for (int r = 0; r < RB; r++) rb[r] = ro[r0 + r < R ? r0 + r : R - 1];
                CDV acc[2][RB];
                for (int m = 0; m < 2; m++)
                    for (int r = 0; r < RB; r++) acc[m][r] = S(cd_bcast)(0);
                for (nn_size q = 0; q < Q; q++) {
                    CDV d0 = S(cd_bcast)(dz[f0 * Q + q]), d1 = S(cd_bcast)(dz[f1 * Q + q]);
                    const real *s0 = xp + off[f0 * Q + q], *s1 = xp + off[f1 * Q + q];
                    for (int r = 0; r < RB; r++) {
                        CD_MADD(acc[0][r], d0, S(cd_load)(s0 + rb[r]));
                        CD_MADD(acc[1][r], d1, S(cd_load)(s1 + rb[r]));
                    }
                }
                /* whole vectors, the lanes past the filter row landing on the rows after it, which are
                 * stored later; vectors that would reach past the map store their own lanes alone */
                for (nn_size m = 0; m < 2 && f0 + m < F; m++)
                    for (nn_size r = 0; r < RB && r0 + r < R; r++) {
                        nn_size rr = r0 + r;
                        real *d = part + (b * F + f0 + m) * K + ko[rr];
                        if (ko[rr] + VL <= K) {
                            S(cd_store)(d, acc[m][r]);
                        } else {
                            for (nn_size l = 0; l < KW - rr % NV * VL; l++) d[l] = CD_LANE(acc[m][r], l);
                        }
                    }
            }
        if (dx) {   /* input gradient, by winning position: e = sum_f dz w[f], added to dx under the patch */
            for (nn_size p = 0; p <= P; p++) start[p] = 0;
            for (nn_size k = 0; k < F * Q; k++) start[g[k] + 1]++;
            for (nn_size p = 0; p < P; p++) start[p + 1] += start[p];
            for (nn_size k = 0; k < F * Q; k++) win[start[g[k]]++] = (int32_t)k;   /* f ascending at each p */
            memset(dxp, 0, (size_t)(C * H * WP) * sizeof(real));
            for (nn_size p = 0, k0 = 0; p < P; k0 = start[p++]) {
                if (k0 == start[p]) continue;
                S(winner_sum)(dz, w, win + k0, start[p] - k0, Q, K, e);
                real *d = dxp + p / OW * WP + p % OW;
                for (nn_size rr = NV - 1; rr < R; rr += NV) {   /* dx under the patch's row rr / NV += e's */
                    for (nn_size u = rr + 1 - NV; u < rr; u++)
                        S(cd_store)(d + ro[u], S(cd_add)(S(cd_load)(d + ro[u]), S(cd_load)(e + ko[u])));
                    S(cd_store)(d + ro[rr], S(cd_add)(S(cd_load)(d + ro[rr]), S(cd_and)(S(cd_load)(e + ko[rr]), keep)));
                }   /* (the row's last vector: + 0 past KW) */
            }
            real *dxb = dx + b * C * H * W;
            for (nn_size cy = 0; cy < C * H; cy++)
                for (nn_size xx = 0; xx < W; xx++) dxb[cy * W + xx] = dxp[cy * WP + xx];
        }
    }
    nn_sync();   /* the loop's barrier, timed */
}

#ifndef NN3_CD_ISA_PASS
/* gw[f] = beta gw[f] + alpha sum_{b<nb} part[b, f] (b in order), after gw -= l2 gw (l2 != 0), and the
 * bias gradient gb[f] = beta gb[f] + alpha sum dz[:, f, :] (dz (nb, F, Q), gb NULL: none): conv.c's
 * nn3_conv_backward_wb on the direct path.  Work: slices of at least 4 filters. */
static void S(reduce_impl)(const real *part, real *gw, const real *dz, real *gb, real alpha, real beta, real l2,
                           nn_size nb, nn_size F, nn_size K, nn_size Q, int max_parts) {
    nn_size parts = nn3_parts(F, 4, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(F, parts, t), hi = nn3_part_lo(F, parts, t + 1);
        if (gb) S(nn3_bias_backward_range)(dz, gb, alpha, beta, nb, F, Q, lo, hi);
        for (nn_size i = lo * K; i < hi * K; i++) {
            real s = 0;
            for (nn_size b = 0; b < nb; b++) s += part[b * F * K + i];
            if (l2 != 0) gw[i] -= l2 * gw[i];
            gw[i] = (beta == 0 ? 0 : beta * gw[i]) + alpha * s;
        }
    }
    nn_sync();   /* the loop's barrier, timed */
}
#endif
#undef CDV
#undef FB
#undef SB
#undef RB
#undef CD_BASE
#undef CVL
#undef CDW
#undef CDW_LOAD
#undef CDW_STORE
#undef CDW_BCAST
#undef CD_NARROW
#undef CD_CORRELATE
#undef CD_WIDE
#undef CD_MADD
#undef CD_LANE
#endif
