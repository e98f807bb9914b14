"""Write tests/golden/layers3.npz, the Keras 3 golden values that
tests/test_normalization_layers.py compares fastnn's normalization and preprocessing
layers with.

Run by hand, where Keras 3 with the JAX backend is installed (see
tests/golden/make_keras_goldens.py, whose float64 set-up and checks this script reuses).
From the repository root:

    KERAS_BACKEND=jax /tmp/kenv/bin/python tests/golden/make_keras_layer_goldens.py

What is stored (float64):
  bn/x, bn/gamma, bn/beta, bn/g      inputs, parameters and the cotangent of the output
  bn/train_y                         BatchNormalization(momentum=0.9) forward, training
  bn/dx, bn/dgamma, bn/dbeta         gradients of sum(train_y * g)
  bn/steps/<i>                       three more training batches
  bn/moving_mean, bn/moving_variance the moving statistics after the four batches
  bn/infer_y                         the inference forward of bn/x after them
  ln/x, ln/gamma, ln/beta, ln/g, ln/y, ln/dx, ln/dgamma, ln/dbeta
                                     LayerNormalization, the same way
  norm/batches/<i>, norm/mean, norm/variance, norm/y, norm/y_inv
                                     Normalization.adapt over batches, its output on
                                     batch 0, and invert=True with the same statistics
  prelu/x, prelu/alpha, prelu/g, prelu/y, prelu/dx, prelu/dalpha
  rescale/x, rescale/y               Rescaling(scale=0.5, offset=-1.25)
  fit/x, fit/y, fit/weights/<i>, fit/final_weights/<i>, fit/history/loss
                                     Dense(6, relu) -> BatchNormalization(momentum=0.8)
                                     -> Dense(1), SGD(0.05), mse, batch_size 8, 3 epochs,
                                     no shuffling
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_keras_goldens as base  # noqa: E402  (sets up JAX and Keras in float64)

jax, jnp, keras, np = base.jax, base.jnp, base.keras, base.np


def grads(layer, x, g, names, training=True):
    """(dx, [d param]) of sum(layer(x, training=True) * g) with respect to x and the
    layer's trainable weights, by jax.grad through stateless_call."""
    trainable = [v.value for v in layer.trainable_variables]
    fixed = [v.value for v in layer.non_trainable_variables]

    def f(xv, tv):
        kwargs = {"training": True} if training else {}
        y, _ = layer.stateless_call(tv, fixed, xv, **kwargs)
        return jnp.sum(y * g)
    dx, dt = jax.grad(f, argnums=(0, 1))(jnp.asarray(x), trainable)
    return np.asarray(dx), [np.asarray(d) for d in dt]


def batchnorm(out, rng):
    x = rng.standard_normal((10, 5)) * 2.0 + 0.7
    gamma, beta = rng.uniform(0.5, 1.5, 5), rng.standard_normal(5) * 0.3
    g = rng.standard_normal((10, 5))
    layer = keras.layers.BatchNormalization(momentum=0.9)
    layer.build((None, 5))
    layer.set_weights([gamma, beta, np.zeros(5), np.ones(5)])
    dx, (dgamma, dbeta) = grads(layer, x, g, ("gamma", "beta"))
    out.update({"bn/x": x, "bn/gamma": gamma, "bn/beta": beta, "bn/g": g,
                "bn/train_y": np.asarray(layer(x, training=True)), "bn/dx": dx,
                "bn/dgamma": dgamma, "bn/dbeta": dbeta})
    for i in range(3):
        b = rng.standard_normal((10, 5)) * (1.0 + i) - i
        out[f"bn/steps/{i}"] = b
        layer(b, training=True)
    mean, var = layer.get_weights()[2:]
    out["bn/moving_mean"], out["bn/moving_variance"] = mean, var
    out["bn/infer_y"] = np.asarray(layer(x, training=False))


def layernorm(out, rng):
    x = rng.standard_normal((7, 6)) * 1.5 - 0.4
    gamma, beta = rng.uniform(0.5, 1.5, 6), rng.standard_normal(6) * 0.3
    g = rng.standard_normal((7, 6))
    layer = keras.layers.LayerNormalization()
    layer.build((None, 6))
    layer.set_weights([gamma, beta])
    dx, (dgamma, dbeta) = grads(layer, x, g, ("gamma", "beta"), training=False)
    out.update({"ln/x": x, "ln/gamma": gamma, "ln/beta": beta, "ln/g": g,
                "ln/y": np.asarray(layer(x)), "ln/dx": dx, "ln/dgamma": dgamma,
                "ln/dbeta": dbeta})


def normalization(out, rng):
    batches = [rng.standard_normal((n, 4)) * [1.0, 3.0, 0.5, 10.0] + [0.0, -2.0, 5.0, 1.0]
               for n in (9, 4, 13)]
    layer = keras.layers.Normalization()
    layer.adapt(np.concatenate(batches))
    for i, b in enumerate(batches):
        out[f"norm/batches/{i}"] = b
    mean, var = (np.asarray(w, dtype=np.float64).reshape(4) for w in layer.get_weights()[:2])
    out["norm/mean"], out["norm/variance"] = mean, var
    out["norm/y"] = np.asarray(layer(batches[0]))
    inv = keras.layers.Normalization(mean=mean, variance=var, invert=True)
    out["norm/y_inv"] = np.asarray(inv(batches[0]))


def prelu(out, rng):
    x = rng.standard_normal((8, 5))
    alpha = rng.uniform(-0.5, 0.5, 5)
    g = rng.standard_normal((8, 5))
    layer = keras.layers.PReLU()
    layer.build((None, 5))
    layer.set_weights([alpha])
    dx, (dalpha,) = grads(layer, x, g, ("alpha",), training=False)
    out.update({"prelu/x": x, "prelu/alpha": alpha, "prelu/g": g,
                "prelu/y": np.asarray(layer(x)), "prelu/dx": dx, "prelu/dalpha": dalpha})


def rescaling(out, rng):
    x = rng.standard_normal((4, 3)) * 100
    out["rescale/x"] = x
    out["rescale/y"] = np.asarray(keras.layers.Rescaling(0.5, offset=-1.25)(x))


def fit(out, rng):
    x = rng.standard_normal((24, 3))
    y = (x @ [[0.5], [-1.0], [2.0]] + 0.3 * np.sin(3 * x[:, :1]))
    weights = [rng.standard_normal((3, 6)) * 0.7, rng.standard_normal(6) * 0.1,
               rng.uniform(0.8, 1.2, 6), rng.standard_normal(6) * 0.1,
               rng.standard_normal(6) * 0.1, rng.uniform(0.8, 1.2, 6),
               rng.standard_normal((6, 1)) * 0.7, rng.standard_normal(1) * 0.1]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(6, activation="relu"),
                              keras.layers.BatchNormalization(momentum=0.8),
                              keras.layers.Dense(1)])
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    out["fit/x"], out["fit/y"] = x, y
    for i, w in enumerate(weights):
        out[f"fit/weights/{i}"] = w
    for i, w in enumerate(model.get_weights()):
        out[f"fit/final_weights/{i}"] = np.asarray(w)
    out["fit/history/loss"] = np.array(history.history["loss"], dtype=np.float64)


def main():
    base.check_float64()
    base.floatx("float64")
    rng = np.random.default_rng(11)
    out = {}
    for make in (batchnorm, layernorm, normalization, prelu, rescaling, fit):
        make(out, rng)
    base.save("layers3.npz", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
