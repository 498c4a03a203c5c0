"""Runtime configuration: version, show_config, thread count controls."""
import os
import subprocess
import sys

import pytest

import nnfast


def test_show_config_returns_and_prints(capsys):
    cfg = nnfast.show_config()
    for key in ("version", "openmp", "num_threads", "blas", "simd"):
        assert key in cfg
    assert cfg["version"] == nnfast.__version__
    assert isinstance(cfg["openmp"], bool) and cfg["num_threads"] >= 1
    assert cfg["simd"] in ("avx2+fma", "sse2", "neon", "generic")
    assert any(b["internal_api"] for b in cfg["blas"])
    out = capsys.readouterr().out
    assert "nnfast " + nnfast.__version__ in out and "threads" in out


def test_thread_count_controls():
    default = nnfast.get_num_threads()
    with nnfast.num_threads(3) as n:
        assert n == 3 and nnfast.get_num_threads() == 3
    assert nnfast.get_num_threads() == default
    nnfast.set_num_threads(1)
    try:
        assert nnfast.get_num_threads() == 1
    finally:
        nnfast.set_num_threads(None)
    assert nnfast.get_num_threads() == default
    for bad, exc in ((0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)):
        with pytest.raises(exc, match="n must"):
            nnfast.set_num_threads(bad)


def test_omp_num_threads_is_honoured():
    code = "import nnfast; print(nnfast.get_num_threads(), nnfast.show_config(False)['num_threads'])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "1"]
