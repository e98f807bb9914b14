"""`random_state` for the estimators: the seed of one fit, and a scope in which fastnn's
seed stream (weight initialisation, shuffling, dropout) derives from it."""
import contextlib
import random

import numpy
from sklearn.utils import check_random_state

from fastnn import _random

_SEED_BOUND = 2 ** 31 - 1


def fit_seed(random_state):
    """The seed of one fit: None for `random_state=None` (fastnn's global seed stream
    applies, so `fastnn.utils.set_random_seed` makes it repeat), else an int drawn from
    `check_random_state(random_state)`: the same for every fit with an int, a new one
    each fit with a `numpy.random.RandomState`, as scikit-learn estimators do."""
    if random_state is None:
        return None
    return int(check_random_state(random_state).randint(_SEED_BOUND))


@contextlib.contextmanager
def seeded(seed):
    """Inside, fastnn's seed stream (and NumPy's and Python's global generators, which
    `fastnn.utils.set_random_seed` seeds too) start from `seed`; on leaving they are put
    back as they were, so fitting an estimator leaves the caller's random state alone.
    `seed=None` changes nothing."""
    if seed is None:
        yield
        return
    saved = (_random._state["rng"], numpy.random.get_state(), random.getstate())
    _random.set_global_seed(seed)
    try:
        yield
    finally:
        _random._state["rng"] = saved[0]
        numpy.random.set_state(saved[1])
        random.setstate(saved[2])
