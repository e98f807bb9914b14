"""GEMM and the fused dense-layer kernels: the Python boundary of src_c/gemm_*.c.

Shapes are validated by the caller. Operands may be C-contiguous, F-contiguous (read
as the transpose, no copy) or row-strided with unit stride along the last axis; any
other layout is copied once. `out` is C-contiguous and must not overlap the inputs.
"""
import numpy as np

from cython cimport floating
from libc.stdint cimport int64_t

from fastnn._kernels.capi cimport (fnn_epilogue, fnn_sgemm, fnn_dgemm, fnn_sgemm_k_halves,
                                   fnn_dgemm_k_halves, fnn_gemm_row_strip,
                                   fnn_gemm_take_alloc_failure, fnn_gemm_scratch_fail_next)

cdef extern from "gemm_internal.h" nogil:
    void fnn_gemm_kernel_info(int double_precision, int64_t info[8])



cdef inline int _gemm_buffers_ok() except -1:
    """A MemoryError if a product since the last check could not allocate its packing
    buffers (its output is then unspecified); called after every compiled GEMM call."""
    if fnn_gemm_take_alloc_failure():
        raise MemoryError("the matrix product's packing buffers could not be allocated")
    return 0


cdef object _operand(object x, bint trans, int64_t *ld, bint *trans_out):
    """x itself when it is row-major (any row stride) or column-major, else a C copy.

    Sets ld (elements) and the transpose flag to pass to C for that array."""
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    cdef Py_ssize_t s0 = x.strides[0], s1 = x.strides[1], size = x.itemsize
    if (s1 == size or cols <= 1) and (rows <= 1 or (s0 > 0 and s0 % size == 0
                                                    and s0 // size >= cols)):
        ld[0] = s0 // size if rows > 1 else max(cols, 1)
        trans_out[0] = trans
        return x
    if (s0 == size or rows <= 1) and (cols <= 1 or (s1 > 0 and s1 % size == 0
                                                    and s1 // size >= rows)):
        ld[0] = s1 // size if cols > 1 else max(rows, 1)
        trans_out[0] = not trans
        return x
    ld[0] = max(cols, 1)
    trans_out[0] = trans
    return np.ascontiguousarray(x)


cdef inline const floating *_ptr2(const floating[:, :] x) noexcept:
    return &x[0, 0] if x.shape[0] > 0 and x.shape[1] > 0 else NULL


cdef int _run(object a, object b, floating[:, ::1] out, bint trans_a, bint trans_b,
              double alpha, double beta, fnn_epilogue *ep, int n_threads) except -1:
    """out := alpha * op(a) @ op(b) + beta * out, then the epilogue (if ep)."""
    cdef int64_t lda = 0, ldb = 0
    cdef bint ta = False, tb = False
    a = _operand(a, trans_a, &lda, &ta)
    b = _operand(b, trans_b, &ldb, &tb)
    cdef const floating[:, :] av = a
    cdef const floating[:, :] bv = b
    cdef int64_t m = out.shape[0], n = out.shape[1]
    cdef int64_t k = av.shape[0] if trans_a else av.shape[1]
    cdef const floating *pa = _ptr2(av)
    cdef const floating *pb = _ptr2(bv)
    cdef floating *pc = &out[0, 0] if m > 0 and n > 0 else NULL
    with nogil:
        if floating is float:
            fnn_sgemm(ta, tb, m, n, k, <float>alpha, pa, lda, pb, ldb, <float>beta, pc, n,
                      ep, n_threads)
        else:
            fnn_dgemm(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, n, ep, n_threads)
    return _gemm_buffers_ok()


cdef int _forward(object x, object w, object b, int act, double act_param,
                  floating[:, ::1] out, int n_threads, bint k_halves=False) except -1:
    cdef fnn_epilogue ep
    cdef const floating[::1] bv
    cdef const floating[:, ::1] xv
    cdef const floating[:, ::1] wv
    ep.bias = NULL
    ep.act = act
    ep.act_param = act_param
    ep.saved = NULL
    ep.ld_saved = 0
    if b is not None:
        bv = np.ascontiguousarray(b)
        if bv.shape[0] > 0:
            ep.bias = &bv[0]
    if not k_halves:
        return _run[floating](x, w, out, False, False, 1.0, 0.0, &ep, n_threads)
    xv = np.ascontiguousarray(x)
    wv = np.ascontiguousarray(w)
    cdef int64_t m = out.shape[0], n = out.shape[1], k = xv.shape[1]
    if m == 0 or n == 0:
        return 0
    with nogil:
        if floating is float:
            fnn_sgemm_k_halves(m, n, k, &xv[0, 0] if k else NULL, k,
                               &wv[0, 0] if k else NULL, n, &out[0, 0], n, &ep, n_threads)
        else:
            fnn_dgemm_k_halves(m, n, k, &xv[0, 0] if k else NULL, k,
                               &wv[0, 0] if k else NULL, n, &out[0, 0], n, &ep, n_threads)
    return _gemm_buffers_ok()


cdef int _backward_input(object dz, object w, object saved, int act, double act_param,
                         floating[:, ::1] out, int n_threads) except -1:
    cdef fnn_epilogue ep
    cdef const floating[:, :] sv
    ep.bias = NULL
    ep.act = act
    ep.act_param = act_param
    ep.saved = NULL
    ep.ld_saved = 0
    if saved is not None:
        if saved.ndim != 2 or (saved.shape[1] > 1 and saved.strides[1] != saved.itemsize) \
                or (saved.shape[0] > 1 and saved.strides[0] <= 0):
            saved = np.ascontiguousarray(saved)
        sv = saved
        if sv.shape[0] > 0 and sv.shape[1] > 0:
            ep.saved = &sv[0, 0]
            ep.ld_saved = sv.strides[0] // sv.itemsize if sv.shape[0] > 1 else sv.shape[1]
    return _run[floating](dz, w, out, False, True, 1.0, 0.0,
                          &ep if ep.saved != NULL else NULL, n_threads)


def gemm(a, b, out, bint trans_a, bint trans_b, double alpha, double beta, int n_threads):
    """out := alpha * op(a) @ op(b) + beta * out  (op = transpose when trans_*)."""
    if out.dtype == np.float32:
        _run[float](a, b, out, trans_a, trans_b, alpha, beta, NULL, n_threads)
    else:
        _run[double](a, b, out, trans_a, trans_b, alpha, beta, NULL, n_threads)
    return out


def dense_forward(x, w, b, int act, double act_param, out, int n_threads):
    """out := act(x @ w + b)  (b may be None), the activation fused into the write-out."""
    if out.dtype == np.float32:
        _forward[float](x, w, b, act, act_param, out, n_threads)
    else:
        _forward[double](x, w, b, act, act_param, out, n_threads)
    return out


def dense_forward_k_halves(x, w, b, int act, double act_param, out, int n_threads):
    """out := act(x[:, :h] @ w[:h] + (x[:, h:] @ w[h:] + b)), h = row_strip(k, 2): the
    forward product of a training step (fnn_sgemm_k_halves), the same bits at any
    thread count."""
    if out.dtype == np.float32:
        _forward[float](x, w, b, act, act_param, out, n_threads, True)
    else:
        _forward[double](x, w, b, act, act_param, out, n_threads, True)
    return out


def row_strip(dtype, int64_t rows, int parts):
    """The rows of each of `parts` strips when a GEMM splits `rows` rows of its output
    over threads (a multiple of the register tile's rows)."""
    cdef bint dbl = np.dtype(dtype) == np.float64
    cdef int64_t strip
    with nogil:
        strip = fnn_gemm_row_strip(dbl, rows, parts)
    return strip


def dense_backward_input(dz, w, saved, int act, double act_param, out, int n_threads):
    """out := (dz @ w.T) * act'(saved); saved None means plain dz @ w.T."""
    if out.dtype == np.float32:
        _backward_input[float](dz, w, saved, act, act_param, out, n_threads)
    else:
        _backward_input[double](dz, w, saved, act, act_param, out, n_threads)
    return out


def kernel_info():
    """The kernels in use: {"isa", "float32": {MR, NR, MC, KC, NC, small_m, narrow_m,
    small_work}, "float64": ...}."""
    cdef int64_t info[8]
    result = {"isa": isa_name()}
    for dp, key in ((0, "float32"), (1, "float64")):
        fnn_gemm_kernel_info(dp, info)
        result[key] = dict(zip(("MR", "NR", "MC", "KC", "NC", "small_m", "narrow_m",
                                "small_work"), [int(info[i]) for i in range(8)]))
    return result


def _fail_next_gemm_buffers(int n):
    """Make the next `n` requests for GEMM packing buffers fail (tests of the
    MemoryError path; 0 stops it)."""
    fnn_gemm_scratch_fail_next(n)
