"""MLPClassifier: scikit-learn's classifier interface over a fastnn model."""
import numpy
from sklearn.base import ClassifierMixin

from fastnn.sklearn import _targets
from fastnn.sklearn._base import BaseMLP

# the output layer and loss of the default model, per kind of target
_HEADS = {"binary": ("sigmoid", "binary_crossentropy"),
          "multiclass": ("softmax", "sparse_categorical_crossentropy"),
          "multilabel-indicator": ("sigmoid", "binary_crossentropy")}


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multilayer perceptron classifier trained by fastnn, with scikit-learn's API.

    The default model is Dense layers of `hidden_layer_sizes` units, then one sigmoid
    unit for two classes (binary cross-entropy), a softmax over the classes for more
    (sparse categorical cross-entropy), or a sigmoid per column for a multilabel 0/1
    indicator `y`. Labels may be any sortable values (strings too): `classes_` holds them.

    Args:
        hidden_layer_sizes: Units of each hidden layer, a tuple of ints (an int is one
            layer, `()` none).
        activation: The hidden layers' activation, a fastnn activation name.
        optimizer: An optimizer name ('adam', 'sgd', 'rmsprop', ...) built with
            `learning_rate`, or a fastnn optimizer object (copied at each fit; its own
            learning rate applies).
        learning_rate: The named optimizer's learning rate.
        alpha: L2 penalty on the kernels, scikit-learn's `alpha` (`alpha / 2 * ||W||^2`
            added to a batch's summed loss).
        batch_size: Samples per step, an int or "auto" (min(200, n_samples)).
        epochs: The most passes over the data per `fit` (scikit-learn's `max_iter`).
        shuffle: Whether to shuffle the samples each epoch.
        tol, n_iter_no_change: `fit` stops once the training loss (the validation loss
            with `early_stopping`) has not fallen by `tol` for `n_iter_no_change`
            epochs; `n_iter_no_change=None` always runs `epochs`.
        early_stopping: Hold out `validation_fraction` of the samples (stratified), stop
            on their loss and keep the weights of the best epoch.
        validation_fraction: The held-out share with `early_stopping`, in (0, 1).
        random_state: None (fastnn's seed stream, see fastnn.utils.set_random_seed), an
            int (every fit gives the same bits) or a numpy RandomState.
        verbose: 0 silent, 1 a progress bar, 2 a line per epoch.
        warm_start: Whether `fit` continues training the fitted model.
        model: None, or a function returning a fastnn model (compiled, or compiled here
            with `optimizer` and the loss above), called at fit with those of its named
            arguments found among the estimator's parameters and `n_features_in_`,
            `n_outputs_`, `n_classes_`, `classes_`, `target_type_`. It must output
            probabilities: one unit per class (or one sigmoid unit for two classes).
        dtype: The model's float type, 'float32' or 'float64'; None is
            fastnn.config.floatx() (float32 unless set).

    Attributes:
        classes_: The class labels (the column numbers for a multilabel target).
        model_: The trained fastnn model.
        n_iter_: Epochs trained so far; history_: fit's logs per epoch ('loss', ...);
            loss_curve_: the training loss per epoch.
        n_features_in_, feature_names_in_ (X a DataFrame with string column names),
        n_outputs_, target_type_.

    Example:
        >>> from fastnn.sklearn import MLPClassifier
        >>> from sklearn.datasets import load_iris
        >>> x, y = load_iris(return_X_y=True)
        >>> clf = MLPClassifier((32,), epochs=300, random_state=0).fit(x / 8, y)
        >>> clf.predict_proba(x[:2] / 8).shape
        (2, 3)
    """

    def fit(self, X, y, sample_weight=None):
        """Train on X (n_samples, n_features) and labels y (n_samples,) or a multilabel
        indicator (n_samples, n_labels), with optional per-sample weights; returns self."""
        return self._fit(X, y, sample_weight, partial=False)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), continuing the fitted model. The first call needs
        `classes`, every label that any call will bring (not for a multilabel
        indicator y); returns self."""
        if not hasattr(self, "model_") and classes is None and not (
                numpy.ndim(y) == 2 and numpy.shape(y)[1] > 1):
            raise ValueError("`classes` must be given on the first call to partial_fit: "
                             "every label any call will bring, e.g. classes=[0, 1, 2]")
        return self._fit(X, y, sample_weight, partial=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in `classes_`
        order (per-label probabilities for a multilabel target)."""
        return _targets.probabilities(self._forward(X))

    def predict(self, X):
        """The most probable class of each sample (a 0/1 indicator for multilabel)."""
        proba = self.predict_proba(X)
        if self.target_type_ == "multilabel-indicator":
            return (proba > 0.5).astype(numpy.int64)
        return self.classes_[numpy.argmax(proba, axis=1)]

    # ------------------------------------------------------------------ hooks
    def _check_targets(self, y, first, classes=None):
        y, kind = _targets.labels(y)
        if first:
            self.classes_ = _targets.classes_of(y, kind, classes)
            self.target_type_ = _targets.kind_of(self.classes_, kind)
            self.n_classes_ = len(self.classes_)
            self.n_outputs_ = 1 if self.target_type_ == "binary" else self.n_classes_
        else:
            if classes is not None and not numpy.array_equal(numpy.unique(classes),
                                                             self.classes_):
                raise ValueError(f"`classes` must be the classes_ of the first call, "
                                 f"{self.classes_.tolist()}; got {classes!r}")
            _targets.check_known(y, kind, self.classes_, self.target_type_)
        return y

    def _check_weighted_targets(self, y, weights):
        if weights is None or self.target_type_ == "multilabel-indicator":
            return
        kept = numpy.unique(y[weights > 0])
        if len(kept) < 2 and len(numpy.unique(y)) >= 2:
            raise ValueError(f"`sample_weight` leaves only one class with weight > 0 "
                             f"({kept.tolist()}); a classifier needs at least 2 classes")

    def _head(self):
        activation, loss = _HEADS[self.target_type_]
        return self.n_outputs_, activation, loss

    def _meta(self):
        return {"n_features_in_": self.n_features_in_, "n_outputs_": self.n_outputs_,
                "n_classes_": self.n_classes_, "classes_": self.classes_,
                "target_type_": self.target_type_}

    def _encode(self, y, model):
        return _targets.encode(y, self.classes_, self.target_type_, model)

    def _stratify(self, y):
        return y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
