"""What users install: the sdist holds everything README.md links to or names, with the
SPDX license; CI's own leftovers stay out of git.  (The wheel is built, repaired and
trained from a fresh virtual environment by tools/build_wheel.sh, which CI runs.)"""
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _git(*args):
    return subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True, timeout=60)


def _checkout_files():
    if shutil.which("git") is None or _git("rev-parse").returncode != 0:
        pytest.skip("not a git checkout: the sdist is built from the checkout's files")
    r = _git("ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return [f for f in r.stdout.split("\0") if f and os.path.isfile(os.path.join(ROOT, f))]


def _readme_paths():
    """Files of the checkout that README.md links to (](path)) or names (`path`)."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    names = re.findall(r"\]\(([^)\s#]+)\)", text) + re.findall(r"`([\w./-]+)`", text)
    return sorted({n for n in names if "://" not in n and os.path.isfile(os.path.join(ROOT, n))})


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    pytest.importorskip("Cython", reason="building the sdist runs setup.py, which needs Cython")
    import setuptools
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("setuptools %s: the SPDX license needs setuptools>=77" % setuptools.__version__)
    src = tmp_path_factory.mktemp("checkout")
    for f in _checkout_files():
        os.makedirs(os.path.join(src, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(src, f))
    r = subprocess.run([sys.executable, "-c", "from setuptools import build_meta as b; print(b.build_sdist('dist'))"],
                       cwd=str(src), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    with tarfile.open(os.path.join(src, "dist", r.stdout.strip().splitlines()[-1])) as tar:
        top = tar.getnames()[0].split("/")[0]
        names = {n[len(top) + 1:] for n in tar.getnames()}
        pkg_info = tar.extractfile(top + "/PKG-INFO").read().decode()
    return names, pkg_info


def test_sdist_holds_what_readme_links_to(sdist):
    names, _ = sdist
    wanted = _readme_paths()
    assert "docs/img/chapter1-accuracy.png" in wanted and "benchmarks/README.md" in wanted
    assert [p for p in wanted if p not in names] == []
    assert {"LICENSE", "tools/sanitize.sh", "tools/build_wheel.sh", "tools/smoke_train.py"} <= names
    assert not [n for n in names if n.endswith((".so", ".pyc")) or n.startswith("src/nnfast/_core.c")]


def test_sdist_license_is_spdx(sdist):
    _, pkg_info = sdist
    assert "License-Expression: MIT\n" in pkg_info and "License-File: LICENSE\n" in pkg_info
    assert "Requires-Dist: pooch" in pkg_info


def test_ci_venv_is_ignored():
    _checkout_files()
    assert _git("check-ignore", "-q", ".ci-venv/bin/python").returncode == 0
