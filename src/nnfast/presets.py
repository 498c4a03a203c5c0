"""The book's networks as named presets, and how to train one with given settings.

The command line (``nnfast chapter1/3/6``) and the sweeps (``nnfast.sweep``,
``nnfast sweep``) share these: a preset is a network and the hyperparameters
the book trains it with.  Sweeps name one as ``chapter1``, ``chapter3:<run>``
or ``chapter6:<net>`` and vary the settings listed in ``PARAMS``;
``train_point`` builds the network and trains it once, inside a worker or here.
"""
import io
import contextlib

import numpy as np

# ---------------------------------------------------------------------------
# chapter 1
# ---------------------------------------------------------------------------

CH1_SETTINGS = dict(sizes=[784, 30, 10], epochs=30, mini_batch_size=10, eta=3.0)

# ---------------------------------------------------------------------------
# chapter 3
# ---------------------------------------------------------------------------

MONITORS = ("training-cost", "training-accuracy", "evaluation-cost", "evaluation-accuracy")
ALL = ",".join(MONITORS)

# name: (what it is, settings)
CH3_RUNS = {
    "quadratic": ("chapter 1's network in network2: quadratic cost, eta 3.0 (95.42% in chapter 1)",
                  dict(sizes=[784, 30, 10], cost="quadratic", init="large", epochs=30, eta=3.0, lmbda=0.0)),
    "cross-entropy": ("the cross-entropy cost, eta 0.5, chapter 1's initialisation (the book: 95.49%)",
                      dict(sizes=[784, 30, 10], cost="cross-entropy", init="large", epochs=30, eta=0.5, lmbda=0.0)),
    "l2": ("cross-entropy with L2 regularisation, lmbda 5.0, all 50,000 images (the book: 96.49%)",
           dict(sizes=[784, 30, 10], cost="cross-entropy", init="large", epochs=30, eta=0.5, lmbda=5.0)),
    "overfitting": ("1,000 training images for 400 epochs, no regularisation: the chapter's overfitting "
                    "figures (the book: 82.27%)",
                    dict(sizes=[784, 30, 10], cost="cross-entropy", init="large", epochs=400, eta=0.5, lmbda=0.0,
                         n_train=1000, monitor=ALL)),
    "overfitting-l2": ("the same with lmbda 0.1 (the book: 87.1%)",
                       dict(sizes=[784, 30, 10], cost="cross-entropy", init="large", epochs=400, eta=0.5,
                            lmbda=0.1, n_train=1000, monitor=ALL)),
    "weight-init": ("the new initialisation (weights N(0, 1/n_in)), eta 0.1, lmbda 5.0: the chapter's "
                    "weight-initialisation figure (rerun with --init large for the other curve)",
                    dict(sizes=[784, 30, 10], cost="cross-entropy", init="default", epochs=30, eta=0.1, lmbda=5.0,
                         evaluate="validation")),
    "best": ("[784, 100, 10], 60 epochs, eta 0.1, lmbda 5.0, the new initialisation (the book: 98.04% "
             "validation)",
             dict(sizes=[784, 100, 10], cost="cross-entropy", init="default", epochs=60, eta=0.1, lmbda=5.0,
                  evaluate="validation")),
}
CH3_DEFAULTS = dict(mini_batch_size=10, n_train=None, monitor="evaluation-accuracy", evaluate="test")


# ---------------------------------------------------------------------------
# chapter 6
# ---------------------------------------------------------------------------

def _conv(mbs, act, maps=2):
    from .network3 import ConvPoolLayer, sigmoid
    act = act or sigmoid
    layers = [ConvPoolLayer(image_shape=(mbs, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2),
                            activation_fn=act)]
    if maps == 2:
        layers.append(ConvPoolLayer(image_shape=(mbs, 20, 12, 12), filter_shape=(40, 20, 5, 5), poolsize=(2, 2),
                                    activation_fn=act))
    return layers


def _fc_net(mbs):
    from .network3 import FullyConnectedLayer, SoftmaxLayer
    return [FullyConnectedLayer(n_in=784, n_out=100), SoftmaxLayer(n_in=100, n_out=10)]


def _conv1_net(mbs):
    from .network3 import FullyConnectedLayer, SoftmaxLayer
    return _conv(mbs, None, 1) + [FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100), SoftmaxLayer(n_in=100, n_out=10)]


def _conv2_net(mbs):
    from .network3 import FullyConnectedLayer, SoftmaxLayer
    return _conv(mbs, None) + [FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100), SoftmaxLayer(n_in=100, n_out=10)]


def _relu_net(mbs):
    from .network3 import FullyConnectedLayer, ReLU, SoftmaxLayer
    return _conv(mbs, ReLU) + [FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, activation_fn=ReLU),
                               SoftmaxLayer(n_in=100, n_out=10)]


def _extra_fc_net(mbs):
    from .network3 import FullyConnectedLayer, ReLU, SoftmaxLayer
    return _conv(mbs, ReLU) + [FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, activation_fn=ReLU),
                               FullyConnectedLayer(n_in=100, n_out=100, activation_fn=ReLU),
                               SoftmaxLayer(n_in=100, n_out=10)]


def _dropout_net(mbs, p_dropout=0.5):
    from .network3 import FullyConnectedLayer, ReLU, SoftmaxLayer
    p = p_dropout
    return _conv(mbs, ReLU) + [FullyConnectedLayer(n_in=40 * 4 * 4, n_out=1000, activation_fn=ReLU, p_dropout=p),
                               FullyConnectedLayer(n_in=1000, n_out=1000, activation_fn=ReLU, p_dropout=p),
                               SoftmaxLayer(n_in=1000, n_out=10, p_dropout=p)]


# name: (what it is, layers(mini_batch_size), settings); the results are the book's, on MNIST
CH6_NETS = {
    "fc": ("a fully connected layer of 100 sigmoid neurons, softmax output (book: 97.80%)", _fc_net,
           dict(epochs=60, eta=0.1, lmbda=0.0, expanded=False)),
    "conv1": ("conv-pool (20 filters 5x5, max-pool 2x2), then fc's layers; sigmoid (book: 98.78%)", _conv1_net,
              dict(epochs=60, eta=0.1, lmbda=0.0, expanded=False)),
    "conv2": ("two conv-pools (20, then 40 filters 5x5), FC 100, softmax; sigmoid (book: 99.06%)", _conv2_net,
              dict(epochs=60, eta=0.1, lmbda=0.0, expanded=False)),
    "relu": ("conv2 with rectified linear units (book: 99.23%)", _relu_net,
             dict(epochs=60, eta=0.03, lmbda=0.1, expanded=False)),
    "expanded": ("relu on the expanded training data (book: 99.37%)", _relu_net,
                 dict(epochs=60, eta=0.03, lmbda=0.1, expanded=True)),
    "extra-fc": ("expanded with a second fully connected layer of 100 (book: 99.43%)", _extra_fc_net,
                 dict(epochs=60, eta=0.03, lmbda=0.1, expanded=True)),
    "dropout": ("two conv-pools, two ReLU layers of 1000, dropout 0.5, expanded data (book: 99.60%)",
                _dropout_net, dict(epochs=40, eta=0.03, lmbda=0.0, expanded=True)),
    "ensemble": ("majority vote of five dropout networks (book: 99.67%)", _dropout_net,
                 dict(epochs=40, eta=0.03, lmbda=0.0, expanded=True)),
}
CH6_DEFAULTS = dict(mini_batch_size=10, n_train=None, ensemble_size=5)


# ---------------------------------------------------------------------------
# sweeps: which settings a grid may vary, and their values checked
# ---------------------------------------------------------------------------

def _number(name, value, kind, low, low_ok, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError("grid %s: expected a number, got %r" % (name, value))
    if kind is int:
        if float(value) != int(value):
            raise ValueError("grid %s: expected a whole number, got %r" % (name, value))
        value = int(value)
    else:
        value = float(value)
    ok = (value >= low if low_ok else value > low) and (high is None or value < high) and np.isfinite(value)
    if not ok:
        raise ValueError("grid %s: must be %s %g%s, got %r" % (
            name, ">=" if low_ok else ">", low, "" if high is None else " and < %g" % high, value))
    return value


def _sizes(name, value):
    if isinstance(value, str):
        value = [int(v) for v in value.replace("x", "-").split("-") if v] if value.replace("-", "").isdigit() else value
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                       for v in value):
        raise ValueError("grid %s: expected layer sizes like [784, 30, 10] (784-30-10 on the command line), "
                         "got %r" % (name, value))
    value = [int(v) for v in value]
    if len(value) < 2 or min(value) < 1 or value[0] != 784 or value[-1] != 10:
        raise ValueError("grid %s: need positive sizes from 784 to 10, got %r" % (name, value))
    return value


def _choice(options):
    def check(name, value):
        if value not in options:
            raise ValueError("grid %s: expected one of %s, got %r" % (name, ", ".join(options), value))
        return value
    return check


def _flag(name, value):
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError("grid %s: expected true or false, got %r" % (name, value))
    return bool(value)


# name: (check(name, value) -> value, the chapters it applies to, what it is)
PARAMS = {
    "eta": (lambda n, v: _number(n, v, float, 0, False), "136", "learning rate"),
    "lmbda": (lambda n, v: _number(n, v, float, 0, True), "36", "L2 regularisation parameter"),
    "mini_batch_size": (lambda n, v: _number(n, v, int, 1, True), "136", "mini-batch size"),
    "epochs": (lambda n, v: _number(n, v, int, 0, True), "136", "epochs"),
    "n_train": (lambda n, v: _number(n, v, int, 1, True), "136", "train on the first N training images"),
    "sizes": (_sizes, "13", "layer sizes"),
    "p_dropout": (lambda n, v: _number(n, v, float, 0, True, 1), "36",
                  "dropout probability (network2's hidden units; chapter6:dropout's layers)"),
    "cost": (_choice(("quadratic", "cross-entropy")), "3", "cost"),
    "init": (_choice(("default", "large")), "3", "weight initialisation"),
    "dtype": (_choice(("float64", "float32")), "136", "precision"),
    "shuffle": (_flag, "6", "shuffle the training data each epoch"),
}


class Preset(object):
    """A network of the book and its settings: ``Preset.parse("chapter3:l2")``."""

    def __init__(self, chapter, name, settings):
        self.chapter, self.name, self.settings = chapter, name, settings
        self.label = "chapter%s" % chapter + (":" + name if name else "")

    def __repr__(self):
        return "Preset(%r)" % self.label

    @classmethod
    def parse(cls, text, run=None):
        """``chapter1``, ``chapter3[:run]`` or ``chapter6[:net]`` (``run`` names the run
        or net separately, as the command line's --run); ValueError for anything else."""
        if not isinstance(text, str):
            raise ValueError("net must be a preset name like 'chapter1', 'chapter3:l2' or 'chapter6:conv1', got %r"
                             % (text,))
        chapter, _, name = text.partition(":")
        name = name or run
        if chapter == "chapter1" and not name:
            s = dict(CH1_SETTINGS, n_train=None, dtype="float64", evaluate="test")
            return cls("1", None, s)
        if chapter == "chapter3":
            name = name or "cross-entropy"
            if name not in CH3_RUNS:
                raise ValueError("unknown preset %s:%s; chapter3's runs are %s" % (chapter, name, ", ".join(CH3_RUNS)))
            s = dict(CH3_DEFAULTS, dtype="float64", p_dropout=0.0)
            s.update(CH3_RUNS[name][1])
            return cls("3", name, s)
        if chapter == "chapter6":
            name = name or "conv1"
            if name not in CH6_NETS or name == "ensemble":
                raise ValueError("unknown preset %s:%s; chapter6's networks are %s (an ensemble trains with "
                                 "`nnfast chapter6 --net ensemble --workers N`)"
                                 % (chapter, name, ", ".join(k for k in CH6_NETS if k != "ensemble")))
            s = dict(CH6_DEFAULTS, dtype="float32", shuffle=False)
            s.pop("ensemble_size")
            s.update(CH6_NETS[name][2])
            if name == "dropout":
                s["p_dropout"] = 0.5
            return cls("6", name, s)
        raise ValueError("unknown preset %r; choose chapter1, chapter3:<run> (%s) or chapter6:<net> (%s)"
                         % (text, ", ".join(CH3_RUNS), ", ".join(k for k in CH6_NETS if k != "ensemble")))

    def params(self):
        """The settings a grid may vary for this preset."""
        return [k for k, (_, chapters, _) in PARAMS.items() if self.chapter in chapters
                and (k != "p_dropout" or self.chapter == "3" or "p_dropout" in self.settings)]

    def check(self, name, value):
        """``value`` for setting ``name``, checked and made plain (ValueError naming both)."""
        if name not in PARAMS:
            raise ValueError("unknown grid parameter %r; %s takes %s" % (name, self.label, ", ".join(self.params())))
        if name not in self.params():
            raise ValueError("grid parameter %r does not apply to %s; it takes %s"
                             % (name, self.label, ", ".join(self.params())))
        return PARAMS[name][0](name, value)


def _fraction(count, n):
    return None if count is None or not n else count / float(n)


def train_point(preset, settings, data):
    """Build ``preset``'s network with ``settings`` (the preset's, overridden) and train it
    on ``data`` = (training, validation, test) array pairs.  Returns
    ``(net, history, accuracy, best_accuracy, test_accuracy)``: the trained network, the
    History of the run, the final and best evaluation accuracy and (chapter 6) the book's
    test accuracy, as fractions.
    The book's lines are not printed.  Draws from ``np.random`` and ``random`` as the book."""
    from .history import History
    s = dict(preset.settings)
    s.update(settings)
    tr, va, te = data
    training = (tr[0][:s["n_train"]], tr[1][:s["n_train"]]) if s["n_train"] else tr
    history = History(settings={"preset": preset.label})
    dtype = np.dtype(s["dtype"])
    quiet = contextlib.redirect_stdout(io.StringIO())
    if preset.chapter == "1":
        from . import network
        net = network.Network(s["sizes"], dtype=dtype)
        with quiet:
            net.SGD(training, s["epochs"], s["mini_batch_size"], s["eta"], test_data=te, progress=False,
                    history=history)
        accuracies = [_fraction(c, len(te[1])) for c in history.column("evaluation_accuracy")[1]]
        test = None
    elif preset.chapter == "3":
        from . import network2
        evaluation = te if s["evaluate"] == "test" else va
        cost = network2.QuadraticCost if s["cost"] == "quadratic" else network2.CrossEntropyCost
        net = network2.Network(s["sizes"], cost=cost, dtype=dtype)
        if s["init"] == "large":
            net.large_weight_initializer()
        monitor = s["monitor"] if isinstance(s["monitor"], list) else s["monitor"].split(",")
        flags = {"monitor_" + m.replace("-", "_"): True for m in set(monitor) | {"evaluation-accuracy"}}
        with quiet:
            net.SGD(training, s["epochs"], s["mini_batch_size"], s["eta"], lmbda=s["lmbda"],
                    evaluation_data=evaluation, p_dropout=s["p_dropout"], progress=False, history=history, **flags)
        accuracies = [_fraction(c, len(evaluation[1])) for c in history.column("evaluation_accuracy")[1]]
        test = None
    else:
        from . import network3
        build = CH6_NETS[preset.name][1]
        mbs = s["mini_batch_size"]
        layers = build(mbs, s["p_dropout"]) if "p_dropout" in s else build(mbs)
        net = network3.Network(layers, mbs, dtype=dtype)
        if len(training[1]) < mbs:
            raise ValueError("n_train %d is less than one mini-batch of %d" % (len(training[1]), mbs))
        with quiet:
            result = net.SGD(training, s["epochs"], mbs, s["eta"], va, te, lmbda=s["lmbda"], shuffle=s["shuffle"],
                             progress=False, history=history)
        accuracies = history.column("validation_accuracy")[1]
        test = result[2]
    return (net, history, accuracies[-1] if accuracies else None, max(accuracies) if accuracies else None, test)
