"""The same algorithms in PyTorch on the CPU: the benchmark's PyTorch peer.

PyTorch is only used when it is importable; it is never a dependency of nnfast.

Two variants, both the book's mathematics (sigmoid layers; chapter 1's
quadratic cost 0.5*||a - y||^2 summed over the mini-batch and divided by m, or
chapter 3's cross-entropy; plain SGD with step eta; chapter 3's L2 weight decay
w <- (1 - eta*lmbda/n) w on weights only):

* ``"autograd"``: what a competent PyTorch user writes: ``nn.Linear`` layers,
  the loss summed over the batch / m, ``loss.backward()``, ``torch.optim.SGD``
  (weight decay lmbda/n on the weight group, which is exactly the book's
  decay), ``zero_grad(set_to_none=True)``, tensors made once and mini-batches
  taken by ``index_select`` on a permutation, no torch.compile.
* ``"manual"``: the gradients written out by hand with ``torch.addmm`` and
  in-place ops on preallocated buffers under ``torch.no_grad()``; no autograd
  overhead, the fastest we know how to make PyTorch for these small shapes.

The benchmark runs both and reports the faster.
"""
import math

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - optional
    torch = None

VARIANTS = ("autograd", "manual")


def available():
    return torch is not None


def version():
    return torch.__version__ if torch is not None else None


def _tdtype(dtype):
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


class Network(object):
    def __init__(self, sizes, cost="quadratic", dtype=np.float64, init="large", seed=0, variant="autograd"):
        if torch is None:
            raise ImportError("PyTorch is not installed")
        if variant not in VARIANTS:
            raise ValueError("variant must be one of %s" % (VARIANTS,))
        self.sizes = list(sizes)
        self.cost = cost
        self.variant = variant
        self.tdtype = _tdtype(dtype)
        g = torch.Generator().manual_seed(seed)
        self.weights, self.biases = [], []
        for x, y in zip(sizes[:-1], sizes[1:]):
            w = torch.randn(y, x, generator=g, dtype=torch.float64)
            if init == "default":
                w /= math.sqrt(x)
            self.weights.append(w.to(self.tdtype).contiguous())
            self.biases.append(torch.randn(y, generator=g, dtype=torch.float64).to(self.tdtype))
        if variant == "autograd":
            layers = []
            for w, b in zip(self.weights, self.biases):
                lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=self.tdtype)
                with torch.no_grad():
                    lin.weight.copy_(w)
                    lin.bias.copy_(b)
                layers += [lin, torch.nn.Sigmoid()]
            self.model = torch.nn.Sequential(*layers[:-1])  # last sigmoid goes into the loss
            self.weights = [m.weight for m in self.model if isinstance(m, torch.nn.Linear)]
            self.biases = [m.bias for m in self.model if isinstance(m, torch.nn.Linear)]
        self._opt = None
        self._bufs = {}

    # -- training ---------------------------------------------------------
    def _optimizer(self, eta, wd):
        key = (eta, wd)
        if self._opt is None or self._opt[0] != key:
            groups = [{"params": self.weights, "weight_decay": wd}, {"params": self.biases, "weight_decay": 0.0}]
            try:
                opt = torch.optim.SGD(groups, lr=eta, foreach=True)
            except TypeError:  # pragma: no cover - old torch
                opt = torch.optim.SGD(groups, lr=eta)
            self._opt = (key, opt)
        return self._opt[1]

    def _epoch_autograd(self, X, Y, mbs, eta, lmbda, perm):
        n = X.shape[0]
        opt = self._optimizer(eta, lmbda / n)
        model = self.model
        quadratic = self.cost == "quadratic"
        for k in range(0, n, mbs):
            idx = perm[k:k + mbs]
            xb = X.index_select(0, idx)
            yb = Y.index_select(0, idx)
            m = xb.shape[0]
            z = model(xb)
            if quadratic:
                loss = 0.5 * (torch.sigmoid(z) - yb).pow(2).sum() / m
            else:
                loss = F.binary_cross_entropy_with_logits(z, yb, reduction="sum") / m
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def _buf(self, m):
        b = self._bufs.get(m)
        if b is None:
            dt = self.tdtype
            acts = [torch.empty(m, s, dtype=dt) for s in self.sizes]
            deltas = [None] + [torch.empty(m, s, dtype=dt) for s in self.sizes[1:]]
            tmp = [None] + [torch.empty(m, s, dtype=dt) for s in self.sizes[1:]]
            yb = torch.empty(m, self.sizes[-1], dtype=dt)
            gb = [torch.empty(s, dtype=dt) for s in self.sizes[1:]]
            b = self._bufs[m] = (acts, deltas, tmp, yb, gb)
        return b

    def _epoch_manual(self, X, Y, mbs, eta, lmbda, perm):
        n = X.shape[0]
        decay = 1.0 - eta * lmbda / n
        L = len(self.sizes) - 1
        W, B = self.weights, self.biases
        quadratic = self.cost == "quadratic"
        with torch.no_grad():
            for k in range(0, n, mbs):
                idx = perm[k:k + mbs]
                m = idx.shape[0]
                acts, deltas, tmp, yb, gb = self._buf(m)
                torch.index_select(X, 0, idx, out=acts[0])
                torch.index_select(Y, 0, idx, out=yb)
                for l in range(L):
                    torch.addmm(B[l], acts[l], W[l].t(), out=acts[l + 1])
                    torch.sigmoid(acts[l + 1], out=acts[l + 1])
                aL, dL = acts[L], deltas[L]
                torch.sub(aL, yb, out=dL)
                if quadratic:
                    t = tmp[L]
                    torch.mul(aL, aL, out=t)
                    torch.sub(aL, t, out=t)  # a(1 - a)
                    dL.mul_(t)
                for l in range(L - 1, 0, -1):
                    d = deltas[l]
                    torch.mm(deltas[l + 1], W[l], out=d)
                    t = tmp[l]
                    torch.mul(acts[l], acts[l], out=t)
                    torch.sub(acts[l], t, out=t)
                    d.mul_(t)
                alpha = -eta / m
                for l in range(L):
                    d = deltas[l + 1]
                    W[l].addmm_(d.t(), acts[l], beta=decay, alpha=alpha)
                    torch.sum(d, 0, out=gb[l])
                    B[l].add_(gb[l], alpha=alpha)

    def SGD(self, X, y, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, seed=0, epoch_callback=None):
        """Train on numpy X (n, in) with integer labels y; returns network2's four lists.

        The numpy arrays become tensors once per call (as nnfast converts once per
        SGD call), inside the timed region. ``epoch_callback(j)`` is called after
        each epoch and its monitoring.
        """
        X = torch.from_numpy(np.ascontiguousarray(X)).to(self.tdtype)
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
        Y = F.one_hot(yt, self.sizes[-1]).to(self.tdtype)
        if evaluation_data is not None:
            Xe = torch.from_numpy(np.ascontiguousarray(evaluation_data[0])).to(self.tdtype)
            ye = torch.from_numpy(np.asarray(evaluation_data[1], dtype=np.int64))
        g = torch.Generator().manual_seed(seed)
        step = self._epoch_autograd if self.variant == "autograd" else self._epoch_manual
        ec, ea, tc, ta = [], [], [], []
        n = X.shape[0]
        for j in range(epochs):
            if self.variant == "autograd":
                self.model.train()
            step(X, Y, mini_batch_size, eta, lmbda, torch.randperm(n, generator=g))
            if monitor_training_cost or monitor_training_accuracy:
                a = self.feedforward(X)
                if monitor_training_cost:
                    tc.append(self._cost(a, Y, lmbda))
                if monitor_training_accuracy:
                    ta.append(int((a.argmax(1) == yt).sum()))
            if monitor_evaluation_cost or monitor_evaluation_accuracy:
                a = self.feedforward(Xe)
                if monitor_evaluation_cost:
                    ec.append(self._cost(a, F.one_hot(ye, self.sizes[-1]).to(self.tdtype), lmbda))
                if monitor_evaluation_accuracy:
                    ea.append(int((a.argmax(1) == ye).sum()))
            if epoch_callback is not None:
                epoch_callback(j)
        return ec, ea, tc, ta

    # -- evaluation -------------------------------------------------------
    def feedforward(self, X):
        if isinstance(X, np.ndarray):
            X = torch.from_numpy(np.ascontiguousarray(X)).to(self.tdtype)
        with torch.no_grad():
            a = X
            for w, b in zip(self.weights, self.biases):
                a = torch.sigmoid(torch.addmm(b, a, w.t()))
        return a

    def _cost(self, a, Y, lmbda):
        n = a.shape[0]
        with torch.no_grad():
            if self.cost == "quadratic":
                c = 0.5 * float((a - Y).pow(2).sum())
            else:
                c = float(torch.nan_to_num(-Y * torch.log(a) - (1 - Y) * torch.log1p(-a)).sum())
            c /= n
            c += 0.5 * (lmbda / n) * sum(float(w.double().pow(2).sum()) for w in self.weights)
        return c

    def accuracy(self, X, y):
        a = self.feedforward(X)
        return int((a.argmax(1) == torch.from_numpy(np.asarray(y, dtype=np.int64))).sum())
