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
 *     over independent outputs, or over parts of a reduction fixed by the shape and
 *     added in a fixed order, never by the thread count.
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
int nn_simd_level(void);              /* kernels to use: 0 baseline, 1 AVX2+FMA, 2 also AVX-512 (config.c) */
/* NN_ISA_BEGIN("avx2,fma") ... NN_ISA_END: the code between is compiled for that instruction set
 * (GCC's target pragma, clang's attribute push); nn_simd_level() decides at run time whether it runs. */
#define NN_PRAGMA_(...) _Pragma(#__VA_ARGS__)
#if defined(__clang__)
#define NN_ISA_BEGIN(t) NN_PRAGMA_(clang attribute push(__attribute__((target(t))), apply_to = function))
#define NN_ISA_END NN_PRAGMA_(clang attribute pop)
#else
#define NN_ISA_BEGIN(t) NN_PRAGMA_(GCC push_options) NN_PRAGMA_(GCC target(t))
#define NN_ISA_END NN_PRAGMA_(GCC pop_options)
#endif

/* ---- threads decided where the waiting happens (threads.c; the idea is at its top) ---- */
double nn_now(void);                  /* monotonic seconds */
uint64_t nn_ticks(void);              /* cheap tick counter, for ratios */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define NN_TICKS() ((uint64_t)__builtin_ia32_rdtsc())   /* nn_ticks() inline, for hot loops */
#else
#define NN_TICKS() nn_ticks()
#endif
void nn_sync(void);                   /* barrier of the enclosing parallel region, its wait timed */
uint64_t nn_sync_waited(void);        /* ticks the calling thread has waited in nn_sync() so far */

#define NN_SEG_SECONDS 0.004          /* wall time of one segment of a loop */
#define NN_GOV_DROP_RETRY 0.016       /* loop seconds after a drop for waiting before the count is tried again */
#define NN_GOV_MIN_PERIOD 0.05        /* loop seconds between trials of another thread count ... */
#define NN_GOV_MAX_PERIOD 1.6         /* ... doubling up to this while the count holds */
#define NN_GOV_MARGIN 0.95            /* a trial count must be this much faster per unit to be kept */
#define NN_GOV_LEVELS 16              /* thread counts 1, 2, 4, ..., max */

/* the loops that choose their threads, each with its own state */
enum nn_gov_kind { NN_GOV_TRAIN = 0, NN_GOV_PREDICT, NN_GOV_TEST, NN_GOV_KINDS };

typedef struct {
    int max;                      /* the caller's thread count */
    int top;                      /* level of max threads */
    int level;                    /* level of the next segment: 2^level threads (capped at max) */
    int from;                     /* level this segment's trial started from, -1 outside a trial */
    int explore_down;             /* direction of the next trial */
    int mode;                     /* enum nn_gov_mode */
    double seg_seconds;           /* wall time of one segment (NN_SEG_SECONDS; 0 when cycling) */
    uint64_t key;                 /* shape of the work the rates are for */
    double rate[NN_GOV_LEVELS];   /* seconds per unit of work at each level, 0 unknown */
    double clock;                 /* seconds this loop kind has run, all its calls together: the
                                     governor's time, which paces its trials */
    double period;                /* seconds of that time between trials */
    double next_explore;          /* clock of the next trial */
    double trials, trial_seconds; /* trials so far and the seconds they took (benchmarks) */
    double drops;                 /* drops for waiting so far */
    /* this call */
    int since;                    /* SIGINT count at the start (nn_interrupt_arm) */
    uint64_t *per_thread;         /* each thread's ticks of waiting (or of work) in a segment */
    int seg_threads;              /* threads of the segment */
    double seg_t0;                /* its start */
    /* the loop of nn_gov_run (the body's thread 0 writes them, all read them after a barrier) */
    nn_size next;                 /* the next unit of work */
    nn_size done;                 /* work done so far, in the units the governor's rates count */
    volatile int flag;            /* thread 0's nn_gov_check() after its last unit (0 at a segment's start) */
    volatile int stop;            /* 1: no more segments (Ctrl-C, the caller's stop, a non-finite number) */
} nn_gov;

enum nn_gov_mode { NN_GOV_ADAPT = 0, NN_GOV_FIXED = 1, NN_GOV_CYCLE = 2 };
void nn_gov_set_mode(int mode);       /* for every loop of this module, from the next call on */
int nn_gov_begin(nn_gov *g, int kind, int max_threads, uint64_t key);   /* 0, or -1: out of memory */
int nn_gov_threads(const nn_gov *g);
void nn_gov_segment(nn_gov *g, double seconds, double units, double wait);
void nn_gov_end(nn_gov *g, int kind);
int nn_gov_saved_threads(int kind);   /* the count loop `kind` settled on (0: not run yet) */
void nn_gov_saved_stats(int kind, double *trials, double *trial_seconds, double *drops);
/* A loop in segments (threads.c): units first .. end-1, each segment one parallel region in
 * which every thread runs body(ctx, g, t, nth, from): units from `from` on until g->flag or
 * g->stop, returning the ticks it timed itself (waited; with seg_chunks, busy).  Returns
 * g->done, or -1 when out of memory. */
typedef uint64_t (*nn_gov_body)(void *ctx, nn_gov *g, int t, int nth, nn_size from);
nn_size nn_gov_run(int kind, int max_threads, uint64_t key, nn_size first, nn_size end, int seg_chunks,
                   nn_gov_body body, void *ctx);
enum { NN_GOV_SEG_OVER = 1, NN_GOV_STOP = 2 };
int nn_gov_check(const nn_gov *g);
void nn_gov_unit_done(nn_gov *g, nn_size next, nn_size done);
#define NN_SEG_MAX_SECONDS 0.032      /* the longest segment of a loop of chunks (seg_chunks > 0) */

/* Ctrl-C inside native calls */
int nn_interrupt_arm(void);           /* start of a call: returns the SIGINT count so far */
void nn_interrupt_disarm(void);       /* end of a call */
int nn_interrupt_count(void);
int nn_interrupted(int since);        /* 1 when a SIGINT came after nn_interrupt_arm() returned `since` */

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
