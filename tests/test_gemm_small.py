"""Small products, which the compiled GEMM computes without packing (src_c/gemm_driver.h,
small_run): the layers of a tiny network (8 -> 16 -> 1), a batch against a Dense(1)
output, and every path small_run takes — the row kernel (A read in place, transposed or
not), the dot products of a C with one or two columns, and C^T for a transposed A — in
every transpose case, with the fused epilogues, against a float64 reference
(tests/gemm_check.py).
"""
import numpy as np
import pytest

from fastnn._kernels import compiled as _gemm
from gemm_check import (ACT_LINEAR, ACT_RELU, ACT_SIGMOID, DTYPES, TRANS, bounded_product,
                        check, operands)

# (m, n, k): a tiny network's five products (batch 32: forward 8 -> 16 and 16 -> 1, the two
# weight gradients and the input gradient of the second layer), rows of one or two vectors
# with k from 1 to 784, a few columns (the dot products), prime sizes, the limit itself
SMALL_SHAPES = [(32, 16, 8), (32, 1, 16), (16, 1, 32), (32, 16, 1), (8, 16, 32),
                (13, 7, 5), (37, 16, 40), (10, 40, 30), (31, 17, 23), (64, 9, 100),
                (32, 1, 784), (100, 2, 300), (64, 1, 33), (250, 3, 19), (3, 1, 2),
                (5, 16, 250), (20, 20, 50)]



@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", TRANS)
def test_small_products(kernel_isa, dtype, ta, tb):
    """Right in every layout, nothing written past C, the same bits on 1 and 2 threads."""
    rng = np.random.default_rng(21)
    for m, n, k in SMALL_SHAPES:
        a, b = operands(rng, m, n, k, ta, tb, dtype)
        one = bounded_product(a, b, ta, tb, dtype, 1)
        check(one, a, b, ta, tb)
        two = bounded_product(a, b, ta, tb, dtype, 2)
        assert one.tobytes() == two.tobytes(), (m, n, k, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", TRANS)
def test_small_products_have_the_bits_of_packed_ones(kernel_isa, dtype, ta, tb):
    """The unpacked path changes the speed, never the bits: each small product equals,
    bit for bit, the first columns of the same product widened past 3e5 multiply-adds
    (where it is packed), so a layer's output does not depend on which path ran."""
    rng = np.random.default_rng(24)
    for m, n, k in SMALL_SHAPES:
        a, b = operands(rng, m, n, k, ta, tb, dtype)
        extra = -(-300_000 // (m * k))
        more = rng.standard_normal((extra, k) if tb else (k, extra)).astype(dtype)
        wide = bounded_product(a, np.vstack([b, more]) if tb else np.hstack([b, more]),
                               ta, tb, dtype, 1)
        small = bounded_product(a, b, ta, tb, dtype, 1)
        assert small.tobytes() == np.ascontiguousarray(wide[:, :n]).tobytes(), (m, n, k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_products_of_strided_operands(kernel_isa, dtype):
    """Operands that are column slices of wider arrays (rows further apart than their
    length): a one-column B that is not contiguous, a transposed B whose copy must follow
    its rows, a transposed A read in place."""
    rng = np.random.default_rng(22)
    for m, n, k in [(32, 1, 16), (64, 2, 33), (32, 16, 8), (16, 1, 32), (7, 5, 300)]:
        for ta, tb in TRANS:
            a_full, b_full = operands(rng, m + 3, n + 3, k + 5, ta, tb, dtype)
            a = a_full[:k, :m] if ta else a_full[:m, :k]
            b = b_full[:n, :k] if tb else b_full[:k, :n]
            check(bounded_product(a, b, ta, tb, dtype, 1), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_dense_layers(kernel_isa, dtype):
    """A tiny network's forward (bias + relu in the row kernel's stores, bias + sigmoid
    after a Dense(1)'s dot products) and backward (relu' of the saved pre-activations)."""
    rng = np.random.default_rng(23)
    eps = np.finfo(dtype).eps
    for m, k, n in [(32, 8, 16), (32, 16, 1), (13, 5, 7), (100, 300, 2), (32, 784, 1)]:
        x = rng.standard_normal((m, k)).astype(dtype)
        w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(dtype)
        bias = rng.standard_normal(n).astype(dtype)
        z = x.astype(np.float64) @ w + bias
        tol = 4 * np.sqrt(k) * eps * (np.abs(x) @ np.abs(w) + np.abs(bias)) + 1e-30
        for act, f in [(ACT_LINEAR, lambda t: t), (ACT_RELU, lambda t: np.maximum(t, 0)),
                       (ACT_SIGMOID, lambda t: 1 / (1 + np.exp(-t)))]:
            out = np.full((m, n), np.nan, dtype)
            _gemm.dense_forward(x, w, bias, act, 0.0, out, 1)
            ref = f(z)
            assert np.all(np.abs(out - ref) <= tol + 8 * eps * np.abs(ref)), (m, k, n, act)
        # backward: dx = (dz @ w.T) * relu'(saved), w (n_in, n_out) = (k, n), dz (m, n)
        dz = rng.standard_normal((m, n)).astype(dtype)
        saved = rng.standard_normal((m, k)).astype(dtype)
        g = dz.astype(np.float64) @ w.T.astype(np.float64)
        gtol = 4 * np.sqrt(n) * eps * (np.abs(dz) @ np.abs(w).T) + 1e-30
        out = np.full((m, k), np.nan, dtype)
        _gemm.dense_backward_input(dz, w, saved, ACT_RELU, 0.0, out, 1)
        assert np.all(np.abs(out - g * (saved > 0)) <= gtol), (m, k, n)
