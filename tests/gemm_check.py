"""Operands, the float64 reference check and a plain call of the compiled GEMM, shared by
the GEMM tests (tests/test_gemm.py, tests/test_gemm_small.py).

The tolerance is the classic dot-product error bound: the accumulated rounding of a
length-k sum is at most ~k*eps*(|A||B|), and ~sqrt(k)*eps in practice, so
|C - R| <= 4*sqrt(k)*eps*(|alpha||A||B| + |beta||C0|) element-wise. A wrong index, a lost
k-block or a stale tile breaks it by orders of magnitude.
"""
import numpy as np

from fastnn import _codes
from fastnn._kernels import compiled as _gemm

ISAS = ["generic", "avx2", "avx512"]
DTYPES = [np.float32, np.float64]
TRANS = [(False, False), (True, False), (False, True), (True, True)]
ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH = (_codes.BY_NAME[name].code for name in (
    "linear", "relu", "sigmoid", "tanh"))


def operands(rng, m, n, k, ta, tb, dtype):
    """Random A and B stored as op(A) (m x k) and op(B) (k x n) need."""
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def op(x, t):
    """x, or its transpose when t, in float64."""
    x = np.asarray(x, dtype=np.float64)
    return x.T if t else x


def check(out, a, b, ta, tb, alpha=1.0, beta=0.0, c0=None):
    """Asserts out == alpha*op(a)@op(b) + beta*c0 within the dot-product error bound."""
    A, B = op(a, ta), op(b, tb)
    ref = alpha * (A @ B)
    scale = abs(alpha) * (np.abs(A) @ np.abs(B))
    if beta != 0:
        ref = ref + beta * np.asarray(c0, np.float64)
        scale = scale + abs(beta) * np.abs(np.asarray(c0, np.float64))
    k = A.shape[1]
    eps = np.finfo(out.dtype).eps
    tol = 4 * np.sqrt(max(k, 1)) * eps * scale + np.finfo(out.dtype).tiny
    err = np.abs(out.astype(np.float64) - ref)
    assert np.all(np.isfinite(out))
    assert np.all(err <= tol), f"max err {err.max():.3g}, worst ratio {(err / tol).max():.3g}"


def run(a, b, ta, tb, dtype, alpha=1.0, beta=0.0, c0=None, n_threads=1):
    """The compiled alpha*op(a)@op(b) + beta*c0 into a new array (NaN-filled when no c0)."""
    m = (a.shape[1] if ta else a.shape[0])
    n = (b.shape[0] if tb else b.shape[1])
    out = np.full((m, n), np.nan, dtype) if c0 is None else c0.copy()
    res = _gemm.gemm(a, b, out, ta, tb, alpha, beta, n_threads)
    assert res is out
    return out


def bounded_product(a, b, ta, tb, dtype, n_threads):
    """The product into the front of a buffer whose tail must stay untouched."""
    m = a.shape[1] if ta else a.shape[0]
    n = b.shape[0] if tb else b.shape[1]
    buf = np.full(m * n + 32, -7.0, dtype)
    out = buf[:m * n].reshape(m, n)
    _gemm.gemm(a, b, out, ta, tb, 1.0, 0.0, n_threads)
    assert (buf[m * n:] == -7).all(), "written past the end of C"
    return out
