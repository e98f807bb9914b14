"""The fastnn model behind an estimator: the default multilayer perceptron built from the
estimator's arguments, or the user's `model` function called with the sizes of the data."""
import inspect

from fastnn import activations, regularizers
from fastnn.layers import Dense, Input
from fastnn.models import Sequential


def default_model(settings, activation, optimizer, n_features, head, batch_weight):
    """A compiled Sequential: Dense layers of `settings.hidden_layer_sizes` units with
    `activation`, then the output layer `head` = (units, activation, loss).

    `alpha` is scikit-learn's L2 penalty: `alpha / 2 * sum(W ** 2)` added to a batch's
    summed (weighted) loss, the whole divided by the batch's total sample weight.
    fastnn's losses are batch means, so each kernel gets
    `L2(alpha / (2 * batch_weight))`, `batch_weight` being a batch's sample weight (its
    size when unweighted): the same objective (biases are not penalised, as in
    scikit-learn)."""
    units, out_activation, loss = head
    l2 = settings.alpha / (2.0 * batch_weight)
    layers = [Input(shape=(n_features,))]
    for n_units in settings.hidden_layer_sizes:
        layers.append(Dense(n_units, activation=activations.get(activation),
                            kernel_regularizer=_penalty(l2)))
    layers.append(Dense(units, activation=out_activation, kernel_regularizer=_penalty(l2)))
    model = Sequential(layers)
    model.compile(optimizer=optimizer, loss=loss)
    return model


def _penalty(l2):
    return regularizers.L2(l2) if l2 > 0 else None


def user_model(build_fn, available, n_features, optimizer, loss):
    """The model `build_fn` returns, called with the entries of `available` (the
    estimator's parameters and the meta values such as `n_features_in_`) that it names,
    or all of them when it takes `**kwargs`. A model returned uncompiled is compiled with
    the estimator's optimizer and its default loss; one returned unbuilt is built for
    `n_features` inputs (inside the fit's seed scope, so `random_state` fixes its
    weights)."""
    model = build_fn(**_arguments(build_fn, available))
    if not isinstance(model, Sequential):   # the functional Model is a Sequential too
        raise TypeError(f"`model` must return a fastnn model (fastnn.Sequential or "
                        f"fastnn.Model); {_name(build_fn)} returned {type(model).__name__}")
    if not model.built:
        model.build((None, n_features))
    if tuple(model.input_shape[1:]) != (n_features,):
        raise ValueError(f"`model` must return a model taking {n_features} features (the "
                         f"columns of X); {_name(build_fn)} returned one with input shape "
                         f"{tuple(model.input_shape)}")
    if model.optimizer is None or model.loss is None:
        model.compile(optimizer=optimizer, loss=loss)
    return model


def _arguments(build_fn, available):
    """The keyword arguments of `build_fn` found in `available`."""
    try:
        parameters = inspect.signature(build_fn).parameters.values()
    except (TypeError, ValueError):   # a builtin or C callable: no signature to read
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return dict(available)
    named = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = [p.name for p in parameters if p.default is p.empty and p.name not in available
               and p.kind not in (p.VAR_POSITIONAL,)]
    if missing:
        raise TypeError(f"`model` function {_name(build_fn)} takes {missing}, which the "
                        f"estimator cannot give; it can take any of "
                        f"{sorted(available)}")
    return {name: value for name, value in available.items() if name in named}


def _name(build_fn):
    return getattr(build_fn, "__name__", repr(build_fn))
