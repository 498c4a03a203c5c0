"""
network2.py
~~~~~~~~~~~

Chapter 3's network, as a drop-in for the book's ``network2.py``: the
cross-entropy (and quadratic) cost, L2 regularisation, the book's weight
initialisation, monitoring, save/load, plus the chapter's improvements as
keyword arguments whose defaults keep the book's behaviour (see
``nnfast.reference.network2``, the per-example oracle this module is tested
against: same classes, options, printed lines, returned lists and files).

The difference is speed.  ``SGD`` lays the training and evaluation data out
as contiguous arrays once per call; each epoch is then one native call
(forward, backprop and update of every mini-batch, in C with OpenMP) writing
straight into ``weights`` and ``biases``, and each monitor line is one batched
native pass over its data set.

Beyond the book: ``Network(..., dtype=np.float32)`` trains in single precision,
and the data may also be array pairs ``(X, Y)`` with X of shape (n, sizes[0])
and Y one-hot (n, sizes[-1]) or integer labels.  A cost class of your own
(static ``fn(a, y)`` and ``delta(z, a, y)`` as in the book) works too, on a
batched numpy path: ``delta`` receives (sizes[-1], m) matrices holding one
mini-batch's examples as columns, ``fn`` one example's columns at a time.
"""
import warnings

import numpy as np

from . import _checkpoint, _config, _core, _dense, _netfiles, _progress
from . import history as _history
from ._errors import BadFileError, TrainingDiverged
from .reference import _rng
from .reference import network2 as _ref
from .reference.network2 import (  # noqa: F401 - the book's module-level names
    CrossEntropyCost, LogLikelihoodCost, QuadraticCost, relu, relu_prime, sigmoid, sigmoid_prime,
    softmax, tanh, tanh_prime, vectorized_result)

# the costs the native kernels implement (by identity: a subclass may change fn or delta)
_NATIVE_COSTS = ((QuadraticCost, _dense.QUADRATIC),
                 (CrossEntropyCost, _dense.CROSS_ENTROPY),
                 (LogLikelihoodCost, _dense.LOG_LIKELIHOOD))
_noticed = set()


def _native_cost_code(cost):
    for cls, code in _NATIVE_COSTS:
        if cost is cls:
            return code
    return None


def _notice_custom_cost(cost):
    """Say once per cost that it runs on the numpy path."""
    key = id(cost)
    if key in _noticed:
        return
    _noticed.add(key)
    warnings.warn("nnfast.network2: cost %s runs on a batched numpy path; the native (fast) path covers "
                  "the built-in QuadraticCost, CrossEntropyCost and LogLikelihoodCost"
                  % getattr(cost, "__name__", type(cost).__name__), RuntimeWarning, stacklevel=3)


def _materialize(data):
    """Lists stay lists (shuffled in place, as the book), array pairs stay pairs,
    other iterables (a zip, a generator) become lists, as the book needs them."""
    if data is None or isinstance(data, list):
        return data
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray) and data[0].ndim == 2:
        return data
    return list(data)


def _where(where):
    """' in epoch j, mini-batch k' for TrainingDiverged's message (nothing outside SGD)."""
    return "" if where[0] is None else " in epoch %d, mini-batch %d" % where


def _softmax_columns(z):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


class Network(_ref.Network):

    def __init__(self, sizes, cost=CrossEntropyCost, activation="sigmoid", initializer="default",
                 dtype=np.float64):
        """``sizes`` lists the neurons per layer, e.g. [784, 30, 10]; ``cost`` a cost
        class.  ``activation``: the hidden layers' neuron, "sigmoid" (the book),
        "tanh" or "relu"; the output layer is sigmoid, or softmax with
        ``LogLikelihoodCost``.  ``initializer``: "default" (the book's, weights
        randn/sqrt(n_in)), "large" (chapter 1's randn) or "he"
        (randn*sqrt(2/n_in)).  Biases are drawn before weights from
        ``np.random``, as the book.  ``dtype``: float64 (default) or float32."""
        self.dtype = _dense.check_dtype(dtype)
        _dense.check_sizes(sizes)
        super().__init__(sizes, cost=cost, activation=activation, initializer=initializer)

    def _cast(self):
        if self.dtype != np.float64:
            self.biases = [b.astype(self.dtype) for b in self.biases]
            self.weights = [w.astype(self.dtype) for w in self.weights]

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1): the book's default."""
        super().default_weight_initializer()
        self._cast()

    def large_weight_initializer(self):
        """Weights and biases N(0, 1): chapter 1's initialisation."""
        super().large_weight_initializer()
        self._cast()

    def he_weight_initializer(self):
        """Weights N(0, 2/n_in), biases N(0, 1)."""
        super().he_weight_initializer()
        self._cast()

    def save(self, filename):
        """Save to ``filename`` as the book's JSON (sizes, weights, biases, cost), plus
        ``activation``, ``p_dropout``, ``regularization`` when not the defaults.  Atomic, with
        the mode the umask gives; weights holding NaN or infinities are refused (ValueError)."""
        _netfiles.check_finite([("weights[%d]" % l, w) for l, w in enumerate(self.weights)]
                               + [("biases[%d]" % l, b) for l, b in enumerate(self.biases)], "save")
        _netfiles.write_json(filename, _netfiles.network2_dict(self))

    # -- how the kernels see this network

    def _codes(self):
        """(hidden activation, output activation, native cost code or None)."""
        if self.activation not in _dense.ACTIVATIONS or self.activation == "linear":
            raise ValueError("activation must be one of %s, not %r" % (sorted(_ref._ACTIVATIONS), self.activation))
        act_out = _dense.SOFTMAX if self._softmax_output() else _dense.SIGMOID
        return _dense.ACTIVATIONS[self.activation], act_out, _native_cost_code(self.cost)

    def _arrays(self, data, name):
        return _dense.as_arrays(_materialize(data), name, self.sizes[0], self.sizes[-1], self.dtype)[:2]

    # -- training

    def SGD(self, training_data, epochs, mini_batch_size, eta,
            lmbda=0.0,
            evaluation_data=None,
            monitor_evaluation_cost=False,
            monitor_evaluation_accuracy=False,
            monitor_training_cost=False,
            monitor_training_accuracy=False,
            *,
            regularization="L2",
            mu=0.0,
            p_dropout=0.0,
            early_stopping_n=None,
            schedule_patience=None,
            schedule_factor=2.0,
            schedule_stop=128.0,
            progress=None,
            history=None,
            on_epoch=None,
            checkpoint=None,
            checkpoint_every=1,
            resume=None):
        """Mini-batch stochastic gradient descent, as the book: each epoch shuffles
        ``training_data`` (in place, with ``random.shuffle``) and steps on each
        mini-batch, the last one possibly shorter; after each epoch it prints
        ``Epoch {j} training complete`` and the monitored costs and accuracies.

        Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``, one entry per epoch for each monitor flag set.

        Keywords (defaults = the book): ``regularization`` "L2" or "L1";
        ``mu`` momentum coefficient in [0, 1); ``p_dropout`` in [0, 1), the
        probability of dropping each hidden unit for one training example;
        ``early_stopping_n``: stop after that many consecutive epochs without
        a new best evaluation accuracy; ``schedule_patience``: divide eta by
        ``schedule_factor`` after that many consecutive epochs without a new
        best evaluation accuracy, and stop once eta <= initial eta /
        ``schedule_stop``.  Both need ``evaluation_data``.

        ``checkpoint=PATH`` saves the run every ``checkpoint_every`` epochs (an
        .npz written atomically: network, velocities, random states, shuffled
        order, schedule, the lists so far); ``resume=PATH`` continues such a
        run given the same arguments, ending bit for bit where the
        uninterrupted run would (a checkpoint of another run is refused).

        Every argument and both data sets are checked before any training: on
        an error the network is unchanged.

        ``progress`` shows a bar during each epoch (None: when stderr is a
        terminal; True, False, or a callable ``progress(done, n)``).
        ``history`` (a path or an ``nnfast.history.History``) records each
        epoch: seconds and every monitored cost and accuracy, under the names
        of the returned lists.  ``on_epoch(net, epoch, record)`` is called
        after each epoch with that record, to which it may add keys.
        """
        training_data = _materialize(training_data)
        evaluation_data = _materialize(evaluation_data)
        _ref._check_sgd_args(epochs, mini_batch_size, eta, lmbda, regularization, mu, p_dropout,
                             early_stopping_n, schedule_patience, schedule_factor, schedule_stop)
        if evaluation_data is not None and len(evaluation_data) == 0:
            evaluation_data = None
        _ref._check_needs_evaluation(evaluation_data is not None,
                                     monitor_evaluation_cost, monitor_evaluation_accuracy,
                                     early_stopping_n, schedule_patience)
        act_h, act_o, code = self._codes()
        n_in, n_out = self.sizes[0], self.sizes[-1]
        X, Y, is_list = _dense.as_arrays(training_data, "training_data", n_in, n_out, self.dtype)
        if evaluation_data is not None:
            Xe, Ye, _ = _dense.as_arrays(evaluation_data, "evaluation_data", n_in, n_out, self.dtype)
            labels_e = _dense.labels_of(Ye)
        labels_t = _dense.labels_of(Y) if monitor_training_accuracy else None
        _dense.check_params(self)
        _dense.kernel_ready_params(self)
        ckpt = _checkpoint.Checkpoint(self, checkpoint, checkpoint_every, resume, dict(
            kind="network2", cost=getattr(self.cost, "__name__", "?"), activation=self.activation,
            mini_batch_size=mini_batch_size, eta=eta, lmbda=lmbda, regularization=regularization, mu=mu,
            p_dropout=p_dropout, early_stopping_n=early_stopping_n, schedule_patience=schedule_patience,
            schedule_factor=schedule_factor, schedule_stop=schedule_stop,
            evaluation=None if evaluation_data is None else len(evaluation_data),
            monitor=[monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost,
                     monitor_training_accuracy]), X, Y)
        if mu > 0 and _native_cost_code(self.cost) is None and (checkpoint or resume):
            raise ValueError("checkpoints with momentum need a built-in cost (the native path)")

        # from here on the network changes, as the book's
        self.regularization = regularization
        self.p_dropout = float(p_dropout)
        self._velocity_w = None
        self._velocity_b = None
        seed = None
        if p_dropout > 0:
            seed = int(np.random.randint(0, 2 ** 62, dtype=np.int64))

        n = len(X)
        reg = _dense.REG_L1 if regularization == "L1" else _dense.REG_L2
        engine = None
        if code is None:
            _notice_custom_cost(self.cost)
        else:
            engine = _dense.Engine(self, act_h, act_o, code, min(mini_batch_size, n),
                                   momentum=mu > 0, dropout=seed is not None)
        evaluator = _Evaluator(self, act_h, act_o, code)
        shuffler = _dense.Shuffler(n)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        schedule = _ref._Progress(eta, early_stopping_n, schedule_patience, schedule_factor, schedule_stop)
        shuffled = False
        # progress bar and history (beyond the book)
        bar = _progress.Progress(progress)
        rec = _history.recorder(history, on_epoch, dict(
            program="network2", sizes=self.sizes, cost=getattr(self.cost, "__name__", str(self.cost)),
            activation=self.activation, epochs=epochs, mini_batch_size=mini_batch_size, eta=eta, lmbda=lmbda,
            regularization=regularization, mu=mu, p_dropout=p_dropout, dtype=self.dtype.name, n_training=n,
            n_evaluation=len(Xe) if evaluation_data is not None else 0))
        velocities = None if engine is None else engine.velocities
        first, extra = ckpt.restore(shuffler, velocities)
        if extra:
            eta, seed, shuffled = extra["eta"], extra["seed"], True
            schedule.__dict__.update(extra["progress"])
            evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = extra["lists"]
        try:
            for j in range(first, epochs):
                order = shuffler.next_order()
                shuffled = True
                bar.start("Epoch %d" % j, n)
                if engine is not None:
                    engine.epoch(X, Y, order, eta, lmbda_over_n=lmbda / n, reg=reg, mu=mu,
                                 p_dropout=p_dropout, seed=0 if seed is None else seed, counter0=j * n,
                                 progress=bar.hook)
                else:
                    for k in range(0, n, mini_batch_size):
                        rows = order[k:k + mini_batch_size]
                        masks = None if seed is None else self._masks(seed, j * n + k, len(rows), p_dropout)
                        self._numpy_step(X[rows], Y[rows], eta, lmbda, n, masks, mu, regularization,
                                         where=(j, k // mini_batch_size))
                        if bar.hook is not None:
                            bar.hook(k + len(rows), n)
                bar.close()
                print("Epoch {} training complete".format(j))
                if monitor_training_cost or monitor_training_accuracy:
                    pred, cost = evaluator(X, Y, monitor_training_cost)
                    if monitor_training_cost:
                        cost = self._with_regularization(cost, lmbda, n)
                        training_cost.append(cost)
                        print("Cost on training data: {}".format(cost))
                    if monitor_training_accuracy:
                        accuracy = int(np.count_nonzero(pred == labels_t))
                        training_accuracy.append(accuracy)
                        print("Accuracy on training data: {} / {}".format(accuracy, n))
                eval_acc = None
                if monitor_evaluation_cost or monitor_evaluation_accuracy or schedule.active:
                    pred, cost = evaluator(Xe, Ye, monitor_evaluation_cost)
                    eval_acc = int(np.count_nonzero(pred == labels_e))
                    if monitor_evaluation_cost:
                        cost = self._with_regularization(cost, lmbda, len(Xe))
                        evaluation_cost.append(cost)
                        print("Cost on evaluation data: {}".format(cost))
                    if monitor_evaluation_accuracy:
                        evaluation_accuracy.append(eval_acc)
                        print("Accuracy on evaluation data: {} / {}".format(eval_acc, len(Xe)))
                print()
                if rec is not None:
                    rec.epoch(self, j, eta=eta, **{k: v[-1] for k, v in (
                        ("training_cost", training_cost), ("training_accuracy", training_accuracy),
                        ("evaluation_cost", evaluation_cost), ("evaluation_accuracy", evaluation_accuracy))
                        if len(v) == j + 1})
                if schedule.active:
                    eta, stop = schedule.after_epoch(eval_acc, eta)
                    if stop:
                        break
                ckpt.after_epoch(j, shuffler, velocities, dict(
                    eta=eta, seed=seed, progress=vars(schedule),
                    lists=[evaluation_cost, evaluation_accuracy, training_cost, training_accuracy]))
        except KeyboardInterrupt as e:
            if engine is not None:
                engine.note_interrupt(e)     # net.last_interrupted_at: where the weights stand
            raise
        finally:
            bar.close()
            if is_list and shuffled:
                shuffler.apply_to(training_data)
            if engine is not None and engine.velocities is not None:
                self._velocity_w, self._velocity_b = engine.velocities
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def _masks(self, seed, counter0, m, p):
        """Keep-masks (J, m) of the hidden layers for examples counter0 .. counter0+m-1:
        the bits the kernels (and the reference) use."""
        counters = np.arange(counter0, counter0 + m, dtype=np.int64)[None, :]
        return [_rng.keep_mask(seed, l, counters, np.arange(self.sizes[l])[:, None], p).astype(self.dtype)
                for l in range(1, self.num_layers - 1)]

    def update_mini_batch(self, mini_batch, eta, lmbda, n, masks=None, mu=0.0, regularization=None):
        """One gradient step from the gradients summed over ``mini_batch`` (a list of
        ``(x, y)``); ``n`` is the training set size.  As the reference:
        ``masks`` (per example, the hidden layers' 0/1 keep-columns) trains on
        the dropout path, ``regularization`` defaults to the network's, and
        with ``mu`` > 0 the velocities persist between calls."""
        if regularization is None:
            regularization = self.regularization
        eta = _dense.check_real("eta", eta)
        lmbda = _dense.check_real("lmbda", lmbda, nonnegative=True)
        n = _dense.check_int("n", n, 1)
        mu = _dense.check_real("mu", mu, nonnegative=True, below=1.0)
        if regularization not in _ref._REGULARIZATIONS:
            raise ValueError("regularization must be 'L2' or 'L1', not %r" % (regularization,))
        act_h, act_o, code = self._codes()
        X, Y = self._arrays(mini_batch, "mini_batch")
        if masks is not None:
            if len(masks) != len(X):
                raise ValueError("masks: %d entries for %d examples" % (len(masks), len(X)))
            masks = [np.hstack([np.asarray(mk[i], dtype=self.dtype).reshape(-1, 1) for mk in masks])
                     for i in range(self.num_layers - 2)]
        _dense.check_params(self)
        _dense.kernel_ready_params(self)
        if code is None or masks is not None or self.p_dropout > 0:
            # the numpy path: a custom cost, given masks, or the (1 - p) scaled evaluation path
            if code is None:
                _notice_custom_cost(self.cost)
            self._numpy_step(X, Y, eta, lmbda, n, masks, mu, regularization)
            return
        m = len(X)
        engine = _dense.Engine(self, act_h, act_o, code, m, momentum=mu > 0)
        if mu > 0 and self._velocity_w is not None:
            engine.velocities = ([np.ascontiguousarray(v, dtype=self.dtype) for v in self._velocity_w],
                                 [np.ascontiguousarray(v, dtype=self.dtype) for v in self._velocity_b])
        engine.epoch(X, Y, np.arange(m, dtype=np.int64), eta, lmbda_over_n=lmbda / n,
                     reg=_dense.REG_L1 if regularization == "L1" else _dense.REG_L2, mu=mu)
        if mu > 0:
            self._velocity_w, self._velocity_b = engine.velocities

    def _numpy_step(self, X, Y, eta, lmbda, n, masks, mu, regularization, where=(None, None)):
        """One mini-batch (rows of X, Y) in numpy, the examples as columns: the
        reference's backprop for all of them at once, then its update.  As the
        native path, an inf or NaN weighted input or output delta raises
        TrainingDiverged before the update (``where``: epoch and mini-batch)."""
        with np.errstate(over="ignore", invalid="ignore"):
            self._numpy_step_unchecked(X, Y, eta, lmbda, n, masks, mu, regularization, where)
        params = self.weights + self.biases
        if not all(np.isfinite(a).all() for a in params):
            raise TrainingDiverged("training diverged%s: its update overflowed, the weights or biases now hold "
                                   "infinities or NaN (try a smaller eta)" % _where(where), *where)

    def _numpy_step_unchecked(self, X, Y, eta, lmbda, n, masks, mu, regularization, where):
        act, act_prime = self._hidden()
        p = self.p_dropout
        a = np.asarray(X, dtype=self.dtype).T
        activations = [a]
        zs = []
        last = len(self.weights) - 1
        for i, (b, w) in enumerate(zip(self.biases, self.weights)):
            z = np.dot(w, a) + b
            zs.append(z)
            if i == last:
                a = _softmax_columns(z) if self._softmax_output() else sigmoid(z)
            else:
                a = act(z)
                if masks is not None:
                    a = a * masks[i]
                elif p > 0:
                    a = a * (1.0 - p)
            activations.append(a)
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        delta = np.asarray(self.cost.delta(zs[-1], activations[-1], np.asarray(Y).T))
        if not (all(np.isfinite(z).all() for z in zs) and np.isfinite(delta).all()):
            raise TrainingDiverged("training diverged%s: a weighted input or output delta became infinite or NaN; "
                                   "the weights are as before that mini-batch (try a smaller eta)" % _where(where),
                                   *where)
        nabla_b[-1] = np.sum(delta, axis=1, keepdims=True)
        nabla_w[-1] = np.dot(delta, activations[-2].T)
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].T, delta) * act_prime(zs[-l])
            if masks is not None:
                delta = delta * masks[-l + 1]
            elif p > 0:
                delta = delta * (1.0 - p)
            nabla_b[-l] = np.sum(delta, axis=1, keepdims=True)
            nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
        self._step(nabla_b, nabla_w, len(X), eta, lmbda, n, mu, regularization)
        if self.dtype != np.float64:
            self._cast()

    # -- evaluation

    def feedforward(self, a):
        """The book's feedforward (numpy); weighted inputs beyond the float range
        give inf/NaN outputs without numpy's overflow warnings."""
        with np.errstate(over="ignore", invalid="ignore"):
            return super().feedforward(a)

    def accuracy(self, data, convert=False):
        """Number of inputs whose output argmax is the label.  As the book,
        ``convert=True`` is for training-format data (one-hot ``y``) and the
        default for validation/test data (integer ``y``); either format is
        recognised, so the flag cannot go wrong here."""
        act_h, act_o, code = self._codes()
        X, Y = self._arrays(data, "data")
        _dense.check_params(self)
        pred, _ = _Evaluator(self, act_h, act_o, code)(X, Y, False)
        return int(np.count_nonzero(pred == _dense.labels_of(Y)))

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus the regularisation term
        (L2: 0.5*(lmbda/len(data))*sum ||w||^2; L1: (lmbda/len(data))*sum |w|).
        As the book, ``convert=True`` is for validation/test data (integer ``y``)
        and the default for training data (vector ``y``); either is recognised."""
        lmbda = _dense.check_real("lmbda", lmbda)
        act_h, act_o, code = self._codes()
        X, Y = self._arrays(data, "data")
        _dense.check_params(self)
        _, cost = _Evaluator(self, act_h, act_o, code)(X, Y, True)
        return self._with_regularization(cost, lmbda, len(X))

    def _with_regularization(self, cost, lmbda, count):
        if self.regularization == "L1":
            term = sum(np.sum(np.abs(np.asarray(w, dtype=np.float64))) for w in self.weights)
            return np.float64(cost + (lmbda / count) * term)
        term = sum(float(np.vdot(w, w)) for w in (np.asarray(w, dtype=np.float64) for w in self.weights))
        return np.float64(cost + 0.5 * (lmbda / count) * term)


class _Evaluator(object):
    """Batched forward passes over whole data sets with the network's current
    parameters: predictions and, when asked, the mean cost."""

    def __init__(self, net, act_h, act_o, code):
        self.net = net
        self.code = code
        self.core = _core.DenseNet(net.sizes, net.dtype, act_h, act_o, _dense.QUADRATIC if code is None else code, 0)

    def __call__(self, X, Y, want_cost):
        net = self.net
        w, b = _dense.kernel_ready_params(net)
        self.core.set_params(w, b)
        native_cost = want_cost and self.code is not None
        custom_cost = want_cost and self.code is None
        with _config.blas_limit(1):
            pred, cost, out = self.core.evaluate(X, Y, 1.0 - net.p_dropout, _config.effective_threads(),
                                                 native_cost, custom_cost)
        if custom_cost:
            fn = net.cost.fn
            cost = np.array([fn(out[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in range(len(out))],
                            dtype=np.float64)
        if want_cost:
            with np.errstate(over="ignore"):   # saturated outputs: costs of up to DBL_MAX each
                cost = float(np.nan_to_num(np.mean(cost)))
        return pred, cost


#### Loading a Network

def load(filename):
    """Load a network saved by ``save`` (or by the book's network2): the book's
    JSON keys plus nnfast's optional ``activation``, ``p_dropout`` and
    ``regularization``.  Accepts only the known cost names and activations;
    raises ``nnfast.BadFileError`` (a ValueError) naming the file for anything
    else: missing or unknown keys, unknown names, non-numeric or non-finite
    entries, arrays whose shapes disagree with ``sizes``, binary junk, JSON
    nested too deeply, a folder.  Like the book, constructs the network first
    (drawing its initial weights from ``np.random``), then assigns."""
    d = _netfiles.read_network2(filename, _ref._COSTS, _ref._ACTIVATIONS, _ref._REGULARIZATIONS)
    try:
        net = Network(d["sizes"], cost=_ref._COSTS[d["cost"]], activation=d["activation"])
    except (TypeError, ValueError) as e:
        raise BadFileError("%s: %s" % (filename, e), filename) from None
    net.weights, net.biases = d["weights"], d["biases"]
    net.p_dropout, net.regularization = d["p_dropout"], d["regularization"]
    return net
