"""Chapter 6 (network3): nnfast against PyTorch on the CPU, seconds per epoch.

    NNFAST_DATA=<folder holding fashion-mnist/> python benchmarks/bench_network3.py [--n-train 6000]
        [--threads 2] [--nets fc,conv1,conv2relu,dropout] [--batch-sizes 10,64] [--dataset mnist]
        [--accuracy-epochs 1] [--no-torch]

``compare_network3(...)`` is what ``compare.py`` calls for its chapter-6 table.

The four networks of the chapter (float32, mini-batch 10 as the book's, and any other given;
Fashion-MNIST training images, or ``dataset``'s):

fc         FC 100 (sigmoid) + softmax, eta 0.1
conv1      conv 20 5x5, pool 2x2, FC 100 (sigmoid) + softmax, eta 0.1
conv2relu  conv 20 5x5 + conv 40 5x5 (pool 2x2 each), FC 100, softmax, ReLU, eta 0.03, lmbda 0.1
dropout    the same convs, two FC 1000 (ReLU) with p_dropout 0.5 on both and on the softmax input, eta 0.03

PyTorch peer: the same layers (``nn.Conv2d`` with its bias, max_pool2d, activation; ``nn.Linear``),
the same initial weights (copied from nnfast's), cross-entropy (= softmax + log-likelihood, mean
over the mini-batch), ``torch.optim.SGD`` with weight decay lmbda / num_training_batches on the
weights only (the book's L2 term), ``F.dropout`` on the inputs of the FC and softmax layers,
``torch.set_num_threads(threads)``, ``zero_grad(set_to_none=True)``, mini-batches sliced from one
tensor made once, no torch.compile.

Timing: both train on the first ``n_train`` training images (default 6,000 = 600 mini-batches,
a tenth of an epoch) after a warm-up of 20 mini-batches; seconds are scaled linearly to the
60,000 images of a full epoch.  nnfast's time includes its per-SGD-call set-up and the validation
pass of SGD is excluded (validation_data=None) as the PyTorch loop has none.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import _bench_common as common  # noqa: E402

common.ensure_nnfast_importable()

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - optional
    torch = None

FULL_EPOCH = 60000
B = 10
NETS = ("fc", "conv1", "conv2relu", "dropout")


def build(name, n3, B=B):
    """(layers, eta, lmbda) of one of the chapter's networks for mini-batches of B, built with
    network3's classes."""
    C, FC, SM = n3.ConvPoolLayer, n3.FullyConnectedLayer, n3.SoftmaxLayer
    if name == "fc":
        return [FC(n_in=784, n_out=100), SM(n_in=100, n_out=10)], 0.1, 0.0
    if name == "conv1":
        return [C(image_shape=(B, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2)),
                FC(n_in=20 * 12 * 12, n_out=100), SM(n_in=100, n_out=10)], 0.1, 0.0
    convs = [C(image_shape=(B, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2), activation_fn=n3.ReLU),
             C(image_shape=(B, 20, 12, 12), filter_shape=(40, 20, 5, 5), poolsize=(2, 2), activation_fn=n3.ReLU)]
    if name == "conv2relu":
        return convs + [FC(n_in=40 * 4 * 4, n_out=100, activation_fn=n3.ReLU), SM(n_in=100, n_out=10)], 0.03, 0.1
    if name == "dropout":
        return convs + [FC(n_in=40 * 4 * 4, n_out=1000, activation_fn=n3.ReLU, p_dropout=0.5),
                        FC(n_in=1000, n_out=1000, activation_fn=n3.ReLU, p_dropout=0.5),
                        SM(n_in=1000, n_out=10, p_dropout=0.5)], 0.03, 0.0
    raise ValueError("unknown net %r" % name)


def flops_per_example(layers):
    """2 * (forward + weight-gradient + input-gradient multiply-adds) per example (elementwise work not counted)."""
    total = 0
    for j, layer in enumerate(layers):
        if hasattr(layer, "filter_shape"):
            F_, C, KH, KW = layer.filter_shape
            _, _, H, W = layer.image_shape
            macs = F_ * C * KH * KW * (H - KH + 1) * (W - KW + 1)
        else:
            macs = layer.n_in * layer.n_out
        total += 2 * macs * (3 if j else 2)
    return total


# ---- PyTorch peer ----------------------------------------------------------------------------

class TorchNet(torch.nn.Module if torch is not None else object):
    def __init__(self, layers):
        super().__init__()
        self.specs = []
        mods = []
        for layer in layers:
            w = torch.from_numpy(np.array(layer.w, dtype=np.float32))
            b = torch.from_numpy(np.array(layer.b, dtype=np.float32))
            if hasattr(layer, "filter_shape"):
                m = torch.nn.Conv2d(layer.filter_shape[1], layer.filter_shape[0], layer.filter_shape[2:])
                m.weight.data.copy_(w)
                m.bias.data.copy_(b)
                self.specs.append(("conv", layer.image_shape[1:], layer.poolsize, layer.activation_fn.__name__, 0.0))
            else:
                m = torch.nn.Linear(layer.n_in, layer.n_out)
                m.weight.data.copy_(w.T)
                m.bias.data.copy_(b)
                act = layer.activation_fn.__name__ if layer.activation_fn is not None else "softmax"
                self.specs.append(("fc", None, None, act, layer.p_dropout))
            mods.append(m)
        self.mods = torch.nn.ModuleList(mods)

    @staticmethod
    def _act(name, z):
        return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "ReLU": torch.relu}.get(name, lambda v: v)(z)

    def forward(self, x):
        for m, (kind, shape, pool, act, p) in zip(self.mods, self.specs):
            if kind == "conv":
                x = self._act(act, F.max_pool2d(m(x.reshape((x.shape[0],) + tuple(shape))), pool))
                x = x.flatten(1)
            else:
                if p > 0:
                    x = F.dropout(x, p, self.training)
                x = m(x)
                if act != "softmax":
                    x = self._act(act, x)
        return x


def time_torch(layers, eta, lmbda, X, y, threads, warmup=20, B=B):
    torch.set_num_threads(threads)
    net = TorchNet(layers)
    ntb = len(y) // B
    decay = [p for n, p in net.named_parameters() if n.endswith("weight")]
    rest = [p for n, p in net.named_parameters() if not n.endswith("weight")]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": lmbda / ntb}, {"params": rest}], lr=eta)
    Xt, yt = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.asarray(y, dtype=np.int64))

    def step(i):
        xb, yb = Xt[i * B:(i + 1) * B], yt[i * B:(i + 1) * B]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(xb), yb).backward()
        opt.step()

    net.train()
    for i in range(warmup):
        step(i)
    t = time.perf_counter()
    for i in range(ntb):
        step(i)
    return time.perf_counter() - t, net


def torch_accuracy(net, X, y):
    net.eval()
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(X)))
    # the book's evaluation path scales by (1 - p); F.dropout's inverted scaling makes eval the identity
    return float((out.argmax(1).numpy() == y).mean())


# ---- nnfast ------------------------------------------------------------------------------------

def _frozen(layers):
    """Copies of the layers' attributes (initial weights included) for the PyTorch peer."""
    return [type("L", (), {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(l).items()})
            for l in layers]


def time_nnfast(net, eta, lmbda, X, y, warmup=20, B=B):
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD((X[:warmup * B], y[:warmup * B]), 1, B, eta, None, None, lmbda=lmbda)
        t = time.perf_counter()
        net.SGD((X, y), 1, B, eta, None, None, lmbda=lmbda)
        return time.perf_counter() - t


def compare_network3(quick=False, threads=(2,), data_root=None, seed=12345, no_torch=False, n_train=None,
                     nets=NETS, accuracy_epochs=0, log=print, dataset="fashion-mnist", batch_sizes=(B,), **_):
    """Rows of seconds per epoch for nnfast and PyTorch on the chapter's networks (see the module doc)."""
    import nnfast
    from nnfast import mnist_loader, network3 as n3
    if data_root:
        os.environ.setdefault("NNFAST_DATA", data_root)
    folder = common.dataset_dir(dataset)
    if folder is None:
        return {"notes": ["skipped: %s not found (set NNFAST_DATA)" % dataset], "rows": []}
    X, y = mnist_loader.load_idx(folder, "train")
    Xt, yt = mnist_loader.load_idx(folder, "test")
    use_torch = torch is not None and not no_torch
    rows = []
    threads = [threads] if isinstance(threads, int) else list(threads)
    for t, mb, name in [(t, mb, name) for t in threads for mb in batch_sizes for name in nets]:
        n = int(n_train or (1000 if quick else 6000))
        n = min(n - n % mb, len(y) - len(y) % mb)
        Xs, ys = np.ascontiguousarray(X[:n]), np.ascontiguousarray(y[:n])
        np.random.seed(seed)
        layers, eta, lmbda = build(name, n3, mb)
        tnet_layers = _frozen(layers)
        net = n3.Network(layers, mb)
        with nnfast.num_threads(t):
            s_nn = time_nnfast(net, eta, lmbda, Xs, ys, B=mb) * FULL_EPOCH / n
        row = {"net": name, "batch": mb, "threads": t, "n timed": n, "nnfast s/epoch": s_nn,
               "nnfast GFLOP/s": flops_per_example(layers) * FULL_EPOCH / s_nn / 1e9}
        if use_torch:
            s_t, _ = time_torch(tnet_layers, eta, lmbda, Xs, ys, t, B=mb)
            row["torch s/epoch"] = s_t * FULL_EPOCH / n
            row["x torch"] = row["torch s/epoch"] / s_nn
        log("network3 %-9s mini-batch %d, %d thread(s): nnfast %.2f s/epoch%s" % (
            name, mb, t, s_nn, "" if not use_torch else ", torch %.2f s/epoch (x%.2f)" % (
                row["torch s/epoch"], row["x torch"])))
        if accuracy_epochs and name == "conv1" and mb == batch_sizes[0]:
            np.random.seed(seed)
            layers, eta, lmbda = build(name, n3, mb)
            tl = _frozen(layers)
            net = n3.Network(layers, mb)
            import contextlib
            import io
            with nnfast.num_threads(t), contextlib.redirect_stdout(io.StringIO()):
                net.SGD((X, y), accuracy_epochs, mb, eta, None, None, lmbda=lmbda)
            row["nnfast test acc"] = net.accuracy(Xt, yt)
            if use_torch:
                tn = TorchNet(tl)
                opt = torch.optim.SGD(tn.parameters(), lr=eta)
                Xa, ya = torch.from_numpy(X), torch.from_numpy(y)
                tn.train()
                for _e in range(accuracy_epochs):
                    for i in range(len(y) // mb):
                        opt.zero_grad(set_to_none=True)
                        F.cross_entropy(tn(Xa[i * mb:(i + 1) * mb]), ya[i * mb:(i + 1) * mb]).backward()
                        opt.step()
                row["torch test acc"] = torch_accuracy(tn, Xt, yt)
        rows.append(row)
    notes = ["float32, mini-batch %s, %s training images; seconds per 60,000-image epoch, "
             "timed on the first 'n timed' images (after 20 warm-up mini-batches) and scaled linearly"
             % (" and ".join(str(mb) for mb in batch_sizes), dataset),
             "x torch = PyTorch seconds / nnfast seconds (higher: nnfast faster)"]
    if use_torch:
        notes.append("PyTorch %s, torch.set_num_threads = the row's threads" % torch.__version__)
    return {"title": "Chapter 6 (network3) vs PyTorch", "rows": rows, "notes": notes,
            "targets": ["issue 13, float32, 2 threads, mini-batch 10: fc at least 6x PyTorch, conv1 at least 5x, "
                        "conv2relu and dropout at least 3x each; mini-batch 64: faster than PyTorch on each"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-train", type=int, default=6000)
    p.add_argument("--threads", default="2")
    p.add_argument("--nets", default=",".join(NETS))
    p.add_argument("--batch-sizes", default=str(B))
    p.add_argument("--dataset", default="fashion-mnist", choices=common.DATASETS)
    p.add_argument("--accuracy-epochs", type=int, default=0)
    p.add_argument("--no-torch", action="store_true")
    a = p.parse_args(argv)
    res = compare_network3(threads=[int(t) for t in a.threads.split(",")], n_train=a.n_train,
                           nets=a.nets.split(","), accuracy_epochs=a.accuracy_epochs, no_torch=a.no_torch,
                           batch_sizes=tuple(int(m) for m in a.batch_sizes.split(",")), dataset=a.dataset,
                           log=lambda *m: print(*m, file=sys.stderr))
    keys = []
    for r in res["rows"]:
        keys += [k for k in r if k not in keys]
    print("| " + " | ".join(keys) + " |")
    print("|" + "|".join("---" for _ in keys) + "|")
    for r in res["rows"]:
        print("| " + " | ".join(("%.4g" % r[k]) if isinstance(r.get(k), float) else str(r.get(k, "—"))
                                for k in keys) + " |")
    for n in res["notes"]:
        print("- note: " + n)


if __name__ == "__main__":
    main()
