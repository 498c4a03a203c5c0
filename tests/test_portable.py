"""The portable plain-C kernels (NNFAST_PORTABLE=1, or a compiler without GCC's vector
extensions) against the default build: the same training gives the same weights.

Two builds cannot share a process, so the other build trains in a child process:
NNFAST_COMPARE_BUILD names a folder to import it from (CI's portable step points it at
the installed default build).  Both run the baseline instruction set (NNFAST_SIMD),
whose order of operations the portable vectors keep, so the answers agree exactly."""
import os
import subprocess
import sys

import numpy as np
import pytest

TRAIN = r"""
import io, contextlib, random, sys
import numpy as np
from nnfast import network, network2, _core
rng = np.random.default_rng(1)
X, y = rng.random((257, 43)), rng.integers(0, 10, 257)
data = [(X[i].reshape(-1, 1), np.eye(10)[y[i]].reshape(-1, 1)) for i in range(len(X))]
out = {"path": np.array(_core.dense_path())}
with contextlib.redirect_stdout(io.StringIO()):
    for dtype in (np.float64, np.float32):
        np.random.seed(2); a = network.Network([43, 21, 10], dtype=dtype)
        random.seed(3); a.SGD(list(data), 2, 7, 3.0)
        for mu in (0.0, 0.5):
            np.random.seed(2); b = network2.Network([43, 17, 10], dtype=dtype)
            random.seed(3); b.SGD(list(data), 2, 9, 0.5, lmbda=0.1, mu=mu)
            for name, net in (("network", a), ("network2-mu%g" % mu, b)):
                for i, p in enumerate(net.weights + net.biases):
                    out["%s-%s-%d" % (name, np.dtype(dtype).name, i)] = np.asarray(p)
np.savez(sys.argv[1], **out)
"""


def _train(tmp_path, tag, pythonpath):
    out = str(tmp_path / (tag + ".npz"))
    env = dict(os.environ, NNFAST_SIMD="baseline", PYTHONPATH=pythonpath)
    r = subprocess.run([sys.executable, "-c", TRAIN, out], env=env, cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return dict(np.load(out))


@pytest.mark.skipif(not os.environ.get("NNFAST_COMPARE_BUILD"),
                    reason="NNFAST_COMPARE_BUILD (a folder holding another build of nnfast) is not set")
def test_portable_build_matches_the_default_build(tmp_path):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__import__("nnfast").__file__)))
    mine = _train(tmp_path, "mine", here)
    other = _train(tmp_path, "other", os.environ["NNFAST_COMPARE_BUILD"])
    paths = {str(mine.pop("path")), str(other.pop("path"))}
    assert paths == {"portable", "baseline"}, "need one portable and one default build, got %s" % paths
    assert sorted(mine) == sorted(other) and len(mine) == 24
    for k in mine:
        np.testing.assert_array_equal(mine[k], other[k], err_msg=k)
