"""Small pieces of the Keras 3 surface that published programs touch."""
import numpy
import pytest

from fastnn import initializers, layers, models, regularizers


def test_lower_case_regularizers_are_the_classes():
    assert regularizers.l1 is regularizers.L1 and regularizers.l2 is regularizers.L2
    assert regularizers.l1_l2 is regularizers.L1L2
    penalty = regularizers.l1_l2(l1=0.1, l2=0.2)(numpy.array([[1.0, -2.0]]))
    assert penalty == pytest.approx(0.1 * 3 + 0.2 * 5)


def test_metrics_names_and_losses():
    model = models.Sequential([layers.Dense(2, input_shape=(3,),
                                            kernel_regularizer=regularizers.l2(0.5),
                                            bias_regularizer=regularizers.l1(0.25))])
    model.compile("sgd", "mse", metrics=["mae"])
    model.set_weights([numpy.ones((3, 2)), numpy.array([1.0, -3.0])])
    assert model.metrics_names == ["loss", "mae"]
    assert model.losses == [pytest.approx(0.5 * 6), pytest.approx(0.25 * 4)]
    result = model.evaluate(numpy.zeros((2, 3)), numpy.zeros((2, 2)), verbose=0)
    assert len(result) == len(model.metrics_names)


def test_one_dimensional_x_for_one_feature_is_expanded():
    model = models.Sequential([layers.Dense(1, input_shape=(1,))])
    model.compile("sgd", "mse")
    model.set_weights([numpy.array([[2.0]]), numpy.array([1.0])])
    numpy.testing.assert_allclose(model.predict(numpy.arange(3.0), verbose=0)[:, 0],
                                  [1.0, 3.0, 5.0])
    model.fit(numpy.arange(4.0), numpy.arange(4.0), verbose=0)


def test_constant_takes_an_array_and_bias_initializer_none_takes_keras_default():
    numpy.testing.assert_array_equal(initializers.Constant(numpy.array([0.5]))((2, 2)),
                                     numpy.full((2, 2), 0.5))
    numpy.testing.assert_array_equal(initializers.Constant([1.0, 2.0])((2, 2)),
                                     [[1.0, 2.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="`value`"):
        initializers.Constant([1.0, 2.0, 3.0])((2, 2))
    dense = layers.Dense(4, bias_initializer=None, input_shape=(3,))
    model = models.Sequential([dense])
    assert type(dense.bias_initializer).__name__ == "GlorotUniform"
    assert numpy.abs(model.get_weights()[1]).max() > 0      # drawn, not zeros
