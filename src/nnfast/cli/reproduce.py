"""``nnfast reproduce``: the book's results table, rebuilt on MNIST.

Each row is one of the book's headline experiments with the book's settings
(chapter 1's network, chapter 3's costs and regularisation, chapter 6's
networks up to the ensemble of five).  A row trains with a checkpoint after
every epoch under ``--work`` (outside the repository), so stopping the command
loses at most an epoch: run it again and each row goes on where it stopped,
ending bit for bit where an uninterrupted run would.  After every epoch the
rows are written to ``--json`` (one object per experiment) and, when
``--readme`` holds the markers, the table between them is redrawn.

Accuracy is measured as the book measures it: chapter 1 and 3, the best
accuracy on the evaluation data over the epochs (the book reports the peak;
the last epoch's is kept too); chapter 6, the test accuracy at the epoch of the
best validation accuracy (network3's own report).
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np

from .common import _Formatter, _Parser, _positive_int

# ---------------------------------------------------------------------------
# the rows
# ---------------------------------------------------------------------------


class Row(object):
    """One experiment: where the book has it, its settings and the book's result (percent)."""

    def __init__(self, id, chapter, what, book, epochs, measure, **settings):
        self.id, self.chapter, self.what, self.book, self.epochs = id, chapter, what, book, epochs
        self.measure = measure
        self.settings = settings


_CH1 = "best test accuracy over the epochs (the book: 'at its peak')"
_CH3_TEST = "best test accuracy over the epochs"
_CH3_VAL = "best validation accuracy over the epochs (the book evaluates on validation_data here)"
_CH6 = "test accuracy at the epoch of the best validation accuracy (network3's report)"


def _rows():
    from .chapters import CH6_NETS
    rows = [
        Row("ch1-30", 1, "[784, 30, 10], quadratic cost, eta 3.0, mini-batch 10 (network.py)", 95.42, 30, _CH1,
            program="network", sizes=[784, 30, 10], eta=3.0),
        Row("ch1-100", 1, "[784, 100, 10], quadratic cost, eta 3.0, mini-batch 10", 96.59, 30, _CH1,
            program="network", sizes=[784, 100, 10], eta=3.0),
        Row("ch3-cross-entropy", 3, "[784, 30, 10], cross-entropy, eta 0.5, N(0, 1) weights (network2.py)",
            95.49, 30, _CH3_TEST, program="network2", sizes=[784, 30, 10], eta=0.5, lmbda=0.0, evaluate="test"),
        Row("ch3-cross-entropy-100", 3, "[784, 100, 10], cross-entropy, eta 0.5", 96.82, 30, _CH3_TEST,
            program="network2", sizes=[784, 100, 10], eta=0.5, lmbda=0.0, evaluate="test"),
        Row("ch3-l2", 3, "[784, 30, 10], cross-entropy, L2 lmbda 5.0, eta 0.5", 96.49, 30, _CH3_TEST,
            program="network2", sizes=[784, 30, 10], eta=0.5, lmbda=5.0, evaluate="test"),
        Row("ch3-l2-100", 3, "[784, 100, 10], cross-entropy, L2 lmbda 5.0, eta 0.5", 97.92, 30, _CH3_VAL,
            program="network2", sizes=[784, 100, 10], eta=0.5, lmbda=5.0, evaluate="validation"),
        Row("ch3-best", 3, "[784, 100, 10], cross-entropy, L2 lmbda 5.0, eta 0.1, 60 epochs (the chapter's best)",
            98.04, 60, _CH3_VAL, program="network2", sizes=[784, 100, 10], eta=0.1, lmbda=5.0,
            evaluate="validation"),
    ]
    book6 = dict(fc=97.80, conv1=98.78, conv2=99.06, relu=99.23, expanded=99.37, **{"extra-fc": 99.43},
                 dropout=99.60, ensemble=99.67)
    for name, (what, _, s) in CH6_NETS.items():
        what = what.split(" (book")[0]
        rows.append(Row("ch6-" + name, 6, what + "; eta %g, lmbda %g (network3.py)" % (s["eta"], s["lmbda"]),
                        book6[name], s["epochs"], _CH6, program="network3", net=name, eta=s["eta"],
                        lmbda=s["lmbda"], expanded=s["expanded"], members=5 if name == "ensemble" else 1))
    return rows


ROWS = _rows()
ROW_IDS = [r.id for r in ROWS]


# ---------------------------------------------------------------------------
# the data
# ---------------------------------------------------------------------------

class Data(object):
    """MNIST as the rows need it, loaded once: (training, validation, test) array pairs, and
    the expanded training set (made once under the work folder if it is not there)."""

    def __init__(self, path, work, pixel_scale, n_train=None, n_eval=None, say=print):
        self.path, self.work, self.pixel_scale = path, work, pixel_scale
        self.n_train, self.n_eval, self.say = n_train, n_eval, say
        self._sets = {}

    def _cut(self, sets):
        (tr, va, te), a, b = sets, self.n_train, self.n_eval
        return (tr[0][:a], tr[1][:a]), (va[0][:b], va[1][:b]), (te[0][:b], te[1][:b])

    def sets(self, expanded=False):
        if expanded not in self._sets:
            from .. import mnist_loader
            path = self._expanded_file() if expanded else self.path
            self._sets[expanded] = self._cut(mnist_loader.load_data(path, "mnist", pixel_scale=self.pixel_scale))
        return self._sets[expanded]

    def _expanded_file(self):
        """The book's expanded set (each image and its four one-pixel shifts), made from the
        data's own training images, kept under the work folder."""
        from ..data.expand import _source_sets, expand, save_npz
        if self.path is not None and os.path.isdir(self.path):
            beside = os.path.join(self.path, "mnist_expanded.npz")
            if os.path.isfile(beside):
                return beside
        out = os.path.join(self.work, "mnist_expanded.npz")
        if not os.path.isfile(out):
            t = time.perf_counter()
            _, (training, validation, test) = _source_sets("mnist", self.path, False)
            save_npz(out, expand(training[0], training[1], seed=0), validation, test)
            self.say("made the expanded training set %s in %.1f s" % (out, time.perf_counter() - t))
        return out


# ---------------------------------------------------------------------------
# one row's state under the work folder
# ---------------------------------------------------------------------------

class State(object):
    """A row's (or an ensemble member's) per-epoch records and checkpoint, in ``folder``."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.checkpoint = os.path.join(folder, "checkpoint.npz")
        self.file = os.path.join(folder, "epochs.json")
        try:
            with open(self.file) as f:
                self.epochs = json.load(f)
        except (OSError, ValueError):
            self.epochs = []

    def resume(self):
        """The checkpoint to resume from, or None to start afresh (then old records go)."""
        if os.path.isfile(self.checkpoint):
            return self.checkpoint
        self.epochs = []
        return None

    def record(self, epoch, record):
        """Keep an epoch's record (records past a resumed checkpoint's epoch are replaced)."""
        self.epochs = [r for r in self.epochs if r["epoch"] < epoch] + [dict(record, epoch=int(epoch))]
        _write_text(self.file, json.dumps(self.epochs, indent=0))

    @property
    def command(self):
        try:
            with open(os.path.join(self.folder, "command.txt")) as f:
                return f.read().strip() or None
        except OSError:
            return None

    def set_command(self, line):
        _write_text(os.path.join(self.folder, "command.txt"), line + "\n")

    def done(self):
        return len(self.epochs)

    def seconds(self):
        return float(sum(r.get("seconds", 0.0) for r in self.epochs))


# ---------------------------------------------------------------------------
# training a row
# ---------------------------------------------------------------------------

def _seed(seed):
    np.random.seed(seed)
    random.seed(seed)


def _train_dense(row, state, data, epochs, seed, threads, on_epoch):
    """chapter 1 (network) and chapter 3 (network2): train to ``epochs`` epochs, resuming."""
    from .._config import num_threads
    s = row.settings
    tr, va, te = data.sets()
    _seed(seed)
    resume = state.resume()
    with num_threads(threads):
        if s["program"] == "network":
            from .. import network
            net = network.Network(s["sizes"])
            net.SGD(tr, epochs, 10, s["eta"], test_data=te, progress=False, on_epoch=on_epoch,
                    checkpoint=state.checkpoint, resume=resume)
        else:
            from .. import network2
            net = network2.Network(s["sizes"], cost=network2.CrossEntropyCost)
            net.large_weight_initializer()
            net.SGD(tr, epochs, 10, s["eta"], lmbda=s["lmbda"], evaluation_data=te if s["evaluate"] == "test" else va,
                    monitor_evaluation_accuracy=True, progress=False, on_epoch=on_epoch,
                    checkpoint=state.checkpoint, resume=resume)


def _train_net3(row, state, data, epochs, seed, threads, on_epoch, save=None):
    """chapter 6 (network3): train one network to ``epochs`` epochs, resuming; save it if asked."""
    from .. import network3
    from .._config import num_threads
    from .chapters import CH6_NETS
    s = row.settings
    training, validation, test = data.sets(s["expanded"])
    _seed(seed)
    resume = state.resume()
    net = network3.Network(CH6_NETS[s["net"]][1](10), 10)
    with num_threads(threads):
        net.SGD(training, epochs, 10, s["eta"], validation, test, lmbda=s["lmbda"], progress=False,
                on_epoch=on_epoch, checkpoint=state.checkpoint, resume=resume)
    if save:
        net.save(save)
    return net


def _net3_from_checkpoint(row, state):
    """A network as its last checkpoint holds it (a run stopped midway), or None."""
    if not os.path.isfile(state.checkpoint):
        return None
    from .. import network3
    from .chapters import CH6_NETS
    net = network3.Network(CH6_NETS[row.settings["net"]][1](10), 10)
    with np.load(state.checkpoint, allow_pickle=False) as f:
        for j, layer in enumerate(net.layers):
            layer.w, layer.b = f["layer%d.w" % j], f["layer%d.b" % j]
    return net


def _dense_result(row, records, n_eval):
    accs = [100.0 * r["evaluation_accuracy"] / n_eval for r in records if "evaluation_accuracy" in r]
    if not accs:
        return None, {}
    best = int(np.argmax(accs))
    return round(accs[best], 2), dict(best_epoch=best, last_accuracy=round(accs[-1], 2))


def _net3_result(records):
    """network3's rule: the best validation accuracy (ties: the later epoch) and the test
    accuracy computed at it."""
    best, at = -1.0, None
    for r in records:
        if "validation_accuracy" in r and r["validation_accuracy"] >= best:
            best, at = r["validation_accuracy"], r
    if at is None or "test_accuracy" not in at:
        return None, {}
    return round(100.0 * at["test_accuracy"], 2), dict(best_epoch=at["epoch"],
                                                        best_validation_accuracy=round(100.0 * best, 2))


# ---------------------------------------------------------------------------
# the results file and README table
# ---------------------------------------------------------------------------

BEGIN, END = "<!-- BOOK-RESULTS -->", "<!-- /BOOK-RESULTS -->"
FORMAT = "nnfast-book-results"


def read_results(path):
    try:
        with open(path) as f:
            data = json.load(f)
        if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("rows"), list):
            return data
    except (OSError, ValueError):
        pass
    return {"format": FORMAT, "version": 1, "rows": []}


def _write_text(path, text):
    from ..history import write_atomic
    write_atomic(path, text)


def write_results(path, data):
    order = {k: i for i, k in enumerate(ROW_IDS)}
    data["rows"].sort(key=lambda r: order.get(r.get("id"), len(order)))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    _write_text(path, json.dumps(data, indent=1) + "\n")


def _fmt(v):
    return "" if v is None else "%.2f%%" % v


def table(data):
    """The README's table (markdown) from the results file's rows."""
    lines = ["| ch. | experiment | book | nnfast | epochs (book's) | seconds | note |",
             "|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        epochs = "%d (%d)" % (r["epochs_run"], r["book_epochs"])
        if r.get("members", 1) > 1:
            epochs = "%s x %d nets" % (epochs, r["members"])
        note = r.get("note") or ""
        if r["status"] != "complete":
            part = "partial: %d of the book's %d epochs" % (r["epochs_run"], r["book_epochs"]) \
                if r["epochs_run"] else "not run yet"
            note = part + ("; " + note if note else "")
        if r.get("subset"):
            note = "subset %s; " % r["subset"] + note
        lines.append("| %d | `%s`: %s | %s | %s | %s | %s | %s |" % (
            r["chapter"], r["id"], r["experiment"], _fmt(r["book_accuracy"]), _fmt(r["accuracy"]), epochs,
            "%.0f" % r["seconds"] if r.get("seconds") else "", note))
    return "\n".join(lines)


def update_readme(path, data):
    """Redraw the table between the markers in ``path``; False if the markers are not there."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return False
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < a:
        return False
    _write_text(path, text[:a + len(BEGIN)] + "\n" + table(data) + "\n" + text[b:])
    return True


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------

def command_line(args, row_id):
    """The command that runs (or continues) just this row with this run's options."""
    parts = ["nnfast reproduce", "--rows", row_id, "--seed", str(args.seed), "--pixel-scale", str(args.pixel_scale)]
    if args.epochs_cap is not None:
        parts += ["--epochs-cap", str(args.epochs_cap)]
    for flag, v in (("--n-train", args.n_train), ("--n-eval", args.n_eval)):
        if v is not None:
            parts += [flag, str(v)]
    if args.data:
        parts += ["--data", args.data]
    return " ".join(parts)


def run(args, say=print):
    """Train (or continue) the selected rows; write the results file and table after every epoch."""
    rows = [r for r in ROWS if r.id in args.rows]
    data = Data(args.data, args.work, args.pixel_scale, args.n_train, args.n_eval, say)
    subset = None
    if args.n_train or args.n_eval:
        subset = "%s training, %s evaluation images" % (args.n_train or "all", args.n_eval or "all")

    def publish(row, states, seconds_extra=0.0, accuracy=None, extra=None):
        """Write the row into the results file (read afresh: another run may share it)."""
        results = read_results(args.json)
        epochs_run = min(s.done() for s in states)
        entry = {"id": row.id, "chapter": row.chapter, "experiment": row.what, "book_accuracy": row.book,
                 "accuracy": accuracy, "measure": row.measure, "epochs_run": epochs_run, "book_epochs": row.epochs,
                 "members": row.settings.get("members", 1),
                 "status": "complete" if epochs_run >= row.epochs and accuracy is not None else "partial",
                 "seed": args.seed, "pixel_scale": args.pixel_scale,
                 "seconds": round(sum(s.seconds() for s in states) + seconds_extra, 1),
                 "command": states[0].command or command_line(args, row.id), "subset": subset,
                 "threads": args.threads or "default", "updated": time.strftime("%Y-%m-%d %H:%M:%S")}
        entry.update(extra or {})
        old = [r for r in results["rows"] if r.get("id") == row.id]
        if old and old[0].get("note"):
            entry["note"] = old[0]["note"]
        results["rows"] = [r for r in results["rows"] if r.get("id") != row.id] + [entry]
        write_results(args.json, results)
        if args.readme:
            update_readme(args.readme, results)
        return entry

    def train(state, fn, *a, **k):
        """Run a training call for ``state`` unless --collect; note the command that ran it."""
        if args.collect:
            return None
        state.set_command(command_line(args, row.id))
        return fn(state, *a, **k)

    for row in rows:
        target = row.epochs if args.epochs_cap is None else min(row.epochs, args.epochs_cap)
        folder = os.path.join(args.work, "seed%d" % args.seed + ("-scale255" if args.pixel_scale == 255 else ""),
                              row.id + ("-n%s-%s" % (args.n_train, args.n_eval) if subset else ""))
        say("== %s: %s; %d epochs (the book's %d)" % (row.id, row.what, target, row.epochs))
        p = row.settings["program"]
        if p in ("network", "network2"):
            state = State(folder)
            n_eval = len(data.sets()[2 if row.settings.get("evaluate", "test") == "test" else 1][1])

            def on_epoch(net, epoch, record, row=row, state=state, n_eval=n_eval):
                state.record(epoch, record)
                publish(row, [state], 0.0, *_dense_result(row, state.epochs, n_eval))
            if state.done() < target or not os.path.isfile(state.checkpoint):
                train(state, lambda st, *a: _train_dense(row, st, *a), data, max(target, state.done()), args.seed,
                      args.threads, on_epoch)
            publish(row, [state], 0.0, *_dense_result(row, state.epochs, n_eval))
            continue
        members = row.settings["members"]
        states = [State(os.path.join(folder, "net%d" % (k + 1)) if members > 1 else folder) for k in range(members)]
        nets = []
        for k, state in enumerate(states):
            def on_epoch(net, epoch, record, row=row, state=state):
                state.record(epoch, record)
                if members == 1:
                    publish(row, states, 0.0, *_net3_result(state.epochs))
                else:
                    publish(row, states, 0.0, None, dict(member_accuracies=_members(states)))
            saved = os.path.join(state.folder, "net.npz")
            if members > 1:
                say("-- network %d of %d" % (k + 1, members))
            if not args.collect and (state.done() < target or not os.path.isfile(state.checkpoint)):
                nets.append(train(state, lambda st, *a, **kw: _train_net3(row, st, *a, **kw), data,
                                  max(target, state.done()), args.seed * 1000 + k, args.threads, on_epoch,
                                  save=saved))
            else:       # the member as its latest checkpoint holds it (also a run stopped midway)
                nets.append(_net3_from_checkpoint(row, state) if members > 1 else None)
        if members == 1:
            publish(row, states, 0.0, *_net3_result(states[0].epochs))
            continue
        if any(net is None for net in nets):
            publish(row, states, 0.0, None, dict(member_accuracies=_members(states)))
            continue
        from .. import network3
        t = time.perf_counter()
        test = data.sets(row.settings["expanded"])[2]
        accuracy = round(100.0 * network3.Ensemble(nets).accuracy(*test), 2)
        publish(row, states, time.perf_counter() - t, accuracy, dict(member_accuracies=_members(states)))


def _members(states):
    return [_net3_result(s.epochs)[0] for s in states]


def _rows_arg(text):
    names = [s.strip() for s in text.split(",") if s.strip()]
    picked = []
    for name in names:
        hits = [r for r in ROW_IDS if r == name or (name.endswith("*") and r.startswith(name[:-1]))
                or name in ("all", "ch%s" % r[2])]
        if not hits:
            raise argparse.ArgumentTypeError("unknown row %r; rows: %s (or all, ch1, ch3, ch6, ch6-*)"
                                             % (name, ", ".join(ROW_IDS)))
        picked += [h for h in hits if h not in picked]
    return picked


def _default_work():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nnfast", "reproduce")


def main(argv=None):
    p = _Parser(prog="nnfast reproduce", formatter_class=_Formatter,
                description="Rebuild the book's results table on MNIST: each row is one of the book's "
                            "headline experiments with the book's settings.  Checkpoints after every epoch "
                            "under --work, so a stopped run continues where it stopped when run again.\n\n"
                            "rows:\n" + "\n".join("  %-22s %s (book: %.2f%%, %d epochs)" % (r.id, r.what, r.book,
                                                                                          r.epochs) for r in ROWS),
                epilog="examples:\n  nnfast reproduce --rows ch1 --data ~/mnist\n"
                       "  nnfast reproduce --rows ch6-conv1 --epochs-cap 5      # short run; marked partial\n"
                       "  nnfast reproduce --table-only                         # redraw README's table")
    p.add_argument("--rows", type=_rows_arg, default=None,
                   help="comma-separated rows, or ch1, ch3, ch6, ch6-*, all (default: all)")
    p.add_argument("--data", metavar="PATH", help="folder with MNIST's IDX files (default: where mnist_loader looks: "
                                                  "$NNFAST_DATA/mnist, then ~/.cache/nnfast/mnist)")
    p.add_argument("--work", metavar="DIR", default=_default_work(),
                   help="checkpoints and per-epoch records")
    p.add_argument("--json", metavar="PATH", default=os.path.join("docs", "book-results.json"),
                   help="the results file")
    p.add_argument("--readme", metavar="PATH", default="README.md",
                   help="redraw the table between %s and %s in this file, if they are there" % (BEGIN, END))
    p.add_argument("--seed", type=int, default=0, help="seed of numpy's and Python's generators")
    p.add_argument("--pixel-scale", type=int, choices=(255, 256), default=256,
                   help="pixel bytes divided by 256 as in the book's mnist.pkl.gz, or by 255")
    p.add_argument("--epochs-cap", type=_positive_int, metavar="N",
                   help="train each row at most N epochs in all (a row short of the book's epochs is marked "
                        "partial; a later run without the cap continues it)")
    p.add_argument("--threads", type=_positive_int, help="threads for the native kernels (default: OpenMP's)")
    p.add_argument("--n-train", type=_positive_int, help=argparse.SUPPRESS)     # quick checks: a subset
    p.add_argument("--n-eval", type=_positive_int, help=argparse.SUPPRESS)
    p.add_argument("--table-only", action="store_true", help="only redraw the README table from --json")
    p.add_argument("--collect", action="store_true",
                   help="train nothing: write the selected rows from what --work holds (runs stopped midway, "
                        "or run by other processes)")
    args = p.parse_args(argv)
    args.rows = args.rows or list(ROW_IDS)
    if args.table_only:
        data = read_results(args.json)
        if not update_readme(args.readme, data):
            print(table(data))
        return 0
    try:
        run(args)
    except FileNotFoundError as e:
        print("nnfast reproduce: %s" % " ".join(str(e).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nnnfast reproduce: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
