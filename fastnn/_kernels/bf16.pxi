# The bfloat16 GEMM (src_c/bf16.h): float32 operands rounded to bfloat16, products summed in
# float32 by vdpbf16ps where the CPU has AVX512_BF16, else by the float32 GEMM of the ISA in
# use on the rounded operands; the Dense products of a StackPlan whose layer computes in
# bfloat16 (step.pxi), and the Python boundary of the tests and benchmarks.
import numpy as np
from libc.stddef cimport size_t
from libc.stdint cimport int64_t, uint32_t

cdef extern from "bf16.h" nogil:
    void fnn_bf16_gemm_ref(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                           int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc)
    int fnn_bf16_native()
    void fnn_bf16_set_native(int on)
    int fnn_cpu_has_avx512bf16()
    size_t fnn_bf16_packed_b_bytes(int64_t k, int64_t n)
    void fnn_bf16_pack_b(int tb, int64_t k, int64_t n, const float *b, int64_t ldb, void *bp,
                         int n_threads)
    void fnn_bf16_gemm(int ta, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                       const void *bp, float *c, int64_t ldc, const fnn_epilogue *ep,
                       int n_threads)
    void fnn_bf16_matmul(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                         int64_t lda, const float *b, int64_t ldb, void *bp, float *c,
                         int64_t ldc, const fnn_epilogue *ep, int n_threads)
    void fnn_bf16_kernel_info(int64_t info[4])
    void fnn_bf16_round_array(const float *src, float *dst, int64_t n)


def bf16_native():
    """Whether bfloat16 products run on vdpbf16ps (AVX512_BF16, with the AVX-512 kernels
    in use); otherwise the float32 GEMM computes them from bfloat16-rounded operands."""
    return bool(fnn_bf16_native())


def bf16_cpu_has_avx512bf16():
    """Whether this CPU (and its OS) runs AVX512_BF16 instructions."""
    return bool(fnn_cpu_has_avx512bf16())


def bf16_set_native(bint on):
    """Tests: False sends bfloat16 products to the float32 route even where vdpbf16ps
    runs; True restores the CPU's choice."""
    fnn_bf16_set_native(on)


def bf16_kernel_info():
    """(MR, NR, MC, KC pairs) of the vdpbf16ps tile and blocking, or zeros on the float32
    route."""
    cdef int64_t info[4]
    fnn_bf16_kernel_info(info)
    return tuple(int(v) for v in info)


def bf16_round(x):
    """float32 `x` rounded to the nearest bfloat16 (ties to even; denormals to zero), as a
    new float32 array."""
    src = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(src)
    cdef const float[::1] s = src.reshape(-1)
    cdef float[::1] d = out.reshape(-1)
    if s.shape[0]:
        with nogil:
            fnn_bf16_round_array(&s[0], &d[0], s.shape[0])
    return out


cdef tuple _bf16_operands(a, b, bint ta, bint tb):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"`a` and `b` must be 2-D; got shapes {a.shape} and {b.shape}")
    m, k = (a.shape[1], a.shape[0]) if ta else a.shape
    kb, n = (b.shape[1], b.shape[0]) if tb else b.shape
    if k != kb:
        raise ValueError(f"op(a) is {m} x {k} and op(b) {kb} x {n}: inner sizes differ")
    return a, b, m, n, k


def bf16_matmul(a, b, bint transpose_a=False, bint transpose_b=False, int n_threads=1,
                bias=None, int activation=0, double act_param=0.0):
    """act(op(a) @ op(b) + bias) with bfloat16 operands and float32 sums (src_c/bf16.h);
    `activation` an element-wise code of fastnn._codes. Returns a new float32 array."""
    cdef int64_t m, n, k
    a, b, m, n, k = _bf16_operands(a, b, transpose_a, transpose_b)
    out = np.empty((m, n), np.float32)
    packed = np.empty(max(<Py_ssize_t>fnn_bf16_packed_b_bytes(k, n), 64), np.uint8)
    cdef fnn_epilogue ep
    ep.act, ep.act_param, ep.saved, ep.ld_saved, ep.bias = activation, act_param, NULL, 0, NULL
    cdef const float[::1] bv
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=np.float32)
        if bias.shape != (n,):
            raise ValueError(f"`bias` must have shape ({n},); got {bias.shape}")
        bv = bias
        ep.bias = &bv[0]
    cdef const float[:, ::1] av = a
    cdef const float[:, ::1] bm = b
    cdef float[:, ::1] ov = out
    cdef unsigned char[::1] pv = packed
    if m == 0 or n == 0:
        return out
    cdef const float *pa = &av[0, 0] if k else NULL
    cdef const float *pb = &bm[0, 0] if k else NULL
    cdef int64_t lda = a.shape[1], ldb = b.shape[1]
    with nogil:
        fnn_bf16_matmul(transpose_a, transpose_b, m, n, k, pa, lda, pb, ldb, &pv[0],
                        &ov[0, 0], n, &ep, n_threads)
    _gemm_buffers_ok()
    return out


def bf16_matmul_ref(a, b, bint transpose_a=False, bint transpose_b=False):
    """op(a) @ op(b) by the definition of src_c/bf16.h, a plain loop: the tests' oracle."""
    cdef int64_t m, n, k
    a, b, m, n, k = _bf16_operands(a, b, transpose_a, transpose_b)
    out = np.zeros((m, n), np.float32)
    cdef const float[:, ::1] av = a
    cdef const float[:, ::1] bm = b
    cdef float[:, ::1] ov = out
    if m and n and k:
        with nogil:
            fnn_bf16_gemm_ref(transpose_a, transpose_b, m, n, k, &av[0, 0], av.shape[1],
                              &bm[0, 0], bm.shape[1], &ov[0, 0], n)
    return out


def bf16_pack_b_rows(b, splits):
    """The bytes of B~ of the 2-D float32 `b` packed as train_steps' update packs it:
    by the ranges of rows between consecutive `splits` (0 and len(b) included), and of
    fnn_bf16_pack_b for comparison: (by ranges, whole)."""
    b = np.ascontiguousarray(b, dtype=np.float32)
    if b.ndim != 2:
        raise ValueError(f"`b` must be 2-D; got shape {b.shape}")
    cdef int64_t k = b.shape[0], n = b.shape[1], lo, hi
    cdef Py_ssize_t size = max(<Py_ssize_t>fnn_bf16_packed_b_bytes(k, n), 64)
    by_rows, whole = np.full(size, 0xEE, np.uint8), np.full(size, 0xEE, np.uint8)
    cdef unsigned char[::1] pr = by_rows, pw = whole
    cdef const float[:, ::1] bv = b
    if k == 0 or n == 0:
        return by_rows, whole
    bounds = [0] + sorted(int(x) for x in splits) + [k]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        fnn_bf16_pack_b_rows(k, n, &bv[0, 0], n, &pr[0], lo, hi)
    fnn_bf16_pack_b(0, k, n, &bv[0, 0], n, &pw[0], 1)
    return by_rows, whole


cdef int _bf16_buffers(Layer *L, dict spec, int64_t rows, list keep) except -1:
    """A Dense layer computing in bfloat16 (spec["bf16"]): the buffers of its packed
    weights (forward), their transpose (input gradient) and d loss / d z (weight
    gradient)."""
    L.bf16 = bool(spec.get("bf16", False))
    if not L.bf16:
        return 0
    for name, k, n in (("wp", L.n_in, L.n_out), ("wtp", L.n_out, L.n_in),
                       ("dzp", rows, L.n_out)):
        buf = np.empty(max(<Py_ssize_t>fnn_bf16_packed_b_bytes(k, n), 64), np.uint8)
        keep.append(buf)
        ptr = <void *>cnp.PyArray_DATA(<cnp.ndarray>buf)
        if name == "wp":
            L.wp = ptr
        elif name == "wtp":
            L.wtp = ptr
        else:
            L.dzp = ptr
    return 0


cdef inline void _dense_gemm(bint dbl, Layer *L, int64_t rows, const void *x, void *out,
                             const fnn_epilogue *ep, int nt) noexcept nogil:
    """out := epilogue(x W) for Dense layer L."""
    if not L.bf16:
        _forward_gemm(dbl, L.k_halves, rows, L.n_out, L.n_in, x, L.w, out, ep, nt)
        return
    if L.wp_fresh:
        L.wp_fresh = 0      # packed by the update before (train_steps): W has not changed
        fnn_bf16_gemm(0, rows, L.n_out, L.n_in, <const float *>x, L.n_in, L.wp,
                      <float *>out, L.n_out, ep, nt)
    else:   # packs W, or for a few rows reads it as it is
        fnn_bf16_matmul(0, 0, rows, L.n_out, L.n_in, <const float *>x, L.n_in,
                        <const float *>L.w, L.n_out, L.wp, <float *>out, L.n_out, ep, nt)


cdef inline void _dense_grad_w(bint dbl, Layer *L, int64_t rows, const void *x,
                               const void *dz, int nt) noexcept nogil:
    """L.gw := x^T dz."""
    if not L.bf16:
        _gemm(dbl, 1, 0, L.n_in, L.n_out, rows, x, L.n_in, dz, L.n_out, L.gw, NULL, nt)
        return
    fnn_bf16_pack_b(0, rows, L.n_out, <const float *>dz, L.n_out, L.dzp, nt)
    fnn_bf16_gemm(1, L.n_in, L.n_out, rows, <const float *>x, L.n_in, L.dzp,
                  <float *>L.gw, L.n_out, NULL, nt)


cdef inline void _dense_grad_x(bint dbl, Layer *L, int64_t rows, const void *dz,
                               const fnn_epilogue *ep, int nt) noexcept nogil:
    """L.dx := epilogue(dz W^T)."""
    if not L.bf16:
        _gemm(dbl, 0, 1, rows, L.n_in, L.n_out, dz, L.n_out, L.w, L.n_out, L.dx, ep, nt)
        return
    fnn_bf16_pack_b(1, L.n_out, L.n_in, <const float *>L.w, L.n_out, L.wtp, nt)
    fnn_bf16_gemm(0, rows, L.n_in, L.n_out, <const float *>dz, L.n_out, L.wtp,
                  <float *>L.dx, L.n_in, ep, nt)
