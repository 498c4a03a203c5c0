#!/usr/bin/env bash
# Build nnfast with AddressSanitizer + UndefinedBehaviorSanitizer into a temporary copy
# of this tree and run the tests against that build.  Any ASan/UBSan report fails the run.
#
#   tools/sanitize.sh                       # the default test selection (below)
#   tools/sanitize.sh tests/test_fuzz.py    # any pytest arguments
#
# Python itself is not instrumented, so libasan must be loaded first (LD_PRELOAD) and
# leak detection is off: the interpreter's own allocations at exit are not ours
# (the usual recipe for C extensions under ASan).  -fno-sanitize-recover makes every
# UBSan finding fatal; halt_on_error makes the first ASan report end the run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/csrc" "$here/src" "$here/setup.py" "$here/pyproject.toml" "$here/README.md" "$here/tests" "$tmp"/
find "$tmp/src" -name '*.so' -delete
cd "$tmp"
export NNFAST_EXTRA_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
python3 setup.py -q build_ext --inplace >build.log 2>&1 || { cat build.log; exit 1; }
for so in src/nnfast/*.so; do   # make sure the build really is instrumented (grep -c reads all: no SIGPIPE)
    syms="$(nm -D "$so")"
    grep -c __asan_init <<<"$syms" >/dev/null || { echo "sanitize.sh: $so is not built with ASan" >&2; exit 1; }
    grep -c __ubsan_handle <<<"$syms" >/dev/null || { echo "sanitize.sh: $so is not built with UBSan" >&2; exit 1; }
done
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
if [ $# -eq 0 ]; then
    set -- tests/test_kernels_dense.py tests/test_kernels_conv.py tests/test_network.py tests/test_network2.py \
           tests/test_network3.py tests/test_fuzz.py tests/test_reliability.py tests/test_batch_sizes.py \
           tests/test_net3_fused.py tests/test_net3_fc_blocks.py tests/test_conv_lowering.py tests/test_kernels_sparse.py
fi
args=()
for a in "$@"; do [ -e "$a" ] || [[ "$a" == -* ]] || [[ "$a" == *::* ]] && args+=("$a"); done
set +e
PYTHONPATH=src python3 -m pytest -q -p no:cacheprovider "${args[@]}" 2>&1 | tee pytest.log
status=${PIPESTATUS[0]}
set -e
if grep -qE "ERROR: AddressSanitizer|runtime error:" pytest.log; then
    echo "sanitize.sh: sanitizer report found" >&2
    exit 1
fi
echo "sanitize.sh: pytest exit status $status, no sanitizer report"
exit "$status"
