"""What the classifier and the regressor share: the arguments, fit / partial_fit around a
fastnn model, prediction, and scikit-learn's tags."""
import numpy
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from fastnn import config
from fastnn.callbacks import EarlyStopping
from fastnn.sklearn import _build, _data, _params, _seeding

# X reaches the model as float32 or float64 (other dtypes become float64; the model casts
# to its own dtype, fastnn.config.floatx() when it was built)
_FLOATS = (numpy.float64, numpy.float32)


class BaseMLP(BaseEstimator):
    """A multilayer perceptron trained by a fastnn model (not for direct use: see
    MLPClassifier and MLPRegressor, which document the arguments)."""

    _y_numeric = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, optimizer="adam",
                 learning_rate=0.001, alpha=0.0001, batch_size="auto", epochs=200,
                 shuffle=True, tol=0.0001, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, random_state=None, verbose=0, warm_start=False,
                 model=None, dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.model = model
        self.dtype = dtype

    # ------------------------------------------------------------------ subclass hooks
    def _check_targets(self, y, first, classes=None):
        """`y` checked (and the target attributes set when `first`)."""
        raise NotImplementedError

    def _check_weighted_targets(self, y, weights):
        """Refuse weights that leave nothing to learn (the classifier: one class)."""

    def _head(self):
        """(units, activation, loss) of the default model's output layer."""
        raise NotImplementedError

    def _meta(self):
        """The sizes of the data a `model` function may take by name."""
        raise NotImplementedError

    def _encode(self, y, model):
        """`y` as `model`'s loss expects it."""
        raise NotImplementedError

    def _stratify(self, y):
        """Labels to stratify the early-stopping hold-out by, or None."""
        return None

    # ------------------------------------------------------------------ fitting
    def _fit(self, X, y, sample_weight, partial, classes=None):
        settings = _params.check(self)
        keep = hasattr(self, "model_") and (partial or self.warm_start)
        if not keep:   # a fit that fails leaves no model of earlier data behind
            self.__dict__.pop("model_", None)
        X, y = validate_data(self, X, y, reset=not keep, multi_output=True,
                             y_numeric=self._y_numeric, dtype=_FLOATS)
        y = self._check_targets(y, first=not keep, classes=classes)
        weights = _data.sample_weights(sample_weight, len(X))
        self._check_weighted_targets(y, weights)
        seed = None if keep else _seeding.fit_seed(self.random_state)
        batch_size = settings.batch_for(len(X))
        # scikit-learn's weighted loss is sum(w * loss) / sum(w) per batch, fastnn's (as
        # Keras') sum(w * loss) / batch_size: weights scaled to mean 1 make them agree, so
        # that a weight of 2 is a repeated sample (alpha counting per unit of weight)
        mean_weight = 1.0 if weights is None else float(weights.mean())
        if weights is not None:
            # equal weights are no weights at all (the same bits as none)
            weights = None if (weights == weights[0]).all() else weights / mean_weight
        # everything random in this fit (weights, shuffling, dropout) derives from `seed`
        with _seeding.seeded(seed), config.floatx_scope(settings.dtype):
            if not keep:
                self.model_ = self._new_model(settings, batch_size * mean_weight)
                self.n_iter_ = 0
                self.history_ = {}
            self._train(settings, X, y, weights, batch_size, partial, seed)
        return self

    def _new_model(self, settings, batch_weight):
        """The model of a first fit; `batch_weight` is the sample weight in a batch
        (the batch size when unweighted), which scales `alpha` as in scikit-learn."""
        optimizer = _params.optimizer(self)
        n_features = self.n_features_in_
        if self.model is None:
            return _build.default_model(settings, self.activation, optimizer, n_features,
                                        self._head(), batch_weight)
        available = {**{k: v for k, v in self.get_params(deep=False).items()
                        if k != "model"}, **self._meta()}
        return _build.user_model(self.model, available, n_features, optimizer,
                                 self._head()[2])

    def _train(self, settings, X, y, weights, batch_size, partial, seed):
        """Epochs of the model on (X, y): `settings.epochs` of them (fewer when the loss
        stops improving), or one for partial_fit; numbered on from the earlier fits so
        that each epoch shuffles in a new order."""
        target = self._encode(y, self.model_)
        validation = None
        if self.early_stopping and not partial:
            (X, target, weights), validation = _data.holdout(
                X, target, weights, settings.validation_fraction, seed, self._stratify(y))
        callbacks = []
        if not partial and settings.n_iter_no_change is not None:
            # scikit-learn's rule: stop once the loss has not fallen by `tol` for
            # `n_iter_no_change` epochs; on held-out data, keep the best epoch's weights
            callbacks.append(EarlyStopping(
                monitor="val_loss" if validation else "loss", min_delta=settings.tol,
                patience=settings.n_iter_no_change,
                restore_best_weights=validation is not None))
        start = self.n_iter_
        history = self.model_.fit(
            X, target, batch_size=batch_size, initial_epoch=start,
            epochs=start + (1 if partial else settings.epochs), verbose=settings.verbose,
            callbacks=callbacks, validation_data=validation, shuffle=self.shuffle,
            sample_weight=weights)
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(values)
        self.n_iter_ = start + len(history.history["loss"])

    @property
    def loss_curve_(self):
        """The training loss of each epoch so far (scikit-learn's name)."""
        check_is_fitted(self)
        return list(self.history_["loss"])

    # ------------------------------------------------------------------ predicting
    def _forward(self, X):
        """The model's outputs for X, as float64 of shape (n_samples, n_outputs)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        return numpy.asarray(self.model_.predict(X, verbose=0), dtype=numpy.float64)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False   # with an int random_state, every fit is the same
        return tags
