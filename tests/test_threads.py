"""Threads: the native loops choose their own count (csrc/threads.c), the default bound
honours OMP_NUM_THREADS, the affinity mask and a cgroup quota, and Ctrl-C stops any SGD.

No timings are asserted here (benchmarks/compare.py --sections busy measures them)."""
import contextlib
import io
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nnfast
from nnfast import _config, _core, _dense, _testing, network, network2, network3

from conftest import child_env

# child processes import the nnfast this test imports (installed, or an in-place build under src/)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_openmp = pytest.mark.skipif(not _core.openmp_enabled(), reason="serial build: one thread only")


# ---- the governor's rule ---------------------------------------------------------------------

def test_governor_drops_a_thread_when_waiting_costs_more_than_it_gains():
    """On 2 threads, waiting more than half the time means one thread would do the work sooner."""
    assert _testing.governor_trace(2, [(0.004, 40, 0.7)]) == [2, 1]
    assert _testing.governor_trace(4, [(0.004, 40, 0.6)]) == [4, 2]     # 4 -> 2 once f > 1 - 2/4
    assert _testing.governor_trace(4, [(0.004, 40, 0.6), (0.004, 40, 0.6)]) == [4, 2, 1]
    # the count it left is tried again a few segments later (NN_GOV_DROP_RETRY, 16 ms), not after
    # the trial period: a thread descheduled for a moment on an idle machine costs that little
    one = (0.004, 40, 0.0)
    assert _testing.governor_trace(2, [(0.004, 40, 0.7), one, 0.02, one]) == [2, 1, 1, 2]


def test_governor_keeps_its_threads_while_waiting_is_cheap():
    # a fresh governor tries the other count once, right after its first segment: no faster, so
    # back to two threads, which then stay
    assert _testing.governor_trace(2, [(0.004, 40, 0.2)] * 5) == [2, 1, 2, 2, 2, 2]
    assert _testing.governor_trace(1, [(0.004, 40, 0.9)] * 3) == [1] * 4


def test_governor_compares_the_counts_it_tried():
    """A fresh governor runs its second segment on the other count, and again one segment each
    time the trial period has passed; the faster per unit of work stays.  (A number in the list:
    seconds of the loop's own time passing, for the period to pass.)"""
    counts = _testing.governor_trace(2, [(0.004, 40, 0.1), (0.002, 40, 0.0), (0.002, 40, 0.0)])
    assert counts == [2, 1, 1, 1], counts     # one thread did it in half the time: kept
    counts = _testing.governor_trace(2, [(0.004, 40, 0.1), (0.008, 40, 0.0), (0.004, 40, 0.7)])
    # one thread was slower: back to two, and two stay despite their waiting (measured faster)
    assert counts == [2, 1, 2, 2], counts
    counts = _testing.governor_trace(2, [(0.004, 40, 0.1), (0.008, 40, 0.0), (0.004, 40, 0.1), 0.25,
                                      (0.004, 40, 0.1), (0.002, 40, 0.0)])
    # the next trial waits for the period (here 50 times what the first trial cost, 0.2 s);
    # then one thread is faster and stays
    assert counts == [2, 1, 2, 2, 1, 1], counts


def test_governor_below_all_threads_keeps_trying_more_soon():
    """Dropped to fewer threads (a load), the governor tries more again 50 times what a failed trial
    cost later (0.2 s here), every time: the period does not double there as it does on all the
    threads, so the threads come back soon after the load ends."""
    waits, slow_trial = (0.004, 40, 0.7), (0.008, 40, 0.2)
    one = (0.004, 40, 0.0)
    counts = _testing.governor_trace(2, [waits, 0.06, one, slow_trial, 0.22, one, slow_trial, 0.22, one])
    # dropped; a trial after the minimum period, back; a trial after 0.2 s, back; and again after 0.2 s
    assert counts == [2, 1, 2, 1, 2, 1, 2], counts
    # on all the threads a failed trial down doubles the period (0.2 s, then 0.4 s)
    counts = _testing.governor_trace(2, [(0.004, 40, 0.1), (0.008, 40, 0.0), (0.004, 40, 0.1), 0.22,
                                         (0.004, 40, 0.1), (0.008, 40, 0.0), 0.22, (0.004, 40, 0.1)])
    assert counts == [2, 1, 2, 2, 1, 2, 2], counts


def test_governor_keeps_a_faster_count_through_one_slow_segment():
    """Two threads measured faster than one stay through one segment in which a thread waited
    most of the time and the work ran three times slower (a descheduled thread on an idle machine);
    a second such segment in a row is a load that stays, and drops a thread."""
    noisy = (0.012, 40, 0.7)
    counts = _testing.governor_trace(2, [(0.004, 40, 0.1), (0.008, 40, 0.0), noisy, (0.004, 40, 0.1)])
    assert counts == [2, 1, 2, 2, 2], counts
    counts = _testing.governor_trace(2, [(0.004, 40, 0.1), (0.008, 40, 0.0), noisy, noisy])
    assert counts == [2, 1, 2, 2, 1], counts


@needs_openmp
def test_thread_report_tells_what_the_loops_settled_on():
    rng = np.random.default_rng(8)
    X, y = rng.random((300, 20)), rng.integers(0, 10, 300)
    np.random.seed(3)
    net = network.Network([20, 9, 10])
    with nnfast.num_threads(2), contextlib.redirect_stdout(io.StringIO()):
        net.SGD((X, y), 1, 10, 3.0, test_data=(X, y))
    report = _config.thread_report()
    assert set(report) == {"train", "evaluate"}
    for loop in ("train", "evaluate"):
        threads, trials, seconds, drops = report[loop]
        assert threads in (1, 2) and trials >= 0 and seconds >= 0 and drops >= 0


# ---- switching threads changes no number -----------------------------------------------------

@pytest.fixture
def cycling():
    """Every loop changes its thread count after every mini-batch or chunk."""
    _config.set_thread_mode(_core.CYCLE)
    try:
        yield
    finally:
        _config.set_thread_mode(_core.ADAPT)


def _one_thread_and_cycling(run):
    """run() on one thread, then with the count changing after every mini-batch or chunk."""
    out = []
    for mode in (_core.FIXED, _core.CYCLE):
        if mode == _core.FIXED:
            with nnfast.num_threads(1):
                out.append(run())
        else:
            _config.set_thread_mode(mode)
            out.append(run())
    return out


def _assert_same(a, b):
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


@needs_openmp
def test_network_switching_threads_mid_epoch_changes_no_number(cycling):
    rng = np.random.default_rng(3)
    X, y = rng.random((1003, 40)), rng.integers(0, 10, 1003)

    def run():
        np.random.seed(5)
        net = network.Network([40, 17, 10])
        random.seed(6)
        net.SGD((X, y), 2, 10, 3.0)
        return [np.array(a) for a in net.weights + net.biases] + [net.evaluate((X[:700], y[:700]))]
    _assert_same(*_one_thread_and_cycling(run))


@needs_openmp
def test_network2_momentum_dropout_and_monitoring_switching_threads(cycling):
    rng = np.random.default_rng(4)
    X, y = rng.random((600, 30)), rng.integers(0, 10, 600)

    def run():
        np.random.seed(1)
        random.seed(2)
        net = network2.Network([30, 20, 10], cost=network2.CrossEntropyCost)
        res = net.SGD((X, y), 2, 10, 0.5, lmbda=1.0, evaluation_data=(X[:300], y[:300]),
                      monitor_evaluation_accuracy=True, monitor_training_cost=True, mu=0.5, p_dropout=0.3)
        return [np.array(a) for a in net.weights + net.biases] + [np.array(r) for r in res]
    _assert_same(*_one_thread_and_cycling(run))


@needs_openmp
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [2, 3])
def test_network2_monitoring_over_many_chunks_same_bits_on_any_threads(dtype, threads):
    """All four monitor flags on data of several evaluation chunks (and a short last one):
    the same costs, accuracies and weights on 1 thread, on exactly ``threads`` and with the
    count changing after every chunk."""
    rng = np.random.default_rng(6)
    sizes = [100, 60, 10]
    rows = _dense.Evaluator.EVAL_ROWS
    X, y = rng.random((2 * rows + 77, 100)).astype(dtype), rng.integers(0, 10, 2 * rows + 77)
    Xe, ye = rng.random((rows + 5, 100)).astype(dtype), rng.integers(0, 10, rows + 5)

    def run():
        np.random.seed(1)
        random.seed(2)
        net = network2.Network(sizes, cost=network2.CrossEntropyCost, dtype=dtype)
        with contextlib.redirect_stdout(io.StringIO()):
            res = net.SGD((X, y), 2, 10, 0.5, lmbda=5.0, evaluation_data=(Xe, ye), monitor_evaluation_cost=True,
                          monitor_evaluation_accuracy=True, monitor_training_cost=True,
                          monitor_training_accuracy=True)
        return [np.array(a) for a in net.weights + net.biases] + [np.array(r) for r in res]
    runs = []
    for mode, n in ((_core.FIXED, 1), (_core.FIXED, threads), (_core.CYCLE, threads)):
        with nnfast.num_threads(n, adapt=False):
            _config.set_thread_mode(mode)
            runs.append(run())
    assert all(len(r) == 2 for r in runs[0][-4:])
    for other in runs[1:]:
        _assert_same(runs[0], other)


@needs_openmp
def test_network3_train_and_predict_switching_threads(cycling):
    rng = np.random.default_rng(5)
    x = rng.random((400, 64)).astype(np.float32)
    y = rng.integers(0, 10, 400)

    def run():
        np.random.seed(0)
        net = network3.Network([
            network3.ConvPoolLayer(image_shape=(10, 1, 8, 8), filter_shape=(4, 1, 3, 3), poolsize=(2, 2)),
            network3.FullyConnectedLayer(4 * 3 * 3, 20, p_dropout=0.2), network3.SoftmaxLayer(20, 10)], 10)
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD((x, y), 2, 10, 0.1, (x[:200], y[:200]), None)
        return [np.array(p) for p in net.params] + [net.predict(x[:397]), net.feedforward(x[:133])]
    _assert_same(*_one_thread_and_cycling(run))


# ---- the default thread count ----------------------------------------------------------------

def test_default_honours_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(_core, "omp_max_threads", lambda: 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert _config.default_threads() == 1
    # set, OMP_NUM_THREADS is the user's word even beyond the CPUs (as scikit-learn)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    monkeypatch.setattr(_core, "omp_max_threads", lambda: 8)
    assert _config.default_threads() == 8


def test_default_honours_the_affinity_mask(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_core, "omp_max_threads", lambda: 8)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(_config, "cgroup_cpus", lambda root="/sys/fs/cgroup": None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {2, 5, 6}, raising=False)
    assert _config.default_threads() == 3
    assert nnfast.get_num_threads() == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert _config.effective_threads() == (1 if _core.openmp_enabled() else 1)


def test_default_honours_a_cgroup_quota(monkeypatch, tmp_path):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_core, "omp_max_threads", lambda: 8)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    real = _config.cgroup_cpus
    monkeypatch.setattr(_config, "cgroup_cpus", lambda root=None: real(str(tmp_path)))
    assert _config.default_threads() == 8                       # no cgroup files: no quota
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _config.default_threads() == 8                       # v2, unlimited
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert _config.default_threads() == 2                       # v2: 1.5 CPUs -> 2 threads
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert _config.default_threads() == 1                       # half a CPU: still one thread
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert _config.default_threads() == 3                       # v1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert _config.default_threads() == 8                       # v1, unlimited


def test_explicit_count_is_kept(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    with nnfast.num_threads(3):
        assert nnfast.get_num_threads() == 3
    with nnfast.num_threads(3, adapt=False):
        assert nnfast.get_num_threads() == 3 and _config._local["adapt"] is False
    assert _config._local == {"num_threads": None, "adapt": True}
    with pytest.raises(TypeError, match="adapt"):
        nnfast.set_num_threads(2, adapt="no")


@needs_openmp
def test_exact_count_and_bound_give_the_same_numbers():
    rng = np.random.default_rng(7)
    X, y = rng.random((500, 20)), rng.integers(0, 10, 500)
    out = []
    for adapt in (False, True):
        np.random.seed(2)
        random.seed(2)
        net = network.Network([20, 9, 10])
        with nnfast.num_threads(2, adapt=adapt), contextlib.redirect_stdout(io.StringIO()):
            net.SGD((X, y), 2, 10, 3.0)
        out.append([np.array(a) for a in net.weights + net.biases])
    _assert_same(*out)


def test_omp_num_threads_in_a_fresh_process():
    code = "import nnfast; print(nnfast.get_num_threads())"
    env = child_env(OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_affinity_in_a_fresh_process():
    code = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); import nnfast; " \
           "print(nnfast.get_num_threads())"
    env = child_env(OMP_NUM_THREADS=None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1"]


# ---- how OpenMP's threads wait ---------------------------------------------------------------

def test_bounded_spin_unless_the_user_chose():
    env = {}
    assert _config.bounded_spin(env) == str(_config.SPINCOUNT) and env == {"GOMP_SPINCOUNT": str(_config.SPINCOUNT)}
    env = {"OMP_WAIT_POLICY": "active"}
    assert _config.bounded_spin(env) is None and "GOMP_SPINCOUNT" not in env
    env = {"GOMP_SPINCOUNT": "7"}
    assert _config.bounded_spin(env) == "7"


def test_bounded_spin_is_set_for_openmp_only():
    """libgomp starts with SPINCOUNT; the programs the process starts do not inherit it."""
    code = "import os, nnfast; print(nnfast.show_config(False)['gomp_spincount'], os.environ.get('GOMP_SPINCOUNT'))"
    env = child_env(GOMP_SPINCOUNT=None, OMP_WAIT_POLICY=None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(_config.SPINCOUNT), "None"]
    env["OMP_WAIT_POLICY"] = "passive"      # the user's choice stands
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["None", "None"]


# ---- Ctrl-C with a CPU-bound program beside ---------------------------------------------------

CHILD = os.path.join(REPO, "benchmarks", "sigint_child.py")


@pytest.mark.parametrize("kind", ["network", "network3"])
def test_ctrl_c_stops_sgd_beside_a_busy_program(kind):
    env = child_env()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        child = subprocess.Popen([sys.executable, CHILD, kind], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(1.0)                  # well inside the training
            assert child.poll() is None
            child.send_signal(signal.SIGINT)
            try:
                out, err = child.communicate(timeout=10)   # the benchmark holds it to 0.5 s
            except subprocess.TimeoutExpired:
                pytest.fail("SGD did not stop within 10 s of SIGINT")
            assert child.returncode == 0, err
            assert out.startswith("caught "), out      # KeyboardInterrupt, net.last_interrupted_at set
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    finally:
        busy.kill()
        busy.wait()
