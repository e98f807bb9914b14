"""MLPRegressor: scikit-learn's regressor interface over a fastnn model."""
import numpy
from sklearn.base import RegressorMixin

from fastnn.sklearn import _params
from fastnn.sklearn._base import BaseMLP


class MLPRegressor(RegressorMixin, BaseMLP):
    """A multilayer perceptron regressor trained by fastnn, with scikit-learn's API.

    The default model is Dense layers of `hidden_layer_sizes` units, then one linear
    unit per target column, trained on `loss` (squared error by default). `y` may have
    one column or several (multi-output); `score` is R^2.

    Args:
        hidden_layer_sizes, activation, optimizer, learning_rate, alpha, batch_size,
            epochs, shuffle, tol, n_iter_no_change, early_stopping, validation_fraction,
            random_state, verbose, warm_start, dtype: as for `MLPClassifier`.
        model: None, or a function returning a fastnn model (compiled, or compiled here
            with `optimizer` and `loss`), called at fit with those of its named arguments
            found among the estimator's parameters and `n_features_in_`, `n_outputs_`,
            `target_type_`.
        loss: The fastnn loss of the default model, a name ('mse', 'mae', 'huber', ...).

    Attributes:
        model_, n_iter_, history_, loss_curve_, n_features_in_, feature_names_in_: as for
        `MLPClassifier`; n_outputs_: target columns; target_type_: 'continuous' or
        'continuous-multioutput'.

    Example:
        >>> import numpy as np
        >>> from fastnn.sklearn import MLPRegressor
        >>> x = np.linspace(-1, 1, 200).reshape(-1, 1)
        >>> reg = MLPRegressor((32,), epochs=500, random_state=0).fit(x, x[:, 0] ** 2)
        >>> reg.predict(x[:3]).shape
        (3,)
    """

    _y_numeric = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, optimizer="adam",
                 learning_rate=0.001, alpha=0.0001, batch_size="auto", epochs=200,
                 shuffle=True, tol=0.0001, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, random_state=None, verbose=0, warm_start=False,
                 model=None, dtype=None, loss="mse"):
        super().__init__(
            hidden_layer_sizes, activation, optimizer=optimizer, learning_rate=learning_rate,
            alpha=alpha, batch_size=batch_size, epochs=epochs, shuffle=shuffle, tol=tol,
            n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
            validation_fraction=validation_fraction, random_state=random_state,
            verbose=verbose, warm_start=warm_start, model=model, dtype=dtype)
        self.loss = loss

    def fit(self, X, y, sample_weight=None):
        """Train on X (n_samples, n_features) and targets y (n_samples,) or
        (n_samples, n_outputs), with optional per-sample weights; returns self."""
        return self._fit(X, y, sample_weight, partial=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the fitted model (building it on the first
        call); returns self."""
        return self._fit(X, y, sample_weight, partial=True)

    def predict(self, X):
        """The predicted targets: shape (n_samples,) for one target column, as
        scikit-learn's MLPRegressor returns it, else (n_samples, n_outputs)."""
        out = self._forward(X)
        return out[:, 0] if self.n_outputs_ == 1 else out

    # ------------------------------------------------------------------ hooks
    def _check_targets(self, y, first, classes=None):
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if first:
            _params.loss(self.loss)   # an unknown name raises, listing the valid ones
            self.n_outputs_ = n_outputs
            self.target_type_ = "continuous" if y.ndim == 1 else "continuous-multioutput"
        elif n_outputs != self.n_outputs_:
            raise ValueError(f"`y` must have {self.n_outputs_} target columns as in the "
                             f"first fit; got {n_outputs}")
        return y

    def _head(self):
        return self.n_outputs_, "linear", self.loss

    def _meta(self):
        return {"n_features_in_": self.n_features_in_, "n_outputs_": self.n_outputs_,
                "target_type_": self.target_type_}

    def _encode(self, y, model):
        if model.output_shape[-1] != self.n_outputs_:
            raise ValueError(f"`model` must return a model with {self.n_outputs_} output "
                             f"units (the target columns); got {model.output_shape[-1]}")
        return numpy.asarray(y, dtype=numpy.float64).reshape(len(y), self.n_outputs_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
