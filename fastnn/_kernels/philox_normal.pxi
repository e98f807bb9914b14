# Standard normal draws from Philox4x32-10, as fastnn/_philox.py defines them: the
# Box-Muller pair of each half of a counter block, the logarithm, sine and cosine as
# polynomials of +, -, *, / and sqrt after an exact reduction, so that these are the
# bits of fastnn._philox.normal (the coefficients are read from there: one definition).
from libc.math cimport sqrt
from libc.string cimport memcpy
from libc.stdint cimport int64_t, uint32_t, uint64_t

from fastnn._kernels.capi cimport fnn_philox4x32_10
from fastnn import _philox

cdef enum:
    N_LOG = 10     # the lengths of _philox's LOG_COEFFS, SIN_COEFFS and COS_COEFFS
    N_SIN = 8
    N_COS = 9

cdef double _LOG_C[N_LOG]
cdef double _SIN_C[N_SIN]
cdef double _COS_C[N_COS]
cdef double _LN2 = _philox.LN2, _SQRT_HALF = _philox.SQRT_HALF
cdef double _ANGLE_STEP = _philox.ANGLE_STEP


cdef int _load_coeffs() except -1:
    """The polynomial tables, from fastnn._philox."""
    if (len(_philox.LOG_COEFFS), len(_philox.SIN_COEFFS),
            len(_philox.COS_COEFFS)) != (N_LOG, N_SIN, N_COS):
        raise ImportError("fastnn._philox's polynomials do not match the compiled "
                          "kernels; rebuild fastnn")
    for i, c in enumerate(_philox.LOG_COEFFS):
        _LOG_C[i] = c
    for i, c in enumerate(_philox.SIN_COEFFS):
        _SIN_C[i] = c
    for i, c in enumerate(_philox.COS_COEFFS):
        _COS_C[i] = c
    return 0


_load_coeffs()


cdef inline double _horner(const double *c, int n, double x2) noexcept nogil:
    """c[0] + x2 (c[1] + x2 (... c[n - 1])), as _philox._horner evaluates it."""
    cdef double p = c[n - 1]
    cdef int k
    for k in range(n - 2, -1, -1):
        p = p * x2 + c[k]
    return p


cdef inline double _log_unit(uint32_t a) noexcept nogil:
    """ln((a + 1) / 2**32), as _philox._log_unit."""
    # frexp of the normal number a + 1 from its bits (a library call costs more than the
    # rest): the exponent field less 1022, and the mantissa with exponent 2^-1
    cdef double m = <double>a + 1.0, s
    cdef uint64_t bits
    memcpy(&bits, &m, 8)
    cdef int e = <int>((bits >> 52) & 0x7FF) - 1022
    bits = (bits & ((<uint64_t>1 << 52) - 1)) | (<uint64_t>1022 << 52)
    memcpy(&m, &bits, 8)
    if m < _SQRT_HALF:
        m = m * 2.0
        e = e - 1
    s = (m - 1.0) / (m + 1.0)
    return <double>(e - 32) * _LN2 + 2.0 * s * _horner(_LOG_C, N_LOG, s * s)


cdef inline void _pair(uint32_t a, uint32_t b, double *out) noexcept nogil:
    """out[0], out[1] := the Box-Muller pair of words (a, b), as _philox.normal."""
    cdef double r = sqrt(-2.0 * _log_unit(a))
    cdef int64_t q = (<int64_t>b + (1 << 29)) >> 30
    cdef double x = <double>(<int64_t>b - (q << 30)) * _ANGLE_STEP
    cdef double x2 = x * x
    cdef double s = x * _horner(_SIN_C, N_SIN, x2), c = _horner(_COS_C, N_COS, x2)
    q = q & 3
    if q == 0:
        out[0], out[1] = r * c, r * s
    elif q == 1:
        out[0], out[1] = r * -s, r * c
    elif q == 2:
        out[0], out[1] = r * -c, r * -s
    else:
        out[0], out[1] = r * s, r * -c


cdef void _normals(uint64_t seed, uint32_t layer, uint32_t step, int64_t start, int64_t n,
                   double *out) noexcept nogil:
    """out[i] := the standard normal draw of element start + i, for i < n."""
    cdef uint32_t key[2]
    cdef uint32_t ctr[4]
    cdef uint32_t words[4]
    cdef double z[4]
    cdef int64_t i = 0, e
    cdef uint64_t block
    cdef int w
    key[0], key[1] = <uint32_t>seed, <uint32_t>(seed >> 32)
    while i < n:
        e = start + i
        block = (<uint64_t>e) >> 2
        ctr[0], ctr[1], ctr[2], ctr[3] = <uint32_t>block, <uint32_t>(block >> 32), layer, step
        fnn_philox4x32_10(ctr, key, words)
        _pair(words[0], words[1], z)
        _pair(words[2], words[3], z + 2)
        w = <int>(e & 3)
        while w < 4 and i < n:
            out[i] = z[w]
            w += 1
            i += 1


def philox_normal(uint64_t seed, uint32_t layer, uint32_t step, int64_t first,
                  double[::1] out):
    """out := the standard normal draws of elements first .. first + len(out) for (seed,
    layer, step) (for tests: fastnn._philox.normal is their NumPy definition)."""
    if first < 0:
        raise ValueError(f"`first` must be >= 0; got {first}")
    if out.shape[0] == 0:
        return
    with nogil:
        _normals(seed, layer, step, first, out.shape[0], &out[0])
