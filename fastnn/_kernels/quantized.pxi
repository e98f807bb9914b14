"""int8 products of quantized Dense layers: the Python boundary of src_c/qgemm_*.c.

A layer's int8 weights are packed once for the int8 kernel in use and kept (a
_PackedInt8 per weight array, checked against the array's bytes at every call, so that
weights changed in place are packed again); x is quantized row by row inside the call.
Shapes and dtypes are validated by the caller (fastnn/backend/cpu.py).
"""
import weakref

import numpy as np

from libc.stdint cimport int8_t, int32_t, int64_t
from libc.string cimport memcmp

from fastnn._kernels.capi cimport fnn_s_softmax_rows

cdef extern from "qgemm_api.h" nogil:
    int FNN_Q8_MAX_K
    size_t fnn_q8_packed_size(int64_t k, int64_t n)
    void fnn_q8_pack(int64_t k, int64_t n, const int8_t *w, int64_t ldw, void *packed)
    int64_t fnn_q8_dense_packed(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx,
                            const void *packed, const float *w_scale, const float *bias,
                            int act, double act_param, float *out, int64_t ldo,
                            int n_threads)
    void fnn_q8_gemm(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                     const int8_t *b, int64_t ldb, int32_t *c, int64_t ldc, int n_threads)
    void fnn_q8_quantize_rows(int64_t m, int64_t k, const float *x, int64_t ldx,
                              int8_t *q, int64_t ldq, float *scale)
    const char *fnn_q8_kernel_name()
    int fnn_q8_kernel_available(const char *name)
    int fnn_q8_set_kernel(const char *name)

Q8_KERNELS = ("generic", "avx2", "avx2vnni", "avx512vnni", "neon_sdot")
Q8_MAX_K = FNN_Q8_MAX_K
# weight arrays packed at once at most: a model's quantized layers, a few models
cdef int PACKED_CACHE = 64
_packed_cache = {}


def q8_kernel():
    """The int8 kernel in use: "avx512vnni", "avx2vnni", "avx2", "neon_sdot" or
    "generic" (the best one of the instruction set in use, see isa_name)."""
    return fnn_q8_kernel_name().decode()


def q8_kernel_available(str name):
    """Whether this CPU and build can run the named int8 kernel."""
    return bool(fnn_q8_kernel_available(name.encode()))


def set_q8_kernel(name):
    """Run the int8 products on the named kernel (tests, benchmarks); None follows the
    instruction set in use again."""
    if name is None:
        fnn_q8_set_kernel(NULL)
        return
    if name not in Q8_KERNELS:
        raise ValueError(f"`name` must be one of {list(Q8_KERNELS)} or None; got {name!r}")
    if fnn_q8_set_kernel(name.encode()) != 0:
        raise ValueError(f"`name` {name!r} is not available on this CPU or build; available: "
                         f"{[k for k in Q8_KERNELS if q8_kernel_available(k)]}")


cdef class _PackedInt8:
    """A k x n int8 weight matrix packed for one int8 kernel, with the bytes it was packed
    from (to see a change in place) and a weak reference to the array (the cache keeps no
    model's weights alive)."""
    cdef object source, copy, buffer
    cdef const char *kernel
    cdef char *packed
    cdef int64_t k, n

    def __init__(self, const int8_t[:, :] w, source):
        self.source = weakref.ref(source)
        self.copy = np.ascontiguousarray(w)
        cdef const int8_t[:, ::1] cw = self.copy
        self.k, self.n = cw.shape[0], cw.shape[1]
        self.kernel = fnn_q8_kernel_name()
        cdef size_t size = fnn_q8_packed_size(self.k, self.n)
        self.buffer = np.empty(size + 64, np.uint8)
        cdef char[::1] raw = self.buffer
        cdef size_t addr = <size_t>&raw[0]
        self.packed = &raw[0] + (64 - addr % 64) % 64
        with nogil:
            fnn_q8_pack(self.k, self.n, &cw[0, 0] if self.k > 0 else NULL, self.n,
                        self.packed)

    cdef bint current(self, object w):
        """Whether it still holds `w` for the kernel in use."""
        if self.kernel != fnn_q8_kernel_name() or w.shape != self.copy.shape:
            return False
        cdef const int8_t[:, ::1] now = w
        cdef const int8_t[:, ::1] then = self.copy
        return self.k == 0 or memcmp(&now[0, 0], &then[0, 0], self.k * self.n) == 0


cdef _PackedInt8 _packed(object w):
    """The packed form of the C-contiguous int8 matrix `w`, made once per array."""
    entry = _packed_cache.get(id(w))
    if entry is not None and (<_PackedInt8>entry).source() is w and \
            (<_PackedInt8>entry).current(w):
        return entry
    if len(_packed_cache) >= PACKED_CACHE:
        _packed_cache.pop(next(iter(_packed_cache)))
    entry = _packed_cache[id(w)] = _PackedInt8(w, w)
    return entry


def q8_dense(const float[:, :] x, w, const float[::1] w_scale, b, int act,
             double act_param, int softmax, float[:, ::1] out, int n_threads):
    """out := act(float(q(x) @ w) / (w_scale * x_scale) + b) (src_c/qgemm.h), w a
    C-contiguous int8 (k, n) array, b None or float32 (n,); softmax 1 (2: log_softmax)
    applies a row-wise softmax after the epilogue instead of act. Returns how many
    values of x are NaN or infinite (counted as the rows are quantized)."""
    cdef int64_t m = out.shape[0], n = out.shape[1], k = x.shape[1]
    cdef int64_t ldx = x.strides[0] // 4 if m > 1 else max(k, 1)
    if m > 0 and k > 0 and x.strides[1] != 4:
        x = np.ascontiguousarray(x)
        ldx = k
    cdef _PackedInt8 p = _packed(w)
    cdef const float[::1] bv
    cdef const float *bias = NULL
    if b is not None:
        bv = b
        bias = &bv[0] if n > 0 else NULL
    cdef const float *px = &x[0, 0] if m > 0 and k > 0 else NULL
    cdef float *pout = &out[0, 0] if m > 0 and n > 0 else NULL
    cdef int64_t rc
    with nogil:
        rc = fnn_q8_dense_packed(m, n, k, px, ldx, p.packed, &w_scale[0] if n > 0 else NULL,
                                 bias, act, act_param, pout, n, n_threads)
    if rc < 0:      # packed for a kernel switched away from since the lookup
        _packed_cache.pop(id(w), None)
        return q8_dense(x, w, w_scale, b, act, act_param, softmax, out, n_threads)
    _gemm_buffers_ok()
    if softmax and m > 0 and n > 0:
        with nogil:
            fnn_s_softmax_rows(pout, m, n, n, softmax == 2)
    return rc


def q8_gemm(const int8_t[:, ::1] a, const int8_t[:, ::1] b, int32_t[:, ::1] out,
            int n_threads):
    """out := a @ b in int32 on the int8 kernel in use (exact)."""
    cdef int64_t m = out.shape[0], n = out.shape[1], k = a.shape[1]
    with nogil:
        fnn_q8_gemm(m, n, k, &a[0, 0] if m > 0 and k > 0 else NULL, k,
                    &b[0, 0] if k > 0 and n > 0 else NULL, n,
                    &out[0, 0] if m > 0 and n > 0 else NULL, n, n_threads)
    _gemm_buffers_ok()
    return out


def q8_quantize_rows(const float[:, ::1] x, int8_t[:, ::1] q, float[::1] scale):
    """q, scale := the rows of x quantized to int8 by the int8 kernel in use's routine."""
    cdef int64_t m = x.shape[0], k = x.shape[1]
    if m == 0:
        return
    with nogil:
        fnn_q8_quantize_rows(m, k, &x[0, 0] if k > 0 else NULL, k,
                             &q[0, 0] if k > 0 else NULL, k, &scale[0])
    _gemm_buffers_ok()
