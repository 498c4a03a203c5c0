"""``nnfast chapter3`` and ``nnfast chapter6``: the chapters' networks with the book's settings.

Each run is a preset holding the hyperparameters the book uses for it; every
one can be changed with a flag.  The book's own lines go to stdout as its
programs print them; nnfast's lines (data loaded, summary) can be silenced
with --quiet.
"""
import argparse
import os
import time

import numpy as np

from ..presets import (ALL, CH3_DEFAULTS, CH3_RUNS, CH6_DEFAULTS, CH6_NETS, MONITORS, _conv, _conv1_net,  # noqa: F401
                       _conv2_net, _dropout_net, _extra_fc_net, _fc_net, _relu_net)
from .common import (CommandError, _begin, _Formatter, _history_for, _load, _nonneg_float,
                       _positive_float, _positive_int, _run_book, _sizes)

# ---------------------------------------------------------------------------
# chapter 3
# ---------------------------------------------------------------------------

def _monitors(text):
    names = [s.strip() for s in text.split(",") if s.strip()]
    if names in (["all"], ["none"]):
        return list(MONITORS) if names == ["all"] else []
    bad = [s for s in names if s not in MONITORS]
    if bad:
        raise argparse.ArgumentTypeError("unknown %r; choose from %s, all, none" % (bad[0], ", ".join(MONITORS)))
    return names


def _settings(args, preset, defaults):
    """The preset's settings with every flag the user gave on top."""
    s = dict(defaults)
    s.update(preset)
    for k in list(s) + ["epochs"]:
        v = getattr(args, k, None)
        if v is not None:
            s[k] = v
    return s


def _chapter3(args):
    from .. import network2
    say, progress = _begin(args)
    s = _settings(args, CH3_RUNS[args.run][1], CH3_DEFAULTS)
    monitor = s["monitor"] if isinstance(s["monitor"], list) else _monitors(s["monitor"])
    (tr, va, te), seconds = _load(args)
    training = (tr[0][:s["n_train"]], tr[1][:s["n_train"]]) if s["n_train"] else tr
    evaluation = te if s["evaluate"] == "test" else va
    say("Loaded %s in %.2f s: %d training images, evaluating on the %d %s images" % (
        args.dataset, seconds, len(training[0]), len(evaluation[0]), s["evaluate"]))
    say("chapter3 --run %s: sizes %s, %s cost, %s initialisation, %d epochs, mini-batch %d, eta %g, lmbda %g"
        % (args.run, s["sizes"], s["cost"], s["init"], s["epochs"], s["mini_batch_size"], s["eta"], s["lmbda"]))
    cost = network2.QuadraticCost if s["cost"] == "quadratic" else network2.CrossEntropyCost
    net = network2.Network(s["sizes"], cost=cost, dtype=np.dtype(args.dtype))
    if s["init"] == "large":
        net.large_weight_initializer()
    history = _history_for(args, "chapter3", {"run": args.run, "evaluate": s["evaluate"]})
    flags = {"monitor_" + m.replace("-", "_"): True for m in monitor}
    result, times = _run_book(args, say, lambda: net.SGD(
        training, s["epochs"], s["mini_batch_size"], s["eta"], lmbda=s["lmbda"], evaluation_data=evaluation,
        progress=progress, history=history, **flags))
    evaluation_accuracy = result[1]
    if times:
        line = "%d epochs in %.1f s (%.3f s per epoch)" % (len(times), sum(times), sum(times) / len(times))
        if evaluation_accuracy:
            best = max(evaluation_accuracy)
            line += "; best %s accuracy %d / %d (%.2f%%) at epoch %d, last %.2f%%" % (
                s["evaluate"], best, len(evaluation[0]), 100.0 * best / len(evaluation[0]),
                evaluation_accuracy.index(best), 100.0 * evaluation_accuracy[-1] / len(evaluation[0]))
        say(line)
    if args.save:
        net.save(args.save)
        say("saved the network to %s (network2.load reads it)" % args.save)
    return 0


# ---------------------------------------------------------------------------
# chapter 6
# ---------------------------------------------------------------------------



def _train6(args, s, name, data, say, progress, suffix=""):
    from .. import network3
    training, validation, test = data
    net = network3.Network(CH6_NETS[name][1](s["mini_batch_size"]), s["mini_batch_size"], dtype=np.dtype(args.dtype))
    history = _history_for(args, "chapter6", {"net": name, "expanded": s["expanded"], "member": suffix[1:] or None},
                           suffix)
    result, times = _run_book(args, say, lambda: net.SGD(
        training, s["epochs"], s["mini_batch_size"], s["eta"], validation, test, lmbda=s["lmbda"],
        shuffle=s["shuffle"], progress=progress, history=history))
    return net, result, times


def _chapter6(args):
    from .. import network3
    say, progress = _begin(args)
    name = args.net
    s = _settings(args, CH6_NETS[name][2], CH6_DEFAULTS)
    s["shuffle"] = bool(args.shuffle)
    if args.expanded is not None:
        s["expanded"] = args.expanded
    if (args.workers is not None or args.scheduler is not None) and name != "ensemble":
        raise CommandError("--workers and --scheduler train an ensemble's members on Dask (--net ensemble)")
    if args.workers is not None and args.scheduler is not None:
        raise CommandError("give --workers or --scheduler, not both")
    (tr, va, te), seconds = _load(args, expanded=s["expanded"])
    training = (tr[0][:s["n_train"]], tr[1][:s["n_train"]]) if s["n_train"] else tr
    if len(training[0]) < s["mini_batch_size"]:
        raise CommandError("--n-train %d is less than one mini-batch of %d" % (len(training[0]), s["mini_batch_size"]))
    say("Loaded %s%s in %.2f s: %d training, %d validation, %d test images" % (
        args.dataset, " (expanded)" if s["expanded"] else "", seconds, len(training[0]), len(va[0]), len(te[0])))
    say("chapter6 --net %s: %s; %d epochs, mini-batch %d, eta %g, lmbda %g, %s" % (
        name, CH6_NETS[name][0], s["epochs"], s["mini_batch_size"], s["eta"], s["lmbda"], args.dtype))
    data = (training, va, te)
    if name != "ensemble":
        net, result, times = _train6(args, s, name, data, say, progress)
        if times:
            say("%d epochs in %.1f s (%.2f s per epoch, with the validation and test passes)"
                % (len(times), sum(times), sum(times) / len(times)))
        if args.save:
            net.save(args.save)
            say("saved the network to %s (network3.load reads it)" % args.save)
        return 0
    t0 = time.perf_counter()
    mbs, size = s["mini_batch_size"], s["ensemble_size"]
    nets = [network3.Network(CH6_NETS[name][1](mbs), mbs, dtype=np.dtype(args.dtype)) for _ in range(size)]
    histories = [_history_for(args, "chapter6", {"net": name, "expanded": s["expanded"], "member": str(k + 1)},
                              "-%d" % (k + 1)) for k in range(size)]
    ensemble = network3.Ensemble(nets)
    train = lambda client, threads: ensemble.train(  # noqa: E731
        training, s["epochs"], mbs, s["eta"], va, te, lmbda=s["lmbda"], shuffle=s["shuffle"], client=client,
        histories=histories if args.history else None, threads=threads, progress=progress)
    if args.workers is None and args.scheduler is None:
        say("Training %d networks here, one after another" % size)
        _run_book(args, say, lambda: train(None, None))
    else:
        from .._cluster import cluster, dashboard_link, threads_per_worker
        threads = args.threads or (None if args.scheduler else threads_per_worker(args.workers or 1))
        with cluster(args.workers, args.scheduler, what="chapter6 --net ensemble") as client:
            say("Training %d networks on %d Dask workers, one per task%s" % (
                size, len(client.nthreads()),
                "; dashboard %s" % dashboard_link(client) if dashboard_link(client) else ""))
            train(client, threads)
    if args.save:
        for k, net in enumerate(nets):
            stem, ext = os.path.splitext(args.save)
            net.save(stem + "-%d" % (k + 1) + (ext or ".npz"))
    single = [net.accuracy(*te) for net in nets]
    print("Ensemble of %d networks: test accuracy %.2f%% (the networks alone: %s)" % (
        len(nets), 100 * ensemble.accuracy(*te), ", ".join("%.2f%%" % (100 * a) for a in single)))
    say("%d networks trained in %.1f s" % (len(nets), time.perf_counter() - t0))
    return 0


# ---------------------------------------------------------------------------

def _table(presets, fmt):
    return "\n".join("  %-15s %s" % (k, fmt(v)) for k, v in presets.items())


def register(sub, add_common):
    p3 = sub.add_parser(
        "chapter3", help="train chapter 3's networks (network2): costs, regularisation, overfitting",
        formatter_class=_Formatter,
        description="Chapter 3 with network2: each --run is one of the chapter's experiments with the book's "
                    "settings; any flag below overrides them.  Mini-batches of 10.\n\nruns:\n" +
                    _table(CH3_RUNS, lambda v: v[0]),
        epilog="examples:\n  nnfast chapter3 --run cross-entropy\n"
               "  nnfast chapter3 --run overfitting --history over.json && nnfast plot over.json --metric both -o over.png")
    add_common(p3)
    p3.add_argument("--run", choices=list(CH3_RUNS), default="cross-entropy", help="which experiment")
    p3.add_argument("--sizes", type=_sizes, help="layer sizes, comma-separated (default: the run's)")
    p3.add_argument("--cost", choices=["quadratic", "cross-entropy"], help="cost (default: the run's)")
    p3.add_argument("--init", choices=["default", "large"],
                    help="weight initialisation: default = N(0, 1/n_in), large = chapter 1's N(0, 1) "
                         "(default: the run's)")
    p3.add_argument("--eta", type=_positive_float, help="learning rate (default: the run's)")
    p3.add_argument("--lmbda", type=_nonneg_float, help="L2 regularisation parameter (default: the run's)")
    p3.add_argument("--mini-batch-size", type=_positive_int, help="mini-batch size (default: 10)")
    p3.add_argument("--n-train", type=_positive_int, help="train on the first N training images (default: "
                                                           "the run's: all 50,000, or 1,000 for overfitting)")
    p3.add_argument("--evaluate", choices=["test", "validation"],
                    help="evaluation data (default: the run's: test as the book's chapter, validation for "
                         "weight-init and best)")
    p3.add_argument("--monitor", type=_monitors,
                    help="what to print and record each epoch, comma-separated from %s, or all, none "
                         "(default: evaluation-accuracy; all for the overfitting runs)" % ", ".join(MONITORS))
    p3.set_defaults(func=_chapter3)

    p6 = sub.add_parser(
        "chapter6", help="train chapter 6's networks (network3): convolutional, ReLU, dropout, ensemble",
        formatter_class=_Formatter,
        description="Chapter 6 with network3: each --net is one of the chapter's networks with the book's "
                    "hyperparameters (mini-batch 10, float32; the book's result is on MNIST); any flag "
                    "below overrides them.  The expanded data comes from `nnfast expand`.\n\nnetworks:\n" +
                    _table(CH6_NETS, lambda v: "%s; %d epochs, eta %g, lmbda %g" % (
                        v[0], v[2]["epochs"], v[2]["eta"], v[2]["lmbda"])),
        epilog="examples:\n  nnfast chapter6 --net conv1 --epochs 3\n"
               "  nnfast expand && nnfast chapter6 --net dropout")
    add_common(p6, dtype="float32")
    p6.add_argument("--net", choices=list(CH6_NETS), default="conv1", help="which network")
    p6.add_argument("--eta", type=_positive_float, help="learning rate (default: the net's)")
    p6.add_argument("--lmbda", type=_nonneg_float, help="L2 regularisation parameter (default: the net's)")
    p6.add_argument("--mini-batch-size", type=_positive_int, help="mini-batch size (default: 10)")
    p6.add_argument("--n-train", type=_positive_int, help="train on the first N training images (default: all)")
    p6.add_argument("--expanded", action=argparse.BooleanOptionalAction, default=None,
                    help="train on the expanded data (default: the net's: expanded, extra-fc, dropout, ensemble)")
    p6.add_argument("--shuffle", action="store_true", help="shuffle the training data each epoch (the book does not)")
    p6.add_argument("--ensemble-size", type=_positive_int, help="networks in the ensemble (default: 5)")
    p6.add_argument("--workers", type=_positive_int, help="ensemble: train the members on a LocalCluster of N "
                                                          "Dask worker processes, one member per task")
    p6.add_argument("--scheduler", metavar="ADDRESS", help="ensemble: train the members on the Dask cluster there")
    p6.set_defaults(func=_chapter6)
    return p3, p6

