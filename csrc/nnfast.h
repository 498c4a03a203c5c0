/* nnfast native core: shared declarations.
 *
 * Conventions for every kernel in csrc/:
 *   - plain signatures: pointers, sizes, strides; no allocation inside a hot loop;
 *     callers (the Cython glue) own every buffer.
 *   - sizes are Py_ssize_t-compatible (ptrdiff_t) so that nothing overflows an int.
 *   - each operation comes as a forward/backward pair; backward *accumulates*
 *     into gradient buffers unless its comment says it overwrites.
 *   - OpenMP is optional: everything compiles and runs serially without it
 *     (NNFAST_OPENMP is defined by setup.py when the probe found OpenMP).
 *   - results for a given input never depend on the thread count: work is split
 *     over independent outputs, never over a reduction.
 */
#ifndef NNFAST_H
#define NNFAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef NNFAST_OPENMP
#include <omp.h>
#endif

typedef ptrdiff_t nn_size;

/* NN_PORTABLE_C: 1 builds the dense kernels in plain C (no vector extensions, function
 * attributes, builtins or AVX2 dispatch): for compilers without GCC's extensions (MSVC),
 * or forced with NNFAST_PORTABLE (setup.py defines it when NNFAST_PORTABLE=1 is set). */
#if defined(NNFAST_PORTABLE) || !defined(__GNUC__)
#define NN_PORTABLE_C 1
#else
#define NN_PORTABLE_C 0
#endif

/* ---- runtime configuration (config.c) ---- */
int nn_openmp_enabled(void);          /* 1 when built with OpenMP */
int nn_omp_max_threads(void);         /* omp_get_max_threads(), or 1 */
int nn_install_fork_handler(void);    /* release OpenMP's threads before fork() (once; 0 on success) */
const char *nn_simd_name(void);       /* instruction set the dense kernels dispatch to */
int nn_cpu_has_avx2_fma(void);        /* run-time CPU check, x86 only (0 elsewhere) */

/* ---- activations, as codes shared with Python (see _core.pyx) ---- */
enum nn_activation {
    NN_LINEAR = 0,
    NN_SIGMOID = 1,
    NN_TANH = 2,
    NN_RELU = 3,
    NN_SOFTMAX = 4    /* output layer only: row-wise softmax */
};

/* ---- costs of the output layer ---- */
enum nn_cost {
    NN_QUADRATIC = 0,       /* 0.5 ||a - y||^2, delta = (a - y) * act'(z) */
    NN_CROSS_ENTROPY = 1,   /* -sum y ln a + (1-y) ln(1-a), delta = a - y (sigmoid output) */
    NN_LOG_LIKELIHOOD = 2   /* -ln a_y with softmax output, delta = a - y */
};

#endif /* NNFAST_H */
