/* Runtime configuration: what this build and this CPU give the kernels. */
#include <stdlib.h>
#include <string.h>
#include "nnfast.h"

#if defined(NNFAST_OPENMP) && !defined(_WIN32)
#include <pthread.h>

/* GNU libgomp keeps a pool of worker threads per thread that opened a parallel region;
 * fork() copies the pool's bookkeeping but not its threads, so a child that enters a
 * parallel region after its parent used one waits for them forever (GCC bug 60035;
 * multiprocessing's "fork" start method does exactly that).  Releasing the forking
 * thread's pool just before the fork avoids it: parent and child each make a new one
 * at their next parallel region, at the cost of a thread start. */
static void nn_before_fork(void) {
    omp_pause_resource_all(omp_pause_soft);
}
#endif

int nn_install_fork_handler(void) {
#if defined(NNFAST_OPENMP) && !defined(_WIN32)
    static int installed = 0;
    if (installed) return 0;
    installed = 1;
    return pthread_atfork(nn_before_fork, NULL, NULL);
#else
    return 0;
#endif
}

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
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !NN_PORTABLE_C
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* The instruction sets the kernels may use, decided once: 0 the baseline, 1 AVX2+FMA, 2 AVX2+FMA and
 * AVX-512 F/DQ/BW/VL (network3's fc forward product, and conv_direct.c's correlate).  NNFAST_SIMD=baseline
 * in the environment forces 0 (tests hold the baseline kernels to the same answers), NNFAST_SIMD=avx2
 * at most 1 (tests hold the AVX-512 kernels to the AVX2 ones' bits). */
int nn_simd_level(void) {
    static int level = -1;
    if (level < 0) {
        const char *env = getenv("NNFAST_SIMD");
        int l = 0;
        if (!(env && strcmp(env, "baseline") == 0) && nn_cpu_has_avx2_fma()) {
            l = 1;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !NN_PORTABLE_C
            if (!(env && strcmp(env, "avx2") == 0) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
                l = 2;
#endif
        }
        level = l;
    }
    return level;
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
