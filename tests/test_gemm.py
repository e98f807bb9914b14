"""The compiled GEMM (fastnn._kernels.gemm) against a float64 NumPy reference
(tests/gemm_check.py has the tolerance).

Every test runs on every instruction set this CPU can execute (the others are skipped),
in float32 and float64.
"""
import numpy as np
import pytest

from conftest import needs_openmp
from fastnn import _codes
from fastnn._kernels import compiled as _gemm
from gemm_check import (ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH, DTYPES, ISAS, TRANS,
                        bounded_product, check, op, operands, run)


SHAPES = [(1, 1, 1), (2, 3, 5), (7, 13, 11), (17, 1, 29), (1, 31, 37), (41, 43, 1),
          (64, 64, 64), (97, 89, 83), (128, 127, 129), (211, 199, 223), (300, 257, 293),
          (32, 128, 300), (255, 16, 40)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", TRANS)
def test_shapes(kernel_isa, dtype, ta, tb):
    rng = np.random.default_rng(1)
    for m, n, k in SHAPES:
        a, b = operands(rng, m, n, k, ta, tb, dtype)
        check(run(a, b, ta, tb, dtype), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_shapes(kernel_isa, dtype):
    rng = np.random.default_rng(2)
    for _ in range(24):
        m, n, k = rng.integers(1, 301, size=3)
        ta, tb = bool(rng.integers(2)), bool(rng.integers(2))
        a, b = operands(rng, m, n, k, ta, tb, dtype)
        check(run(a, b, ta, tb, dtype), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_register_tile_edges(kernel_isa, dtype):
    info = _gemm.kernel_info()["float32" if dtype == np.float32 else "float64"]
    mr, nr = info["MR"], info["NR"]
    rng = np.random.default_rng(3)
    for m in (mr - 1, mr, mr + 1, 2 * mr + 1):
        for n in (nr - 1, nr, nr + 1, 3 * nr - 1):
            for k in (1, 2, 17):
                for ta, tb in TRANS:
                    a, b = operands(rng, m, n, k, ta, tb, dtype)
                    check(run(a, b, ta, tb, dtype), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_tile_widths_same_bits(kernel_isa, dtype):
    """A product's last register tile, of every width from 1 to NR columns (the AVX-512
    kernels run fewer vectors of B for a narrow one), has the bits of the same columns
    computed inside full tiles: B read in place and packed, A in place and packed, alpha
    and beta, the fused bias + relu."""
    info = _gemm.kernel_info()["float32" if dtype == np.float32 else "float64"]
    nr = info["NR"]
    rng = np.random.default_rng(16)
    for m, k, ta in [(41, 77, False), (300, 130, False), (300, 130, True)]:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = rng.standard_normal((k, 3 * nr)).astype(dtype)
        c0 = rng.standard_normal((m, 3 * nr)).astype(dtype)
        bias = rng.standard_normal(3 * nr).astype(dtype)
        full = run(a, b, ta, False, dtype, 0.5, 1.0, c0)
        x = np.ascontiguousarray(a.T) if ta else a    # dense_forward's x is row-major
        fused = _gemm.dense_forward(x, b, bias, ACT_RELU, 0.0, np.empty((m, 3 * nr), dtype), 1)
        for r in range(1, nr + 1):
            n = 2 * nr + r
            bn = np.ascontiguousarray(b[:, :n])
            part = run(a, bn, ta, False, dtype, 0.5, 1.0, np.ascontiguousarray(c0[:, :n]))
            assert part.tobytes() == np.ascontiguousarray(full[:, :n]).tobytes(), (m, r)
            got = _gemm.dense_forward(x, bn, bias[:n].copy(), ACT_RELU, 0.0,
                                      np.empty((m, n), dtype), 1)
            assert got.tobytes() == np.ascontiguousarray(fused[:, :n]).tobytes(), (m, r)


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_rows(kernel_isa, dtype):
    """One or two rows of a plain A B (a single-sample predict) take the row kernels:
    every column-block width they branch on, k from 1 to 784, and nothing written past
    the end of C (its last block is masked)."""
    rng = np.random.default_rng(11)
    for m in (1, 2):
        for n in (1, 7, 8, 9, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129, 200, 257):
            for k in (1, 5, 784):
                a, b = operands(rng, m, n, k, False, False, dtype)
                out = bounded_product(a, b, False, False, dtype, 1)
                check(out, a, b, False, False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_b_in_place_edges(kernel_isa, dtype):
    """Row counts around the limits up to which B is read in place (small_m, narrow_m),
    B's rows just under and over the 2 KiB spacing that narrow_m needs (B a column slice of
    a wider array), partial register tiles: right, and the same bits on 1 and 2 threads."""
    info = _gemm.kernel_info()["float32" if dtype == np.float32 else "float64"]
    rng = np.random.default_rng(13)
    limit = 2048 // np.dtype(dtype).itemsize          # B's row spacing, in elements
    for m in sorted({info["small_m"], info["small_m"] + 1, info["narrow_m"],
                     info["narrow_m"] + 1}):
        for ld in (limit, limit + 16):
            n, k = info["NR"] * 3 + 5, 300
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, ld)).astype(dtype)[:, :n]
            one = run(a, b, False, False, dtype, n_threads=1)
            check(one, a, b, False, False)
            two = run(a, b, False, False, dtype, n_threads=2)
            assert one.tobytes() == two.tobytes(), (m, ld)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cache_block_edges(kernel_isa, dtype):
    """Sizes around the MC / KC / NC blocks (k-blocks are re-balanced, so two of them)."""
    info = _gemm.kernel_info()["float32" if dtype == np.float32 else "float64"]
    rng = np.random.default_rng(4)
    m, n, k = info["MC"] + 3, info["NC"] + info["NR"] + 1, 2 * info["KC"] + 1
    for ta, tb in [(False, False), (True, True)]:
        a, b = operands(rng, m, n, k, ta, tb, dtype)
        check(run(a, b, ta, tb, dtype), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 2.0),
                                        (1.0, -1.0), (0.0, 3.0)])
def test_alpha_beta(kernel_isa, dtype, alpha, beta):
    rng = np.random.default_rng(5)
    for (m, n, k), (ta, tb) in zip([(33, 70, 500), (5, 9, 3), (130, 40, 900), (64, 96, 64)],
                                   TRANS):
        a, b = operands(rng, m, n, k, ta, tb, dtype)
        c0 = rng.standard_normal((m, n)).astype(dtype)
        if beta == 0:
            c0[:] = np.nan  # beta == 0 must not read C
        out = run(a, b, ta, tb, dtype, alpha, beta, c0)
        check(out, a, b, ta, tb, alpha, beta, np.nan_to_num(c0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_sizes(kernel_isa, dtype):
    rng = np.random.default_rng(6)
    for m, n in [(0, 5), (4, 0), (0, 0)]:
        # an empty C at the front of a buffer: returned, nothing written past it, and A and
        # B (NaN: any read would show in a product) untouched
        buf = np.full(16, -7.0, dtype)
        out = buf[:0].reshape(m, n)
        a, b = np.full((m, 3), np.nan, dtype), np.full((3, n), np.nan, dtype)
        assert _gemm.gemm(a, b, out, False, False, 1.0, 0.0, 2) is out
        assert (buf == -7).all() and np.isnan(a).all() and np.isnan(b).all()
    # k == 0: C := beta * C, and beta == 0 clears NaN
    c0 = rng.standard_normal((4, 6)).astype(dtype)
    out = c0.copy()
    _gemm.gemm(np.zeros((4, 0), dtype), np.zeros((0, 6), dtype), out, False, False, 1.0,
               0.5, 1)
    np.testing.assert_array_equal(out, (0.5 * c0).astype(dtype))
    out[:] = np.nan
    _gemm.gemm(np.zeros((4, 0), dtype), np.zeros((0, 6), dtype), out, False, False, 1.0,
               0.0, 1)
    np.testing.assert_array_equal(out, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs(kernel_isa, dtype):
    rng = np.random.default_rng(7)
    big_a = rng.standard_normal((90, 140)).astype(dtype)
    big_b = rng.standard_normal((140, 110)).astype(dtype)
    cases = [
        (np.asfortranarray(big_a[:50, :70]), np.asfortranarray(big_b[:70, :60])),
        (big_a[:50, :70], big_b[:70, :60]),             # row-strided slices
        (big_a[::2, ::2], big_b[::2, ::2]),             # no unit stride: copied
        (big_a[::-1, :70], big_b[:70, ::-1]),           # negative strides: copied
        (big_a[:1, :70], big_b[:70, :1]),               # a row and a column
        (big_a[:60, 5:6], big_b[7:8, :60]),             # k == 1 slices
    ]
    for a, b in cases:
        for ta, tb in TRANS:
            at, bt = (a.T if ta else a), (b.T if tb else b)
            check(run(at, bt, ta, tb, dtype), at, bt, ta, tb)


def test_large_by_projection(kernel_isa):
    """1500 x 1200 x 1100, every transpose case, checked on random projections."""
    rng = np.random.default_rng(8)
    m, n, k = 1500, 1200, 1100
    v = rng.standard_normal(n)
    for ta, tb in TRANS:
        a, b = operands(rng, m, n, k, ta, tb, np.float32)
        out = run(a, b, ta, tb, np.float32, n_threads=2)
        A, B = op(a, ta), op(b, tb)
        ref = A @ (B @ v)
        # each C_ij is within 4 sqrt(k) eps (|A||B|)_ij (gemm_check), so (C v)_i within
        # the sum of those times |v_j|; the float64 products add (k + n) eps64 of the same
        bound = ((4 * np.sqrt(k) * np.finfo(np.float32).eps + (k + n) * np.finfo(float).eps)
                 * (np.abs(A) @ (np.abs(B) @ np.abs(v))))
        assert np.all(np.abs(out.astype(np.float64) @ v - ref) <= bound), (ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
def test_long_k_from_memory(kernel_isa, dtype, ta):
    """An A of several MiB in many k-blocks: the driver prefetches each next block's
    source while it computes (as for x^T dZ over a whole dataset); the result is the
    blocked product's, at any thread count."""
    rng = np.random.default_rng(12)
    m, n, k = 200, 40, 6000 if dtype == np.float64 else 12000
    a, b = operands(rng, m, n, k, ta, False, dtype)
    one = run(a, b, ta, False, dtype, n_threads=1)
    check(one, a, b, ta, False)
    assert run(a, b, ta, False, dtype, n_threads=2).tobytes() == one.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
def test_tall_a_from_memory(kernel_isa, dtype, ta):
    """A tall A of several MiB against a small B (a forward pass over a dataset): the
    driver cuts A into blocks that its prefetch can cover; the sums are those of the
    product cut into small slices, each of which keeps the table's blocking."""
    rng = np.random.default_rng(13)
    m, n, k = (6000 if dtype == np.float32 else 3000), 40, 200
    a, b = operands(rng, m, n, k, ta, False, dtype)
    one = run(a, b, ta, False, dtype, n_threads=1)
    check(one, a, b, ta, False)
    assert run(a, b, ta, False, dtype, n_threads=2).tobytes() == one.tobytes()
    for r0 in range(0, m, 500):   # 500 x 200: far below the size taken to be in memory
        part = a[:, r0:r0 + 500] if ta else a[r0:r0 + 500]
        assert run(np.ascontiguousarray(part), b, ta, False, dtype,
                   n_threads=1).tobytes() == one[r0:r0 + 500].tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
def test_a_in_place_same_bits(kernel_isa, dtype, ta):
    """Against one column block of B (n <= NC) A is read in place where the ISA has the
    kernels for it; against several, or (row-major A) when its rows crowd into one L1
    set (rows 4 KiB apart), A~ is packed. Every path gives the same bits, partial row
    panels, alpha and beta included."""
    info = _gemm.kernel_info()["float32" if dtype == np.float32 else "float64"]
    rng = np.random.default_rng(14)
    wide = 4096 // np.dtype(dtype).itemsize
    for m, n, k in [(60, 128, 200), (37, 100, 250), (25, 33, 129), (1000, 64, 240)]:
        a, b = operands(rng, m, n, k, ta, False, dtype)
        b_wide = rng.standard_normal((k, info["NC"] + 50)).astype(dtype)
        b_wide[:, :n] = b
        c0 = rng.standard_normal((m, n)).astype(dtype)
        c0_wide = np.zeros((m, b_wide.shape[1]), dtype)
        c0_wide[:, :n] = c0
        for alpha, beta in ((1.0, 0.0), (0.5, 1.0)):
            direct = run(a, b, ta, False, dtype, alpha, beta, c0)
            check(direct, a, b, ta, False, alpha, beta, c0)
            blocks = run(a, b_wide, ta, False, dtype, alpha, beta, c0_wide)[:, :n]
            assert blocks.tobytes() == direct.tobytes(), (m, n, k, alpha, beta)
            if not ta:
                crowded = np.zeros((m, wide), dtype)[:, :k]
                crowded[...] = a
                packed = run(crowded, b, ta, False, dtype, alpha, beta, c0)
                assert packed.tobytes() == direct.tobytes(), (m, n, k, alpha, beta)
            two = run(a, b, ta, False, dtype, alpha, beta, c0, n_threads=2)
            assert two.tobytes() == direct.tobytes(), (m, n, k, alpha, beta)


@pytest.mark.parametrize("dtype", DTYPES)
def test_short_k_transposed_a_in_place_same_bits(kernel_isa, dtype):
    """x^T.dZ with a short k (at most 128): A, stored transposed, is read in place against
    several column blocks of B too where its rows spread over L1's sets, and B is read in
    place alongside it for up to twice narrow_m rows. Those paths give the bits of the
    packed ones (A's rows 4096 elements apart, all in one L1 set; B's rows past 2 KiB),
    right, with alpha and beta, on 1 and 2 threads."""
    info = _gemm.kernel_info()["float32" if dtype == np.float32 else "float64"]
    rng = np.random.default_rng(15)
    nc, nr, narrow = info["NC"], info["NR"], info["narrow_m"]
    near = 2048 // np.dtype(dtype).itemsize             # B's rows at most 2 KiB apart
    far = near + 16
    for m, k, n in [(2 * narrow - 5, 128, min(nc + nr + 3, near)),
                    (narrow + 7, 64, 2 * nc + 1), (37, 1, nc + 5)]:
        x = rng.standard_normal((k, m)).astype(dtype)      # A = x^T, k rows of m
        b = rng.standard_normal((k, n)).astype(dtype)
        crowded = np.zeros((k, 4096), dtype)[:, :m]
        crowded[...] = x
        b_far = np.zeros((k, n + far), dtype)[:, :n]
        b_far[...] = b
        c0 = rng.standard_normal((m, n)).astype(dtype)
        for alpha, beta in ((1.0, 0.0), (0.5, 1.0)):
            direct = run(x, b, True, False, dtype, alpha, beta, c0)
            check(direct, x, b, True, False, alpha, beta, c0)
            for a_, b_ in ((crowded, b), (x, b_far), (crowded, b_far)):
                packed = run(a_, b_, True, False, dtype, alpha, beta, c0)
                assert packed.tobytes() == direct.tobytes(), (m, k, n, alpha, beta)
            two = run(x, b, True, False, dtype, alpha, beta, c0, n_threads=2)
            assert two.tobytes() == direct.tobytes(), (m, k, n, alpha, beta)


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_rows_against_transposed_b_same_bits(kernel_isa, dtype):
    """dZ . W^T with few rows of dZ may be computed as (W dZ^T)^T, W's rows read in place
    (where the ISA has the kernels for it): the same bits as the first rows of a product
    tall enough to be computed directly, and as with W's rows 4 KiB apart (packed), on 1
    and 2 threads, with the backward epilogue, nothing written past the end of C."""
    rng = np.random.default_rng(15)
    unit = 4096 // np.dtype(dtype).itemsize
    for m, n, k in [(32, 784, 128), (64, 3000, 128), (13, 500, 100), (37, 257, 129),
                    (96, 784, 128), (20, 130, 784)]:
        dz, w = operands(rng, m, n, k, False, True, dtype)
        tall = np.vstack([dz, rng.standard_normal((512 - m, k)).astype(dtype)])
        direct = run(tall, w, False, True, dtype)[:m]
        crowded = np.zeros((n, -(-k // unit) * unit), dtype)[:, :k]  # rows 4 KiB x j apart
        crowded[...] = w
        packed = run(dz, crowded, False, True, dtype)
        assert packed.tobytes() == direct.tobytes(), (m, n, k)
        for n_threads in (1, 2):
            out = bounded_product(dz, w, False, True, dtype, n_threads)
            check(out, dz, w, False, True)
            assert out.tobytes() == direct.tobytes(), (m, n, k, n_threads)
        z = rng.standard_normal((512, n)).astype(dtype)
        want = _gemm.dense_backward_input(tall, w, z, ACT_RELU, 0.0,
                                          np.empty((512, n), dtype), 1)[:m]
        for n_threads in (1, 2):
            got = _gemm.dense_backward_input(dz, w, z[:m], ACT_RELU, 0.0,
                                             np.empty((m, n), dtype), n_threads)
            assert got.tobytes() == want.tobytes(), (m, n, k, n_threads)


@needs_openmp
@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_across_threads(kernel_isa, dtype):
    rng = np.random.default_rng(9)
    shapes = [(300, 700, 500), (64, 784, 128), (784, 128, 256), (2000, 10, 300),
              (13, 1000, 333)]
    for (m, n, k), (ta, tb) in zip(shapes, TRANS + [(False, False)]):
        a, b = operands(rng, m, n, k, ta, tb, dtype)
        one = run(a, b, ta, tb, dtype, n_threads=1)
        two = run(a, b, ta, tb, dtype, n_threads=2)
        assert one.tobytes() == two.tobytes(), (m, n, k, ta, tb)
        bias = rng.standard_normal(n).astype(dtype)
        for act in (ACT_RELU, ACT_SIGMOID):
            if ta or tb:
                continue
            f1 = _gemm.dense_forward(a, b, bias, act, 0.0, np.empty((m, n), dtype), 1)
            f2 = _gemm.dense_forward(a, b, bias, act, 0.0, np.empty((m, n), dtype), 2)
            assert f1.tobytes() == f2.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_rows_split_across_threads(kernel_isa, dtype):
    """One or two rows wide enough for the row kernel to split the columns over threads:
    right, the same bits as on one thread, with the fused epilogue on each strip, and
    nothing written past the end of C."""
    rng = np.random.default_rng(12)
    for m, n, k in [(1, 784, 512), (2, 1000, 333), (1, 37 * 16 + 5, 400), (2, 17, 9000)]:
        a, b = operands(rng, m, n, k, False, False, dtype)
        outs = []
        for n_threads in (1, 2):
            out = bounded_product(a, b, False, False, dtype, n_threads)
            check(out, a, b, False, False)
            outs.append(out.tobytes())
        assert outs[0] == outs[1], (m, n, k)
        bias = rng.standard_normal(n).astype(dtype)
        for act in (ACT_RELU, ACT_SIGMOID):
            f1 = _gemm.dense_forward(a, b, bias, act, 0.0, np.empty((m, n), dtype), 1)
            f2 = _gemm.dense_forward(a, b, bias, act, 0.0, np.empty((m, n), dtype), 2)
            assert f1.tobytes() == f2.tobytes(), (m, n, k, act)
            ref = (a.astype(np.float64) @ b + bias)
            ref = np.maximum(ref, 0) if act == ACT_RELU else sigmoid(ref)
            assert np.allclose(f2, ref, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_columns_as_the_transposed_product(kernel_isa, dtype):
    """A C with few columns (a classifier's last layer) may be computed as the transpose
    of op(B)^T op(A)^T: right in every transpose case, bit for bit the first columns of
    the same product made wide enough to be computed directly, the same bits on 1 and 2
    threads, the fused epilogue applied, and nothing written past the end of C. (Each
    product is above the 3e5 multiply-adds up to which few columns take the dot products
    of tests/test_gemm_small.py.)"""
    rng = np.random.default_rng(14)
    shapes = [(128, 10, 512), (370, 1, 900), (300, 12, 129), (1000, 3, 128), (13, 5, 5000)]
    for (m, n, k), (ta, tb) in zip(shapes, TRANS + [(False, False)]):
        a, b = operands(rng, m, n, k, ta, tb, dtype)
        more = rng.standard_normal((64 - n, k) if tb else (k, 64 - n)).astype(dtype)
        wide_b = np.vstack([b, more]) if tb else np.hstack([b, more])
        wide = run(a, wide_b, ta, tb, dtype, n_threads=1)
        for n_threads in (1, 2):
            out = bounded_product(a, b, ta, tb, dtype, n_threads)
            check(out, a, b, ta, tb)
            assert out.tobytes() == np.ascontiguousarray(wide[:, :n]).tobytes(), (m, n, k)
        if ta or tb:
            continue
        bias = rng.standard_normal(64).astype(dtype)
        for act in (ACT_LINEAR, ACT_RELU, ACT_SIGMOID):
            want = _gemm.dense_forward(a, wide_b, bias, act, 0.0, np.empty((m, 64), dtype), 1)
            for n_threads in (1, 2):
                got = _gemm.dense_forward(a, b, bias[:n], act, 0.0, np.empty((m, n), dtype),
                                          n_threads)
                assert got.tobytes() == np.ascontiguousarray(want[:, :n]).tobytes(), (m, n, act)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_forward_in_k_halves(kernel_isa, dtype):
    """A training step's forward product, summed in two halves of k (so that each core
    reads the rows of the weights it updates): exactly relu(x[:, :h] w[:h] +
    (x[:, h:] w[h:] + b)) with each half an ordinary product, the same bits on 1, 2 and
    3 threads, and k no longer than the cut handled as a plain product."""
    rng = np.random.default_rng(13)
    mr = _gemm.kernel_info()["float32" if dtype == np.float32 else "float64"]["MR"]
    shapes = [(3, 5, 7), (32, 784, 128), (13, 2 * mr + 1, 33), (40, 25, 1), (200, 64, 10),
              (5, mr, 4), (128, 397, 65)]
    for m, k, n in shapes:
        x = rng.standard_normal((m, k)).astype(dtype)
        w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(dtype)
        b = rng.standard_normal(n).astype(dtype)
        h = _gemm.row_strip(dtype, k, 2)
        assert h % mr == 0 and h >= k / 2
        for act, bias in [(ACT_RELU, b), (ACT_LINEAR, None), (ACT_SIGMOID, b)]:
            outs = []
            for n_threads in (1, 2, 3):
                out = np.full((m, n), np.nan, dtype)
                _gemm.dense_forward_k_halves(x, w, bias, act, 0.0, out, n_threads)
                outs.append(out)
            assert outs[0].tobytes() == outs[1].tobytes() == outs[2].tobytes(), (m, k, n)
            if act == ACT_SIGMOID:
                ref = sigmoid(x.astype(np.float64) @ w + b)
                assert np.allclose(outs[0], ref, rtol=1e-4, atol=1e-5), (m, k, n)
                continue
            if h >= k:
                first, second = _gemm.dense_forward(x, w, bias, ACT_LINEAR, 0.0,
                                                    np.empty((m, n), dtype), 1), 0
            else:
                first = _gemm.dense_forward(x[:, :h], w[:h], None, ACT_LINEAR, 0.0,
                                            np.empty((m, n), dtype), 1)
                second = _gemm.dense_forward(x[:, h:], w[h:], bias, ACT_LINEAR, 0.0,
                                             np.empty((m, n), dtype), 1)
            want = first + second
            if act == ACT_RELU:
                want = np.maximum(want, 0)
            assert outs[0].tobytes() == want.tobytes(), (m, k, n, act)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", [(32, 784, 128), (1, 5, 3), (37, 100, 33), (200, 64, 10)])
def test_dense_forward(kernel_isa, dtype, m, k, n):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    z = x.astype(np.float64) @ w + b
    tol = 4 * np.sqrt(k) * np.finfo(dtype).eps * (np.abs(x) @ np.abs(w) + np.abs(b)) + 1e-30
    for act, f in [(ACT_LINEAR, lambda t: t), (ACT_RELU, lambda t: np.maximum(t, 0)),
                   (ACT_SIGMOID, sigmoid), (ACT_TANH, np.tanh)]:
        for bias in (b, None):
            out = np.full((m, n), np.nan, dtype)
            _gemm.dense_forward(x, w, bias, act, 0.0, out, 2)
            ref = f(z if bias is not None else z - b)
            # the activations are 1-Lipschitz, so the GEMM bound carries over (+ rounding)
            lim = tol + 8 * np.finfo(dtype).eps * np.abs(ref)
            assert np.all(np.abs(out - ref) <= lim), (act, bias is None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,k", [(32, 784, 128), (3, 7, 5), (64, 300, 33)])
def test_dense_backward_input(kernel_isa, dtype, m, n, k):
    """out := (dz @ w.T) * act'(saved); w is (n_in, n_out) = (n, k)."""
    rng = np.random.default_rng(11)
    dz = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)
    g = dz.astype(np.float64) @ w.T.astype(np.float64)
    tol = 4 * np.sqrt(k) * np.finfo(dtype).eps * (np.abs(dz) @ np.abs(w).T) + 1e-30
    z = rng.standard_normal((m, n)).astype(dtype)
    y = sigmoid(z.astype(np.float64)).astype(dtype)
    for act, saved, deriv in [(ACT_RELU, z, (z > 0).astype(np.float64)),
                              (ACT_SIGMOID, y, y.astype(np.float64) * (1 - y)),
                              (ACT_LINEAR, None, 1.0)]:
        out = np.full((m, n), np.nan, dtype)
        _gemm.dense_backward_input(dz, w, saved, act, 0.0, out, 2)
        assert np.all(np.abs(out - g * deriv) <= tol + 4 * np.finfo(dtype).eps * np.abs(g)), act
    # a row-strided saved array is read in place
    big = np.zeros((m, n + 5), dtype)
    big[:, :n] = z
    out = np.empty((m, n), dtype)
    _gemm.dense_backward_input(dz, w, big[:, :n], ACT_RELU, 0.0, out, 1)
    assert np.all(np.abs(out - g * (z > 0)) <= tol)


def test_fused_matches_unfused_for_every_activation(kernel_isa):
    """The epilogue applies the same row kernels as the activation module."""
    acts = pytest.importorskip("fastnn._kernels.compiled")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((45, 70)).astype(np.float32)
    w = rng.standard_normal((70, 50)).astype(np.float32)
    b = rng.standard_normal(50).astype(np.float32)
    eps = np.finfo(np.float32).eps
    for act in [a.code for a in _codes.ELEMENTWISE]:
        z = run(x, w, False, False, np.float32)
        z += b
        ref = np.empty_like(z)
        acts.activation_forward(z, act, 0.1, ref, 1)
        out = _gemm.dense_forward(x, w, b, act, 0.1, np.empty_like(z), 1)
        # the fused z may round its bias addition otherwise: at most an ulp of |z| + |b|
        # each, carried through the activation (slope at most 2, selu's 1.76), plus the
        # activation's own few ulps of |ref|
        lim = 2 * 2 * eps * (np.abs(z) + np.abs(b)) + 8 * eps * np.abs(ref) + 1e-37
        assert np.all(np.abs(out.astype(np.float64) - ref) <= lim), act


def test_vector_kernels_match_generic_oracle(kernel_isa):
    rng = np.random.default_rng(13)
    a, b = operands(rng, 77, 91, 403, False, True, np.float64)
    out = run(a, b, False, True, np.float64)
    before = _gemm.isa_name()
    _gemm.set_isa("generic")
    try:
        oracle = run(a, b, False, True, np.float64)
    finally:
        _gemm.set_isa(before)
    np.testing.assert_allclose(out, oracle, rtol=1e-12, atol=1e-12)


def test_isa_api():
    assert _gemm.isa_name() in ISAS
    assert _gemm.isa_available("generic")
    assert not _gemm.isa_available("sse9")
    with pytest.raises(ValueError):
        _gemm.set_isa("sse9")
    info = _gemm.kernel_info()
    assert info["isa"] == _gemm.isa_name()
    for key in ("float32", "float64"):
        assert set(info[key]) >= {"MR", "NR", "MC", "KC", "NC"}
        assert info[key]["MC"] % info[key]["MR"] == 0 and info[key]["NC"] % info[key]["NR"] == 0


def test_ops_matmul_if_present():
    ops = pytest.importorskip("fastnn.ops")
    if not hasattr(ops, "matmul"):
        pytest.skip("fastnn.ops.matmul not defined yet")
    rng = np.random.default_rng(14)
    for ta, tb in TRANS:
        a, b = operands(rng, 40, 50, 60, ta, tb, np.float32)
        out = ops.matmul(a, b, transpose_a=ta, transpose_b=tb)
        check(np.asarray(out), a, b, ta, tb)
