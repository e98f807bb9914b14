"""Philox4x32-10 in NumPy: the reference for the compiled dropout masks (src_c/philox.c).

Element i of a mask draws 32-bit word i % 4 of Philox(counter = (i // 4 low, i // 4 high,
layer, step), key = (seed low, seed high)) and is kept iff that word is at least
floor(rate * 2**32). The mask is thus a pure function of (seed, layer, step, i).
"""
import numpy

_M0, _M1 = numpy.uint64(0xD2511F53), numpy.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = numpy.uint64(0xFFFFFFFF)


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


def dropout_threshold(rate):
    """The 32-bit threshold below which an element is dropped."""
    return min(int(rate * 4294967296.0), 4294967295)


def dropout_keep_mask(seed, layer, step, rate, n, xp=numpy, first=0):
    """Boolean keep-mask of elements first .. first + n - 1 for (seed, layer, step), an
    array of `xp` (each element's draw depends on its index alone)."""
    lead = first % 4
    n_blocks = (lead + n + 3) // 4
    block = xp.arange(first // 4, first // 4 + n_blocks, dtype=numpy.uint64)
    counter = xp.empty((n_blocks, 4), dtype=numpy.uint32)
    counter[:, 0] = (block & _MASK32).astype(numpy.uint32)
    counter[:, 1] = (block >> numpy.uint64(32)).astype(numpy.uint32)
    counter[:, 2] = layer
    counter[:, 3] = step
    words = philox4x32_10(counter, (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF), xp)
    return words.reshape(-1)[lead:lead + n] >= dropout_threshold(rate)
