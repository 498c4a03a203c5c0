#!/usr/bin/env bash
# Memcheck over a short training run of each network kind, on the in-place build when there
# is one (python3 setup.py build_ext --inplace), else on the installed nnfast.  Fails on any invalid read/write, use of
# uninitialised values, or a "definitely lost" block whose stack passes through nnfast.
#
#   tools/valgrind.sh
#
# PYTHONMALLOC=malloc makes Python use malloc directly, so memcheck sees every block;
# valgrind's python3.supp (where present) hides the interpreter's own known reports.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
log="${VALGRIND_LOG:-$(mktemp)}"
[ -n "${VALGRIND_LOG:-}" ] || trap 'rm -f "$log"' EXIT
supp=()
for f in /usr/lib/valgrind/python3.supp /usr/lib/x86_64-linux-gnu/valgrind/python3.supp; do
    [ -f "$f" ] && supp+=("--suppressions=$f") && break
done
# the interpreter itself, not a launcher script (pyenv's shims are bash)
py="$(python3 -c 'import sys; print(sys.executable)')"
export PYTHONMALLOC=malloc OMP_NUM_THREADS=2
if ls "$here"/src/nnfast/_core*.so >/dev/null 2>&1; then export PYTHONPATH="$here/src"; fi
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=none \
    --track-origins=yes --num-callers=30 "${supp[@]}" --log-file="$log" \
    "$py" - <<'PY'
import contextlib, io, random
import numpy as np
from nnfast import network, network2, network3
rng = np.random.default_rng(0)
X, y = rng.random((300, 64)), rng.integers(0, 10, 300)
with contextlib.redirect_stdout(io.StringIO()):
    np.random.seed(0); random.seed(0)
    net = network.Network([64, 20, 10])
    net.SGD((X, y), 2, 10, 3.0, test_data=(X[:50], y[:50]))
    eye = np.eye(10)
    net.SGD([(X[i].reshape(-1, 1), eye[y[i]].reshape(-1, 1)) for i in range(100)], 1, 7, 3.0)
    net.SGD((X, y), 1, 40, 3.0)                                   # a larger mini-batch, a short last one
    for dtype in (np.float64, np.float32):
        for act, cost in (("sigmoid", network2.CrossEntropyCost), ("relu", network2.LogLikelihoodCost),
                          ("tanh", network2.QuadraticCost)):
            n2 = network2.Network([64, 20, 15, 10], cost=cost, activation=act, dtype=dtype)
            n2.SGD((X, y), 2, 10, 0.1, lmbda=1.0, evaluation_data=(X[:50], y[:50]), mu=0.5, p_dropout=0.2,
                   regularization="L1", monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                   monitor_training_cost=True, monitor_training_accuracy=True)
            n2.accuracy((X, y)); n2.total_cost((X, y), 0.5)
            n2.SGD((X, y), 1, 300, 0.1, lmbda=1.0, mu=0.5, p_dropout=0.2)   # BLAS products in chunks of rows
    x3 = X.astype(np.float32)
    n3 = network3.Network([network3.ConvPoolLayer((4, 1, 3, 3), (10, 1, 8, 8), (2, 2), network3.ReLU),
                           network3.FullyConnectedLayer(4 * 3 * 3, 20, p_dropout=0.3),
                           network3.SoftmaxLayer(20, 10, p_dropout=0.2)], 10)
    n3.SGD((x3, y), 2, 10, 0.1, (x3[:50], y[:50]), (x3[:50], y[:50]), lmbda=0.1)
    n3.predict(x3[:23]); n3.feedforward(x3[:5]); n3.accuracy(x3, y)
print("valgrind run: trained network, network2 (3 activations x 2 dtypes), network3 conv")
PY
# Sort memcheck's reports: those with a frame in nnfast's code (the extension modules or
# csrc/) are ours and fail the run; the rest come from the interpreter and numpy (a Python
# built without valgrind support reports its own small-int and allocator tricks).
"$py" - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
pid = re.search(r"==(\d+)==", text).group(1)
blocks = re.split(r"==%s== \n" % pid, text)
ours_re = re.compile(r"(_core|_testing)\.cpython|csrc/|/nnfast/")
kinds = ("Invalid read", "Invalid write", "Conditional jump", "Use of uninitialised", "Syscall param",
         "Invalid free", "Mismatched free", "Source and destination overlap")
errors = [b for b in blocks if any(k in b.split("\n", 1)[0] for k in kinds)]
leaks = [b for b in blocks if "definitely lost in loss record" in b]
ours = [b for b in errors if ours_re.search(b)]
our_leaks = [b for b in leaks if ours_re.search(b)]
summary = re.findall(r"ERROR SUMMARY: .*", text)
lost = re.findall(r"definitely lost: .*", text)
print("memcheck: %s" % (summary[-1] if summary else "no summary"))
print("memcheck: %s" % (lost[-1] if lost else "definitely lost: none"))
print("memcheck: error contexts with a frame in nnfast: %d (of %d); definite leaks in nnfast: %d (of %d)"
      % (len(ours), len(errors), len(our_leaks), len(leaks)))
for b in (ours + our_leaks)[:10]:
    print(b)
if not summary:
    print("valgrind.sh: valgrind did not run"); sys.exit(1)
if ours or our_leaks:
    sys.exit(1)
print("valgrind.sh: no invalid access, uninitialised use or definite leak in nnfast")
PY
