"""Memory (issue 7): training on the 60,000-image set needs the data plus a small
constant: resident memory does not grow from epoch 2 to epoch 5, and the peak
during SGD stays far below the size of one more copy of the data (180 MB here).
Memory assertions, not timing ones.  Linux only (/proc/self/status)."""
import importlib.util
import os

import pytest

import nnfast

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("nnfast_bench_memory",
                                              os.path.join(HERE, os.pardir, "benchmarks", "memory.py"))
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)

GROWTH_MB = 2.0      # RSS change from epoch 2 to epoch 5
PEAK_MB = 32.0       # peak during SGD above the RSS before it (one-hot targets, orders, workspace)


@pytest.fixture(scope="module")
def fashion_train(fashion_dir):
    from nnfast import mnist_loader
    return mnist_loader.load_idx(fashion_dir, "train")


@pytest.mark.parametrize("which", [0, 1, 2], ids=["network", "network2", "network3"])
def test_training_memory_is_data_plus_a_constant(fashion_train, which):
    X, y = fashion_train
    assert len(X) == 60000
    name, train = memory.runs(X, y, 5)[which]
    try:
        memory.reset_peak()
    except OSError:
        pytest.skip("/proc/self/clear_refs is not writable here")
    with nnfast.num_threads(1):
        before, rss, peak = memory.measure(train)
    assert len(rss) == 5, rss
    assert abs(rss[4] - rss[1]) <= GROWTH_MB, (name, rss)
    assert peak - before <= PEAK_MB, (name, before, peak, X.nbytes / memory.MB)
