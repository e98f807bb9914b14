"""BatchNormalization, LayerNormalization, Rescaling, PReLU and activation layers after
any layer run in the cpu backend's compiled step (fastnn/_kernels/step_norm.pxi): one fused
call per training step, with the bits of the layer-by-layer executor on the same
backend (weights, moving statistics, losses and predictions bit for bit), the same bits
on 1 and 2 threads, the reference backend's values within float rounding, and Keras 3's
training of Dense -> BatchNormalization -> Dense (tests/golden/layers3.npz)."""
import os

import numpy as np
import pytest

import fastnn
from fastnn import layers as L, models, regularizers
from conftest import BACKENDS, needs_openmp
from fastpath_common import (COMPILED, SCC, check_one_and_two_threads,
                             check_reference_backend, compiled_and_layered, data, fit_stack)

pytestmark = pytest.mark.skipif("cpu" not in BACKENDS, reason="the cpu backend is not built")

STACKS = {
    # the Keras pattern: Dense -> BatchNormalization -> Activation -> Dense(softmax)
    "dense_bn_relu": (lambda w: [L.Dense(w, input_shape=(8,)), L.BatchNormalization(),
                                 L.Activation("relu"), L.Dense(3, "softmax")], SCC),
    "bn_first_tanh": (lambda w: [L.BatchNormalization(input_shape=(8,)), L.Dense(w, "tanh"),
                                 L.Dense(3, "softmax")], SCC),
    "bn_one_feature": (lambda w: [L.Dense(1, input_shape=(8,)),
                                  L.BatchNormalization(momentum=0.9),
                                  L.Activation("sigmoid")], "binary_crossentropy"),
    "bn_frozen": (lambda w: [L.Dense(w, input_shape=(8,)),
                             L.BatchNormalization(trainable=False), L.ReLU(),
                             L.Dense(3, "softmax")], SCC),
    "relu_bn_plain_dropout": (lambda w: [L.Dense(w, "relu", input_shape=(8,)),
                                         L.BatchNormalization(center=False, scale=False),
                                         L.Dropout(0.3), L.Dense(3)], "mse"),
    "bn_regularized_leaky": (lambda w: [L.Dense(w, "elu", input_shape=(8,)),
                                        L.BatchNormalization(gamma_regularizer="l2",
                                                             beta_regularizer=regularizers.L1(0.01)),
                                        L.LeakyReLU(0.2), L.Dense(3, "softmax")], SCC),
    "rescale_ln_elu_softmax": (lambda w: [L.Rescaling(0.5, 0.1, input_shape=(8,)), L.Dense(w),
                                          L.LayerNormalization(), L.ELU(0.7), L.Dense(3),
                                          L.Softmax()], SCC),
    "gelu_after_bn_ln_slope": (lambda w: [L.Dense(w, input_shape=(8,)), L.BatchNormalization(),
                                          L.Activation("gelu"), L.Dense(24, "relu"),
                                          L.LayerNormalization(center=False),
                                          L.ReLU(negative_slope=0.1),
                                          L.Dense(3, "softmax")], SCC),
    "prelu_after_dense_and_bn": (lambda w: [L.Dense(w, input_shape=(8,)),
                                            L.PReLU(alpha_initializer="random_uniform"),
                                            L.Dense(w, use_bias=False), L.BatchNormalization(),
                                            L.PReLU(alpha_regularizer="l2"),
                                            L.Dense(3, "softmax")], SCC),
    "bn_sigmoid_output_mse": (lambda w: [L.Dense(w, input_shape=(8,)), L.BatchNormalization(),
                                         L.Activation("tanh"), L.Dense(3),
                                         L.BatchNormalization(), L.Activation("sigmoid")],
                              "mse"),
}


def _fit(case, **kw):
    """Train STACKS[case] (fastpath_common.fit_stack); returns (model, losses, predictions)."""
    make, loss = STACKS[case]
    return fit_stack(make, loss, **kw)


def _rounding_driven(model):
    """The indices (in get_weights) of the biases of Dense layers followed by a
    BatchNormalization: their gradient is 0 in exact arithmetic (the layer subtracts the
    batch mean), so Adam moves them by normalised rounding noise alone, which differs
    from backend to backend."""
    found, i = set(), 0
    for layer, after in zip(model.layers, model.layers[1:] + [None]):
        if (layer.op_kind == "dense" and layer.use_bias and after is not None
                and after.op_kind == "batch_norm"):
            found.add(i + 1)
        i += len(layer.weights)
    return found


@pytest.mark.parametrize("case", sorted(STACKS))
def test_the_layers_run_compiled_and_summary_says_so(case):
    model, _, _ = _fit(case)
    assert model.executor.compiled, model.executor.description
    assert model.executor.plan_for(8) is not None
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Executor (cpu): {COMPILED}" in "\n".join(lines)


@pytest.mark.parametrize("case", sorted(STACKS))
@pytest.mark.parametrize("batch_size", [8, 256])      # one block of rows, several
def test_weights_are_the_layer_paths_bit_for_bit(case, batch_size, dtype, monkeypatch):
    """Bit for bit: weights (moving statistics included), per-epoch losses (but where a
    regularizer's penalty is summed in another order: within 1e-12) and predictions."""
    (_, c_loss, _), (_, l_loss, _) = compiled_and_layered(_fit, case, batch_size, dtype,
                                                          monkeypatch)
    if "regularized" in case or "prelu" in case:
        np.testing.assert_allclose(c_loss, l_loss,
                                   rtol=1e-12 if np.dtype(dtype) == np.float64 else 1e-8)
    else:
        assert c_loss == l_loss


@needs_openmp
@pytest.mark.parametrize("case", sorted(STACKS))
def test_one_and_two_threads_give_the_same_bits(case):
    check_one_and_two_threads(_fit, case)


@pytest.mark.parametrize("case", sorted(STACKS))
def test_the_reference_backend_takes_the_same_steps(case, dtype):
    check_reference_backend(_fit, case, dtype, skip=_rounding_driven)


def test_moving_statistics_are_trained_and_saved(tmp_path, monkeypatch):
    model, _, pred = _fit("dense_bn_relu")
    layered, _, _ = _fit("dense_bn_relu", layer_path=True, monkeypatch=monkeypatch)
    bn, bn_layered = model.layers[1], layered.layers[1]
    for name in ("moving_mean", "moving_variance"):
        got = np.asarray(getattr(bn, name))
        assert got.tobytes() == np.asarray(getattr(bn_layered, name)).tobytes()
    assert not np.allclose(np.asarray(bn.moving_mean), 0.0)   # trained: not the initial
    path = os.path.join(tmp_path, "bn.fnn")
    model.save(path)
    loaded = models.load_model(path)
    for name in ("moving_mean", "moving_variance", "gamma", "beta"):
        assert (np.asarray(getattr(loaded.layers[1], name)).tobytes()
                == np.asarray(getattr(bn, name)).tobytes())
    x, _ = data(SCC, 70)
    assert loaded.predict(x, verbose=0).tobytes() == pred.tobytes()


def test_keras3_fit_of_dense_batchnorm_dense_compiled(floatx64):
    """Keras 3's own training of Dense(6, relu) -> BatchNormalization(momentum=0.8) ->
    Dense(1) (tests/golden/make_keras_layer_goldens.py), run by the compiled step."""
    golden = np.load(os.path.join(os.path.dirname(__file__), "golden", "layers3.npz"))
    with fastnn.use_backend("cpu"):
        model = models.Sequential([L.Dense(6, activation="relu", input_shape=(3,)),
                                   L.BatchNormalization(momentum=0.8), L.Dense(1)])
        model.set_weights([golden[f"fit/weights/{i}"] for i in range(8)])
        model.compile(optimizer=fastnn.optimizers.SGD(0.05), loss="mse")
        history = model.fit(golden["fit/x"], golden["fit/y"], batch_size=8, epochs=3,
                            shuffle=False, verbose=0)
        assert model.executor.description == COMPILED
    np.testing.assert_allclose(history.history["loss"], golden["fit/history/loss"],
                               rtol=1e-10)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, golden[f"fit/final_weights/{i}"], rtol=1e-10,
                                   atol=1e-13)


def test_what_stays_layer_by_layer_says_why():
    fastnn.utils.set_random_seed(0)
    x = np.ones((4, 2, 3), np.float32)
    images = models.Sequential([L.BatchNormalization(input_shape=(2, 3)), L.Flatten(),
                                L.Dense(2)])
    images.compile("adam", "mse")
    images.fit(x, np.ones((4, 2)), verbose=0)
    assert "normalises samples of more than one axis" in images.executor.description
    hidden_softmax = models.Sequential([L.Dense(4, input_shape=(3,)),
                                        L.BatchNormalization(), L.Softmax(), L.Dense(2)])
    hidden_softmax.compile("adam", "mse")
    hidden_softmax.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    assert "row-wise softmax inside" in hidden_softmax.executor.description
    shared = models.Sequential([L.Dense(4, input_shape=(3,)), L.PReLU(shared_axes=[1]),
                                L.Dense(2)])
    shared.compile("adam", "mse")
    shared.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    assert "one alpha per feature" in shared.executor.description


def test_distributed_training_refuses_the_new_layers():
    from fastnn.backend.sharded import sharded_ops
    fastnn.utils.set_random_seed(0)
    model = models.Sequential(STACKS["bn_first_tanh"][0](4))
    model.compile("adam", SCC)
    model.fit(*data(SCC, 8), verbose=0)
    with pytest.raises(ValueError, match="distributed training runs Dense and Dropout "
                                         "layers .*batch_normalization"):
        sharded_ops(model.program)
