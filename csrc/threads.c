/* Threads decided where the waiting happens, and Ctrl-C seen inside a native call.
 *
 * 1. Timed barriers.  Every barrier of the native loops is timed: nn_sync() (an OpenMP
 *    barrier adding the time this thread spent in it to a per-thread counter) in network3's
 *    kernels, the same inline in the dense loop (NN_BARRIER in dense_impl.h); evaluation,
 *    which hands out chunks without barriers, counts the time outside them.  Over a segment
 *    of work of wall time T on c threads that waited w_t each, the waiting fraction is
 *        f = sum_t w_t / (c T)
 *    and the work itself took c T (1 - f) thread-seconds.  On c' < c threads (perfectly
 *    split) that work needs c T (1 - f) / c', which beats T when f > 1 - c'/c: waiting
 *    then costs more than the extra threads gain.
 *
 * 2. The governor (nn_gov).  A loop runs in segments of about NN_SEG_SECONDS of wall time
 *    (nn_gov_run), each one OpenMP parallel region on nn_gov_threads() threads.  After each segment it
 *    reports (seconds, units of work, f) to nn_gov_segment(), which keeps seconds per unit
 *    at each thread count and
 *      - drops to the next lower count at once when f says waiting costs more than the
 *        threads gain, and tries the count it left again NN_GOV_DROP_RETRY later (a few
 *        segments: a thread descheduled for a moment on an idle machine, a virtual CPU whose
 *        host ran something else for 20 ms, costs that little; a load that stays costs one
 *        more trial);
 *      - every `period` seconds runs one segment on a neighbouring count (half or double)
 *        and moves there when it was faster per unit by NN_GOV_MARGIN (a segment of a few
 *        milliseconds on a shared machine is a noisy measurement).  When the current count
 *        wins, the period becomes 50 times what the trial cost (trials cost about 2% at
 *        most), and on all the threads it also doubles (up to NN_GOV_MAX_PERIOD: an idle
 *        machine pays almost nothing for them); below all the threads it does not double,
 *        so that the threads come back soon after a load ends.  When the other count wins,
 *        the period goes back to NN_GOV_MIN_PERIOD.
 *    The governor's time (periods, the retry after a drop) is the loop's own running time summed
 *    over its calls (`clock`), not wall time: a loop called now and then, as predict or an epoch's
 *    evaluation is, found a trial due at the start of almost every call on wall time.
 *    Results never depend on the thread count (see nnfast.h), so switching between
 *    segments changes no number.  The state of each loop kind lives across calls (an
 *    epoch is several native calls); it starts afresh when the caller's maximum changes,
 *    and forgets its rates (not its count) when the shape of the work (`key`) does; either
 *    way the first trial comes right after the first segment.
 *
 * 3. Ctrl-C.  Python's own SIGINT handler only sets a flag that the interpreter reads
 *    when it runs Python code again, which it does not during a long native call.
 *    nn_interrupt_arm() (at the start of each native call) puts a handler in front of
 *    Python's that counts SIGINTs and then calls Python's; the loops poll
 *    nn_interrupted(since) once per mini-batch (or chunk of rows) and return early.
 *    The glue then lets Python's handler raise KeyboardInterrupt.  When SIGINT is
 *    ignored or has its default action, nothing is installed.
 */
#if !defined(_WIN32) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700   /* sigaction's SA_ flags and clock_gettime under -std=c99 */
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnfast.h"

#if !defined(_WIN32)
#include <pthread.h>
#endif

#if defined(_MSC_VER)
#define NN_TLS __declspec(thread)
#else
#define NN_TLS __thread
#endif

/* ---- clocks ---- */

/* Monotonic wall time in seconds. */
double nn_now(void) {
#if defined(_WIN32)
    return (double)clock() / CLOCKS_PER_SEC;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

/* A cheap tick counter for ratios only (the TSC on x86, nanoseconds elsewhere). */
uint64_t nn_ticks(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    return NN_TICKS();
#else
    return (uint64_t)(nn_now() * 1e9);
#endif
}

/* ---- timed barrier ---- */

static NN_TLS uint64_t nn_sync_wait;   /* ticks this thread has spent in nn_sync() */

/* Barrier of the enclosing parallel region (none: returns at once), timed. */
void nn_sync(void) {
#ifdef NNFAST_OPENMP
    if (omp_get_num_threads() < 2) return;
    const uint64_t t0 = nn_ticks();
#pragma omp barrier
    nn_sync_wait += nn_ticks() - t0;
#endif
}

uint64_t nn_sync_waited(void) { return nn_sync_wait; }

/* ---- the governor ---- */

/* threads at level i: 1, 2, 4, ... capped at the caller's maximum */
static int nn_gov_count(const nn_gov *g, int level) {
    const int c = 1 << level;
    return c < g->max ? c : g->max;
}

static nn_gov nn_gov_saved[NN_GOV_KINDS];
#if !defined(_WIN32)
static pthread_mutex_t nn_gov_lock = PTHREAD_MUTEX_INITIALIZER;
#define NN_GOV_LOCK() pthread_mutex_lock(&nn_gov_lock)
#define NN_GOV_UNLOCK() pthread_mutex_unlock(&nn_gov_lock)
#else
#define NN_GOV_LOCK() ((void)0)
#define NN_GOV_UNLOCK() ((void)0)
#endif

/* NN_GOV_ADAPT: choose as above; NN_GOV_FIXED: keep the caller's count (an explicit
 * set_num_threads); NN_GOV_CYCLE (tests): a new count every unit of work, 1, 2, ..., max, 1, ... */
static int nn_gov_mode;

void nn_gov_set_mode(int mode) { nn_gov_mode = mode; }

/* g = the saved state of loop `kind`, or a fresh one (all threads) when the caller's maximum
 * changed; the start of a call (Ctrl-C armed, per-thread space made). */
int nn_gov_begin(nn_gov *g, int kind, int max_threads, uint64_t key) {
    const int mode = nn_gov_mode;
    if (max_threads < 1) max_threads = 1;
    NN_GOV_LOCK();
    *g = nn_gov_saved[kind];
    NN_GOV_UNLOCK();
    g->mode = mode;
    if (g->max != max_threads) {
        memset(g, 0, sizeof(*g));
        g->max = max_threads;
        g->mode = mode;
        while (nn_gov_count(g, g->top) < max_threads && g->top < NN_GOV_LEVELS - 1) g->top++;
        g->level = g->top;
        g->period = NN_GOV_MIN_PERIOD;
    }
    if (g->key != key) {
        /* a new shape (or a fresh start): its rates are unknown.  The count the last shape
         * settled on still holds, but the neighbouring count is tried right after the first
         * segment: a short call (a few thousand images, a small predict) would otherwise end
         * before the first trial, on a count that may be the slower one for this shape. */
        g->key = key;
        memset(g->rate, 0, sizeof(g->rate));
        g->next_explore = g->clock;
    }
    g->from = -1;
    g->seg_seconds = mode == NN_GOV_CYCLE ? 0.0 : NN_SEG_SECONDS;
    g->per_thread = (uint64_t *)calloc((size_t)max_threads, sizeof(uint64_t));
    if (!g->per_thread) return -1;
    g->since = nn_interrupt_arm();
    return 0;
}

/* End of a call: store g as the state of loop `kind` for the next one (only what the governor
 * chose: a fixed count or a test's cycle leaves the saved state alone). */
void nn_gov_end(nn_gov *g, int kind) {
    nn_interrupt_disarm();
    free(g->per_thread);
    g->per_thread = NULL;
    if (g->mode != NN_GOV_ADAPT) return;
    nn_gov s = *g;
    if (s.from >= 0) s.level = s.from;   /* an exploration cut short by the end of the call */
    s.from = -1;
    NN_GOV_LOCK();
    nn_gov_saved[kind] = s;
    NN_GOV_UNLOCK();
}

/* Threads for the next segment. */
int nn_gov_threads(const nn_gov *g) { return g->mode == NN_GOV_FIXED ? g->max : nn_gov_count(g, g->level); }

/* After a segment: it did `units` of work in `seconds` with waiting fraction `wait` (see the
 * top of this file); choose the count of the next segment. */
void nn_gov_segment(nn_gov *g, double seconds, double units, double wait) {
    if (g->mode == NN_GOV_CYCLE) g->level = g->level < g->top ? g->level + 1 : 0;
    if (g->mode != NN_GOV_ADAPT || g->top == 0 || units <= 0 || seconds <= 0) return;
    const double now = (g->clock += seconds), r = seconds / units;
    const int L = g->level;
    if (g->from >= 0) {   /* this segment measured level L against level `from` */
        const int F = g->from;
        g->trials += 1;
        g->trial_seconds += seconds;
        g->rate[L] = r;
        g->from = -1;
        if (g->rate[F] > 0 && r < NN_GOV_MARGIN * g->rate[F]) {
            g->period = NN_GOV_MIN_PERIOD;     /* moved: look again soon */
        } else {
            /* back; the next trial waits 50 times what this one cost over staying (trials then
             * cost 2% at most; a count 30 times slower on a loaded machine costs more), and on all
             * the threads at least twice as long as the last time.  Below all the threads it does
             * not double: the load that took them away can end at any moment (another program's
             * job done), and a period grown to its cap would keep a 0.3 s call on one thread for
             * the whole of it. */
            const double cost = seconds - units * g->rate[F], last = g->period;
            g->level = F;
            g->period = 50 * cost;
            if (F == g->top && g->period < 2 * last) g->period = 2 * last;
            if (g->period < NN_GOV_MIN_PERIOD) g->period = NN_GOV_MIN_PERIOD;
            if (g->period > NN_GOV_MAX_PERIOD) g->period = NN_GOV_MAX_PERIOD;
        }
        g->next_explore = now + g->period;
        return;
    }
    const double before = g->rate[L] > 0 ? g->rate[L] : r;
    g->rate[L] = g->rate[L] > 0 ? 0.5 * g->rate[L] + 0.5 * r : r;
    const int c = nn_gov_count(g, L);
    /* waiting costs more than the threads gain, unless the fewer threads were measured slower
     * than these were before this segment (some work runs faster split, over two caches, despite
     * the waits): one segment in which a thread was descheduled, waited long and ran slow does not
     * drop a count measured faster; a second one in a row does (a load that stays) */
    if (L > 0 && wait > 1.0 - (double)nn_gov_count(g, L - 1) / c &&
        !(g->rate[L - 1] > 0 && g->rate[L - 1] > before)) {
        g->level = L - 1;
        g->drops += 1;
        g->rate[L - 1] = 0;                    /* stale: measure it afresh */
        g->period = NN_GOV_MIN_PERIOD;
        g->next_explore = now + NN_GOV_DROP_RETRY;
        return;
    }
    if (now >= g->next_explore) {
        int to = g->explore_down ? L - 1 : L + 1;
        if (to < 0) to = L + 1;
        if (to > g->top) to = L - 1;
        g->explore_down = !g->explore_down;
        if (to >= 0 && to <= g->top && to != L) {
            g->from = L;
            g->level = to;
        }
    }
}

/* Thread count the saved state of loop `kind` would start its next call with (benchmarks). */
int nn_gov_saved_threads(int kind) {
    NN_GOV_LOCK();
    const nn_gov g = nn_gov_saved[kind];
    NN_GOV_UNLOCK();
    return g.max < 1 ? 0 : nn_gov_count(&g, g.level);
}

/* Trials, their seconds and drops for waiting of loop `kind` so far (benchmarks). */
void nn_gov_saved_stats(int kind, double *trials, double *trial_seconds, double *drops) {
    NN_GOV_LOCK();
    *trials = nn_gov_saved[kind].trials;
    *trial_seconds = nn_gov_saved[kind].trial_seconds;
    *drops = nn_gov_saved[kind].drops;
    NN_GOV_UNLOCK();
}

/* ---- the loop: segments, each one parallel region ---- */

/* Thread 0 after each unit of work: where the loop stands (the next unit, the work done so
 * far) and g->flag = nn_gov_check(g); every thread reads them after the next barrier. */
void nn_gov_unit_done(nn_gov *g, nn_size next, nn_size done) {
    g->next = next;
    g->done = done;
    g->flag = nn_gov_check(g);
}

/* The master after each unit of work: NN_GOV_STOP after a SIGINT, NN_GOV_SEG_OVER when the
 * segment has had its time, else 0. */
int nn_gov_check(const nn_gov *g) {
    if (nn_interrupted(g->since)) return NN_GOV_STOP;
    return nn_now() - g->seg_t0 >= g->seg_seconds ? NN_GOV_SEG_OVER : 0;
}

/* Units first .. end-1 of loop `kind` in segments on the governor's counts (section 2 above),
 * each one parallel region in which every thread calls body(ctx, g, t, nth, from) once.  The
 * body does units from `from` on, thread 0 calling nn_gov_unit_done() after each, and returns
 * (all threads after the same barrier) once g->flag or g->stop is set, or at the end; it may set
 * g->stop itself (a caller's stop, a non-finite number).  Its waiting w_t is its time in
 * nn_sync() plus the ticks it returns (barriers it timed itself).  With seg_chunks > 0 it hands
 * out chunks without barriers instead (claiming g->next atomically, adding to g->done) and
 * returns its ticks of work, the rest of the segment waited; a segment then lasts seg_chunks
 * chunks of one thread (NN_SEG_SECONDS to NN_SEG_MAX_SECONDS): at its end the thread done first
 * waits for the others' chunks, half a chunk, 10% of two threads' time on 4 ms and 1 ms
 * segments.  Returns the work done, or -1 when out of memory. */
nn_size nn_gov_run(int kind, int max_threads, uint64_t key, nn_size first, nn_size end, int seg_chunks,
                   nn_gov_body body, void *ctx) {
    nn_gov gov, *g = &gov;
    if (nn_gov_begin(g, kind, max_threads, key) != 0) return -1;
    g->next = first;
    g->done = 0;
    g->stop = 0;
    while (g->next < end && !g->stop) {
        const nn_size from = g->next, done0 = g->done;
        const uint64_t k0 = nn_ticks();
        g->seg_t0 = nn_now();
        g->flag = 0;
#ifdef NNFAST_OPENMP
#pragma omp parallel num_threads(nn_gov_threads(g))
#endif
        {
#ifdef NNFAST_OPENMP
            const int t = omp_get_thread_num(), nth = omp_get_num_threads();
#else
            const int t = 0, nth = 1;
#endif
            if (t == 0) g->seg_threads = nth;
            const uint64_t w0 = nn_sync_waited(), own = body(ctx, g, t, nth, from);
            g->per_thread[t] = seg_chunks > 0 ? own : nn_sync_waited() - w0 + own;
        }
        if (g->flag == NN_GOV_STOP) g->stop = 1;
        if (g->next > end) g->next = end;   /* each thread's last claim of a chunk past the end */
        if (seg_chunks > 0 && g->seg_seconds > 0 && g->next > from) {
            const double chunk_s = (nn_now() - g->seg_t0) * g->seg_threads / (double)(g->next - from);
            const double want = seg_chunks * chunk_s;
            g->seg_seconds = want < NN_SEG_SECONDS ? NN_SEG_SECONDS : want > NN_SEG_MAX_SECONDS ? NN_SEG_MAX_SECONDS : want;
        }
        /* f = sum_t w_t / (threads T), the segment reported with its work */
        const double T = (double)(nn_ticks() - k0), n = g->seg_threads;
        double sum = 0;
        for (int t = 0; t < g->seg_threads; t++) sum += (double)g->per_thread[t];
        const double f = T <= 0 ? 0 : seg_chunks > 0 ? 1.0 - sum / (n * T) : sum / (n * T);
        nn_gov_segment(g, nn_now() - g->seg_t0, (double)(g->done - done0), f);
    }
    const nn_size done = g->done;
    nn_gov_end(g, kind);
    return done;
}

/* ---- Ctrl-C ---- */

static volatile sig_atomic_t nn_sigints;   /* SIGINTs seen while armed */

int nn_interrupt_count(void) { return (int)nn_sigints; }

int nn_interrupted(int since) { return (int)nn_sigints != since; }

#if !defined(_WIN32)
static struct sigaction nn_python_sigint;   /* the handler ours stands in front of */
static int nn_armed;                         /* native calls running (under nn_gov_lock) */
static int nn_installed;                     /* 1 while ours is the process's handler */

static void nn_on_sigint(int sig, siginfo_t *info, void *ctx) {
    nn_sigints++;
    if (nn_python_sigint.sa_flags & SA_SIGINFO) {
        if (nn_python_sigint.sa_sigaction) nn_python_sigint.sa_sigaction(sig, info, ctx);
    } else if (nn_python_sigint.sa_handler != SIG_IGN && nn_python_sigint.sa_handler != SIG_DFL) {
        nn_python_sigint.sa_handler(sig);
    }
}

static int nn_is_ours(const struct sigaction *sa) {
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == nn_on_sigint;
}
#endif

/* Start of a native call: stand in front of Python's SIGINT handler (when it has one).
 * Returns the count to pass to nn_interrupted(). */
int nn_interrupt_arm(void) {
#if !defined(_WIN32)
    NN_GOV_LOCK();
    if (nn_armed++ == 0) {
        struct sigaction cur, ours;
        sigaction(SIGINT, NULL, &cur);
        if (nn_is_ours(&cur)) {
            nn_installed = 1;                  /* left installed by an earlier call: keep the saved one */
        } else if (!(cur.sa_flags & SA_SIGINFO) && (cur.sa_handler == SIG_IGN || cur.sa_handler == SIG_DFL)) {
            nn_installed = 0;
        } else {
            nn_python_sigint = cur;
            memset(&ours, 0, sizeof(ours));
            ours.sa_sigaction = nn_on_sigint;
            ours.sa_mask = cur.sa_mask;
            ours.sa_flags = SA_SIGINFO | (cur.sa_flags & (SA_ONSTACK | SA_RESTART));
            nn_installed = sigaction(SIGINT, &ours, NULL) == 0;
        }
    }
    NN_GOV_UNLOCK();
#endif
    return (int)nn_sigints;
}

/* End of a native call: the last one running puts Python's handler back, unless someone
 * (signal.signal) replaced ours meanwhile. */
void nn_interrupt_disarm(void) {
#if !defined(_WIN32)
    NN_GOV_LOCK();
    if (--nn_armed == 0 && nn_installed) {
        struct sigaction cur;
        sigaction(SIGINT, NULL, &cur);
        if (nn_is_ours(&cur)) sigaction(SIGINT, &nn_python_sigint, NULL);
        nn_installed = 0;
    }
    NN_GOV_UNLOCK();
#endif
}
