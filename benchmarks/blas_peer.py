"""The BLAS nnfast may use against PyTorch's, on the products of one large mini-batch.

nnfast's fully connected layers (csrc/dense3.c) make their large matrix products through
scipy.linalg.cython_blas (OpenBLAS in scipy's wheels); PyTorch's CPU build makes
them through MKL.  At mini-batches of 100 and 1000 an epoch of [784,100,10] is
almost all products, so whichever library multiplies faster sets a floor under
the other's epoch.  This times the five products of one mini-batch of m rows
(forward x W1, the weight gradient of layer 1, forward of layer 2, its weight
gradient and the input gradient it sends down), the same shapes and dtype in
both libraries, alternating, and prints the median time of each and their ratio.

    python benchmarks/blas_peer.py [--sizes 784,100,10] [--batches 100,1000] [--threads 1,2]
"""
import argparse
import statistics
import time

import numpy as np
from scipy.linalg import blas
from threadpoolctl import threadpool_limits


def products(sizes, m):
    """(M, K, N) of A (M, K) @ B (K, N) for one mini-batch of m rows through `sizes`."""
    shapes = []
    for k, n in zip(sizes[:-1], sizes[1:]):
        shapes.append((m, k, n))       # forward: a_l = a_{l-1} W
        shapes.append((k, m, n))       # weight gradient: a_{l-1}^T delta
    for k, n in zip(sizes[1:-1], sizes[2:]):
        shapes.append((m, n, k))       # input gradient: delta W^T
    return shapes


def time_pair(shapes, dtype, threads, repeats=15, inner=10):
    import torch
    rng = np.random.default_rng(0)
    gemm = blas.sgemm if dtype == "float32" else blas.dgemm
    mats = [(np.asfortranarray(rng.standard_normal((M, K)).astype(dtype)),
             np.asfortranarray(rng.standard_normal((K, N)).astype(dtype))) for M, K, N in shapes]
    tmats = [(torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(b))) for a, b in mats]
    runs = {"scipy": lambda: [gemm(1.0, a, b) for a, b in mats],
            "torch": lambda: [torch.mm(a, b) for a, b in tmats]}
    torch.set_num_threads(threads)
    times = {name: [] for name in runs}
    with threadpool_limits(threads):
        for fn in runs.values():
            for _ in range(inner):
                fn()
        for _ in range(repeats):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                times[name].append((time.perf_counter() - t0) / inner)
    return {name: statistics.median(v) for name, v in times.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="784,100,10")
    p.add_argument("--batches", default="100,1000")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--dtypes", default="float32,float64")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| sizes | batch | dtype | threads | scipy BLAS ms | PyTorch ms | PyTorch faster by |")
    print("|---|---|---|---|---|---|---|")
    for m in (int(b) for b in args.batches.split(",")):
        for dtype in args.dtypes.split(","):
            for threads in (int(t) for t in args.threads.split(",")):
                t = time_pair(products(sizes, m), dtype, threads)
                print("| [%s] | %d | %s | %d | %.3f | %.3f | %.2fx |" % (
                    args.sizes, m, dtype, threads, 1e3 * t["scipy"], 1e3 * t["torch"], t["scipy"] / t["torch"]),
                    flush=True)


if __name__ == "__main__":
    main()
