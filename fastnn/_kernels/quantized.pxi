"""int8 products of quantized Dense layers: the Python boundary of src_c/qgemm_*.c.

A layer's int8 weights are packed once for the int8 kernel in use and kept (a
_PackedInt8 per weight array; a writable array is checked against its bytes at every
call, so that weights changed in place are packed again, a read-only one is trusted);
x is quantized row by row inside the call.
Shapes and dtypes are validated by the caller (fastnn/backend/cpu.py).
"""
import weakref

import numpy as np
cimport numpy as cnp

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
    cdef bint frozen        # the array was read-only when packed
    cdef const char *kernel
    cdef char *packed
    cdef int64_t k, n

    def __init__(self, const int8_t[:, :] w, source):
        self.source = weakref.ref(source)
        self.frozen = not source.flags.writeable
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
        if self.frozen and not w.flags.writeable:
            # read-only since it was packed (QuantizedDense keeps its kernel so and calls
            # q8_forget when it writes it): comparing 100 KB of bytes at every call was
            # half a single-sample predict's time
            return True
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


cdef int64_t _pack_generation = 0   # counts the packed copies dropped (Q8Stack rebinds)


def q8_forget(w):
    """Drop the packed form of int8 weight array `w` (written since it was packed)."""
    global _pack_generation
    _packed_cache.pop(id(w), None)
    _pack_generation += 1


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



cdef class Q8Stack:
    """A stack of int8 Dense layers run on float32 rows in one call (a quantized model's
    inference). Layer i is calls[i] = (kernel, kernel_scale, bias or None, act,
    act_param, softmax) as for q8_dense; it writes into buffers[i] (float32,
    C-contiguous, `rows` rows), the last into the caller's `out`. The packed weights and
    every pointer are looked up once, and again only after a packed copy was dropped
    (q8_forget) or the int8 kernel changed: a single-sample predict pays the arithmetic
    and little else (one q8_dense call per layer cost about a microsecond each in
    Python). A kernel array that is not read-only is checked at every call, as q8_dense
    does."""
    cdef tuple calls
    cdef list buffers, keep
    cdef int n
    cdef int64_t rows, generation
    cdef bint all_frozen
    cdef const char *packed[64]
    cdef const float *scale[64]
    cdef const float *bias[64]
    cdef float *dst[64]
    cdef int64_t k_of[64]
    cdef int64_t n_of[64]
    cdef int act[64]
    cdef int softmax[64]
    cdef double param[64]

    def __init__(self, tuple calls, list buffers, int64_t rows):
        cdef int i
        self.n = len(calls)
        if self.n == 0 or self.n > 64 or len(buffers) != self.n - 1:
            raise ValueError("`calls` must hold 1 to 64 layers and `buffers` one per layer "
                             "but the last")
        for i in range(self.n):
            kernel, w_scale, b, self.act[i], self.param[i], self.softmax[i] = calls[i]
            self.k_of[i], self.n_of[i] = kernel.shape[0], kernel.shape[1]
            if i > 0 and self.k_of[i] != self.n_of[i - 1]:
                raise ValueError(f"layer {i} of `calls` takes {self.k_of[i]} inputs; the "
                                 f"layer before gives {self.n_of[i - 1]}")
            if i < self.n - 1:
                _check_rows_buffer(buffers[i], rows, self.n_of[i], "buffers")
                self.dst[i] = <float *>cnp.PyArray_DATA(<cnp.ndarray>buffers[i])
            self.scale[i] = <const float *>cnp.PyArray_DATA(<cnp.ndarray>w_scale)
            self.bias[i] = (NULL if b is None
                            else <const float *>cnp.PyArray_DATA(<cnp.ndarray>b))
        self.calls, self.buffers, self.rows = calls, buffers, rows
        self._bind()

    cdef int _bind(self) except -1:
        """Look up (or make) the packed copy of every kernel."""
        self.keep = []
        self.all_frozen = True
        for i in range(self.n):
            kernel = self.calls[i][0]
            p = _packed(kernel)
            self.keep.append(p)
            self.packed[i] = (<_PackedInt8>p).packed
            self.all_frozen &= (<_PackedInt8>p).frozen and not kernel.flags.writeable
        self.generation = _pack_generation
        return 0

    def infer(self, x, out, int n_threads, bint check=True):
        """out := the stack's outputs for the float32 rows `x` (at most `rows` of them);
        returns how many values of x are NaN or infinite (0 unless `check`)."""
        cdef int i
        _check_rows_buffer(x, self.rows, self.k_of[0], "x")
        cdef int64_t m = x.shape[0]
        _check_rows_buffer(out, m, self.n_of[self.n - 1], "out")
        if out.shape[0] != m:
            raise ValueError(f"`out` must have {m} rows; got {out.shape[0]}")
        if self.generation != _pack_generation or not self.all_frozen:
            self._bind()
        self.dst[self.n - 1] = <float *>cnp.PyArray_DATA(<cnp.ndarray>out)
        cdef const float *cur = <const float *>cnp.PyArray_DATA(<cnp.ndarray>x)
        cdef int64_t bad = 0, rc = 0
        if m == 0:
            return 0
        with nogil:
            for i in range(self.n):
                rc = fnn_q8_dense_packed(m, self.n_of[i], self.k_of[i], cur, self.k_of[i],
                                         self.packed[i], self.scale[i], self.bias[i],
                                         0 if self.softmax[i] else self.act[i],
                                         self.param[i], self.dst[i], self.n_of[i],
                                         n_threads)
                if rc < 0:
                    break
                if i == 0:
                    bad = rc
                if self.softmax[i]:
                    fnn_s_softmax_rows(self.dst[i], m, self.n_of[i], self.n_of[i],
                                       self.softmax[i] == 2)
                cur = self.dst[i]
        if rc < 0:      # packed for an int8 kernel switched away from: pack again
            for i in range(self.n):
                _packed_cache.pop(id(self.calls[i][0]), None)
            self._bind()
            return self.infer(x, out, n_threads, check)
        _gemm_buffers_ok()
        return bad if check else 0


cdef int _check_rows_buffer(a, int64_t max_rows, int64_t width, str name) except -1:
    """`a` is a C-contiguous float32 (rows, width) array, rows <= max_rows."""
    if (not isinstance(a, np.ndarray) or a.ndim != 2 or a.dtype != np.float32
            or not a.flags.c_contiguous or a.shape[1] != width or a.shape[0] > max_rows):
        raise ValueError(f"`{name}` must be a C-contiguous float32 array of at most "
                         f"{max_rows} rows and {width} columns")
    return 0
