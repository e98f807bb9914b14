"""Pictures of models, training and explanations, drawn with matplotlib.

matplotlib is optional (``pip install fastnn[plot]``) and imported only when a function is
called. Every function returns the matplotlib Figure; single-panel ones take `ax=`, multi-
panel ones `fig=`, to draw into an existing figure, and all take `path=` to save it.

Example:
    >>> history = model.fit(x, y, epochs=10, validation_split=0.1, verbose=0)
    >>> fastnn.plot.plot_history(history, path="history.png")
    >>> fastnn.plot.plot_model(model, path="model.png")
"""
from fastnn.plot.activations import plot_activations, plot_embedding
from fastnn.plot.architecture import plot_model
from fastnn.plot.attributions import plot_attributions
from fastnn.plot.evaluation import plot_confusion_matrix, plot_decision_boundary
from fastnn.plot.history import plot_history, plot_training_stats
from fastnn.plot.report import write_report
from fastnn.plot.weights import plot_first_layer, plot_weights

__all__ = ["plot_activations", "plot_attributions", "plot_confusion_matrix",
           "plot_decision_boundary", "plot_embedding", "plot_first_layer", "plot_history",
           "plot_model", "plot_training_stats", "plot_weights", "write_report"]
