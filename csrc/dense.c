/* Fully connected networks: instantiation of dense_impl.h per element type (tmpl.h) and
 * instruction set, and the run-time dispatch behind the API of dense.h.
 *
 * The baseline build (SSE2 on x86-64) runs anywhere; on x86-64 with GCC or Clang
 * the same source is compiled a second time for AVX2+FMA and chosen when the CPU
 * has it.  NNFAST_SIMD=baseline in the environment forces the baseline path
 * (tests use it to hold both paths to the same answers).  Compilers without GCC's
 * extensions, and NNFAST_PORTABLE builds, get dense_impl.h's plain-C vectors instead
 * and no AVX2 instantiation: nn_dense_path() says "portable".
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"
#include "net3.h"   /* the dispatchers of dense_fc3.h */
#include "rng.h"

#define NN_TMPL "dense_fc3.h"   /* dense_impl.h and network3's entry points to its kernels */
#include "tmpl.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !NN_PORTABLE_C
#define NN_HAVE_AVX2_PATH 1
NN_ISA_BEGIN("avx2,fma")

#undef NN_TMPL_ISA
#define NN_TMPL_ISA _avx2
#include "tmpl.h"

NN_ISA_END

/* A third instantiation for AVX-512, of network3's forward product alone (nn_fc3_forward; dense_fc3.h
 * without dense_impl.h): its kernel takes 64-byte vectors there (NN_FC3_WIDE), twice the
 * multiply-adds per instruction with the same numbers (its lanes are independent). */
NN_ISA_BEGIN("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#undef NN_TMPL_ISA
#define NN_TMPL_ISA _avx512
#define NN_FC3_WIDE 1
#include "tmpl.h"
#undef NN_FC3_WIDE
NN_ISA_END
#endif

/* 1: use the AVX2+FMA instantiation (config.c's nn_simd_level decides, once). */
#ifdef NN_HAVE_AVX2_PATH
static inline int nn_use_avx2(void) { return nn_simd_level() >= 1; }
#else
static inline int nn_use_avx2(void) { return 0; }
#endif

#ifdef NN_HAVE_AVX2_PATH
#define DISPATCH(dtype, call_d, call_f, call_d2, call_f2) \
    do { if (nn_use_avx2()) { if ((dtype) == NN_F32) call_f2; else call_d2; } \
         else { if ((dtype) == NN_F32) call_f; else call_d; } } while (0)
#else
#define DISPATCH(dtype, call_d, call_f, call_d2, call_f2) \
    do { if ((dtype) == NN_F32) call_f; else call_d; } while (0)
#endif

nn_size nn_first_nonfinite_row(int dtype, const void *X, nn_size n, nn_size d, nn_size ld) {
    nn_size r = -1;
    DISPATCH(dtype, r = first_nonfinite_row_d((const double *)X, n, d, ld),
             r = first_nonfinite_row_f((const float *)X, n, d, ld),
             r = first_nonfinite_row_d_avx2((const double *)X, n, d, ld),
             r = first_nonfinite_row_f_avx2((const float *)X, n, d, ld));
    return r;
}

const char *nn_dense_path(void) { return NN_PORTABLE_C ? "portable" : nn_use_avx2() ? "avx2+fma" : "baseline"; }

/* network3's fully connected layers at small mini-batches (dense_fc3.h) */
/* 1: the CPU (and the OS) has AVX-512 F/DQ/BW/VL, and the AVX2 path is in use (NNFAST_SIMD=baseline
 * turns both off). */
static inline int nn_use_avx512(void) { return nn_simd_level() >= 2; }

void nn_fc3_forward(int dtype, const void *x, nn_size ldx, const void *w, void *z, double scale, nn_size nb, nn_size I,
                    nn_size O, nn_size lo, nn_size hi) {
#ifdef NN_HAVE_AVX2_PATH
    if (nn_use_avx512()) {
        if (dtype == NN_F32)
            fc3_forward_f_avx512(x, ldx, w, z, (float)scale, nb, I, O, lo, hi);
        else
            fc3_forward_d_avx512(x, ldx, w, z, scale, nb, I, O, lo, hi);
        return;
    }
#endif
    DISPATCH(dtype, fc3_forward_d(x, ldx, w, z, scale, nb, I, O, lo, hi),
             fc3_forward_f(x, ldx, w, z, (float)scale, nb, I, O, lo, hi),
             fc3_forward_d_avx2(x, ldx, w, z, scale, nb, I, O, lo, hi),
             fc3_forward_f_avx2(x, ldx, w, z, (float)scale, nb, I, O, lo, hi));
}

void nn_fc3_backward_x(int dtype, const void *dz, const void *w, void *dx, nn_size nb, nn_size I, nn_size O,
                       nn_size lo, nn_size hi) {
    DISPATCH(dtype, fc3_backward_x_d(dz, w, dx, nb, I, O, lo, hi), fc3_backward_x_f(dz, w, dx, nb, I, O, lo, hi),
             fc3_backward_x_d_avx2(dz, w, dx, nb, I, O, lo, hi), fc3_backward_x_f_avx2(dz, w, dx, nb, I, O, lo, hi));
}

void nn_fc3_update(int dtype, const void *x, const void *dz, void *w, double eta, nn_size nb, nn_size I, nn_size O,
                   nn_size lo, nn_size hi) {
    DISPATCH(dtype, fc3_update_d(x, dz, w, eta, nb, I, O, lo, hi), fc3_update_f(x, dz, w, (float)eta, nb, I, O, lo, hi),
             fc3_update_d_avx2(x, dz, w, eta, nb, I, O, lo, hi),
             fc3_update_f_avx2(x, dz, w, (float)eta, nb, I, O, lo, hi));
}

/* The first fully connected layer on its nonzero inputs (dense_sparse.h); dtype as above. */
#ifdef NN_HAVE_AVX2_PATH
#define DISPATCH3(dtype, name, args_d, args_f)                                                              \
    do {                                                                                                  \
        if (nn_use_avx512()) { if ((dtype) == NN_F32) name##_f_avx512 args_f; else name##_d_avx512 args_d; } \
        else DISPATCH(dtype, name##_d args_d, name##_f args_f, name##_d_avx2 args_d, name##_f_avx2 args_f);   \
    } while (0)
#else
#define DISPATCH3(dtype, name, args_d, args_f) DISPATCH(dtype, name##_d args_d, name##_f args_f, , )
#endif

int nn_sparse_forward(int dtype, const void *x, nn_size ldx, const void *w, void *z, nn_size nb, nn_size O, nn_size lo,
                      nn_size hi, double density) {
    int done = 0;
    DISPATCH3(dtype, done = sparse_forward, (x, ldx, w, z, nb, O, lo, hi, density),
              (x, ldx, w, z, nb, O, lo, hi, density));
    return done;
}

int nn_sparse_update(int dtype, const void *x, nn_size ldx, const void *dz, void *acc, double alpha, nn_size nb,
                     nn_size O, nn_size lo, nn_size hi, double density) {
    int done = 0;
    DISPATCH3(dtype, done = sparse_update, (x, ldx, dz, acc, alpha, nb, O, lo, hi, density),
              (x, ldx, dz, acc, (float)alpha, nb, O, lo, hi, density));
    return done;
}
