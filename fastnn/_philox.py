"""Philox4x32-10 in NumPy: the reference for the compiled dropout masks (src_c/philox.c)
and for the compiled noise (fastnn/_kernels/philox_normal.pxi), and the definition the
layers' own code draws from.

Element i of a mask draws 32-bit word i % 4 of Philox(counter = (i // 4 low, i // 4 high,
layer, step), key = (seed low, seed high)) and is kept iff that word is at least
floor(rate * 2**32). The mask is thus a pure function of (seed, layer, step, i).

Element i of a normal draw takes the same block of four words (c0, c1, c2, c3) and the
Box-Muller pair of its half: (c0, c1) for i % 4 in (0, 1), (c2, c3) for 2 and 3, with
radius sqrt(-2 ln((a + 1) / 2**32)) of the first word a and angle 2 pi b / 2**32 of the
second b; an even i takes the cosine, an odd one the sine. The logarithm, sine and
cosine are polynomials written here with +, -, *, / and sqrt only (each rounded as
IEEE 754 rounds it, in NumPy and in C alike) after an exact reduction (frexp; the angle's
quadrant from the word's integer bits), so the compiled code draws the same bits.
"""
import math

import numpy

_M0, _M1 = numpy.uint64(0xD2511F53), numpy.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = numpy.uint64(0xFFFFFFFF)

# ln 2; 1 / sqrt 2, below which frexp's mantissa is doubled (so |s| <= 0.1716 below)
LN2 = 0.6931471805599453
SQRT_HALF = 0.7071067811865476
# atanh(s) / s = sum s^(2k) / (2k + 1): ln m = 2 s (that sum) with s = (m - 1) / (m + 1),
# to s^19 (the next term, below 1e-17 relative, is left out)
LOG_COEFFS = tuple(1.0 / (2 * k + 1) for k in range(10))
# sin x / x and cos x on |x| <= pi / 4, in powers of x^2, to x^15 and x^16
SIN_COEFFS = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(8))
COS_COEFFS = tuple((-1) ** k / math.factorial(2 * k) for k in range(9))
# an angle's step: 2 pi / 2**32 (exact: a power of 2 times the double 2 pi)
ANGLE_STEP = 2.0 * math.pi / 4294967296.0


def philox4x32_10(counter, key, xp=numpy):
    """Philox4x32-10 of counters (n, 4) uint32 under key (k0, k1); returns (n, 4) uint32.
    Works on NumPy or CuPy arrays (`xp`)."""
    c = [counter[:, j].astype(numpy.uint64) for j in range(4)]
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _M0 * c[0]
        p1 = _M1 * c[2]
        c = [(p1 >> numpy.uint64(32)) ^ c[1] ^ numpy.uint64(k0), p1 & _MASK32,
             (p0 >> numpy.uint64(32)) ^ c[3] ^ numpy.uint64(k1), p0 & _MASK32]
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return xp.stack(c, axis=1).astype(numpy.uint32)


def _blocks(seed, layer, step, first, n, xp):
    """(words, lead): the Philox blocks holding elements first .. first + n - 1, as an
    (n_blocks, 4) uint32 array, and the place of element `first` in the first block."""
    lead = first % 4
    n_blocks = (lead + n + 3) // 4
    block = xp.arange(first // 4, first // 4 + n_blocks, dtype=numpy.uint64)
    counter = xp.empty((n_blocks, 4), dtype=numpy.uint32)
    counter[:, 0] = (block & _MASK32).astype(numpy.uint32)
    counter[:, 1] = (block >> numpy.uint64(32)).astype(numpy.uint32)
    counter[:, 2] = layer
    counter[:, 3] = step
    return philox4x32_10(counter, (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF), xp), lead


def dropout_threshold(rate):
    """The 32-bit threshold below which an element is dropped."""
    return min(int(rate * 4294967296.0), 4294967295)


def dropout_keep_mask(seed, layer, step, rate, n, xp=numpy, first=0):
    """Boolean keep-mask of elements first .. first + n - 1 for (seed, layer, step), an
    array of `xp` (each element's draw depends on its index alone)."""
    words, lead = _blocks(seed, layer, step, first, n, xp)
    return words.reshape(-1)[lead:lead + n] >= dropout_threshold(rate)


def _horner(coeffs, x2, xp):
    p = xp.full(x2.shape, coeffs[-1])
    for c in coeffs[-2::-1]:
        p = p * x2 + c
    return p


def _log_unit(a, xp):
    """ln((a + 1) / 2**32) of 32-bit words a (float64 results)."""
    m, e = xp.frexp(a.astype(numpy.float64) + 1.0)      # a + 1 = m 2^e, m in [0.5, 1)
    low = m < SQRT_HALF
    m = xp.where(low, m * 2.0, m)
    e = xp.where(low, e - 1, e)
    s = (m - 1.0) / (m + 1.0)
    return (e - 32).astype(numpy.float64) * LN2 + 2.0 * s * _horner(LOG_COEFFS, s * s, xp)


def _cos_sin(b, xp):
    """(cos, sin) of the angles 2 pi b / 2**32 of 32-bit words b: the nearest quarter
    turn q taken off in integers, the rest x (|x| <= pi / 4) by the polynomials."""
    b = b.astype(numpy.int64)
    q = (b + (1 << 29)) >> 30
    x = (b - (q << 30)).astype(numpy.float64) * ANGLE_STEP
    x2 = x * x
    s, c = x * _horner(SIN_COEFFS, x2, xp), _horner(COS_COEFFS, x2, xp)
    q = q & 3
    cos = xp.where(q == 0, c, xp.where(q == 1, -s, xp.where(q == 2, -c, s)))
    sin = xp.where(q == 0, s, xp.where(q == 1, c, xp.where(q == 2, -s, -c)))
    return cos, sin


def normal(seed, layer, step, n, xp=numpy, first=0):
    """Standard normal draws (float64) of elements first .. first + n - 1 for (seed,
    layer, step), an array of `xp` (see the module docstring)."""
    words, lead = _blocks(seed, layer, step, first, n, xp)
    out = xp.empty(words.shape, numpy.float64)
    for half in (0, 2):
        r = xp.sqrt(-2.0 * _log_unit(words[:, half], xp))
        cos, sin = _cos_sin(words[:, half + 1], xp)
        out[:, half] = r * cos
        out[:, half + 1] = r * sin
    return out.reshape(-1)[lead:lead + n]
