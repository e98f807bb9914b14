"""Seeds for everything random in fastnn, derived from one global seed.

``fastnn.utils.set_random_seed(s)`` makes the stream of seeds handed to initializers,
shuffling, dropout layers and validation splits repeat exactly. Without it, seeds come
from the operating system's entropy.
"""
import random

import numpy

# made on first use, so that importing fastnn does not import numpy.random (~12 ms)
_state = {"rng": None}


def set_global_seed(seed):
    """Seed fastnn's seed stream, NumPy's global generator and Python's `random`."""
    _state["rng"] = numpy.random.Generator(numpy.random.Philox(seed))
    numpy.random.seed(seed % (2 ** 32))
    random.seed(seed)


def next_seed():
    """A fresh 63-bit seed from the global stream."""
    if _state["rng"] is None:
        _state["rng"] = numpy.random.default_rng()
    return int(_state["rng"].integers(0, 2 ** 63 - 1))


def generator(seed=None):
    """A NumPy Generator for `seed`, or for the next seed of the global stream."""
    return numpy.random.Generator(numpy.random.Philox(next_seed() if seed is None else seed))
