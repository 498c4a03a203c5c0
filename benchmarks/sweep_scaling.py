"""A sweep's wall time against the sum of its points' times, side by side in one run:
in this process (no Dask), on a LocalCluster of 1 worker process and of 2.

    NNFAST_DATA=... python benchmarks/sweep_scaling.py [--dataset mnist] [--eta 0.5,1,2,3] [--epochs 2]

Each row: the wall time of ``nnfast.sweep`` (cluster start-up and data loading on
the workers included, and without them: from the first task sent to the last
point back), the sum of the seconds each point trained, and their ratio.  Every
configuration must give the same accuracies (checked)."""
import argparse
import os
import time

import nnfast


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--eta", default="0.5,1,2,3")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", default="0,1,2", help="worker counts to time (0: this process, no Dask)")
    args = ap.parse_args()
    data = os.path.join(os.environ["NNFAST_DATA"], args.dataset)
    grid = {"eta": [float(v) for v in args.eta.split(",")], "epochs": [args.epochs]}
    cores = os.cpu_count()
    print("chapter1 on %s, %d points (eta %s), %d epochs of 50,000 images each; %d cores; load average %s"
          % (args.dataset, len(grid["eta"]), args.eta, args.epochs, cores,
             " ".join("%.1f" % x for x in os.getloadavg())))
    print("| where | native threads per point | wall (s) | wall after start-up (s) | sum of points (s) | "
          "sum / wall after start-up |")
    print("|---|---|---|---|---|---|")
    reference = None
    for workers in [int(w) for w in args.workers.split(",")]:
        started = []
        t0 = time.perf_counter()
        threads = cores if workers == 0 else max(1, cores // workers)
        rows = nnfast.sweep("chapter1", grid, workers=workers, data=data, dataset=args.dataset, threads=threads,
                            progress=False, on_start=lambda info: started.append(time.perf_counter()))
        wall = time.perf_counter() - t0
        after = time.perf_counter() - started[0]
        total = sum(r["seconds"] for r in rows)
        accuracies = [r["accuracy"] for r in rows]
        assert reference is None or accuracies == reference, (accuracies, reference)
        reference = accuracies
        where = "this process (no Dask)" if workers == 0 else "LocalCluster, %d worker process%s" % (
            workers, "es" if workers > 1 else "")
        print("| %s | %d | %.1f | %.1f | %.1f | %.2f |" % (where, threads, wall, after, total, total / after))
    print("accuracies (equal in every row): %s" % ", ".join("%.2f%%" % (100 * a) for a in reference))


if __name__ == "__main__":
    main()
