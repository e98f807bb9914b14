"""Checks of what `fit` receives besides X and y, and the held-out split of
`early_stopping`."""
import numpy
from sklearn.model_selection import train_test_split


def sample_weights(sample_weight, n_samples):
    """`sample_weight` as float64 of shape (n_samples,) (a number weighs every sample the
    same), finite and >= 0 with some weight > 0; None stays None."""
    if sample_weight is None:
        return None
    try:
        weights = numpy.asarray(sample_weight, dtype=numpy.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`sample_weight` must be numbers, one per sample; got "
                         f"{type(sample_weight).__name__}") from None
    if weights.ndim == 0:
        weights = numpy.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise ValueError(f"`sample_weight` must have shape ({n_samples},), one weight per "
                         f"sample of X; got shape {weights.shape}")
    if not numpy.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("`sample_weight` must hold finite numbers >= 0; got "
                         f"values in [{weights.min()}, {weights.max()}]")
    if not (weights > 0).any():
        raise ValueError("`sample_weight` must give some sample a weight > 0; got all weights zero")
    return weights


def holdout(x, y, weights, fraction, seed, stratify):
    """(train, validation) triples (x, y, weights) with `fraction` of the samples held
    out at random (seeded by `seed`), class-stratified by `stratify` (labels) where every
    class has two samples or more, as scikit-learn's MLP holds out for early stopping."""
    index = numpy.arange(len(x))
    if stratify is not None:
        _, counts = numpy.unique(stratify, return_counts=True, axis=0)
        n_val = int(numpy.ceil(fraction * len(x)))
        if counts.min() < 2 or n_val < len(counts) or len(x) - n_val < len(counts):
            stratify = None
    try:
        train, val = train_test_split(index, test_size=fraction, random_state=seed,
                                      stratify=stratify)
    except ValueError as exc:
        raise ValueError(f"`validation_fraction`={fraction} of {len(x)} samples must leave "
                         f"samples for both training and validation ({exc})") from None
    pick = lambda rows: (x[rows], y[rows], None if weights is None else weights[rows])
    return pick(train), pick(val)
