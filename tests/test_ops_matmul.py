"""fastnn.ops.matmul: NumPy's matmul rules for shapes (stacks of matrices with batch axes
that broadcast, 1-D operands as vectors), transposes of the last two axes, `out`, dtype
promotion, on the reference backend and every other backend available here."""
import numpy as np
import pytest

import fastnn
from conftest import TOLERANCE

# (a's shape as stored, b's as stored, transpose_a, transpose_b)
CASES = [((3, 4), (4, 5), False, False), ((40, 50), (60, 50), False, True),
         ((4,), (4, 5), False, False), ((3, 4), (4,), False, False),
         ((4,), (4,), False, False), ((2, 3, 4), (4, 5), False, False),
         ((3, 4), (2, 4, 5), False, False), ((2, 1, 3, 4), (5, 4, 6), False, False),
         ((2, 4, 3), (5, 1, 6, 4), True, True), ((7,), (2, 5, 7), False, True),
         ((6, 4, 3), (4,), True, False), ((0, 3, 4), (4, 2), False, False)]


def numpy_matmul(a, b, ta, tb):
    """The float64 NumPy product with the last two axes of a matrix swapped when asked."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if ta and a.ndim > 1:
        a = np.swapaxes(a, -1, -2)
    if tb and b.ndim > 1:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


@pytest.fixture(params=["reference", "cpu", "cupy"])
def any_backend(request):
    """Every backend, skipped where it cannot run."""
    if request.param not in fastnn.backend.available_backends():
        pytest.skip(f"backend {request.param!r} not available here")
    with fastnn.use_backend(request.param):
        yield request.param


@pytest.mark.parametrize("shape_a,shape_b,ta,tb", CASES)
def test_shapes_as_numpy(any_backend, dtype, shape_a, shape_b, ta, tb):
    rng = np.random.default_rng(sum(shape_a) + 7 * sum(shape_b))
    a = rng.standard_normal(shape_a).astype(dtype)
    b = rng.standard_normal(shape_b).astype(dtype)
    want = numpy_matmul(a, b, ta, tb)
    got = fastnn.get_backend().to_numpy(fastnn.ops.matmul(a, b, transpose_a=ta,
                                                           transpose_b=tb))
    assert got.shape == want.shape and got.dtype == dtype
    np.testing.assert_allclose(got, want, **TOLERANCE[dtype])


def test_batched_out_and_broadcast_operands_read_in_place():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 3, 4)).astype(np.float32)
    w = rng.standard_normal((4, 6)).astype(np.float32)
    out = np.full((5, 3, 6), np.nan, np.float32)
    res = fastnn.ops.matmul(a, w, out=out)
    assert res is out
    np.testing.assert_allclose(out, a.astype(np.float64) @ w, **TOLERANCE[np.float32])
    # each matrix of the stack is the 2-D product of its own slice, bit for bit
    for i in range(5):
        assert out[i].tobytes() == fastnn.ops.matmul(a[i], w).tobytes()
    # a non-contiguous stack (every other matrix, rows reversed) as its copy
    view = a[::2, ::-1]
    assert fastnn.ops.matmul(view, w).tobytes() == fastnn.ops.matmul(view.copy(), w).tobytes()


def test_mixed_and_integer_dtypes_promote():
    a = np.arange(12, dtype=np.int32).reshape(2, 2, 3)
    b = np.ones((3, 2), np.float32)
    got = fastnn.ops.matmul(a, b)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.matmul(a, b.astype(np.float64)))
    assert fastnn.ops.matmul(np.ones((2, 3), np.float32), np.ones(3, np.float32)).dtype \
        == np.float32


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="`a` must be an array of at least one dimension"):
        fastnn.ops.matmul(np.float32(2.0), np.ones((3, 3)))
    with pytest.raises(ValueError, match="`b` must be an array of at least one dimension"):
        fastnn.ops.matmul(np.ones((3, 3)), 2.0)
    with pytest.raises(ValueError, match="matching inner dimensions"):
        fastnn.ops.matmul(np.ones((2, 3, 4)), np.ones(3))
    with pytest.raises(ValueError, match=r"batch axes of `a` and `b` must broadcast; got "
                                         r"\(2,\) and \(3,\)"):
        fastnn.ops.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"`out` must have shape \(2, 3, 5\)"):
        fastnn.ops.matmul(np.ones((2, 3, 4)), np.ones((4, 5)), out=np.empty((3, 5)))
    with pytest.raises(ValueError, match="`out` must be C-contiguous"):
        fastnn.ops.matmul(np.ones((2, 3, 4)), np.ones((4, 5)),
                          out=np.empty((2, 5, 3)).transpose(0, 2, 1))
    with pytest.raises(TypeError, match="`a` must hold real numbers"):
        fastnn.ops.matmul(np.ones((2, 3), complex), np.ones((3, 2)))
