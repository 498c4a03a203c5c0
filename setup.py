"""Build nnfast's native core: C kernels in csrc/ behind Cython glue in src/nnfast/.

OpenMP is detected by compiling and linking a small probe with each candidate
flag set (gcc/clang ``-fopenmp``; Apple clang ``-Xpreprocessor -fopenmp -lomp``
with Homebrew's libomp).  When none works, or ``NNFAST_NO_OPENMP=1`` is set,
a serial build is made and the build log says so.  No ``-march=native``: the
kernels pick AVX2/FMA at run time where the CPU has it (see csrc/simd.h), so a
wheel runs on any x86-64 machine.  Set ``NNFAST_NATIVE=1`` to add
``-march=native`` for a local, non-portable build.

The dense kernels use GCC's vector extensions and function attributes (GCC,
Clang).  Where the compiler lacks them (MSVC, or a probe that fails to compile)
the portable plain-C version of the same kernels builds instead; set
``NNFAST_PORTABLE=1`` to force it (CI builds and tests it that way).
"""
import contextlib
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d %d\n", n, omp_get_max_threads());
    return n > 0 ? 0 : 1;
}
"""


def _openmp_candidates():
    if sys.platform == "darwin":
        cands = []
        for prefix in ("/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"):
            if os.path.isdir(prefix):
                cands.append((["-Xpreprocessor", "-fopenmp", "-I" + prefix + "/include"],
                              ["-L" + prefix + "/lib", "-lomp", "-Wl,-rpath," + prefix + "/lib"]))
        cands.append((["-fopenmp"], ["-fopenmp"]))
        return cands
    if sys.platform == "win32":
        return [(["/openmp"], [])]
    return [(["-fopenmp"], ["-fopenmp"])]


VECTOR_PROBE = r"""
typedef double v4 __attribute__((vector_size(32), aligned(8), may_alias));
static inline __attribute__((always_inline)) void twice_plus(v4 *a, double c) { *a = c * *a + *a; }
int main(void) { v4 a = {1, 2, 3, 4}; twice_plus(&a, 2.0); return (int)a[0] - 3; }
"""


def _env_flag(name):
    return os.environ.get(name, "") not in ("", "0")


@contextlib.contextmanager
def _probe_file(code):
    """A temporary folder holding probe.c with ``code``: yields (folder, path)."""
    tmp = tempfile.mkdtemp(prefix="nnfast-probe-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        yield tmp, src
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _portable(compiler):
    """Whether to build the plain-C kernels: forced, MSVC, or no GCC vector extensions."""
    why = ("NNFAST_PORTABLE is set" if _env_flag("NNFAST_PORTABLE") else
           "MSVC has no GCC vector extensions" if compiler.compiler_type == "msvc" else None)
    if why is None:
        with _probe_file(VECTOR_PROBE) as (tmp, src):
            try:
                compiler.compile([src], output_dir=tmp)
                return False
            except Exception:  # noqa: BLE001 - any failure means "no vector extensions"
                why = "the compiler lacks GCC's vector extensions"
    print("nnfast: %s: building the portable plain-C kernels" % why)
    return True


def _probe_openmp(compiler):
    """Return (compile_args, link_args) for a working OpenMP, or None."""
    if _env_flag("NNFAST_NO_OPENMP"):
        print("nnfast: NNFAST_NO_OPENMP is set: building the serial version")
        return None
    with _probe_file(PROBE) as (tmp, src):
        for cflags, ldflags in _openmp_candidates():
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                exe = os.path.join(tmp, "probe")
                compiler.link_executable(objs, exe, extra_postargs=ldflags)
                subprocess.run([exe], check=True, capture_output=True, timeout=60)
            except Exception:  # noqa: BLE001 - any failure means "this flag set does not work"
                continue
            print("nnfast: OpenMP found: compile %s, link %s" % (" ".join(cflags), " ".join(ldflags)))
            return cflags, ldflags
    print("nnfast: WARNING: no working OpenMP found: building the serial version "
          "(results are the same, training uses one core)")
    return None


class BuildExt(build_ext):
    def build_extensions(self):
        omp = _probe_openmp(self.compiler)
        portable = _portable(self.compiler)
        msvc = self.compiler.compiler_type == "msvc"
        # MSVC: /std:c11 for C99's _Pragma (csrc's OpenMP barrier macro); untested here, no MSVC on Linux
        base = ["/O2", "/std:c11"] if msvc else ["-O3", "-std=c99", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast",
                                          "-Wno-unused-function", "-Wno-psabi"]
        if _env_flag("NNFAST_NATIVE") and not msvc:
            base.append("-march=native")
        extra = os.environ.get("NNFAST_EXTRA_CFLAGS", "").split()
        for ext in self.extensions:
            ext.extra_compile_args = base + extra + (omp[0] if omp else [])
            ext.extra_link_args = (omp[1] if omp else []) + [a for a in extra if a.startswith("-fsanitize")]
            if omp:
                ext.define_macros.append(("NNFAST_OPENMP", "1"))
            if portable:
                ext.define_macros.append(("NNFAST_PORTABLE", "1"))
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    csrc = sorted(glob.glob(os.path.join("csrc", "*.c")))
    exts = []
    for pyx in sorted(glob.glob(os.path.join("src", "nnfast", "*.pyx"))):
        name = "nnfast." + os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            name,
            sources=[pyx] + csrc,
            depends=sorted(glob.glob(os.path.join("csrc", "*.h"))),
            include_dirs=["csrc", numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        ))
    return cythonize(exts, language_level=3, compiler_directives={
        "boundscheck": False, "wraparound": False, "cdivision": True,
        "initializedcheck": False, "embedsignature": True,
    })


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
