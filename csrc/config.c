/* Runtime configuration: what this build and this CPU give the kernels. */
#include "nnfast.h"

int nn_openmp_enabled(void) {
#ifdef NNFAST_OPENMP
    return 1;
#else
    return 0;
#endif
}

int nn_omp_max_threads(void) {
#ifdef NNFAST_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int nn_cpu_has_avx2_fma(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

const char *nn_simd_name(void) {
#if defined(__x86_64__) || defined(__i386__)
    return nn_cpu_has_avx2_fma() ? "avx2+fma" : "sse2";
#elif defined(__aarch64__)
    return "neon";
#else
    return "generic";
#endif
}
