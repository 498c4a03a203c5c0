/* One float/double instantiation scheme for every kernel file (no include guard: included once
 * per instantiation).  A kernel file is written once over the names below and instantiates itself:
 *
 *     #ifndef NN_TMPL
 *     #include "net3.h"              (what the file needs)
 *     #define NN_TMPL "softmax.c"    (its own name)
 *     #include "tmpl.h"
 *     #else
 *     ... the body ...
 *     #endif
 *
 * tmpl.h includes NN_TMPL twice (tmpl.h includes itself: pass 1 float, pass 2 double), with
 *   real                 the element type
 *   S(name)              name_f / name_d, followed by NN_TMPL_ISA when the includer sets it
 *                        (dense.c: _avx2 for its second, AVX2+FMA instantiation)
 *   VL                   lanes of real in a 32-byte vector
 *   ACT, ACT_PRIME, EXP, SOFTMAX_ROW, ARGMAX   activations.h's functions for real
 *   LOG                  libm's log for real
 *   GEMM_T               the BLAS gemm pointer type for real (net3.h)
 */
#ifndef NN_TMPL_PASS
#include "activations.h"

#define NN_CAT_(a, b) a##b
#define NN_CAT(a, b) NN_CAT_(a, b)
#ifndef NN_TMPL_ISA
#define NN_TMPL_ISA
#endif
#define NN_TMPL_PASS 1
#include "tmpl.h"
#undef NN_TMPL_PASS
#define NN_TMPL_PASS 2
#include "tmpl.h"
#undef NN_TMPL_PASS

#else
#if NN_TMPL_PASS == 1
#define real float
#define S(name) NN_CAT(name##_f, NN_TMPL_ISA)
#define VL 8
#define ACT nn_act_f
#define ACT_PRIME nn_act_prime_f
#define EXP nn_exp_f
#define LOG logf
#define SOFTMAX_ROW nn_softmax_row_f
#define ARGMAX nn_argmax_f
#define GEMM_T nn3_sgemm_t
#else
#define real double
#define S(name) NN_CAT(name##_d, NN_TMPL_ISA)
#define VL 4
#define ACT nn_act_d
#define ACT_PRIME nn_act_prime_d
#define EXP nn_exp_d
#define LOG log
#define SOFTMAX_ROW nn_softmax_row_d
#define ARGMAX nn_argmax_d
#define GEMM_T nn3_dgemm_t
#endif
#include NN_TMPL
#undef real
#undef S
#undef VL
#undef ACT
#undef ACT_PRIME
#undef EXP
#undef LOG
#undef SOFTMAX_ROW
#undef ARGMAX
#undef GEMM_T
#endif
