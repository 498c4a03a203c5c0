/* BLAS helpers for network3's kernel files, written over the type `real` with names
 * suffixed by S() (tmpl.h): included (no guard) inside each typed section that calls BLAS.
 *
 * gemm_rm: row-major C (M,N) = alpha op(A) op(B) + beta C, op(A) (M,K), op(B) (K,N);
 * ta/tb say A is stored (K,M) / B is stored (N,K).  BLAS is column-major, so we
 * ask it for C^T = op(B)^T op(A)^T, which is the same memory.
 */
static inline void S(gemm_rm)(GEMM_T gemm, int ta, int tb, nn_size M, nn_size N, nn_size K, real alpha,
                             const real *A, nn_size lda, const real *B, nn_size ldb, real beta, real *C,
                             nn_size ldc) {
    int m = (int)N, n = (int)M, k = (int)K, la = (int)ldb, lb = (int)lda, lc = (int)ldc;
    char tA = tb ? 'T' : 'N', tB = ta ? 'T' : 'N';
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {   /* BLAS would only scale C by beta */
        for (nn_size i = 0; i < M; i++)
            for (nn_size j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    gemm(&tA, &tB, &m, &n, &k, &alpha, (real *)B, &la, (real *)A, &lb, &beta, C, &lc);
}

/* gemm_rm cut into nn3_parts independent slices of C (the same cut for any thread count,
 * slices of at least min_part): of its rows (cut_rows) or of its columns, each one BLAS call.
 * Work: the slices, then the timed barrier. */
static void S(gemm_parts)(GEMM_T gemm, int ta, int tb, int cut_rows, nn_size M, nn_size N, nn_size K, real alpha,
                          const real *A, nn_size lda, const real *B, nn_size ldb, real beta, real *C, nn_size ldc,
                          nn_size min_part, int max_parts) {
    nn_size parts = nn3_parts(cut_rows ? M : N, min_part, max_parts);
#ifdef NNFAST_OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (nn_size t = 0; t < parts; t++) {
        nn_size lo = nn3_part_lo(cut_rows ? M : N, parts, t), hi = nn3_part_lo(cut_rows ? M : N, parts, t + 1);
        if (cut_rows)
            S(gemm_rm)(gemm, ta, tb, hi - lo, N, K, alpha, A + (ta ? lo : lo * lda), lda, B, ldb, beta, C + lo * ldc, ldc);
        else
            S(gemm_rm)(gemm, ta, tb, M, hi - lo, K, alpha, A, lda, B + (tb ? lo * ldb : lo), ldb, beta, C + lo, ldc);
    }
    nn_sync();   /* the loop's barrier, timed */
}
