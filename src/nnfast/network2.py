"""
network2.py
~~~~~~~~~~~

Chapter 3's network, as a drop-in for the book's ``network2.py``: the
cross-entropy (and quadratic) cost, L2 regularisation, the book's weight
initialisation, monitoring, save/load, plus the chapter's improvements as
keyword arguments whose defaults keep the book's behaviour (tested against
``nnfast.reference.network2``, the per-example oracle, which shares no code
with this module: same options, printed lines, returned lists and files).

The difference is speed.  ``SGD`` lays the training and evaluation data out
as contiguous arrays once per call; each epoch is then a few native calls
(forward, backprop and update of every mini-batch, in C with OpenMP), and
each monitor line is one batched native pass over its data set.  As the
book's, ``weights`` and ``biases`` are new arrays after each epoch.

Beyond the book: ``Network(..., dtype=np.float32)`` trains in single precision,
and the data may be any iterable of ``(x, y)`` pairs or array pairs ``(X, Y)``
with X of shape (n, sizes[0]) and Y one-hot (n, sizes[-1]) or integer labels.
``cost`` may be a class or an instance (``CrossEntropyCost()``, as the book's
fig/ scripts pass it).  A cost class of your own
(static ``fn(a, y)`` and ``delta(z, a, y)`` as in the book) works too, on a
batched numpy path: ``delta`` receives (sizes[-1], m) matrices holding one
mini-batch's examples as columns, ``fn`` one example's columns at a time.
"""
import warnings

import numpy as np

from . import _checks, _config, _core, _dense, _netfiles, _train
from ._errors import BadFileError
from ._dense import relu, relu_prime, sigmoid, sigmoid_prime, softmax, tanh, tanh_prime  # noqa: F401 - the book's names


#### Costs

class QuadraticCost(object):

    @staticmethod
    def fn(a, y):
        """Cost of output ``a`` against desired output ``y``: 0.5*||a-y||^2."""
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """Error delta of the (sigmoid) output layer."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost(object):

    @staticmethod
    def fn(a, y):
        """Cross-entropy of ``a`` against ``y``; nan_to_num makes 0*log(0) = 0 and
        log(0) a huge finite number, as the book (without the warnings)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Error delta of the (sigmoid) output layer: a - y."""
        return (a - y)


class LogLikelihoodCost(object):
    """Log-likelihood cost; a network with this cost has a softmax output layer."""

    @staticmethod
    def fn(a, y):
        """-sum(y*ln a), i.e. -ln a[label] for one-hot ``y``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a)))

    @staticmethod
    def delta(z, a, y):
        """Error delta of the softmax output layer: a - y."""
        return (a - y)


# the costs the native kernels implement, by class (an instance of one is that cost;
# a subclass may change fn or delta, so it is the user's own)
_NATIVE_COSTS = {QuadraticCost: _dense.QUADRATIC, CrossEntropyCost: _dense.CROSS_ENTROPY,
                 LogLikelihoodCost: _dense.LOG_LIKELIHOOD}
_COSTS = {cls.__name__: cls for cls in _NATIVE_COSTS}
_REGULARIZATIONS = ("L2", "L1")
_INITIALIZERS = ("default", "large", "he")
_noticed = set()


def _cost_class(cost):
    """The class of a cost given as a class (the book's network2) or an instance (its fig/ scripts)."""
    return cost if isinstance(cost, type) else type(cost)


def _native_cost_code(cost):
    return _NATIVE_COSTS.get(_cost_class(cost))


def _cost_name(cost):
    return _cost_class(cost).__name__


def _notice_custom_cost(cost):
    """Say once per cost class that it runs on the numpy path."""
    cls = _cost_class(cost)
    if cls in _noticed:
        return
    _noticed.add(cls)
    warnings.warn("nnfast.network2: cost %s is a class of your own, not one of the built-in QuadraticCost, "
                  "CrossEntropyCost and LogLikelihoodCost that run natively: it trains on a batched numpy "
                  "path, a few times slower" % cls.__name__, RuntimeWarning, stacklevel=3)


def vectorized_result(j):
    """A 10-dimensional unit column with 1.0 at row j (digit -> desired output)."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


class Network(object):

    def __init__(self, sizes, cost=CrossEntropyCost, activation="sigmoid", initializer="default",
                 dtype=np.float64):
        """``sizes`` lists the neurons per layer, e.g. [784, 30, 10]; ``cost`` a cost
        class (or an instance of one, as the book's fig/ scripts pass it).
        ``activation``: the hidden layers' neuron, "sigmoid" (the book),
        "tanh" or "relu"; the output layer is sigmoid, or softmax with
        ``LogLikelihoodCost``.  ``initializer``: "default" (the book's, weights
        randn/sqrt(n_in)), "large" (chapter 1's randn) or "he"
        (randn*sqrt(2/n_in)).  Biases are drawn before weights from
        ``np.random``, as the book.  ``dtype``: float64 (default) or float32."""
        self.dtype = _checks.check_dtype(dtype)
        sizes = _checks.check_sizes(sizes)
        _checks.check_one_of("activation", activation, tuple(_dense.HIDDEN))
        _checks.check_one_of("initializer", initializer, _INITIALIZERS)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.activation = activation
        self.p_dropout = 0.0
        self.regularization = "L2"
        self._velocity_w = None
        self._velocity_b = None
        getattr(self, initializer + "_weight_initializer")()
        self.cost = cost

    def _initialize(self, scale):
        """Biases N(0, 1), then weights scale(N(0, 1), n_in), all biases drawn first."""
        self.biases = [np.random.randn(y, 1).astype(self.dtype, copy=False) for y in self.sizes[1:]]
        self.weights = [scale(np.random.randn(y, x), x).astype(self.dtype, copy=False)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1): the book's default."""
        self._initialize(lambda w, x: w / np.sqrt(x))

    def large_weight_initializer(self):
        """Weights and biases N(0, 1): chapter 1's initialisation."""
        self._initialize(lambda w, x: w)

    def he_weight_initializer(self):
        """Weights N(0, 2/n_in), biases N(0, 1)."""
        self._initialize(lambda w, x: w * np.sqrt(2.0 / x))

    def save(self, filename):
        """Save to ``filename`` as the book's JSON (sizes, weights, biases, cost), plus
        ``activation``, ``p_dropout``, ``regularization`` when not the defaults.  Atomic, with
        the mode the umask gives; weights holding NaN or infinities are refused (ValueError)."""
        _netfiles.check_finite([("weights[%d]" % l, w) for l, w in enumerate(self.weights)]
                               + [("biases[%d]" % l, b) for l, b in enumerate(self.biases)], "save")
        _netfiles.write_json(filename, _netfiles.network2_dict(self))

    # -- how the network computes

    def _softmax_output(self):
        """A softmax output layer: for LogLikelihoodCost and costs derived from one (by name,
        so that a port's own LogLikelihoodCost counts too)."""
        return any(c.__name__ == "LogLikelihoodCost" for c in _cost_class(self.cost).__mro__)

    def _hidden(self):
        return _dense.HIDDEN[self.activation]

    def _codes(self):
        """(hidden activation, output activation, native cost code or None)."""
        _checks.check_one_of("activation", self.activation, tuple(_dense.HIDDEN))
        act_out = _dense.SOFTMAX if self._softmax_output() else _dense.SIGMOID
        return _dense.ACTIVATIONS[self.activation], act_out, _native_cost_code(self.cost)

    def _arrays(self, data, name):
        return _dense.as_arrays(data, name, self.sizes[0], self.sizes[-1], self.dtype)[:2]

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
        training_data = _train.materialize(training_data, "training_data")
        evaluation_data = _train.materialize(evaluation_data, "evaluation_data")
        epochs, mini_batch_size, eta, lmbda, mu, p_dropout = _check_sgd_args(
            epochs, mini_batch_size, eta, lmbda, regularization, mu, p_dropout,
            early_stopping_n, schedule_patience, schedule_factor, schedule_stop)
        if evaluation_data is not None and len(evaluation_data) == 0:
            evaluation_data = None
        for flag, name in ((monitor_evaluation_cost, "monitor_evaluation_cost"),
                           (monitor_evaluation_accuracy, "monitor_evaluation_accuracy"),
                           (early_stopping_n is not None, "early_stopping_n"),
                           (schedule_patience is not None, "schedule_patience")):
            if flag and evaluation_data is None:
                raise ValueError("%s needs evaluation_data" % name)
        act_h, act_o, code = self._codes()
        data = _dense.training_set(training_data, "training_data", self.sizes[0], self.sizes[-1], self.dtype)
        if evaluation_data is not None:
            Xe, Ye = self._arrays(evaluation_data, "evaluation_data")
            labels_e = _dense.labels_of(Ye)
        labels_t = _dense.labels_of(data.targets()) if monitor_training_accuracy else None
        if mu > 0 and code is None and (checkpoint or resume):
            raise ValueError("checkpoints with momentum need a built-in cost (the native path)")
        n = data.n
        params = _train.dense_params(self)
        params.load()
        run = _train.Run(
            self, params, _train.Shuffler(n), -(-n // mini_batch_size), mini_batch_size, n,
            progress=progress, history=history, on_epoch=on_epoch, settings=dict(
                program="network2", sizes=self.sizes, cost=_cost_name(self.cost), activation=self.activation,
                epochs=epochs, mini_batch_size=mini_batch_size, eta=eta, lmbda=lmbda, regularization=regularization,
                mu=mu, p_dropout=p_dropout, dtype=self.dtype.name, n_training=n,
                n_evaluation=len(Xe) if evaluation_data is not None else 0),
            checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, X=data.inputs, Y=data.targets,
            options=dict(
                kind="network2", cost=_cost_name(self.cost), activation=self.activation,
                mini_batch_size=mini_batch_size, eta=eta, lmbda=lmbda, regularization=regularization, mu=mu,
                p_dropout=p_dropout, early_stopping_n=early_stopping_n, schedule_patience=schedule_patience,
                schedule_factor=schedule_factor, schedule_stop=schedule_stop,
                evaluation=None if evaluation_data is None else len(evaluation_data),
                monitor=[monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost,
                         monitor_training_accuracy]))

        # from here on the network changes, as the book's
        self.regularization = regularization
        self.p_dropout = p_dropout
        self._velocity_w = None
        self._velocity_b = None
        seed = int(np.random.randint(0, 2 ** 62, dtype=np.int64)) if p_dropout > 0 else None
        mbs = min(mini_batch_size, n)
        options = dict(lmbda_over_n=lmbda / n, reg=_dense.REG_L1 if regularization == "L1" else _dense.REG_L2,
                       mu=mu, p_dropout=p_dropout, seed=0 if seed is None else seed)
        if code is None:
            _notice_custom_cost(self.cost)
            engine = _NumpyEngine(self, params, data.inputs(), data.targets(), eta, mbs, lmbda, n, mu,
                                  regularization, seed)
        else:
            engine = _dense.Engine(self, params, data.X, data.Y, eta, (act_h, act_o, code), mbs, momentum=mu > 0,
                                   dropout=seed is not None, rows=data.rows, **options)
        run.velocities = engine.velocities
        evaluate = _Evaluator(self, params, act_h, act_o, code)
        lists = evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = [], [], [], []
        schedule = _Schedule(eta, early_stopping_n, schedule_patience, schedule_factor, schedule_stop)
        first, extra = run.restore()
        if extra:
            engine.eta, seed = extra["eta"], extra["seed"]
            engine.kw["seed"], engine.seed = 0 if seed is None else seed, seed
            vars(schedule).update(extra["progress"])
            for saved, kept in zip(extra["lists"], lists):
                kept[:] = saved

        def after_epoch(j):
            print("Epoch {} training complete".format(j))
            if monitor_training_cost or monitor_training_accuracy:
                pred, cost = evaluate(data.inputs(), data.targets(), monitor_training_cost)
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
                pred, cost = evaluate(Xe, Ye, monitor_evaluation_cost)
                eval_acc = int(np.count_nonzero(pred == labels_e))
                if monitor_evaluation_cost:
                    cost = self._with_regularization(cost, lmbda, len(Xe))
                    evaluation_cost.append(cost)
                    print("Cost on evaluation data: {}".format(cost))
                if monitor_evaluation_accuracy:
                    evaluation_accuracy.append(eval_acc)
                    print("Accuracy on evaluation data: {} / {}".format(eval_acc, len(Xe)))
            print()
            record = {k: v[-1] for k, v in (("training_cost", training_cost), ("training_accuracy", training_accuracy),
                                            ("evaluation_cost", evaluation_cost),
                                            ("evaluation_accuracy", evaluation_accuracy)) if len(v) == j + 1}
            record["eta"] = engine.eta
            stop = False
            if schedule.active:
                engine.eta, stop = schedule.after_epoch(eval_acc, engine.eta)
            return record, stop

        try:
            run.loop(engine, first, epochs, after_epoch, lambda: dict(
                eta=engine.eta, seed=seed, progress=vars(schedule), lists=list(lists)))
        finally:
            run.finish(training_data)
            if engine.velocities is not None:
                self._velocity_w, self._velocity_b = engine.velocities
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n, masks=None, mu=0.0, regularization=None):
        """One gradient step from the gradients summed over ``mini_batch`` (a list of
        ``(x, y)``); ``n`` is the training set size.  ``masks`` (per example, the
        hidden layers' 0/1 keep-columns) trains on the dropout path,
        ``regularization`` defaults to the network's, and with ``mu`` > 0 the
        velocities persist between calls."""
        if regularization is None:
            regularization = self.regularization
        eta = _checks.check_real("eta", eta, positive=True)
        lmbda = _checks.check_real("lmbda", lmbda, nonnegative=True)
        n = _checks.check_int("n", n, 1)
        mu = _checks.check_probability("mu", mu)
        _checks.check_one_of("regularization", regularization, _REGULARIZATIONS)
        act_h, act_o, code = self._codes()
        X, Y = self._arrays(mini_batch, "mini_batch")
        if masks is not None:
            if len(masks) != len(X):
                raise ValueError("masks: %d entries for %d examples" % (len(masks), len(X)))
            masks = [np.hstack([np.asarray(mk[i], dtype=self.dtype).reshape(-1, 1) for mk in masks])
                     for i in range(self.num_layers - 2)]
        if code is None:
            _notice_custom_cost(self.cost)

        def make(params):
            if code is None or masks is not None or self.p_dropout > 0:
                # the numpy path: a custom cost, given masks, or the (1 - p) scaled evaluation path
                engine = _NumpyEngine(self, params, X, Y, eta, len(X), lmbda, n, mu, regularization, None, masks)
            else:
                engine = _dense.Engine(self, params, X, Y, eta, (act_h, act_o, code), len(X), momentum=mu > 0,
                                       lmbda_over_n=lmbda / n, mu=mu,
                                       reg=_dense.REG_L1 if regularization == "L1" else _dense.REG_L2)
            if mu > 0 and self._velocity_w is not None:
                for mine, kept in zip(engine.velocities[0] + engine.velocities[1], self._velocity_w + self._velocity_b):
                    mine[...] = kept
            return engine

        engine = _dense.one_step(self, X, Y, make)
        if mu > 0:
            self._velocity_w, self._velocity_b = engine.velocities

    def backprop(self, x, y, masks=None):
        """Gradient ``(nabla_b, nabla_w)`` of ``cost.fn`` for one example (the book's).
        With ``masks`` (one 0/1 column per hidden layer) dropped hidden units output 0
        and pass back no error: the dropout training path; without, a network trained
        with dropout scales its hidden activations by 1 - p_dropout."""
        act, act_prime = self._hidden()
        nabla_b, nabla_w, _ = _dense.backprop(self.weights, self.biases, x, y, self.cost.delta, act, act_prime,
                                              softmax if self._softmax_output() else sigmoid, masks,
                                              1.0 - self.p_dropout)
        return nabla_b, nabla_w

    # -- evaluation

    def feedforward(self, a):
        """The network's output for input ``a`` (evaluation path: with dropout trained,
        hidden activations scaled by 1 - p_dropout); weighted inputs beyond the float
        range give inf/NaN outputs without numpy's overflow warnings."""
        with np.errstate(over="ignore", invalid="ignore"):
            return _dense.feedforward(self.weights, self.biases, a, self._hidden()[0],
                                      softmax if self._softmax_output() else sigmoid, 1.0 - self.p_dropout)

    def accuracy(self, data, convert=False):
        """Number of inputs whose output argmax is the label.  As the book,
        ``convert=True`` is for training-format data (one-hot ``y``) and the
        default for validation/test data (integer ``y``); either format is
        recognised, so the flag cannot go wrong here."""
        pred, _, Y = self._evaluate(data, False)
        return int(np.count_nonzero(pred == _dense.labels_of(Y)))

    def total_cost(self, data, lmbda, convert=False):
        """Mean cost over ``data`` plus the regularisation term
        (L2: 0.5*(lmbda/len(data))*sum ||w||^2; L1: (lmbda/len(data))*sum |w|).
        As the book, ``convert=True`` is for validation/test data (integer ``y``)
        and the default for training data (vector ``y``); either is recognised."""
        lmbda = _checks.check_real("lmbda", lmbda, nonnegative=True)
        _, cost, Y = self._evaluate(data, True)
        return self._with_regularization(cost, lmbda, len(Y))

    def _evaluate(self, data, want_cost):
        act_h, act_o, code = self._codes()
        X, Y = self._arrays(data, "data")
        params = _train.dense_params(self)
        params.load()
        return _Evaluator(self, params, act_h, act_o, code)(X, Y, want_cost) + (Y,)

    def _with_regularization(self, cost, lmbda, count):
        if self.regularization == "L1":
            term = sum(np.sum(np.abs(np.asarray(w, dtype=np.float64))) for w in self.weights)
            return np.float64(cost + (lmbda / count) * term)
        # BLAS on one thread: a dot of 78,400 on two wakes BLAS's worker thread, which then spins
        # for about 30 ms of CPU beside the training threads of the next epoch
        with _config.blas_limit(1):
            term = sum(float(np.vdot(w, w)) for w in (np.asarray(w, dtype=np.float64) for w in self.weights))
        return np.float64(cost + 0.5 * (lmbda / count) * term)


def _check_sgd_args(epochs, mini_batch_size, eta, lmbda, regularization, mu, p_dropout,
                    early_stopping_n, schedule_patience, schedule_factor, schedule_stop):
    """SGD's arguments, checked (nnfast._checks' convention), as (epochs, mini_batch_size, eta, lmbda, mu, p)."""
    out = (_checks.check_int("epochs", epochs, 0), _checks.check_int("mini_batch_size", mini_batch_size, 1),
           _checks.check_real("eta", eta, positive=True), _checks.check_real("lmbda", lmbda, nonnegative=True),
           _checks.check_probability("mu", mu), _checks.check_probability("p_dropout", p_dropout))
    _checks.check_one_of("regularization", regularization, _REGULARIZATIONS)
    if early_stopping_n is not None:
        _checks.check_int("early_stopping_n", early_stopping_n, 1)
    if schedule_patience is not None:
        _checks.check_int("schedule_patience", schedule_patience, 1)
        for name, v in (("schedule_factor", schedule_factor), ("schedule_stop", schedule_stop)):
            if _checks.check_real(name, v) <= 1:
                raise ValueError("%s must be > 1, got %r" % (name, v))
    return out


class _Schedule(object):
    """Early stopping and the learning-rate schedule after each epoch, driven by the
    accuracy on the evaluation data."""

    def __init__(self, eta, early_stopping_n, schedule_patience, schedule_factor, schedule_stop):
        self.eta_initial = eta
        self.early_stopping_n = early_stopping_n
        self.schedule_patience = schedule_patience
        self.schedule_factor = schedule_factor
        self.schedule_stop = schedule_stop
        self.active = early_stopping_n is not None or schedule_patience is not None
        self.best = None
        self.no_improvement = 0      # epochs since the best accuracy (early stopping)
        self.since_change = 0        # epochs since the best accuracy or the last eta cut

    def after_epoch(self, eval_acc, eta):
        """Returns ``(eta, stop)``, printing the schedule's and early stopping's lines."""
        if self.best is None or eval_acc > self.best:
            self.best, self.no_improvement, self.since_change = eval_acc, 0, 0
        else:
            self.no_improvement += 1
            self.since_change += 1
        if self.schedule_patience is not None and self.since_change >= self.schedule_patience:
            eta = eta / self.schedule_factor
            self.since_change = 0
            print("Learning rate reduced to {}".format(eta))
            if eta <= self.eta_initial / self.schedule_stop:
                print("Learning rate fell by a factor of {}: stopping".format(self.schedule_stop))
                return eta, True
        if self.early_stopping_n is not None and self.no_improvement >= self.early_stopping_n:
            print("Early stopping: no improvement in {} epochs".format(self.early_stopping_n))
            return eta, True
        return eta, False


class _Evaluator(_dense.Evaluator):
    """Batched forward passes over whole data sets: predictions and, when asked, the mean
    cost (a cost class of the user's own: its ``fn`` on each example's output)."""

    def __init__(self, net, params, act_h, act_o, code):
        super().__init__(net, params, act_h, act_o, _dense.QUADRATIC if code is None else code)
        self.net, self.code = net, code

    def __call__(self, X, Y, want_cost):
        custom = want_cost and self.code is None
        pred, cost, out = super().__call__(X, Y, 1.0 - self.net.p_dropout, want_cost and not custom, custom)
        if custom:
            fn = self.net.cost.fn
            cost = np.array([fn(out[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in range(len(out))],
                            dtype=np.float64)
        if want_cost:
            with np.errstate(over="ignore"):   # saturated outputs: costs of up to DBL_MAX each
                cost = float(np.nan_to_num(np.mean(cost)))
        return pred, cost


class _NumpyEngine(object):
    """SGD for a cost class of the user's own: each mini-batch's backprop in numpy with
    the examples as columns, then the book's update, into the working arrays of
    ``params``; dropout masks from the kernels' generator (the same bits)."""

    max_chunk = 1     # the harness's progress and divergence checks after every mini-batch

    def __init__(self, net, params, X, Y, eta, mbs, lmbda, n, mu, regularization, seed, masks=None):
        self.net, self.params, self.X, self.Y, self.eta, self.mbs = net, params, X, Y, eta, mbs
        self.lmbda, self.n, self.mu, self.regularization, self.seed, self.masks = lmbda, n, mu, regularization, seed, masks
        self.kw = {}
        L = len(net.sizes) - 1
        self.velocities = None
        if mu > 0:
            self.velocities = ([np.zeros_like(w) for w in params.arrays[:L]],
                               [np.zeros_like(b) for b in params.arrays[L:]])
        self.examples_done = 0

    def start_epoch(self, j):
        self.examples_done = 0

    def _dropout_masks(self, counter0, m):
        """Keep-masks (units, m) of the hidden layers for examples counter0 .. counter0 + m - 1."""
        p = self.net.p_dropout
        return [_core.k_dropout_forward(np.ones((m, self.net.sizes[l])), p, self.seed, l, counter0)[0].T
                .astype(self.net.dtype) for l in range(1, len(self.net.sizes) - 1)]

    def train(self, j, order, first, count):
        for k in range(first, first + count):
            rows = order[k * self.mbs:(k + 1) * self.mbs]
            masks = self.masks
            if self.seed is not None:
                masks = self._dropout_masks(j * self.n + k * self.mbs, len(rows))
            self._step(self.X[rows], self.Y[rows], masks, j, k)
            self.examples_done += len(rows)

    def _step(self, X, Y, masks, j, k):
        net, L = self.net, len(self.net.sizes) - 1
        W, B = self.params.arrays[:L], self.params.arrays[L:]
        act, act_prime = net._hidden()
        with np.errstate(over="ignore", invalid="ignore"):
            nabla_b, nabla_w, finite = _dense.backprop(
                W, B, np.asarray(X, dtype=net.dtype).T, np.asarray(Y, dtype=net.dtype).T, net.cost.delta, act, act_prime,
                softmax if net._softmax_output() else sigmoid, masks, 1.0 - net.p_dropout)
            if not finite:
                raise _train.diverged(j, k, "a weighted input or output delta became infinite or NaN", _train.BEFORE)
            m, eta, decay = len(X), self.eta, self.eta * (self.lmbda / self.n)
            reg = (lambda w: w) if self.regularization == "L2" else np.sign
            if self.mu == 0:
                for w, nw in zip(W, nabla_w):
                    # the book's expressions (L2), unchanged
                    w[...] = (1 - decay) * w - (eta / m) * nw if self.regularization == "L2" else \
                        w - decay * np.sign(w) - (eta / m) * nw
                for b, nb in zip(B, nabla_b):
                    b[...] = b - (eta / m) * nb
            else:
                VW, VB = self.velocities
                for v, w, nw in zip(VW, W, nabla_w):
                    v[...] = self.mu * v - eta * ((self.lmbda / self.n) * reg(w) + nw / m)
                    w[...] = w + v
                for v, b, nb in zip(VB, B, nabla_b):
                    v[...] = self.mu * v - eta * nb / m
                    b[...] = b + v

    def check(self, j, first, end):
        if not _train.all_finite(self.params.arrays):
            raise _train.diverged(j, end - 1, *_train.OVERFLOWED)


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
    d = _netfiles.read_network2(filename, _COSTS, tuple(_dense.HIDDEN), _REGULARIZATIONS)
    try:
        net = Network(d["sizes"], cost=_COSTS[d["cost"]], activation=d["activation"])
    except (TypeError, ValueError) as e:
        raise BadFileError("%s: %s" % (filename, e), filename) from None
    net.weights, net.biases = d["weights"], d["biases"]
    net.p_dropout, net.regularization = d["p_dropout"], d["regularization"]
    return net
