"""Weight constraints (fastnn.constraints) and Dense's constraints and activity
regularizer, against hand-computed values and Keras 3 goldens."""
import numpy as np
import pytest

from fastnn import constraints, initializers, layers, models, optimizers, regularizers
from fastnn.backend.compiled_executor import why_not_compiled

W = np.array([[3.0, -0.5], [4.0, 0.2], [0.0, -1.0]])


def test_max_norm_scales_columns_above_the_limit():
    out = constraints.MaxNorm(2.0)(W)
    # column 0 has norm 5: scaled by 2 / (5 + 1e-7); column 1 (norm ~1.136) is kept
    np.testing.assert_allclose(out[:, 0], W[:, 0] * 2 / (5 + 1e-7))
    np.testing.assert_allclose(out[:, 1], W[:, 1], rtol=1e-6)


def test_max_norm_along_rows():
    out = constraints.max_norm(1.0, axis=1)(W)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [1.0, 1.0, 1.0], rtol=1e-6)


def test_non_neg_and_unit_norm():
    np.testing.assert_array_equal(constraints.NonNeg()(W), np.maximum(W, 0))
    out = constraints.UnitNorm()(W)
    np.testing.assert_allclose(out[:, 0], [0.6, 0.8, 0.0], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [1.0, 1.0], rtol=1e-6)


def test_min_max_norm_moves_norm_by_rate():
    out = constraints.MinMaxNorm(0.5, 1.5, rate=0.5)(W)
    # column 0: norm 5 -> 0.5 * 1.5 + 0.5 * 5 = 3.25
    np.testing.assert_allclose(out[:, 0], W[:, 0] * 3.25 / 5, rtol=1e-6)
    # Keras 3 golden
    np.testing.assert_allclose(out, [[1.95, -0.5], [2.6, 0.2], [0.0, -1.0]], rtol=1e-6)


@pytest.mark.parametrize("name,cls", [("max_norm", constraints.MaxNorm),
                                      ("NonNeg", constraints.NonNeg),
                                      ("unit_norm", constraints.UnitNorm),
                                      ("min_max_norm", constraints.MinMaxNorm)])
def test_get_and_serialize_round_trip(name, cls):
    c = constraints.get(name)
    assert type(c) is cls
    again = constraints.get(constraints.serialize(c))
    assert type(again) is cls and again.get_config() == c.get_config()
    assert constraints.get(None) is None and constraints.serialize(None) is None


def test_unknown_constraint_name_is_rejected():
    with pytest.raises(ValueError, match="constraint"):
        constraints.get("no_such_constraint")


X = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]], dtype="float32")
Y = np.array([[1.0], [0.0]], dtype="float32")


def _fit(**kwargs):
    model = models.Sequential([
        layers.Dense(2, activation="tanh", input_dim=3,
                     kernel_initializer=initializers.Constant(W.astype("float32")), **kwargs),
        layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    history = model.fit(X, Y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    return model, history.history["loss"][0]


def test_constraints_after_the_update_match_keras():
    model, loss = _fit(kernel_constraint=constraints.MaxNorm(2.0),
                       bias_constraint="non_neg")
    dense = model.layers[0]
    # Keras' values from the compiled step (tests/test_fastpath_more.py: the bits of the
    # layer-by-layer step)
    assert why_not_compiled(model.program) is None
    np.testing.assert_allclose(loss, 2.2006003856658936, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(dense.kernel),
                               [[1.2016754150390625, -0.531984269618988],
                                [1.5987364053726196, 0.12445753812789917],
                                [0.004197004716843367, -0.9535483121871948]], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(dense.bias), [0.0052435193210840225, 0.0],
                               rtol=1e-5, atol=1e-7)


def test_activity_regularizer_matches_keras():
    model, loss = _fit(activity_regularizer=regularizers.L2(0.1))
    dense = model.layers[0]
    assert why_not_compiled(model.program) == \
        f"layer {dense.name!r} has an activity regularizer"
    np.testing.assert_allclose(loss, 2.373457431793213, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(dense.kernel),
                               [[3.0027530193328857, -0.5353275537490845],
                                [3.9944941997528076, 0.11719285696744919],
                                [0.011011763475835323, -0.9494823813438416]], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(dense.bias),
                               [0.005505881737917662, -0.032289545983076096], rtol=1e-5)


def test_activity_l1_with_unit_norm_matches_keras():
    model, loss = _fit(activity_regularizer=regularizers.L1(0.05),
                       kernel_constraint="unit_norm")
    np.testing.assert_allclose(loss, 2.2928035259246826, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(model.layers[0].kernel),
                               [[0.6008483171463013, -0.4855404198169708],
                                [0.7993601560592651, 0.11105653643608093],
                                [0.0021251223515719175, -0.8671312928199768]], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(model.layers[0].kernel), axis=0),
                               [1.0, 1.0], rtol=1e-5)


def test_dense_config_round_trip_and_reason():
    dense = layers.Dense(4, kernel_constraint=constraints.MaxNorm(3.0, axis=0),
                         bias_constraint="non_neg",
                         activity_regularizer=regularizers.L1(0.2))
    config = dense.get_config()
    assert config["kernel_constraint"] == {"class_name": "MaxNorm",
                                           "config": {"max_value": 3.0, "axis": 0}}
    again = layers.Dense.from_config(config)
    assert isinstance(again.kernel_constraint, constraints.MaxNorm)
    assert isinstance(again.bias_constraint, constraints.NonNeg)
    assert again.activity_regularizer.l1 == pytest.approx(0.2)


def test_saved_model_keeps_constraints(tmp_path):
    model, _ = _fit(kernel_constraint=constraints.MaxNorm(2.0),
                    activity_regularizer=regularizers.L2(0.1))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = models.load_model(path)
    dense = loaded.layers[0]
    assert isinstance(dense.kernel_constraint, constraints.MaxNorm)
    assert dense.kernel_constraint.max_value == 2.0
    assert isinstance(dense.activity_regularizer, regularizers.L2)


W3 = np.array([[0.3, -0.5, 0.1], [0.4, 0.2, -0.2], [0.0, -1.0, 0.5]], dtype="float32")
GOLDEN_FUSED = {  # Keras 3: loss, first kernel, second kernel after one SGD(0.5) step
    "softmax": (1.230979561805725,
                [[0.2678517997264862, -0.6201350688934326, 0.11882477253675461],
                 [0.335703581571579, -0.040270134806632996, -0.23764954507350922],
                 [0.03214821219444275, -0.8798649311065674, 0.575299084186554]],
                [[0.502648651599884, 0.22835592925548553, -0.031004570424556732],
                 [-0.3341965675354004, 0.05956393480300903, -1.0253673791885376],
                 [0.00920269638299942, -0.25999000668525696, 0.6507872939109802]]),
    "sigmoid": (0.9765047430992126,
                [[0.25714725255966187, -0.5249945521354675, 0.09291687607765198],
                 [0.3142945170402527, 0.1500108689069748, -0.18583375215530396],
                 [0.042852744460105896, -0.9750054478645325, 0.47166749835014343]],
                [[0.33570048213005066, 0.3241296112537384, -0.03303029388189316],
                 [-0.4707905352115631, 0.1379242241382599, -1.027024745941162],
                 [0.028130069375038147, -0.2590770423412323, 0.5178275108337402]])}


@pytest.mark.parametrize("act,loss", [("softmax", "categorical_crossentropy"),
                                      ("sigmoid", "binary_crossentropy")])
def test_activity_regularizers_through_fused_activations_match_keras(act, loss):
    # the last activation is fused with the loss and the relu's act' with the next
    # layer's input gradient: the activity gradients must pass through both
    model = models.Sequential([
        layers.Dense(3, activation="relu", input_dim=3,
                     kernel_initializer=initializers.Constant(W3),
                     activity_regularizer=regularizers.L1(0.1)),
        layers.Dense(3, activation=act, kernel_initializer=initializers.Constant(W3.T.copy()),
                     activity_regularizer=regularizers.L2(0.2))])
    model.compile(optimizer=optimizers.SGD(0.5), loss=loss)
    y = np.array([[1, 0, 0], [0, 0, 1]], dtype="float32")
    history = model.fit(X, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    want_loss, want_k0, want_k1 = GOLDEN_FUSED[act]
    np.testing.assert_allclose(history.history["loss"][0], want_loss, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(model.layers[0].kernel), want_k0, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(model.layers[1].kernel), want_k1, rtol=1e-5,
                               atol=1e-6)


def test_functional_graph_applies_inner_constraints_and_activity_penalty():
    import fastnn
    a, b = fastnn.Input(shape=(3,), name="a"), fastnn.Input(shape=(3,), name="b")
    inner = layers.Dense(2, activation="tanh", kernel_constraint=constraints.UnitNorm(),
                         activity_regularizer=regularizers.L2(1.0))
    h = inner(b)
    out = layers.Dense(1)(layers.Concatenate()([a, h]))
    model = fastnn.Model([a, b], out)
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    model.fit([X, X], Y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(inner.kernel), axis=0), [1.0, 1.0],
                               rtol=1e-5)
    assert inner.activity_loss() > 0
