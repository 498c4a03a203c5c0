/* The finiteness check of input matrices, at the speed of memory (finite.c). */
#ifndef NNFAST_FINITE_H
#define NNFAST_FINITE_H
#include <stddef.h>
#include <stdint.h>

/* The first row r < n of X (n rows of d numbers, rows ld elements apart; float64 when
 * is_f32 is 0, else float32) holding a NaN or an infinity, or -1 when every number is finite. */
ptrdiff_t nn_first_nonfinite_row(const void *X, int is_f32, ptrdiff_t n, ptrdiff_t d, ptrdiff_t ld);

#endif
