"""What tests/test_fastpath_layers.py and tests/test_fastpath_more.py share: a stack of
layers trained on the cpu backend's compiled step, layer by layer (the specification)
or on another backend, and the checks that compare those runs."""
import numpy as np

import fastnn
from fastnn import layers as L, models
from fastnn.backend import compiled_executor

COMPILED = "compiled: one fused call per training step"
SCC = "sparse_categorical_crossentropy"


def data(loss, n, seed=0):
    """n rows of 8 features and targets for `loss`."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)) * 2.0 + 0.5
    if loss == "binary_crossentropy":
        return x, (rng.random((n, 1)) > 0.5) * 1.0
    if loss == "mse":
        return x, rng.standard_normal((n, 3))
    return x, rng.integers(0, 3, n)


def fit_stack(make_layers, loss, backend="cpu", dtype="float32", threads=1, width=16, n=70,
              batch_size=8, layer_path=False, monkeypatch=None, epochs=3):
    """Train make_layers(width) (a first Normalization adapted to x) `epochs` epochs
    with Adam; returns (model, losses, predictions). layer_path=True forces the
    layer-by-layer executor, for training and predict (needs `monkeypatch`)."""
    x, y = data(loss, n)
    with fastnn.use_backend(backend), fastnn.threads(threads):
        fastnn.config.set_floatx(dtype)
        try:
            fastnn.utils.set_random_seed(1)
            model = models.Sequential(make_layers(width))
            model.build((None, 8))
            if isinstance(model.layers[0], L.Normalization):
                model.layers[0].adapt(x)
            model.compile("adam", loss)
            if layer_path:     # the specification: every layer's own code, one by one
                monkeypatch.setattr(compiled_executor, "why_not_compiled",
                                    lambda program: "forced layer by layer")
                monkeypatch.setattr(compiled_executor.CompiledExecutor, "inference_plan",
                                    lambda self, rows, cache: None)
            history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
            pred = model.predict(x, verbose=0)
            if layer_path:
                monkeypatch.undo()
            return model, history.history["loss"], pred
        finally:
            fastnn.config.set_floatx("float32")


def same_bits(a, b):
    """Whether the arrays of a and b have the same dtypes and bytes, pair by pair."""
    return all(u.dtype == v.dtype and u.tobytes() == v.tobytes() for u, v in zip(a, b))


def compiled_and_layered(fit, case, batch_size, dtype, monkeypatch):
    """`case` fitted by the compiled step and layer by layer (one block of rows at
    batch 8, several at 256), with the weights and predictions checked bit for bit;
    returns the two runs' (model, losses, predictions)."""
    kw = dict(dtype=np.dtype(dtype).name, n=600 if batch_size == 256 else 70,
              batch_size=batch_size)
    compiled = fit(case, **kw)
    layered = fit(case, layer_path=True, monkeypatch=monkeypatch, **kw)
    assert compiled[0].executor.compiled and not layered[0].executor.compiled
    assert same_bits(compiled[0].get_weights(), layered[0].get_weights())
    assert compiled[2].tobytes() == layered[2].tobytes()
    return compiled, layered


def check_one_and_two_threads(fit, case):
    """256 rows x 80 features, so that the element-wise passes and the column sums are
    split over the threads: the same weights, losses and predictions on 1 and 2."""
    kw = dict(width=80, n=600, batch_size=256)
    one, loss_1, pred_1 = fit(case, threads=1, **kw)
    two, loss_2, pred_2 = fit(case, threads=2, **kw)
    assert same_bits(one.get_weights(), two.get_weights())
    assert loss_1 == loss_2 and pred_1.tobytes() == pred_2.tobytes()


def check_reference_backend(fit, case, dtype, skip=lambda model: ()):
    """The reference backend's weights, losses and predictions within rounding (float32:
    27 Adam steps through normalisations, which scale rounding differences up), but the
    weights at the indices skip(model) gives."""
    name = np.dtype(dtype).name
    cpu, cpu_loss, cpu_pred = fit(case, dtype=name)
    ref, ref_loss, ref_pred = fit(case, backend="reference", dtype=name)
    tol = dict(rtol=2e-3, atol=2e-4) if name == "float32" else dict(rtol=1e-9, atol=1e-11)
    skipped = skip(cpu)
    for i, (got, want) in enumerate(zip(cpu.get_weights(), ref.get_weights())):
        if i not in skipped:
            np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(cpu_loss, ref_loss, **tol)
    np.testing.assert_allclose(cpu_pred, ref_pred, **tol)
