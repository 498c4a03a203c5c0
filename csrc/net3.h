/* Chapter 6 (network3): kernels and the mini-batch loop.
 *
 * Shape letters, used in every file of network3:
 *   B  rows of the mini-batch buffers (the network's mini_batch_size); nb <= B rows in use
 *   C  input maps, H x W input image; F filters of KH x KW
 *   OH = H-KH+1, OW = W-KW+1 the convolution's output; P = OH*OW; K = C*KH*KW
 *   PH x PW pool window; QH = OH/PH, QW = OW/PW the pooled map (remainder dropped); Q = QH*QW
 *   I, O  inputs and outputs of a fully connected or softmax layer
 * Layouts are row-major: images (B, C, H, W) as in the book; the im2col matrix is
 * (K, B*P) and the convolution output (F, B*P), so a whole mini-batch is one
 * matrix with leading dimension ld = B*P.
 *
 * Every kernel exists for float (suffix _f) and double (_d): each csrc file
 * writes its kernels once over the type `real` and is compiled twice by
 * including itself (see the top of conv.c).
 *
 * Threads: the kernels contain orphaned `#pragma omp for` loops.  Called from
 * inside nn3_train/nn3_predict's parallel region they share the work; called
 * alone they run serially.  Work is always cut into pieces fixed by the shapes
 * (examples, or nn3_parts() slices of a matrix), never by the thread count, and
 * every BLAS call is made with the same arguments whatever the thread count:
 * results are identical for 1 or 64 threads.
 *
 * Matrix products go through BLAS function pointers handed in from
 * scipy.linalg.cython_blas (Fortran signature, column-major).
 */
#ifndef NNFAST_NET3_H
#define NNFAST_NET3_H

#include "nnfast.h"

/* complex.h (which numpy's headers include before this in the Cython glue) defines I as the
 * imaginary unit; here I is a shape letter */
#ifdef I
#undef I
#endif

typedef void (*nn3_sgemm_t)(char *ta, char *tb, int *m, int *n, int *k, float *alpha, float *a, int *lda,
                            float *b, int *ldb, float *beta, float *c, int *ldc);
typedef void (*nn3_dgemm_t)(char *ta, char *tb, int *m, int *n, int *k, double *alpha, double *a, int *lda,
                            double *b, int *ldb, double *beta, double *c, int *ldc);

enum nn3_kind { NN3_CONV = 0, NN3_FC = 1, NN3_SOFTMAX = 2 };

/* One layer: sizes, parameters and the buffers its passes use (all owned by Python). */
typedef struct {
    int kind, act;
    nn_size I, O;                          /* flat input and output sizes per example */
    nn_size C, H, W, F, KH, KW, OH, OW, PH, PW, QH, QW;   /* conv only */
    double p;                              /* dropout probability of the input (fc/softmax) */
    void *w, *b;                           /* conv w (F, K), b (F); fc w (I, O), b (O) */
    void *gw, *gb;                         /* gradients (nn3_gradients only) */
    void *col, *conv;                      /* conv: (K, B*P) im2col, (F, B*P) output / its gradient */
    int32_t *arg;                          /* conv: (B, F, Q) winner of each window, index in [0, P) */
    void *mask, *xd;                       /* fc/softmax: (B, I) keep mask 0/1 and masked input */
    void *z, *a, *da;                      /* (B, O) pre-activation, activation, dL/da */
    void *zp;                              /* fc/softmax: (max_parts, B, O) the forward product's parts */
    void *dcol;                            /* conv not first: (K, B*P) */
    void *vw, *vb;                         /* fc/softmax with momentum: velocities like w, b */
} nn3_layer;

typedef struct {
    int L;                  /* number of layers; the last is a softmax layer */
    nn_size B;              /* rows of every buffer */
    int max_parts;          /* matrix products are cut into at most this many BLAS calls (1, 2, 4, 8) */
    nn3_layer *layers;
    void *x;                /* (B, I of layer 0) the mini-batch's input rows */
    int64_t *y;             /* (B,) labels (network3), or: */
    void *t;                /* (B, O of the last layer) target rows (network, network2); NULL: labels */
    int cost;               /* enum nn_cost of a last layer of kind NN3_FC (sigmoid output) */
    void *loss;             /* (B,) -ln a_y per row (labels only) */
    void *gemm;             /* nn3_sgemm_t or nn3_dgemm_t */
    int nonfinite;          /* set when a training pass met an inf or NaN weighted input or output delta */
} nn3_net;

/* The SGD step of nn3_train (one rule for network, network2 and network3), with dw = x^T dz and
 * db = sum_rows dz the mini-batch's gradient (dz carries the 1/m):
 *   update 0: dw, db into the layers' gw, gb (nn3_gradients);
 *   mu 0:     w -= decay R(w), then w -= eta dw, b -= eta db;
 *   mu > 0:   v = mu v - decay R(w) - eta dw, w += v;  vb = mu vb - eta db, b += vb (vw, vb: the layer's);
 * R(w) = w (L2) or sgn(w) (l1), decay = eta lmbda / n.  Conv layers take L2 without momentum. */
typedef struct {
    int update, l1;
    double eta, decay, mu;
} nn3_step;

/* keep GCC from turning short copy loops back into memcpy calls (conv.c, conv_direct.c) */
#if defined(__GNUC__) && !defined(__clang__)
#define NN3_NO_MEMCPY_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NN3_NO_MEMCPY_IDIOM
#endif

/* pieces a dimension n is cut into: 1, 2, 4 or 8 (<= max_parts), at least `min` wide each */
static inline nn_size nn3_parts(nn_size n, nn_size min, int max_parts) {
    nn_size p = 1;
    while (p * 2 <= max_parts && n >= p * 2 * min) p *= 2;
    return p;
}
static inline nn_size nn3_part_lo(nn_size n, nn_size parts, nn_size i) { return n * i / parts; }

/* network3's fully connected products at small mini-batches, through the kernels of network and
 * network2 (dense_impl.h; dense_fc3.h says how): dense.c's dispatchers, dtype 0 double, 1 float
 * (dense.h's NN_F64, NN_F32), [lo, hi) a slice of z's columns (forward; x's rows ldx apart) or of w's rows
 * (the others). */
void nn_fc3_forward(int dtype, const void *x, nn_size ldx, const void *w, void *z, double scale, nn_size nb, nn_size I,
                    nn_size O, nn_size lo, nn_size hi);
void nn_fc3_backward_x(int dtype, const void *dz, const void *w, void *dx, nn_size nb, nn_size I, nn_size O,
                       nn_size lo, nn_size hi);
void nn_fc3_update(int dtype, const void *x, const void *dz, void *w, double eta, nn_size nb, nn_size I, nn_size O,
                   nn_size lo, nn_size hi);
/* The first fully connected layer on its nonzero inputs (dense_sparse.h; dense.c's dispatchers): 0 when
 * more than `density` of x[:, lo:hi] is nonzero (nothing written; the caller takes the dense product). */
int nn_sparse_forward(int dtype, const void *x, nn_size ldx, const void *w, void *z, nn_size nb, nn_size O, nn_size lo,
                      nn_size hi, double density);
int nn_sparse_update(int dtype, const void *x, nn_size ldx, const void *dz, void *acc, double alpha, nn_size nb,
                     nn_size O, nn_size lo, nn_size hi, double density);
/* The density they take from the first layer (dense3.c says why this much); tests set it (0: never,
 * 1: always) with nn3_set_sparse. */
#define NN3_SPARSE_DENSITY 0.4
extern double nn3_sparse_density;
void nn3_set_sparse(double density);
/* A layer takes them (else BLAS) at mini-batches of at most nn3_fc_small_rows rows (at most 64) when
 * its product has at least nn3_fc_small_macs multiply-adds (dense3.c says why).  Tests set them to
 * hold both paths to the oracle (nn3_set_fc_small). */
#define NN3_FC_SMALL_ROWS 16
#define NN3_FC_SMALL_MACS 4e6
extern int nn3_fc_small_rows;
extern double nn3_fc_small_macs;
void nn3_set_fc_small(int rows, double macs);

/* A conv layer's lowering: 1 the direct kernels of conv_direct.c, 0 im2col + BLAS (conv.c), by shape
 * (conv_direct.c gives the rule and its measurements); real_size sizeof(real).  Tests force one path with nn3_set_conv_mode(1: im2col,
 * 2: direct wherever it fits; 0: by shape). */
int nn3_conv_direct(size_t real_size, nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH, nn_size KW);
extern int nn3_conv_mode;
void nn3_set_conv_mode(int mode);

#define NN3_DECLARE(real, S, gemm_t)                                                                    \
    /* conv.c */                                                                                         \
    void nn3_conv_forward##S(gemm_t gemm, const real *x, const real *w, real *col, real *out,            \
                             nn_size nb, nn_size B, nn_size C, nn_size H, nn_size W, nn_size F,           \
                             nn_size KH, nn_size KW, int max_parts);                                      \
    void nn3_conv_backward_w##S(gemm_t gemm, const real *dout, const real *col, real *gw, real alpha,      \
                                real beta, nn_size nb, nn_size B, nn_size P, nn_size F, nn_size K,         \
                                int max_parts);                                                            \
    void nn3_conv_backward_wb##S(gemm_t gemm, const real *dout, const real *col, real *gw, const real *dz,  \
                                 real *gb, real alpha, real beta, real l2, nn_size nb, nn_size B, nn_size P, \
                                 nn_size Q, nn_size F, nn_size K, int max_parts);                           \
    void nn3_conv_backward_x##S(gemm_t gemm, const real *dout, const real *w, real *dcol, real *dx,       \
                                nn_size nb, nn_size B, nn_size C, nn_size H, nn_size W, nn_size F,         \
                                nn_size KH, nn_size KW, int max_parts);                                                   \
    /* conv_direct.c (the same maths without im2col): forward through the pool to z, a, arg; backward    \
     * from the pool: dz from da in place, the filter step or gradient, dx when not NULL (part (nb, F, K) \
     * scratch: the layer's col) */                                                                      \
    void nn3_conv_direct_forward##S(const real *x, const real *w, const real *bias, int act, real *z,    \
                                    real *a, int32_t *arg, nn_size nb, nn_size C, nn_size H, nn_size W,  \
                                    nn_size F, nn_size KH, nn_size KW, nn_size PH, nn_size PW);           \
    void nn3_conv_direct_backward##S(real *da, const real *z, const real *a, int act, const int32_t *arg, \
                                     const real *x, const real *w, real *part, real *dx,                  \
                                     real *gw, real *gb, real alpha, real beta, real l2, nn_size nb,      \
                                     nn_size C, nn_size H, nn_size W, nn_size F, nn_size KH, nn_size KW,  \
                                     nn_size PH, nn_size PW, int max_parts);                              \
    /* pool.c */                                                                                         \
    void nn3_pool_forward##S(const real *conv, real *out, int32_t *arg, nn_size nb, nn_size B, nn_size F,  \
                             nn_size OH, nn_size OW, nn_size PH, nn_size PW);                              \
    void nn3_pool_act_example##S(const real *conv, nn_size ldf, real *out, real *a, const real *bias,     \
                                 int act, int32_t *arg, nn_size F, nn_size OH, nn_size OW, nn_size PH,    \
                                 nn_size PW);                                                              \
    void nn3_pool_act_forward##S(const real *conv, real *out, real *a, const real *bias, int act,          \
                                 int32_t *arg, nn_size nb, nn_size B, nn_size F, nn_size OH, nn_size OW,    \
                                 nn_size PH, nn_size PW);                                                   \
    void nn3_pool_act_backward##S(real *da, const real *z, const real *a, int act, const int32_t *arg,     \
                                  real *dconv, nn_size nb, nn_size B, nn_size F, nn_size P, nn_size Q);     \
    void nn3_pool_backward##S(const real *dout, const int32_t *arg, real *dconv, nn_size nb, nn_size B,    \
                              nn_size F, nn_size P, nn_size Q);                                           \
    /* bias_act.c */                                                                                     \
    void nn3_bias_act_forward##S(real *z, real *a, const real *b, int act, nn_size nb, nn_size N,         \
                                 nn_size S_);                                                             \
    void nn3_bias_act_example##S(real *z, real *a, const real *b, int act, nn_size N, nn_size S_);         \
    void nn3_bias_act_cols##S(real *z, real *a, const real *b, int act, nn_size nb, nn_size ld, nn_size lo,  \
                              nn_size hi);                                                                 \
    void nn3_act_backward##S(const real *da, const real *z, const real *a, real *dz, int act, nn_size nb,    \
                             nn_size N, nn_size S_);                                                       \
    void nn3_act_backward_cols##S(real *d, const real *z, const real *a, int act, nn_size nb, nn_size ld,     \
                                  nn_size lo, nn_size hi);                                                 \
    void nn3_bias_backward_range##S(const real *dz, real *gb, real alpha, real beta, nn_size nb, nn_size N,   \
                                    nn_size S_, nn_size lo, nn_size hi);                                   \
    void nn3_bias_backward##S(const real *dz, real *gb, real alpha, real beta, nn_size nb, nn_size N,        \
                              nn_size S_);                                                                 \
    void nn3_bias_act_backward##S(const real *da, const real *z, const real *a, real *dz, real *gb,       \
                                  real alpha, real beta, int act, nn_size nb, nn_size N, nn_size S_);      \
    /* dropout.c */                                                                                      \
    void nn3_dropout_forward##S(const real *x, real *mask, real *xd, double p, uint64_t seed,             \
                                uint64_t stream, uint64_t first, nn_size nb, nn_size I);                   \
    void nn3_dropout_backward_cols##S(real *dx, const real *mask, nn_size nb, nn_size I, nn_size lo,       \
                                      nn_size hi);                                                        \
    /* cost.c */                                                                                         \
    double nn3_cost_forward##S(int cost, const real *a, const real *y, nn_size O);                         \
    void nn3_cost_backward##S(int cost, int act, const real *z, const real *a, const real *y, real *dz,    \
                              real inv, nn_size O);                                                        \
    /* softmax.c */                                                                                      \
    void nn3_softmax_forward##S(real *z, real *a, const real *b, const int64_t *y, real *loss,             \
                                nn_size nb, nn_size O);                                                    \
    void nn3_softmax_rows##S(real *z, real *a, const real *b, const int64_t *y, const real *t, real *loss,   \
                             real *dz, nn_size nb, nn_size O, nn_size lo, nn_size hi);                     \
    void nn3_softmax_backward##S(const real *a, const int64_t *y, real *dz, nn_size nb, nn_size O);       \
    /* dense3.c (network3's fully connected layers) */                                                  \
    void nn3_fc_forward##S(gemm_t gemm, const real *x, const real *w, const real *b, real *z, real *zp,    \
                           real *a, int act, real scale, const int64_t *y, const real *tgt, int cost,       \
                           real *loss, real *dz, int *nonfinite, int eval, int sparse, nn_size nb,  \
                           nn_size I, nn_size O, int max_parts);                                          \
    void nn3_fc_backward##S(gemm_t gemm, const real *dz, const real *x, real *w, real *b, real *gw,         \
                            real *gb, real *vw, real *vb, const nn3_step *step, real *dx,                   \
                            const real *mask, int act_below, const real *z_below, const real *a_below,      \
                            int sparse, nn_size nb, nn_size I, nn_size O, int max_parts);           \
    /* net3.c */                                                                                         \
    nn_size nn3_train##S(nn3_net *net, const void *X, int x_f32, const int64_t *Y, const real *T,          \
                         const int64_t *order, nn_size n, nn_size first_batch, nn_size n_batches,          \
                         const nn3_step *step, uint64_t seed, uint64_t first_example, int nthreads);      \
    void nn3_gradients##S(nn3_net *net, const real *X, const int64_t *Y, nn_size nb, uint64_t seed,        \
                          uint64_t first_example);                                                        \
    nn_size nn3_predict##S(nn3_net *net, const void *X, int x_f32, nn_size n, const real *T, int64_t *pred,   \
                           double *costs, real *out, int nthreads);

NN3_DECLARE(float, _f, nn3_sgemm_t)
NN3_DECLARE(double, _d, nn3_dgemm_t)

#endif
